"""Upstream exchanges about an order are kept, redacted like the logs."""

import io
import time

import pytest

from django.core.management import call_command

from integrations.exchanges import exchanges_of_order
from integrations.http import log_exchange
from integrations.models import UpstreamExchange
from orders.models import Order
from tests.factories import make_order, sales_record

pytestmark = pytest.mark.django_db


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_pipelines_exchanges_are_kept_with_the_order(sandbox):
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

    call_command("run_pipeline", "--once", "--max-wait", "30", stdout=io.StringIO())

    order = Order.objects.get(order_id=record["order_id"])
    bill, custom = order.exchanges.order_by("pk")
    assert (bill.upstream, bill.method, bill.status) == ("BillAPI", "POST", 201)
    assert bill.url == f"{sandbox.url}/bill/invoices"
    assert bill.idempotency_key == f"bill-{order.order_id}"
    assert "Иван Иванов" in bill.request_body
    assert "i***@example.com" in bill.request_body
    assert "ivan@example.com" not in bill.request_body
    assert "+7 (999) 999-99-99" not in bill.request_body
    assert custom.upstream == "CustomAPI"
    assert "message: 'Неверный формат данных'" in custom.response_body
    assert custom.duration_ms >= 0
    # The poll has no order: it is only logged.
    assert UpstreamExchange.objects.count() == 2


def call(order_id=None, **fields):
    log_exchange(
        upstream=fields.pop("upstream", "CustomAPI"),
        method="POST",
        url="http://127.0.0.1:9/custom/invoices",
        started=time.monotonic(),
        order_id=order_id,
        **fields,
    )


def test_secrets_are_redacted_before_they_are_kept(settings):
    order = make_order()
    token = settings.UPSTREAMS["custom"].get("TOKEN") or settings.SECRET_KEY

    call(
        order.order_id,
        status=200,
        request_body={"api_key": "k-123456789", "note": f"Bearer {token}"},
        response_body='{"password": "hunter2-hunter2"}',
    )

    kept = UpstreamExchange.objects.get(order=order)
    assert "k-123456789" not in kept.request_body
    assert token not in kept.request_body
    assert "hunter2" not in kept.response_body
    assert "[REDACTED]" in kept.response_body


def test_bodies_are_bounded_and_marked(settings):
    settings.UPSTREAM_EXCHANGE_BODY_MAX_CHARS = 500
    order = make_order()

    call(order.order_id, status=200, response_body="x" * 5000)

    kept = UpstreamExchange.objects.get(order=order)
    assert kept.response_body.startswith("x" * 500 + "…[truncated")
    assert len(kept.response_body) < 600


def test_failed_calls_are_kept_with_their_error():
    order = make_order()

    call(order.order_id, error="UpstreamTimeout: CustomAPI did not answer in time")

    kept = UpstreamExchange.objects.get(order=order)
    assert kept.status is None
    assert kept.failed
    assert kept.error == "UpstreamTimeout: CustomAPI did not answer in time"


def test_exchanges_without_a_known_order_are_only_logged():
    call(None, status=200)
    call("NO-SUCH-ORDER", status=200)

    assert not UpstreamExchange.objects.exists()


def test_calls_inside_an_orders_block_are_kept_with_it():
    order = make_order()

    with exchanges_of_order(order.order_id):
        call(upstream="Mailgun", status=200, response_body='{"id": "m1"}')
    call(upstream="Mailgun", status=200)

    assert list(order.exchanges.values_list("upstream", flat=True)) == ["Mailgun"]


def test_the_exchanges_list_filters_by_upstream_and_outcome(admin_client):
    order = make_order()
    call(order.order_id, upstream="BillAPI", status=201)
    call(order.order_id, status=503)
    call(order.order_id, error="UpstreamTimeout: slow")

    def listed(**query) -> list[tuple[str, int | None]]:
        response = admin_client.get("/admin/integrations/upstreamexchange/", query)
        assert response.status_code == 200
        return [(ex.upstream, ex.status) for ex in response.context["cl"].result_list]

    assert listed(upstream="BillAPI") == [("BillAPI", 201)]
    assert listed(outcome="5xx") == [("CustomAPI", 503)]
    assert listed(outcome="none") == [("CustomAPI", None)]
    assert len(listed()) == 3
