"""rows_insert stores exactly what the ORM would, defaults and all."""

from datetime import timedelta
from decimal import Decimal

import pytest

from django.forms.models import model_to_dict
from django.utils import timezone

from orders.models import Order, OrderStatus, OrderStatusChange
from phpservice.bulk import rows_insert

pytestmark = pytest.mark.django_db

ROW = {
    "order_id": "Б-1 🧾",
    "product_name": "Чайник «Витязь» ☕",
    "product_price": Decimal("1234.50"),
    "quantity": 3,
    "customer_id": "Клиент-7",
    "payload": {"order_id": "Б-1 🧾", "nested": [1, "два", {"три": None}]},
    "payload_sha256": "0" * 64,
    "status": OrderStatus.PROCESSING,
    "next_attempt_at": timezone.now() - timedelta(minutes=1),
}


def test_rows_match_what_the_orm_saves():
    before = timezone.now()
    assert rows_insert(Order, [ROW]) == 1
    Order.objects.create(**{**ROW, "order_id": "orm"})

    inserted = Order.objects.get(order_id=ROW["order_id"])
    saved = Order.objects.get(order_id="orm")
    ignored = {"id", "order_id"}
    assert {k: v for k, v in model_to_dict(inserted).items() if k not in ignored} == {
        k: v for k, v in model_to_dict(saved).items() if k not in ignored
    }
    assert inserted.product_name == ROW["product_name"]
    assert inserted.product_price == Decimal("1234.50")
    assert inserted.payload == ROW["payload"]
    # Defaults filled in, auto_now fields given the moment of the call.
    assert (inserted.attempts, inserted.filing_round, inserted.message) == (0, 0, "")
    assert inserted.invoice is None
    assert before <= inserted.created_at == inserted.updated_at <= timezone.now()


def test_foreign_keys_are_given_by_primary_key():
    rows_insert(Order, [ROW, {**ROW, "order_id": "second"}])
    pks = list(Order.objects.values_list("pk", flat=True))

    rows_insert(
        OrderStatusChange,
        [
            {"order": pk, "to_status": OrderStatus.PROCESSING, "actor": "t"}
            for pk in pks
        ],
    )

    assert sorted(OrderStatusChange.objects.values_list("order_id", flat=True)) == (
        sorted(pks)
    )


def test_nothing_to_insert():
    assert rows_insert(Order, []) == 0
    assert not Order.objects.exists()
