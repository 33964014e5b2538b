"""SalesAPI → database → BillAPI → CustomAPI → status, over real HTTP."""

import pytest

from django.core.management import CommandError

from integrations.models import SalesCursor
from orders.models import Order
from tests.factories import SPEC_SAMPLE, sales_record

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_spec_sample_order_is_sent(sandbox, run_pipeline, status_of):
    sandbox.load_scenario({"orders": [SPEC_SAMPLE]})

    output = run_pipeline()

    status = status_of("123456")
    assert status["http"] == 200
    assert (status["status"], status["status_code"]) == ("отправлен", "sent")
    order = Order.objects.get(order_id="123456")
    assert order.invoice_id == "INV-123456"
    assert order.invoice["seller_name"] == 'ООО "Продавец"'
    assert [c.to_status for c in order.status_changes.all()] == [
        "processing",
        "invoiced",
        "sent",
    ]
    stats = sandbox.stats()
    assert stats["bill"]["by_order"]["123456"]["effects"] == 1
    assert stats["custom"]["by_order"]["123456"]["accepted"] == 1
    assert "отправлен       1" in output


def test_custom_rejection_ends_in_error_with_its_message(
    sandbox, run_pipeline, status_of
):
    record = sales_record()
    sandbox.load_scenario(
        {
            "orders": [record],
            "faults": {
                record["order_id"]: {
                    "custom": {"code": -1, "message": "Неверный формат данных"}
                }
            },
        }
    )

    run_pipeline()

    status = status_of(record["order_id"])
    assert (status["status"], status["message"]) == ("ошибка", "Неверный формат данных")
    assert Order.objects.get(order_id=record["order_id"]).error_code == "-1"


def test_bill_server_errors_are_retried_into_one_invoice(
    sandbox, run_pipeline, status_of
):
    record = sales_record()
    order_id = record["order_id"]
    sandbox.load_scenario(
        {"orders": [record], "faults": {order_id: {"bill": ["http_500", "http_500"]}}}
    )

    run_pipeline()

    assert status_of(order_id)["status"] == "отправлен"
    bill = sandbox.stats()["bill"]["by_order"][order_id]
    assert (bill["requests"], bill["effects"]) == (3, 1)


def test_custom_timeout_then_success_has_one_effect(sandbox, run_pipeline, status_of):
    record = sales_record()
    order_id = record["order_id"]
    sandbox.load_scenario(
        {"orders": [record], "faults": {order_id: {"custom": ["timeout"]}}}
    )

    run_pipeline()

    assert status_of(order_id)["status"] == "отправлен"
    custom = sandbox.stats()["custom"]
    assert custom["by_order"][order_id]["requests"] == 2
    assert custom["by_order"][order_id]["effects"] == 1
    assert custom["by_order"][order_id]["accepted"] == 1


def test_upstream_that_keeps_failing_rests_in_error_after_the_last_attempt(
    sandbox, run_pipeline, status_of, settings
):
    record = sales_record()
    order_id = record["order_id"]
    sandbox.load_scenario(
        {"orders": [record], "faults": {order_id: {"bill": "http_500"}}}
    )

    run_pipeline()

    status = status_of(order_id)
    assert status["status"] == "ошибка"
    assert "BillAPI answered HTTP 500" in status["message"]
    limit = settings.PIPELINE["MAX_ATTEMPTS"]
    assert f"gave up after {limit} attempts" in status["message"]
    assert sandbox.stats()["bill"]["by_order"][order_id]["requests"] == limit


def test_a_rejected_request_goes_straight_to_error(sandbox, run_pipeline, status_of):
    record = sales_record()
    order_id = record["order_id"]
    sandbox.load_scenario(
        {"orders": [record], "faults": {order_id: {"bill": "http_400"}}}
    )

    run_pipeline()

    status = status_of(order_id)
    assert status["status"] == "ошибка"
    assert status["message"].startswith("BillAPI answered HTTP 400")
    assert sandbox.stats()["bill"]["by_order"][order_id]["requests"] == 1


UNUSABLE_ANSWERS = [
    ("bill", "malformed", "BillAPI answer is not usable JSON"),
    ("bill", "html", "BillAPI answer is not usable JSON"),
    ("custom", "html", "CustomAPI answer is an HTML page, not JSON"),
    ("custom", "malformed", "CustomAPI answer cannot be parsed"),
]


@pytest.mark.parametrize(("step", "fault", "expected"), UNUSABLE_ANSWERS)
def test_an_unusable_answer_is_asked_again_and_the_order_completes(
    sandbox, run_pipeline, status_of, step, fault, expected
):
    record = sales_record()
    order_id = record["order_id"]
    sandbox.load_scenario(
        {"orders": [record], "faults": {order_id: {step: [fault, fault]}}}
    )

    run_pipeline()

    assert status_of(order_id)["status"] == "отправлен"
    stats = sandbox.stats()
    assert stats[step]["by_order"][order_id]["requests"] == 3
    assert stats["bill"]["by_order"][order_id]["effects"] == 1
    assert stats["custom"]["by_order"][order_id]["accepted"] == 1


