"""Replaying failed orders from the admin, against the sandbox over HTTP."""

import io

import pytest

from django.core.management import call_command
from django_q.models import OrmQ

from integrations.pipeline import custom_idempotency_key
from orders.models import Order, OrderStatus
from tests.admin.conftest import failed_order, logged_in
from tests.factories import make_order, sales_record

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

REJECTION = {"code": -1, "message": "Неверный формат данных"}


def replay_url(order) -> str:
    return f"/admin/orders/order/{order.pk}/replay/"


def run_pipeline() -> None:
    call_command("run_pipeline", "--once", "--max-wait", "30", stdout=io.StringIO())


def rejected_by_custom(sandbox) -> Order:
    """Return an order that went through BillAPI and that CustomAPI rejected."""
    record = sales_record()
    sandbox.load_scenario(
        {"orders": [record], "faults": {record["order_id"]: {"custom": REJECTION}}}
    )
    run_pipeline()
    order = Order.objects.get(order_id=record["order_id"])
    assert (order.status, order.message) == ("error", "Неверный формат данных")
    sandbox.load_scenario({"orders": [record]})  # CustomAPI accepts it now
    return order


def history(order) -> list[tuple[str, str, str]]:
    return list(
        order.status_changes.order_by("pk").values_list(
            "from_status", "to_status", "actor"
        )
    )


def test_a_rejected_filing_is_filed_again_under_a_new_key(sandbox, support):
    order = rejected_by_custom(sandbox)

    response = logged_in(support).post(replay_url(order), follow=True)

    order.refresh_from_db()
    assert order.status == OrderStatus.SENT
    assert order.filing_round == 1
    assert history(order)[-2:] == [
        ("error", "invoiced", "staff:alice"),
        ("invoiced", "sent", "pipeline"),
    ]
    assert order.status_changes.order_by("pk")[len(history(order)) - 2].message == (
        "Replay from CustomAPI by alice (new filing, round 1)"
    )
    first_key = custom_idempotency_key(
        Order(order_id=order.order_id, invoice_id=order.invoice_id)
    )
    keys = sandbox.stats()["custom"]["by_idempotency_key"]
    assert keys == {first_key: 1, f"{first_key}-r1": 1}
    assert sandbox.stats()["bill"]["by_order"][order.order_id]["requests"] == 1
    assert "Replayed from CustomAPI: отправлен." in response.content.decode()


def test_a_filing_whose_answer_was_lost_is_not_made_twice(sandbox, support, settings):
    settings.PIPELINE = {**settings.PIPELINE, "MAX_ATTEMPTS": 1}
    record = sales_record()
    order_id = record["order_id"]
    # CustomAPI files it, but its answer never arrives: the pipeline gives up.
    sandbox.load_scenario(
        {"orders": [record], "faults": {order_id: {"custom": "timeout"}}}
    )
    run_pipeline()
    order = Order.objects.get(order_id=order_id)
    assert order.status == OrderStatus.ERROR
    assert "gave up after 1 attempts" in order.message
    sandbox.load_scenario({"orders": [record]})

    logged_in(support).post(replay_url(order))

    order.refresh_from_db()
    assert (order.status, order.filing_round) == (OrderStatus.SENT, 0)
    custom = sandbox.stats()["custom"]
    assert custom["by_order"][order_id]["effects"] == 1
    assert custom["replays"] == 1


def test_an_order_without_invoice_asks_billapi_again(sandbox, support):
    record = sales_record()
    order_id = record["order_id"]
    sandbox.load_scenario(
        {"orders": [record], "faults": {order_id: {"bill": "http_400"}}}
    )
    run_pipeline()
    order = Order.objects.get(order_id=order_id)
    assert (order.status, order.invoice_id) == (OrderStatus.ERROR, "")
    sandbox.load_scenario({"orders": [record]})

    logged_in(support).post(replay_url(order))

    order.refresh_from_db()
    assert order.status == OrderStatus.SENT
    assert order.invoice_id == f"INV-{order_id}"
    assert [step[1] for step in history(order)[-4:]] == [
        "error",
        "processing",
        "invoiced",
        "sent",
    ]
    assert history(order)[-3][2] == "staff:alice"


def test_an_order_with_invalid_sales_data_is_not_replayed(support):
    order = make_order(status=OrderStatus.ERROR, message="Invalid SalesAPI order")
    Order.objects.filter(pk=order.pk).update(
        payload={**order.payload, "product_price": "50 000,00"}
    )

    response = logged_in(support).post(replay_url(order), follow=True)

    order.refresh_from_db()
    assert order.status == OrderStatus.ERROR
    assert "its SalesAPI data is invalid" in response.content.decode()


def test_bulk_replay_takes_failed_orders_and_wakes_the_workers(sandbox, support):
    first = rejected_by_custom(sandbox)
    second = failed_order(invoiced=False, message="BillAPI answered HTTP 400")
    resting = make_order(status=OrderStatus.SENT)
    sandbox.load_scenario({"orders": []})

    response = logged_in(support).post(
        "/admin/orders/order/",
        {
            "action": "replay_selected",
            "_selected_action": [first.pk, second.pk, resting.pk],
        },
        follow=True,
    )

    page = response.content.decode()
    assert "2 orders replayed" in page
    assert "1 selected orders were not in ошибка" in page
    assert OrmQ.objects.count() == 1
    statuses = dict(Order.objects.values_list("order_id", "status"))
    assert statuses[first.order_id] == OrderStatus.INVOICED
    assert statuses[second.order_id] == OrderStatus.PROCESSING

    run_pipeline()  # what the woken workers do

    assert Order.objects.get(pk=first.pk).status == OrderStatus.SENT
    assert Order.objects.get(pk=second.pk).status == OrderStatus.SENT
