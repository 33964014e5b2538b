import pytest

from orders.models import (
    Order,
    OrderPayloadConflict,
    OrderStatus,
    OrderStatusChange,
    RejectedSalesRecord,
)
from orders.services import (
    InvalidTransition,
    LeaseLost,
    order_transition,
    orders_ingest,
)
from tests.factories import make_order, sales_record

pytestmark = pytest.mark.django_db


def test_ingest_saves_new_orders_with_history():
    records = [sales_record(), sales_record()]

    result = orders_ingest(records=records)

    assert (result.created, result.invalid) == (2, 0)
    order = Order.objects.get(order_id=records[0]["order_id"])
    assert order.status == OrderStatus.PROCESSING
    assert order.payload == records[0]
    assert order.next_attempt_at is not None
    history = list(
        order.status_changes.values_list("from_status", "to_status", "actor")
    )
    assert history == [("", "processing", "sales-poll")]


def test_invalid_order_rests_in_error_and_the_rest_of_the_batch_goes_through():
    good, bad = sales_record(), sales_record(product_price="50 000,00")

    result = orders_ingest(records=[bad, good])

    assert (result.created, result.invalid) == (2, 1)
    failed = Order.objects.get(order_id=bad["order_id"])
    assert failed.status == OrderStatus.ERROR
    assert "product_price" in failed.message
    assert failed.product_price is None
    assert failed.next_attempt_at is None
    assert Order.objects.get(order_id=good["order_id"]).status == OrderStatus.PROCESSING


def test_same_order_twice_is_one_row():
    record = sales_record()
    orders_ingest(records=[record])

    again = orders_ingest(records=[dict(record)])

    assert (again.created, again.unchanged) == (0, 1)
    assert Order.objects.filter(order_id=record["order_id"]).count() == 1
    assert OrderStatusChange.objects.count() == 1


def test_same_id_with_different_data_keeps_first_and_records_conflict_once():
    record = sales_record()
    orders_ingest(records=[record])
    changed = {**record, "product_price": "1.00"}

    first = orders_ingest(records=[changed])
    second = orders_ingest(records=[changed])

    order = Order.objects.get(order_id=record["order_id"])
    assert str(order.product_price) == "50000.00"
    assert first.conflicts == second.conflicts == 1
    conflicts = OrderPayloadConflict.objects.filter(order=order)
    assert [c.payload["product_price"] for c in conflicts] == ["1.00"]


def test_duplicate_inside_one_batch_keeps_the_first():
    record = sales_record()
    changed = {**record, "quantity": "3"}

    result = orders_ingest(records=[record, dict(record), changed])

    assert result.created == 1
    assert Order.objects.get(order_id=record["order_id"]).quantity == 1
    assert OrderPayloadConflict.objects.count() == 1


def test_record_without_usable_id_is_kept_for_staff():
    record = sales_record()
    del record["order_id"]

    result = orders_ingest(records=[record, sales_record()])

    assert (result.rejected, result.created) == (1, 1)
    rejected = RejectedSalesRecord.objects.get()
    assert "order_id: missing" in rejected.reason
    assert rejected.payload == record


def test_cyrillic_and_emoji_round_trip_byte_identical():
    record = sales_record(
        product_name="Кофе ☕ «Арабика» 🇷🇺", customer_name="Пётр Щукин"
    )

    orders_ingest(records=[record])

    order = Order.objects.get(order_id=record["order_id"])
    assert order.product_name.encode() == record["product_name"].encode()
    assert order.payload["customer_name"].encode() == "Пётр Щукин".encode()


def test_transition_records_history_and_enforces_the_map():
    order = make_order()

    order = order_transition(
        order=order, to_status=OrderStatus.INVOICED, actor="pipeline", message="ok"
    )

    assert order.status == OrderStatus.INVOICED
    assert order.status_changes.get().to_status == OrderStatus.INVOICED
    with pytest.raises(
        InvalidTransition, match="cannot go from invoiced to processing"
    ):
        order_transition(order=order, to_status=OrderStatus.PROCESSING, actor="x")


def test_sent_is_final():
    order = make_order(status=OrderStatus.SENT)

    with pytest.raises(InvalidTransition):
        order_transition(order=order, to_status=OrderStatus.ERROR, actor="x")


def test_transition_under_a_lost_lease_changes_nothing():
    order = make_order(lease_owner="worker-b")

    with pytest.raises(LeaseLost):
        order_transition(
            order=order,
            to_status=OrderStatus.INVOICED,
            actor="pipeline",
            lease_owner="worker-a",
        )

    order.refresh_from_db()
    assert order.status == OrderStatus.PROCESSING
    assert not order.status_changes.exists()
