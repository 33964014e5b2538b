"""Who may replay and notify, and what notifying from the admin leaves behind."""

import pytest

from integrations.models import UpstreamExchange
from notifications.models import Notification
from orders.models import Order, OrderStatus
from tests.admin.conftest import failed_order
from tests.notifications.conftest import messaging_sandbox  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


def order_url(order, action: str = "change") -> str:
    return f"/admin/orders/order/{order.pk}/{action}/"


def test_staff_without_the_permissions_see_no_actions(viewer_client):
    order = failed_order(invoiced=True)

    page = viewer_client.get(order_url(order)).content.decode()
    changelist = viewer_client.get("/admin/orders/order/")

    assert 'id="order-actions"' not in page
    assert "Replay from" not in page
    assert "Send Email" not in page
    assert changelist.context["action_form"] is None or "replay_selected" not in (
        dict(changelist.context["action_form"].fields["action"].choices)
    )


def test_staff_without_the_permissions_cannot_act(viewer_client):
    order = failed_order(invoiced=True)

    replay = viewer_client.post(order_url(order, "replay"))
    notify = viewer_client.post(order_url(order, "notify/email"))
    bulk = viewer_client.post(
        "/admin/orders/order/",
        {"action": "replay_selected", "_selected_action": [order.pk]},
    )

    assert (replay.status_code, notify.status_code) == (403, 403)
    assert bulk.status_code in (200, 302)
    order.refresh_from_db()
    assert order.status == OrderStatus.ERROR
    assert not Notification.objects.exists()


def test_support_sees_the_actions_the_order_allows(support_client):
    failed = failed_order(invoiced=True)
    failed_at_bill = failed_order(invoiced=False)
    sent = Order.objects.create(
        **{
            field: getattr(failed, field)
            for field in ("product_id", "payload", "payload_sha256")
        },
        order_id="SENT-1",
        status=OrderStatus.SENT,
    )

    failed_page = support_client.get(order_url(failed)).content.decode()
    bill_page = support_client.get(order_url(failed_at_bill)).content.decode()
    sent_page = support_client.get(order_url(sent)).content.decode()

    assert "Replay from CustomAPI" in failed_page
    assert "Replay from BillAPI" in bill_page
    assert "Replay from" not in sent_page
    for page in (failed_page, sent_page):
        assert "Send Email to the customer" in page
        assert "Send SMS to the customer" in page


def test_actions_take_post_only(support_client):
    order = failed_order(invoiced=True)

    assert support_client.get(order_url(order, "replay")).status_code == 405
    assert support_client.get(order_url(order, "notify/sms")).status_code == 405
    assert support_client.post(order_url(order, "notify/fax")).status_code == 404


def test_replaying_an_order_not_in_error_is_refused(support_client):
    order = failed_order(invoiced=True)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.SENT)

    response = support_client.post(order_url(order, "replay"), follow=True)

    assert "only orders in ошибка are replayed" in response.content.decode()


def test_an_email_from_the_admin_is_sent_and_recorded_as_staff(
    support_client,
    support,
    messaging_sandbox,  # noqa: F811
):
    order = failed_order(invoiced=True)

    response = support_client.post(order_url(order, "notify/email"), follow=True)

    assert "Email sent to i***@example.com." in response.content.decode()
    notification = Notification.objects.get(order=order)
    assert (notification.status, notification.requested_by) == ("sent", support)
    note = order.status_changes.order_by("pk").last()
    assert note.actor == "staff:alice"
    assert note.from_status == note.to_status == OrderStatus.ERROR
    exchange = UpstreamExchange.objects.get(order=order)
    assert (exchange.upstream, exchange.status) == ("Mailgun", 200)
    assert "i***@example.com" in exchange.request_body
    assert "ivan@example.com" not in exchange.request_body


def test_an_sms_the_provider_refuses_is_reported(
    support_client,
    messaging_sandbox,  # noqa: F811
):
    order = failed_order(invoiced=True, customer_phone="+15005550001")

    response = support_client.post(order_url(order, "notify/sms"), follow=True)

    page = response.content.decode()
    assert "SMS to +*********01 failed:" in page
    assert "is not a valid phone number" in page
    exchange = UpstreamExchange.objects.get(order=order)
    assert (exchange.upstream, exchange.status) == ("Twilio", 400)


def test_a_channel_that_is_not_configured_is_named(support_client, settings):
    settings.TWILIO = {**settings.TWILIO, "ACCOUNT_SID": ""}
    order = failed_order(invoiced=True)

    response = support_client.post(order_url(order, "notify/sms"), follow=True)

    assert "SMS not sent: SMS notifications are not configured: set" in (
        response.content.decode()
    )


def test_a_replay_that_cannot_reach_the_upstream_is_left_to_the_workers(
    support_client,
):
    # The test settings point every upstream at a closed loopback port.
    order = failed_order(invoiced=True, message="CustomAPI answered HTTP 503")

    response = support_client.post(order_url(order, "replay"), follow=True)

    order.refresh_from_db()
    assert order.status == OrderStatus.INVOICED
    assert order.attempts == 1
    assert order.next_attempt_at is not None
    assert order.lease_owner == ""
    page = response.content.decode()
    assert "Replayed from CustomAPI; it is сформирован and the workers carry on" in (
        page
    )
    assert "CustomAPI is unreachable" in page
