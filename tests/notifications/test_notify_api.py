"""POST /notify through the real anymail and twilio clients to the sandbox."""

import json
from pathlib import Path

import pytest

from django.conf import settings
from rest_framework.throttling import ScopedRateThrottle

from notifications.models import Notification, NotificationStatus
from orders.models import OrderStatus
from tests.conftest import bearer
from tests.factories import make_order
from tests.notifications.conftest import MAILGUN_KEY, TWILIO_TOKEN

pytestmark = pytest.mark.django_db


def test_email_is_sent_in_russian_and_recorded(messaging_sandbox, notify):
    order = make_order(
        status=OrderStatus.ERROR,
        message="Неверный формат данных",
        product_name="Кофе ☕ «Арабика»",
    )

    response = notify(order.order_id, "email")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["success"] is True
    assert body["recipient"] == "i***@example.com"
    [sent] = messaging_sandbox.stats()["mailgun"]["messages"]
    assert sent["to"] == ["ivan@example.com"]
    assert sent["subject"] == f"Заказ {order.order_id}: ошибка"
    for part in (sent["text"], sent["html"]):
        assert "Неверный формат данных" in part
        assert "Кофе ☕" in part
    assert "50000.00 ₽" in sent["text"]
    notification = Notification.objects.get(pk=body["notification_id"])
    assert notification.status == NotificationStatus.SENT
    assert notification.provider_message_id == sent["id"] == body["provider_message_id"]
    assert notification.recipient == "ivan@example.com"


@pytest.mark.parametrize(
    ("phone", "e164"),
    [
        ("+7 (999) 999-99-99", "+79999999999"),
        ("8 (999) 123-45-67", "+79991234567"),
        ("8-800-555-35-35", "+78005553535"),
    ],
)
def test_sms_goes_to_the_e164_number(messaging_sandbox, notify, phone, e164):
    order = make_order(status=OrderStatus.SENT, customer_phone=phone)

    response = notify(order.order_id, "sms")

    assert response.status_code == 200, response.json()
    [sent] = messaging_sandbox.stats()["twilio"]["messages"]
    assert sent["to"] == e164
    assert sent["from"] == "+15005550006"
    assert sent["body"] == f"Заказ {order.order_id}: отправлен."
    notification = Notification.objects.get()
    assert notification.provider_message_id == sent["sid"]
    assert notification.recipient == e164


def test_long_sms_is_cut_to_two_segments(messaging_sandbox, notify):
    message = "Очень длинное сообщение " * 20
    order = make_order(status=OrderStatus.ERROR, message=message)

    notify(order.order_id, "sms")

    [sent] = messaging_sandbox.stats()["twilio"]["messages"]
    assert len(sent["body"]) <= 134
    assert sent["num_segments"] in ("1", "2", 1, 2)


def test_twilio_invalid_number_is_failure_with_its_code(messaging_sandbox, notify):
    # Twilio's documented test number for "invalid To"; valid to phonenumbers.
    order = make_order(customer_phone="+1 500-555-0001")

    response = notify(order.order_id, "sms")

    assert response.status_code == 502
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "21211"
    assert "not a valid phone number" in body["error"]["message"]
    assert Notification.objects.get().status == NotificationStatus.FAILED


def test_wrong_mailgun_key_says_so(messaging_sandbox, notify, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_API_KEY": "wrong-key-123456"}
    order = make_order()

    response = notify(order.order_id, "email")

    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "http_401"
    assert "MAILGUN_API_KEY" in error["message"]
    assert "wrong-key-123456" not in response.content.decode()


def test_unparseable_phone_is_400_and_never_reaches_twilio(messaging_sandbox, notify):
    order = make_order(customer_phone="позвоните маме")

    response = notify(order.order_id, "sms")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_recipient"
    assert "customer_phone" in error["fields"]
    assert messaging_sandbox.stats()["twilio"]["requests"] == 0
    assert not Notification.objects.exists()


def test_repeated_idempotency_key_sends_once(messaging_sandbox, notify):
    order = make_order()

    first = notify(order.order_id, "email", key="retry-me-1")
    again = notify(order.order_id, "email", key="retry-me-1")

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert messaging_sandbox.stats()["mailgun"]["accepted"] == 1
    assert Notification.objects.count() == 1


def test_idempotency_key_reused_for_another_channel_is_refused(
    messaging_sandbox, notify
):
    order = make_order()
    notify(order.order_id, "email", key="k-1")

    response = notify(order.order_id, "sms", key="k-1")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_cooldown_answers_429_with_retry_after(messaging_sandbox, notify):
    order = make_order()
    notify(order.order_id, "sms")

    again = notify(order.order_id, "sms")
    email = notify(order.order_id, "email")

    assert again.status_code == 429
    # The service's one error shape; the wait it names is Retry-After's.
    assert list(again.json()) == ["error"]
    assert again.json()["error"]["code"] == "cooldown"
    assert 1 <= int(again["Retry-After"]) <= 60
    assert f"try again in {again['Retry-After']} s" in again.json()["error"]["message"]
    assert email.status_code == 200  # the cooldown is per channel
    assert messaging_sandbox.stats()["twilio"]["accepted"] == 1


def test_throttle_answers_429_per_user(messaging_sandbox, notify, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"notify": "2/hour"})
    orders = [make_order() for _ in range(3)]

    answers = [notify(o.order_id, "email") for o in orders]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["error"]["code"] == "throttled"
    assert int(answers[2]["Retry-After"]) > 0