@pytest.mark.parametrize(("step", "fault", "expected"), UNUSABLE_ANSWERS)
def test_unusable_answers_without_end_rest_the_order_in_error(
    sandbox, run_pipeline, status_of, settings, step, fault, expected
):
    record = sales_record()
    order_id = record["order_id"]
    sandbox.load_scenario({"orders": [record], "faults": {order_id: {step: fault}}})

    run_pipeline()

    status = status_of(order_id)
    assert status["status"] == "ошибка"
    assert status["message"].startswith(expected)
    limit = settings.PIPELINE["MAX_ATTEMPTS"]
    assert f"gave up after {limit} attempts" in status["message"]
    assert sandbox.stats()[step]["by_order"][order_id]["requests"] == limit


def test_rate_limited_call_is_retried(sandbox, run_pipeline, status_of):
    record = sales_record()
    order_id = record["order_id"]
    sandbox.load_scenario(
        {"orders": [record], "faults": {order_id: {"custom": ["http_429"]}}}
    )

    run_pipeline()

    assert status_of(order_id)["status"] == "отправлен"
    assert sandbox.stats()["custom"]["by_order"][order_id]["requests"] == 2


def test_emoji_and_cyrillic_round_trip_byte_identical(sandbox, run_pipeline):
    record = sales_record(
        product_name="Кофе ☕ «Арабика» 🇷🇺", customer_name="Пётр Щукин-Ёлкин"
    )
    sandbox.load_scenario({"orders": [record]})

    run_pipeline()

    order = Order.objects.get(order_id=record["order_id"])
    assert order.status == "sent"
    for name in ("product_name", "customer_name"):
        assert getattr(order, name).encode("utf-8") == record[name].encode("utf-8")
        assert order.payload[name].encode("utf-8") == record[name].encode("utf-8")
    line = order.invoice["lines"][0]
    assert line["product_name"].encode("utf-8") == record["product_name"].encode()


def test_invalid_price_errors_while_the_rest_of_the_batch_goes_through(
    sandbox, run_pipeline, status_of
):
    bad = sales_record(product_price="50 000,00")
    good = [sales_record(), sales_record()]
    sandbox.load_scenario({"orders": [good[0], bad, good[1]]})

    run_pipeline()

    status = status_of(bad["order_id"])
    assert status["status"] == "ошибка"
    assert "product_price" in status["message"]
    assert "50 000,00" in status["message"]
    assert [status_of(r["order_id"])["status"] for r in good] == ["отправлен"] * 2
    assert bad["order_id"] not in sandbox.stats()["bill"]["by_order"]


def test_same_order_polled_twice_is_one_row(sandbox, run_pipeline):
    record = sales_record()
    sandbox.load_scenario({"orders": [record, dict(record)]})
    run_pipeline()

    SalesCursor.objects.update(cursor="")  # deliver everything once more
    output = run_pipeline()

    assert Order.objects.filter(order_id=record["order_id"]).count() == 1
    assert "0 new order(s)" in output
    assert sandbox.stats()["bill"]["by_order"][record["order_id"]]["effects"] == 1


def test_poll_resumes_from_the_kept_cursor(sandbox, run_pipeline, settings):
    settings.SALES_POLL_PAGE_SIZE = 2
    records = [sales_record() for _ in range(5)]
    sandbox.load_scenario({"orders": records})
    run_pipeline()
    served = sandbox.stats()["sales"]["orders_served"]

    run_pipeline()

    assert Order.objects.count() == 5
    assert served == 5
    assert sandbox.stats()["sales"]["orders_served"] == 5
    assert SalesCursor.objects.get().cursor


def test_sales_outage_keeps_the_cursor_and_fails_the_command(
    sandbox, run_pipeline, settings
):
    sandbox.load_scenario({"orders": [sales_record()]})
    run_pipeline()
    cursor = SalesCursor.objects.get().cursor
    sandbox.stop()

    with pytest.raises(CommandError, match="The poll failed: SalesAPI is unreachable"):
        run_pipeline()

    kept = SalesCursor.objects.get()
    assert kept.cursor == cursor
    assert "SalesAPI is unreachable" in kept.last_error


def test_customer_token_cannot_read_another_customers_order(
    sandbox, run_pipeline, status_of, customer_factory
):
    alice_order = sales_record(customer_id="alice-1")
    bob_order = sales_record(customer_id="bob-2")
    sandbox.load_scenario({"orders": [alice_order, bob_order]})
    run_pipeline()
    alice = customer_factory("alice", customer_id="alice-1")

    own = status_of(alice_order["order_id"], user=alice)
    other = status_of(bob_order["order_id"], user=alice)

    assert (own["http"], own["status"]) == (200, "отправлен")
    assert other["http"] == 404
    assert "status" not in other
