"""The sandbox's Mailgun and Twilio, driven by the real SDKs on 127.0.0.1."""

import json
import re

import pytest
import requests
from twilio.base.exceptions import TwilioRestException

from anymail.exceptions import (
    AnymailRequestsAPIError,
)
from django.core.management import CommandError, call_command

from integrations.management.commands import run_sandbox
from integrations.sandbox import ScenarioError, parse_scenario, webhooks
from integrations.sandbox.twilio import segments_count
from tests.integrations.messaging import (
    ACCOUNT_SID,
    HTML,
    MAILGUN_ID,
    MAILGUN_KEY,
    SENDER_DOMAIN,
    SMS_BODY,
    SUBJECT,
    TEXT,
    deliver,
    email,
    send_email,
    send_sms,
    twilio_client,
)

# --- Mailgun ------------------------------------------------------------------


def test_anymail_send_is_queued_and_kept_exactly_as_sent(start):
    server = start()
    message = email(headers={"X-Order-Id": "123456"})
    message.metadata = {"order_id": "123456"}
    message.tags = ["заказ"]

    send_email(server, message)

    mailgun = server.stats()["mailgun"]
    kept = mailgun["messages"][0]
    assert message.anymail_status.status == {"queued"}
    assert message.anymail_status.message_id == kept["id"]
    assert MAILGUN_ID.fullmatch(kept["id"])
    assert (mailgun["requests"], mailgun["accepted"], mailgun["rejected"]) == (1, 1, 0)
    assert kept["domain"] == SENDER_DOMAIN
    assert kept["subject"].encode() == SUBJECT.encode()
    assert kept["text"].encode() == TEXT.encode()
    assert kept["html"].encode() == HTML.encode()
    assert kept["to"] == ["Иван Иванов <ivan@example.com>"]
    assert kept["from"] == f"Служба заказов <orders@{SENDER_DOMAIN}>"
    assert kept["headers"] == {"X-Order-Id": "123456"}
    assert kept["variables"] == {"order_id": "123456"}
    assert kept["tags"] == ["заказ"]


def test_anymail_attachment_goes_as_multipart_with_fields_intact(start):
    server = start()
    message = email()
    message.attach("счёт.txt", "Счёт INV-123456", "text/plain")

    send_email(server, message)

    kept = server.stats()["mailgun"]["messages"][0]
    assert kept["subject"] == SUBJECT
    assert kept["text"] == TEXT
    assert kept["attachments"] == [
        {
            "field": "attachment",
            "filename": "счёт.txt",
            "content_type": "text/plain",
            "size": len("Счёт INV-123456".encode()),
        }
    ]


def test_anymail_with_a_wrong_key_gets_401_forbidden(start):
    server = start()

    with pytest.raises(AnymailRequestsAPIError) as caught:
        send_email(server, key="wrong-key")

    assert caught.value.status_code == 401
    assert caught.value.response.text == "Forbidden"
    mailgun = server.stats()["mailgun"]
    assert (mailgun["accepted"], mailgun["rejected"], mailgun["messages"]) == (0, 1, [])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"to": "ivan@example.com", "text": "x"}, "'from' parameter is missing"),
        ({"from": "a@mg.example.com", "text": "x"}, "'to' parameter is missing"),
        (
            {"from": "a@mg.example.com", "to": "ivan", "text": "x"},
            "'to' parameter is not a valid address. please check documentation",
        ),
        (
            {"from": "a@mg.example.com", "to": "ivan@example.com"},
            "Need at least one of 'text', 'html' or 'template' parameters specified",
        ),
    ],
)
def test_mailgun_refuses_an_incomplete_message_with_its_wording(start, fields, message):
    server = start()

    response = requests.post(
        f"{server.url}/mailgun/v3/{SENDER_DOMAIN}/messages",
        data=fields,
        auth=("api", MAILGUN_KEY),
        timeout=5,
    )

    assert response.status_code == 400
    assert response.json() == {"message": message}


def test_email_faults_answer_in_turn_and_a_timeout_still_queues(start):
    server = start(
        timeout_seconds=0.5,
        scenario={"email_faults": {"Ivan@Example.com": ["http_500", "timeout"]}},
    )

    with pytest.raises(AnymailRequestsAPIError) as failed:
        send_email(server)
    with pytest.raises(AnymailRequestsAPIError) as timed_out:
        send_email(server, timeout=0.2)
    sent = send_email(server)

    mailgun = server.stats()["mailgun"]
    assert failed.value.status_code == 500
    assert isinstance(timed_out.value, requests.Timeout)
    assert (mailgun["requests"], mailgun["accepted"], mailgun["rejected"]) == (3, 2, 1)
    assert mailgun["messages"][-1]["id"] == sent.anymail_status.message_id


# --- Twilio -------------------------------------------------------------------


def test_twilio_client_creates_a_queued_message_kept_as_sent(start, receiver):
    server = start()
    callback = f"{receiver.url}/webhooks/twilio/status"

    created = send_sms(server, status_callback=callback)

    twilio = server.stats()["twilio"]
    assert re.fullmatch(r"SM[0-9a-f]{32}", created.sid)
    assert created.status == "queued"
    assert created.num_segments == "1"
    assert created.direction == "outbound-api"
    assert created.date_created.tzinfo is not None
    assert (created.price, created.error_code) == (None, None)
    assert created.account_sid == ACCOUNT_SID
    assert (twilio["requests"], twilio["accepted"], twilio["rejected"]) == (1, 1, 0)
    assert twilio["messages"] == [
        {
            "sid": created.sid,
            "to": "+79991234567",
            "from": "+15005550006",
            "messaging_service_sid": None,
            "body": SMS_BODY,
            "num_segments": 1,
            "status_callback": callback,
        }
    ]


