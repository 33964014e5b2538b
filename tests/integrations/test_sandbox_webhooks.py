"""The sandbox calls our webhooks signed as Mailgun and Twilio sign them."""

import base64
import json
from urllib.parse import parse_qsl

import pytest
from twilio.request_validator import RequestValidator

from anymail.exceptions import (
    AnymailWebhookValidationFailure,
)
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from django.test import RequestFactory

from tests.integrations.messaging import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    SIGNING_KEY,
    deliver,
    mailgun_signature_valid,
    send_email,
    send_sms,
)

# --- Delivery webhooks --------------------------------------------------------


def test_delivered_email_webhook_is_signed_like_mailgun(start, receiver):
    server = start()
    message = send_email(server)
    message_id = message.anymail_status.message_id
    url = receiver.url.replace("http://", "http://anymail:s3cret@") + "/mailgun"

    answer = deliver(
        server, channel="email", message_id=message_id, event="delivered", url=url
    )

    assert answer.json() == {"status": 200, "body": "ok"}
    call = receiver.received[0]
    payload = json.loads(call["body"])
    event = payload["event-data"]
    credentials = base64.b64encode(b"anymail:s3cret").decode()
    assert call["path"] == "/mailgun"
    assert call["headers"]["Content-Type"] == "application/json"
    assert call["headers"]["Authorization"] == f"Basic {credentials}"
    assert len(payload["signature"]["token"]) == 50
    assert mailgun_signature_valid(payload["signature"])
    assert event["event"] == "delivered"
    assert event["recipient"] == "ivan@example.com"
    assert event["message"]["headers"]["message-id"] == message_id.strip("<>")
    assert isinstance(event["timestamp"], float)


def test_failed_email_webhook_carries_severity_and_delivery_status(start, receiver):
    server = start()
    message_id = send_email(server).anymail_status.message_id.strip("<>")

    deliver(
        server,
        channel="email",
        message_id=message_id,
        event="failed",
        url=receiver.url,
        severity="temporary",
    )

    event = json.loads(receiver.received[0]["body"])["event-data"]
    assert event["severity"] == "temporary"
    assert event["delivery-status"]["code"] == 452


def test_forged_email_webhook_fails_the_signature_check(start, receiver):
    server = start()
    message_id = send_email(server).anymail_status.message_id

    deliver(
        server,
        channel="email",
        message_id=message_id,
        event="delivered",
        url=receiver.url,
        forge=True,
    )

    payload = json.loads(receiver.received[0]["body"])
    assert not mailgun_signature_valid(payload["signature"])


@pytest.mark.parametrize(
    ("event", "error_code"), [("delivered", None), ("undelivered", "30003")]
)
def test_sms_status_callback_is_signed_like_twilio(start, receiver, event, error_code):
    server = start()
    callback = f"{receiver.url}/webhooks/twilio/status"
    created = send_sms(server, status_callback=callback)
    receiver.reply = (204, "")

    answer = deliver(server, channel="sms", message_id=created.sid, event=event)

    call = receiver.received[0]
    params = dict(parse_qsl(call["body"].decode()))
    signature = call["headers"]["X-Twilio-Signature"]
    assert answer.json() == {"status": 204, "body": ""}
    assert RequestValidator(AUTH_TOKEN).validate(callback, params, signature)
    assert params["MessageSid"] == params["SmsSid"] == created.sid
    assert params["MessageStatus"] == event
    assert (params["To"], params["From"]) == ("+79991234567", "+15005550006")
    assert (params["AccountSid"], params["ApiVersion"]) == (ACCOUNT_SID, "2010-04-01")
    assert params.get("ErrorCode") == error_code


def test_forged_sms_status_callback_fails_validation(start, receiver):
    server = start()
    created = send_sms(server)
    url = f"{receiver.url}/webhooks/twilio/status"

    deliver(
        server,
        channel="sms",
        message_id=created.sid,
        event="delivered",
        url=url,
        forge=True,
    )

    call = receiver.received[0]
    params = dict(parse_qsl(call["body"].decode()))
    signature = call["headers"]["X-Twilio-Signature"]
    assert not RequestValidator(AUTH_TOKEN).validate(url, params, signature)


def test_webhook_answer_is_passed_on_cut_to_500_characters(start, receiver):
    server = start()
    created = send_sms(server)
    receiver.reply = (403, "Ж" * 600)

    answer = deliver(
        server, channel="sms", message_id=created.sid, event="sent", url=receiver.url
    )

    assert answer.json() == {"status": 403, "body": "Ж" * 500}


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "https://127.0.0.1/hook",
        "http://127.0.0.1.example.com/hook",
        "http://user:pass@192.0.2.1/hook",
    ],
)
def test_deliver_refuses_a_url_beyond_this_machine(start, url):
    server = start()
    created = send_sms(server)

    answer = deliver(
        server, channel="sms", message_id=created.sid, event="sent", url=url
    )

    assert answer.status_code == 400
    assert (
        "webhooks go to http://127.0.0.1 or http://localhost only"
        in (answer.json()["error"])
    )
    assert "pass" not in answer.json()["error"]


@pytest.mark.parametrize(
    ("request_fields", "status", "error"),
    [
        (
            {"channel": "email", "message_id": "<nope@mg.example.com>"},
            404,
            "no accepted email message with id '<nope@mg.example.com>'",
        ),
        ({"channel": "fax", "message_id": "x"}, 400, "'channel' must be one of"),
        ({"channel": "sms", "message_id": "SM0"}, 404, "no accepted sms message"),
    ],
)
def test_deliver_refuses_unknown_channels_and_messages(
    start, receiver, request_fields, status, error
):
    server = start()

    answer = deliver(server, event="delivered", url=receiver.url, **request_fields)

    assert answer.status_code == status
    assert answer.json()["error"].startswith(error)
    assert receiver.received == []


def test_anymail_tracking_view_reads_the_sandbox_webhook(start, receiver):
    server = start()
    message_id = send_email(server).anymail_status.message_id
    for forge in (False, True):
        deliver(
            server,
            channel="email",
            message_id=message_id,
            event="failed",
            url=receiver.url,
            forge=forge,
        )
    genuine, forged = (
        RequestFactory().post(
            "/webhooks/mailgun", data=call["body"], content_type="application/json"
        )
        for call in receiver.received
    )
    # The view's own checks, without the signal (its receivers use the database).
    view = MailgunTrackingWebhookView(webhook_signing_key=SIGNING_KEY)

    view.validate_request(genuine)
    events = view.parse_events(genuine)
    with pytest.raises(AnymailWebhookValidationFailure):
        view.validate_request(forged)

    assert [(e.event_type, e.message_id, e.recipient) for e in events] == [
        ("bounced", message_id, "ivan@example.com")
    ]
