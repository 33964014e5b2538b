"""Delivery reports from Mailgun and Twilio, signed by the sandbox as they sign."""

import pytest
import requests

from notifications.models import Notification, NotificationStatus
from tests.factories import make_order

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def deliver(messaging_sandbox):
    """Return a function making the sandbox post a delivery report to ``url``."""

    def post(channel, message_id, event, url, *, forge=False):
        response = requests.post(
            f"{messaging_sandbox.url}/_sandbox/deliver",
            json={
                "channel": channel,
                "message_id": message_id,
                "event": event,
                "url": url,
                "forge": forge,
            },
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()

    return post


@pytest.fixture
def sent_email(messaging_sandbox, notify):
    order = make_order()
    assert notify(order.order_id, "email").status_code == 200
    return Notification.objects.get()


@pytest.fixture
def sent_sms(messaging_sandbox, notify, live_server, settings):
    settings.TWILIO = {
        **settings.TWILIO,
        "STATUS_CALLBACK_URL": f"{live_server.url}/webhooks/twilio/status",
    }
    order = make_order()
    assert notify(order.order_id, "sms").status_code == 200
    return Notification.objects.get()


def mailgun_url(live_server) -> str:
    return f"{live_server.url}/webhooks/anymail/mailgun/tracking/"


def test_signed_mailgun_report_marks_email_delivered(sent_email, deliver, live_server):
    answer = deliver(
        "email", sent_email.provider_message_id, "delivered", mailgun_url(live_server)
    )

    sent_email.refresh_from_db()
    assert answer["status"] == 200
    assert sent_email.status == NotificationStatus.DELIVERED
    assert sent_email.order.status_changes.last().message.endswith(": delivered")


def test_forged_mailgun_report_changes_nothing(sent_email, deliver, live_server):
    answer = deliver(
        "email",
        sent_email.provider_message_id,
        "delivered",
        mailgun_url(live_server),
        forge=True,
    )

    sent_email.refresh_from_db()
    assert answer["status"] in (400, 403)
    assert sent_email.status == NotificationStatus.SENT


def test_signed_twilio_callback_marks_sms_delivered(sent_sms, deliver, settings):
    url = settings.TWILIO["STATUS_CALLBACK_URL"]
    assert sent_sms.status == NotificationStatus.SENT

    answer = deliver("sms", sent_sms.provider_message_id, "delivered", url)

    sent_sms.refresh_from_db()
    assert answer["status"] == 204
    assert sent_sms.status == NotificationStatus.DELIVERED


def test_forged_twilio_callback_is_403_and_changes_nothing(sent_sms, deliver, settings):
    url = settings.TWILIO["STATUS_CALLBACK_URL"]

    answer = deliver("sms", sent_sms.provider_message_id, "delivered", url, forge=True)

    sent_sms.refresh_from_db()
    assert answer["status"] == 403
    assert sent_sms.status == NotificationStatus.SENT


def test_late_report_does_not_move_a_delivered_sms_back(sent_sms, deliver, settings):
    url = settings.TWILIO["STATUS_CALLBACK_URL"]
    deliver("sms", sent_sms.provider_message_id, "delivered", url)

    deliver("sms", sent_sms.provider_message_id, "sent", url)

    sent_sms.refresh_from_db()
    assert sent_sms.status == NotificationStatus.DELIVERED


def test_failed_sms_report_keeps_the_error_code(sent_sms, deliver, settings):
    url = settings.TWILIO["STATUS_CALLBACK_URL"]

    deliver("sms", sent_sms.provider_message_id, "undelivered", url)

    sent_sms.refresh_from_db()
    assert sent_sms.status == NotificationStatus.UNDELIVERED
    assert sent_sms.error_code
