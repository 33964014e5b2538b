"""Small builders of test data."""

from django.utils import timezone

from orders.models import WORKING_STATUSES, Order, OrderStatus
from orders.services import payload_digest

_sequence = iter(range(1, 10**9))

# The sample order of the specification, exactly.
SPEC_SAMPLE = {
    "order_id": "123456",
    "product_id": "ABC123",
    "product_name": "Ноутбук",
    "product_price": "50000",
    "quantity": "1",
    "customer_id": "7890",
    "customer_name": "Иван Иванов",
    "customer_email": "ivan@example.com",
    "customer_phone": "+7 (999) 999-99-99",
}


def sales_record(**overrides) -> dict:
    """Return a valid SalesAPI order record with a fresh order id."""
    record = {**SPEC_SAMPLE, "order_id": f"T{next(_sequence):06d}"}
    record.update(overrides)
    return record


def make_order(status=OrderStatus.PROCESSING, **overrides) -> Order:
    """Save and return an order as if it came from SalesAPI."""
    record = sales_record(**{k: v for k, v in overrides.items() if k == "customer_id"})
    fields = {
        "order_id": record["order_id"],
        "product_id": record["product_id"],
        "product_name": record["product_name"],
        "product_price": "50000.00",
        "quantity": 1,
        "customer_id": record["customer_id"],
        "customer_name": record["customer_name"],
        "customer_email": record["customer_email"],
        "customer_phone": record["customer_phone"],
        "payload": record,
        "payload_sha256": payload_digest(record),
        "status": status,
        # Due at once while there is work left, as ingest leaves new orders.
        "next_attempt_at": timezone.now() if status in WORKING_STATUSES else None,
    }
    fields.update(overrides)
    return Order.objects.create(**fields)
