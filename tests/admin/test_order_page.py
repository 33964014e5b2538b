"""The order page: read-only fields, JSON, timeline, exchanges, notifications."""

from datetime import timedelta

import pytest

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.models import UpstreamExchange
from notifications.models import Notification, NotificationStatus
from orders.models import OrderStatus
from orders.services import order_note
from tests.admin.conftest import failed_order
from tests.factories import make_order

pytestmark = pytest.mark.django_db


def order_url(order) -> str:
    return f"/admin/orders/order/{order.pk}/change/"


def exchange(order, **fields) -> UpstreamExchange:
    values = {
        "upstream": "CustomAPI",
        "method": "POST",
        "url": "http://127.0.0.1:8081/custom/invoices",
        "status": 200,
        "duration_ms": 12.5,
        "request_body": '{"invoice_id": "INV-1"}',
        "response_body": "{success: false, error: {code: -1, message: 'Неверный'}}",
    }
    values.update(fields)
    return UpstreamExchange.objects.create(order=order, **values)


def test_every_field_is_read_only_and_nothing_can_be_saved(support_client):
    order = failed_order(invoiced=True)

    response = support_client.get(order_url(order))

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert list(form.fields) == []
    page = response.content.decode()
    assert 'name="_save"' not in page
    assert support_client.post(order_url(order), {"message": "x"}).status_code == 403


def test_invoice_and_payload_are_pretty_printed(support_client):
    order = failed_order(invoiced=True)

    page = support_client.get(order_url(order)).content.decode()

    assert '<pre class="order-json">{\n  &quot;invoice_id&quot;: &quot;INV-' in page
    assert "&quot;customer_name&quot;: &quot;Иван Иванов&quot;" in page


def test_history_is_a_timeline_with_actors_and_notes(support_client):
    order = failed_order(invoiced=True, message="Неверный формат данных")
    order_note(order=order, message="Called the customer", actor="staff:alice")

    response = support_client.get(order_url(order))

    entries = response.context["timeline"]
    assert [(e.change.to_status, e.is_note) for e in entries] == [
        ("invoiced", False),
        ("error", False),
        ("error", True),
    ]
    assert entries[-1].is_staff
    page = response.content.decode()
    assert 'class="order-timeline"' in page
    assert "Called the customer" in page


def test_exchanges_show_the_upstreams_exact_answer(support_client):
    order = failed_order(invoiced=True)
    exchange(order, upstream="BillAPI", status=201, response_body='{"a": 1}')
    exchange(order)

    page = support_client.get(order_url(order)).content.decode()

    assert "{success: false, error: {code: -1, message: &#x27;Неверный&#x27;}}" in page
    assert "POST http://127.0.0.1:8081/custom/invoices" in page
    assert "{\n  &quot;a&quot;: 1\n}" in page  # JSON answers are indented
    assert "13 ms" in page


def test_notifications_show_their_delivery(support_client, support):
    order = failed_order(invoiced=True)
    Notification.objects.create(
        order=order,
        channel="sms",
        recipient="+79999999999",
        status=NotificationStatus.UNDELIVERED,
        error_code="30003",
        requested_by=support,
    )

    page = support_client.get(order_url(order)).content.decode()

    assert "order-delivery-undelivered" in page
    assert "+79999999999" in page
    assert "30003" in page


def test_dead_letter_shows_attempts_and_last_error(support_client):
    order = failed_order(
        invoiced=False,
        message="BillAPI answered HTTP 500 — gave up after 4 attempts",
        attempts=4,
    )
    exchange(order, upstream="BillAPI", status=500, response_body="oops")

    response = support_client.get(order_url(order))

    pipeline = response.context["pipeline"]
    assert pipeline.kind == "dead-letter"
    assert pipeline.headline == "Dead letter: BillAPI gave up after 4 attempts"
    assert pipeline.last_error == "BillAPI HTTP 500: oops"
    assert "Attempts made</dt><dd>4 of 4" in response.content.decode()


def test_a_retry_shows_when_the_next_attempt_is(support_client):
    due = timezone.now() + timedelta(minutes=5)
    order = make_order(attempts=2, next_attempt_at=due, message="retrying")
    exchange(order, upstream="BillAPI", status=None, error="UpstreamTimeout: slow")

    pipeline = support_client.get(order_url(order)).context["pipeline"]

    assert pipeline.kind == "retry"
    assert pipeline.headline == "Waiting to retry BillAPI: 2 of 4 attempts failed"
    assert pipeline.next_attempt_at == due
    assert pipeline.last_error == "BillAPI: UpstreamTimeout: slow"


def test_the_page_costs_the_same_queries_with_a_long_history(support_client):
    def queries_for(order) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert support_client.get(order_url(order)).status_code == 200
        return len(queries)

    short = failed_order(invoiced=True)
    long = failed_order(invoiced=True)
    for number in range(20):
        order_note(order=long, message=f"note {number}", actor="pipeline")
        exchange(long)
        Notification.objects.create(order=long, channel="email", recipient="a@b.c")

    assert queries_for(short) == queries_for(long)


def test_a_sent_order_rests(support_client):
    order = make_order(status=OrderStatus.SENT)

    response = support_client.get(order_url(order))

    assert response.context["pipeline"].kind == "done"
    assert "Replay from" not in response.content.decode()