def test_twilio_counts_a_long_cyrillic_body_in_ucs2_segments(start):
    server = start()

    created = send_sms(
        server, body="Ж" * 71, from_=None, messaging_service_sid="MG" + "0" * 32
    )

    assert created.num_segments == "2"
    assert created.from_ is None
    assert created.messaging_service_sid == "MG" + "0" * 32


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),
        ("€" * 81, 2),
        ("Ж" * 70, 1),
        ("Ж" * 134, 2),
        ("Ж" * 135, 3),
        ("a" * 69 + "😀", 2),
    ],
)
def test_segments_follow_gsm7_and_ucs2_limits(body, segments):
    assert segments_count(body) == segments


@pytest.mark.parametrize(
    ("kwargs", "code", "message"),
    [
        (
            {"to": "8 (999) 123-45-67"},
            21211,
            "The 'To' number 8 (999) 123-45-67 is not a valid phone number.",
        ),
        ({"body": ""}, 21602, "Message body is required."),
        ({"from_": None}, 21603, "A 'From' phone number is required."),
        (
            {"to": "+15005550001"},
            21211,
            "The 'To' number +15005550001 is not a valid phone number.",
        ),
        (
            {"from_": "+15005550007"},
            21606,
            "The 'From' phone number provided (+15005550007) is not a valid "
            "message-capable Twilio phone number for this destination/account.",
        ),
    ],
)
def test_twilio_refuses_a_bad_message_with_its_error_code(start, kwargs, code, message):
    server = start()

    with pytest.raises(TwilioRestException) as caught:
        send_sms(server, **kwargs)

    assert (caught.value.status, caught.value.code) == (400, code)
    assert caught.value.msg == f"Unable to create record: {message}"
    assert server.stats()["twilio"]["rejected"] == 1


def test_twilio_with_a_wrong_token_gets_401_authenticate(start):
    server = start()

    with pytest.raises(TwilioRestException) as caught:
        twilio_client(server, token="wrong").messages.create(
            to="+79991234567", from_="+15005550006", body=SMS_BODY
        )

    assert (caught.value.status, caught.value.code) == (401, 20003)
    assert caught.value.msg == "Unable to create record: Authenticate"


def test_sms_faults_answer_in_turn_then_messages_go(start):
    server = start(scenario={"sms_faults": {"+79991234567": ["http_429", "html"]}})

    with pytest.raises(TwilioRestException) as limited:
        send_sms(server)
    # The client parses a 200 as JSON: an HTML page breaks it.
    with pytest.raises(json.JSONDecodeError):
        send_sms(server)
    created = send_sms(server)
    other = send_sms(server, to="+79990000000")

    twilio = server.stats()["twilio"]
    assert limited.value.status == 429
    assert [kept["sid"] for kept in twilio["messages"]] == [created.sid, other.sid]
    assert (twilio["requests"], twilio["rejected"]) == (4, 2)


# --- Stats, scenarios and the command ---------------------------------------


def test_reset_forgets_messages_and_only_the_last_ones_are_kept(start, monkeypatch):
    monkeypatch.setattr(webhooks, "KEPT_MESSAGES", 2)
    server = start()
    sids = [send_sms(server, body=f"Сообщение {n}").sid for n in range(3)]

    kept = [message["sid"] for message in server.stats()["twilio"]["messages"]]
    reset = requests.post(server.url + "/_sandbox/reset", timeout=5)
    stats = requests.get(server.url + "/_sandbox/stats", timeout=5).json()

    assert kept == sids[1:]
    assert reset.json() == {"ok": True}
    assert stats["twilio"] == {
        "requests": 0,
        "accepted": 0,
        "rejected": 0,
        "messages": [],
    }
    assert deliver(server, channel="sms", message_id=sids[2], event="sent").json() == {
        "error": f"no accepted sms message with id {sids[2]!r}"
    }


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ({"email_faults": []}, "'email_faults' must be an object, not a list"),
        ({"email_faults": {"ivan": "http_500"}}, "'email_faults' key 'ivan' must be"),
        (
            {"sms_faults": {"89991234567": "http_500"}},
            "'sms_faults' key '89991234567' must be an E.164 phone number",
        ),
        (
            {"sms_faults": {"+79991234567": ["ok", "http_503"]}},
            "sms_faults['+79991234567'][1]: unknown fault 'http_503'",
        ),
        (
            {"email_faults": {"a@example.com": {"code": -1, "message": "x"}}},
            "email_faults['a@example.com'] must be a fault name or a list of them",
        ),
    ],
)
def test_bad_message_faults_are_refused_naming_the_key(scenario, message):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(scenario)

    assert str(caught.value).startswith(message)


def test_run_sandbox_takes_credentials_from_options_then_environment(monkeypatch):
    made = {}

    class Unstartable:
        def __init__(self, **kwargs):
            made.update(kwargs)

        def start(self):
            raise OSError(98, "Address already in use")

    monkeypatch.setattr(run_sandbox, "SandboxServer", Unstartable)
    monkeypatch.setenv("MAILGUN_API_KEY", "key-from-env")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "token-from-env")
    monkeypatch.delenv("MAILGUN_WEBHOOK_SIGNING_KEY", raising=False)
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)

    with pytest.raises(CommandError):
        call_command("run_sandbox", twilio_auth_token="token-from-option")

    assert made["mailgun_api_key"] == "key-from-env"
    assert made["twilio_auth_token"] == "token-from-option"
    assert "mailgun_webhook_signing_key" not in made
    assert "twilio_account_sid" not in made