def test_timeout_leaves_unknown_and_is_not_sent_again(
    messaging_sandbox, notify, settings
):
    order = make_order()
    messaging_sandbox.load_scenario({"sms_faults": {"+79999999999": "timeout"}})

    first = notify(order.order_id, "sms")
    second = notify(order.order_id, "sms")

    assert first.status_code == 504
    assert first.json()["status"] == "unknown"
    assert Notification.objects.get().status == NotificationStatus.UNKNOWN
    assert second.status_code == 429
    assert messaging_sandbox.stats()["twilio"]["requests"] == 1


def test_email_timeout_leaves_unknown(messaging_sandbox, notify):
    order = make_order()
    messaging_sandbox.load_scenario({"email_faults": {"ivan@example.com": "timeout"}})

    response = notify(order.order_id, "email")

    assert response.status_code == 504
    assert response.json()["error"]["code"] == "timeout"
    assert Notification.objects.get().status == NotificationStatus.UNKNOWN


def test_unreachable_provider_fails_and_may_be_tried_again(
    messaging_sandbox, notify, settings
):
    settings.TWILIO = {**settings.TWILIO, "API_URL": "http://127.0.0.1:9"}
    order = make_order()

    first = notify(order.order_id, "sms")
    settings.TWILIO = {**settings.TWILIO, "API_URL": f"{messaging_sandbox.url}/twilio"}
    second = notify(order.order_id, "sms")

    assert first.status_code == 502
    assert first.json()["error"]["code"] == "unreachable"
    assert second.status_code == 200  # a failure does not start the cooldown


def test_messaging_service_replaces_the_from_number(
    messaging_sandbox, notify, settings
):
    service = "MG" + "0123456789abcdef" * 2
    settings.TWILIO = {**settings.TWILIO, "MESSAGING_SERVICE_SID": service}
    order = make_order()

    notify(order.order_id, "sms")

    [sent] = messaging_sandbox.stats()["twilio"]["messages"]
    assert sent["messaging_service_sid"] == service
    assert not sent["from"]


def test_customer_cannot_notify_for_another_customers_order(
    messaging_sandbox, notify, customer_factory
):
    alice = customer_factory("alice", customer_id="A-1")
    theirs = make_order(customer_id="B-2")
    own = make_order(customer_id="A-1")

    refused = notify(theirs.order_id, "email", user=alice)
    allowed = notify(own.order_id, "email", user=alice)

    assert refused.status_code == 404
    assert allowed.status_code == 200
    assert messaging_sandbox.stats()["mailgun"]["accepted"] == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"order_id": "1"}, "notify_type"),
        ({"order_id": "1", "notify_type": "pigeon"}, "notify_type"),
        ({"notify_type": "sms"}, "order_id"),
        ({"order_id": "x" * 65, "notify_type": "sms"}, "order_id"),
    ],
)
def test_bad_input_is_400_naming_the_field(api_client, operator, payload, field):
    response = api_client.post("/notify", payload, format="json", **bearer(operator))

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_unconfigured_channel_is_503_naming_the_variable(notify, settings):
    settings.TWILIO = {**settings.TWILIO, "AUTH_TOKEN": ""}
    order = make_order()

    response = notify(order.order_id, "sms")

    assert response.status_code == 503
    assert "TWILIO_AUTH_TOKEN" in response.json()["error"]["message"]


def test_notification_is_noted_in_the_order_history(messaging_sandbox, notify):
    order = make_order()

    notify(order.order_id, "email")

    note = order.status_changes.get()
    assert note.from_status == note.to_status == order.status
    assert note.actor == "api:operator"
    assert note.message == "Email to i***@example.com: accepted"


def test_provider_exchanges_are_logged_without_secrets_or_contact_data(
    messaging_sandbox, notify
):
    order = make_order(customer_email="olga.sidorova@example.com")

    notify(order.order_id, "email")
    notify(order.order_id, "sms")

    log_dir = Path(settings.LOG_DIR)
    exchanges = [
        json.loads(line)
        for line in (log_dir / "upstream.log").read_text("utf-8").splitlines()
    ]
    ours = {
        line["upstream"]: line
        for line in exchanges
        if messaging_sandbox.url in line["url"]
    }
    assert ours["Mailgun"]["status"] == 200
    assert ours["Twilio"]["status"] == 201
    assert "o***@example.com" in ours["Mailgun"]["request_body"]
    everything = "".join(p.read_text("utf-8") for p in log_dir.glob("*.log"))
    for secret in (MAILGUN_KEY, TWILIO_TOKEN, "olga.sidorova@example.com"):
        assert secret not in everything
    assert "+79999999999" not in everything
