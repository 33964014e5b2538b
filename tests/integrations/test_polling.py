"""A poll keeps going past bad records and stops cleanly on unreadable pages.

SalesAPI's answers are played by ``responses``: these are the client's own
edge cases, the happy paths run over HTTP against the sandbox in tests/e2e.
"""

import json

import pytest
import responses

from integrations.models import SalesCursor
from integrations.polling import sales_poll
from orders.models import Order, OrderStatus, RejectedSalesRecord
from tests.factories import sales_record

pytestmark = pytest.mark.django_db

SALES_URL = "http://127.0.0.1:9/sales/orders"


def serve_page(text: str) -> None:
    responses.add(responses.GET, SALES_URL, body=text, status=200)
    responses.add(
        responses.GET,
        SALES_URL,
        json={"orders": [], "next_cursor": "next"},
        status=200,
    )


def page(*records, next_cursor="next") -> str:
    return json.dumps({"orders": list(records), "next_cursor": next_cursor})


@pytest.fixture
def good():
    return sales_record()


def assert_saved_and_moved_on(good):
    assert Order.objects.get(order_id=good["order_id"]).status == OrderStatus.PROCESSING
    assert SalesCursor.objects.get().cursor == "next"


@responses.activate
def test_null_record_is_set_aside(good):
    serve_page(page(None, good))

    result = sales_poll()

    assert (result.error, result.rejected) == ("", 1)
    assert RejectedSalesRecord.objects.get().payload is None
    assert_saved_and_moved_on(good)


@responses.activate
def test_invalid_unicode_fails_only_its_order(good):
    bad = sales_record(product_name="X")
    serve_page(page(bad, good).replace('"X"', '"\\ud800"'))

    sales_poll()

    failed = Order.objects.get(order_id=bad["order_id"])
    assert failed.status == OrderStatus.ERROR
    assert "product_name: contains characters that are not valid text" in failed.message
    assert failed.payload["unstorable"] == "text that is not valid Unicode"
    assert_saved_and_moved_on(good)


@responses.activate
def test_deeply_nested_record_is_kept_as_a_note(good):
    bad = sales_record(product_name="X")
    serve_page(page(bad, good).replace('"X"', "[" * 40 + "]" * 40))

    sales_poll()

    failed = Order.objects.get(order_id=bad["order_id"])
    assert failed.status == OrderStatus.ERROR
    assert "record: JSON nested deeper than 16 levels" in failed.message
    assert_saved_and_moved_on(good)


@responses.activate
def test_huge_integer_is_refused_as_the_field(good):
    bad = sales_record(quantity="X")
    serve_page(page(bad, good).replace('"X"', "9" * 5000))

    sales_poll()

    failed = Order.objects.get(order_id=bad["order_id"])
    assert failed.message.startswith("Invalid SalesAPI order: quantity:")
    assert_saved_and_moved_on(good)


@pytest.mark.parametrize(
    "next_cursor",
    ["C" * 2049, True, {"page": 2}, "bad\ncursor"],
)
@responses.activate
def test_unusable_cursor_fails_the_poll_and_keeps_the_old_one(good, next_cursor):
    SalesCursor.objects.create(cursor="kept")
    responses.add(
        responses.GET, SALES_URL, json={"orders": [good], "next_cursor": next_cursor}
    )

    result = sales_poll()

    assert "next_cursor" in result.error
    cursor = SalesCursor.objects.get()
    assert cursor.cursor == "kept"
    assert "SalesAPI answer is neither a page of orders" in cursor.last_error
    assert not Order.objects.exists()


@responses.activate
def test_page_too_deep_to_parse_fails_the_poll_without_crashing(good):
    serve_page(page(good).replace('"ABC123"', "[" * 3000 + "]" * 3000))

    result = sales_poll()

    assert "JSON nested too deeply" in result.error
    assert SalesCursor.objects.get().lease_owner == ""  # released for the next poll


@responses.activate
def test_unexpected_failure_is_recorded_and_the_poll_returns(good, monkeypatch):
    serve_page(page(good))

    def explode(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("integrations.polling.orders_ingest", explode)
    monkeypatch.setattr("integrations.polling.orders_reject_record", explode)

    result = sales_poll()

    assert result.error == "Internal error while polling (RuntimeError): boom"
    assert SalesCursor.objects.get().last_error == result.error
