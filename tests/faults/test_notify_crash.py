"""A web process killed (SIGKILL) while Mailgun or Twilio has its message.

POST /notify runs in gunicorn, a process of its own, against the sandbox in
this process playing both providers. The provider accepts the message and
holds its answer back; the server is killed meanwhile. The notification must
not be sent again — not by a repeat of the request, not by a retry — and
must end ``unknown`` once the reconciliation has run, with a note for staff.
"""

import re
import threading

import pytest
import requests

from django.utils import timezone
from rest_framework_simplejwt.tokens import RefreshToken

from integrations.sandbox import SandboxServer
from notifications.email import email_recipient
from notifications.models import Notification, NotificationStatus
from notifications.services import RECONCILE_ACTOR
from notifications.sms import sms_recipient
from orders.models import OrderStatus
from tests.factories import make_order
from tests.faults.conftest import wait_until

MAILGUN_KEY = "crash-mailgun-key-3d9f"
TWILIO_SID = "AC" + "fedcba9876543210" * 2
TWILIO_TOKEN = "crash-twilio-token-8e1a"
SENDING_TIMEOUT_SECONDS = 1
# channel → (provider's stats name, scenario key, the order's recipient)
CHANNELS = {
    "email": ("mailgun", "email_faults", email_recipient),
    "sms": ("twilio", "sms_faults", sms_recipient),
}


@pytest.fixture
def providers():
    """Play Mailgun and Twilio; a held answer waits a minute."""
    server = SandboxServer(
        port=0,
        timeout_seconds=60,
        mailgun_api_key=MAILGUN_KEY,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,
    ).start()
    yield server
    server.stop()


def provider_env(processes, providers) -> dict:
    """Point both providers at the sandbox, with clients patient enough to wait."""
    return processes.env(
        MAILGUN_API_KEY=MAILGUN_KEY,
        MAILGUN_SENDER_DOMAIN="mg.example.com",
        MAILGUN_API_URL=f"{providers.url}/mailgun/v3",
        MAILGUN_READ_TIMEOUT="120",
        TWILIO_ACCOUNT_SID=TWILIO_SID,
        TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
        TWILIO_FROM_NUMBER="+15005550006",
        TWILIO_API_URL=f"{providers.url}/twilio",
        TWILIO_TIMEOUT="120",
        NOTIFY_SENDING_TIMEOUT_SECONDS=str(SENDING_TIMEOUT_SECONDS),
    )


def start_web(processes, providers, *, name: str):
    """Start gunicorn on a free loopback port; return it and its base URL."""
    process = processes.start(
        "-m",
        "gunicorn",
        "phpservice.wsgi",
        "--bind",
        "127.0.0.1:0",
        "--workers",
        "1",
        "--timeout",
        "300",
        name=name,
        env=provider_env(processes, providers),
    )
    found = wait_until(
        lambda: re.search(
            r"Listening at: (http://127\.0\.0\.1:\d+)", processes.output(name)
        ),
        timeout=60,
        what=f"{name} to listen",
    )
    url = found.group(1)
    wait_until(lambda: _answers(f"{url}/health"), timeout=60, what=f"{name} up")
    return process, url


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def notify(url, token, order, channel, *, key=None, timeout=10):
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return requests.post(
        f"{url}/notify",
        json={"order_id": order.order_id, "notify_type": channel},
        headers=headers,
        timeout=timeout,
    )


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_notification_cut_off_mid_call_becomes_unknown_and_is_not_sent_again(
    processes, providers, operator, channel
):
    stats_name, faults_key, recipient_of = CHANNELS[channel]
    order = make_order(status=OrderStatus.SENT)
    # The provider takes the message, then keeps its answer for a minute.
    providers.load_scenario({faults_key: {recipient_of(order): "timeout"}})
    token = str(RefreshToken.for_user(operator).access_token)
    web, url = start_web(processes, providers, name="web")

    cut_off = []
    request = threading.Thread(
        target=lambda: cut_off.append(
            _cut_off(lambda: notify(url, token, order, channel, key="k-1", timeout=90))
        ),
        daemon=True,
    )
    request.start()
    wait_until(
        lambda: providers.stats()[stats_name]["accepted"] == 1,
        timeout=60,
        what=f"{stats_name} to accept the message",
    )
    processes.kill(web)
    request.join(timeout=30)
    assert cut_off == [True]

    # Left as the dead process left it: sending, no answer to replay.
    notification = Notification.objects.get()
    assert notification.status == NotificationStatus.SENDING
    assert notification.response is None

    web, url = start_web(processes, providers, name="web-again")
    repeat = notify(url, token, order, channel, key="k-1")
    assert repeat.status_code == 409, repeat.text
    assert repeat.json()["error"]["code"] == "in_progress"
    # A new request is held off for as long as the outcome is not known,
    # however long that is, not only for the cooldown.
    retry = notify(url, token, order, channel)
    assert retry.status_code == 409, retry.text
    assert retry.json()["error"]["code"] == "in_progress"

    wait_until(
        lambda: (
            (timezone.now() - notification.created_at).total_seconds()
            > SENDING_TIMEOUT_SECONDS
        ),
        timeout=10,
        what="the sending timeout to pass",
    )
    reconcile = processes.manage(
        "reconcile_notifications",
        name="reconcile",
        env=provider_env(processes, providers),
    )
    assert reconcile.wait(timeout=60) == 0, processes.output("reconcile")
    assert "Notifications marked unknown: 1." in processes.output("reconcile")

    notification.refresh_from_db()
    assert notification.status == NotificationStatus.UNKNOWN
    assert notification.error_code == "interrupted"
    provider = {"email": "Mailgun", "sms": "Twilio"}[channel]
    assert notification.error_message.startswith(
        f"The sending stopped before {provider} answered"
    )
    note = order.status_changes.get(actor=RECONCILE_ACTOR)
    assert "unknown" in note.message
    assert "not sent again automatically" in note.message

    replay = notify(url, token, order, channel, key="k-1")
    assert replay.status_code == 504, replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["status"] == "unknown"
    assert replay.json()["error"]["code"] == "interrupted"

    sent = providers.stats()[stats_name]
    assert (sent["requests"], sent["accepted"], len(sent["messages"])) == (1, 1, 1)
    assert Notification.objects.count() == 1


def _cut_off(send) -> bool:
    """Return True if ``send`` got no answer because the server died."""
    try:
        send()
    except requests.ConnectionError:
        return True
    return False
