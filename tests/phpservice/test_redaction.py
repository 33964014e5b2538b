import json
from decimal import Decimal

import pytest

from phpservice.redaction import mask_email, mask_phone, redact, truncate

R = "[REDACTED]"
M = "[MASKED]"
MAILGUN_ID = "<20261204153552.739912.0FD035FC8C2CC145@mg.example.com>"
TWILIO_SID = "SM" + "9991234567" + "0" * 20 + "ab"
# Every separator seen between the digits of a phone number besides "-" and " ".
UNICODE_SEPARATORS = [chr(code) for code in range(0x2010, 0x2016)] + ["\xa0", "\u202f"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {"TOKEN": "x1", "Api-Key": "x2", "nested": [{"Cookie": "x3"}]},
            {"TOKEN": R, "Api-Key": R, "nested": [{"Cookie": R}]},
        ),
        (
            {"access": "a", "refresh": "r", "key": "k", "keys": 2},
            {"access": R, "refresh": R, "key": R, "keys": 2},
        ),
        ({"passwd": None, "secret": ""}, {"passwd": None, "secret": ""}),
        (
            {"Idempotency-Key": "k-1", "idempotency_key": "k-2"},
            {"Idempotency-Key": "k-1", "idempotency_key": "k-2"},
        ),
        ('[{"token": "t"}]', '[{"token": "[REDACTED]"}]'),
        ("{not json, token=abc123}", "{not json, token=[REDACTED]}"),
        (
            '{"user": "ivan", "password": "hunter2-sec',
            '{"user": "ivan", "password": "[REDACTED]',
        ),
        ("retry with api_key: 'k-abc123", "retry with api_key: '[REDACTED]"),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: [REDACTED]"),
        ("sent Bearer abc.def-123", "sent Bearer [REDACTED]"),
        ("sent BEARER abc.def-123", "sent BEARER [REDACTED]"),
        (Decimal("1.10"), "1.10"),
        ((1, True, None, float("nan")), [1, True, None, "nan"]),
    ],
)
def test_secrets_are_redacted_by_key_and_shape(value, expected):
    assert redact(value) == expected


def test_changed_settings_are_picked_up(settings):
    settings.JWT_SIGNING_KEY = "rotated-signing-key-0a1b2c3d"

    assert redact("key rotated-signing-key-0a1b2c3d!") == "key [REDACTED]!"


def test_mask_helpers():
    assert mask_email("ivan@example.com") == "i***@example.com"
    assert mask_email("Иван <ivan@example.com>") == "Иван <i***@example.com>"
    assert mask_phone("+7 (999) 999-99-99") == "+*********99"
    assert mask_phone("8 999 123 45 67") == "*********67"
    assert mask_phone("1234") == "****"
    assert truncate("x" * 12345, 3) == "xxx…[truncated, 12345 chars]"
    assert truncate("short", 10) == "short"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call 9991234567 now", "call ********67 now"),
        ("(999) 123-45-67", "********67"),
        ("тел. 999 123 45 67.", "тел. ********67."),
        ("call (999)123-4567", "call ********67"),
        ("+7 (999) 123-45-67", "+*********67"),
        ("8-999-123-45-67 or 79991234567", "*********67 or *********67"),
        ("to +1 500 555 0006", "to +*********06"),
    ],
)
def test_phone_numbers_in_free_text_are_masked(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("separator", UNICODE_SEPARATORS)
def test_phone_numbers_split_by_unicode_dashes_and_spaces_are_masked(separator):
    national = separator.join(["999", "123", "45", "67"])

    assert redact(f"sms to {national}") == "sms to ********67"
    assert redact(f"sms to +7{separator}{national}") == "sms to +*********67"
    assert redact(f"sms to 8{separator}({national[:3]}){national[3:]}") == (
        "sms to *********67"
    )


@pytest.mark.parametrize(
    "text",
    [
        "at 2026-12-04T15:35:52.739912+03:00 took 12.5 ms, 9.5 s in all",
        "at 2026-12-04 15:35:52,739",
        "order MX95B9BT-000007 (was T000123), invoice INV-123456",
        "invoice INV-9991234567 for order 9991234567-A",
        f"Twilio {TWILIO_SID} queued",
        f"Mailgun {MAILGUN_ID} queued",
        "request 99912345-6789-4abc-8def-999123456789",
        "HTTP 502, then 200 after 3 retries",
        "total=9991234567.50 RUB, ratio 0.9991234567",
        "customers 7001 7002 7003",
    ],
)
def test_ids_times_and_amounts_are_not_taken_for_phone_numbers(text):
    assert redact(text) == text


def test_mailgun_message_id_is_kept_whole_as_it_names_our_message():
    body = json.dumps({"id": MAILGUN_ID, "message": "Queued. Thank you."})

    assert redact(body) == body
    assert mask_email(MAILGUN_ID) == MAILGUN_ID
    assert redact({"to": MAILGUN_ID[1:-1]}) == {"to": "2***@mg.example.com"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"customer_phone": "999 123 45 67 (моб.)"}, {"customer_phone": "********67"}),
        ({"phone": "тел. 999-123-45-67"}, {"phone": "********67"}),
        ({"phone": "кв. 12"}, {"phone": M}),
        ({"customer_email": "ivan at example dot com"}, {"customer_email": M}),
        ({"Email": "ivan (at) mail.ru"}, {"Email": M}),
        (
            {"recipient": "Иван Петров <ivan.petrov@example.com>"},
            {"recipient": "i***@example.com"},
        ),
        (
            {"cc": "ivan@example.com; olga@example.org"},
            {"cc": "i***@example.com, o***@example.org"},
        ),
        (
            {"To": "+7 999 123-45-67", "From": "+15005550006"},
            {"To": "+*********67", "From": "+*********06"},
        ),
        ({"TO": "ask the manager", "From": "Shop"}, {"TO": M, "From": "Shop"}),
        (
            {"to": ["ivan@example.com", "8 (999) 123-45-67", 79991234567]},
            {"to": ["i***@example.com", "*********67", "*********67"]},
        ),
        (
            {"to": {"email": "ivan@example.com", "name": "Иван"}},
            {"to": {"email": "i***@example.com", "name": "Иван"}},
        ),
        ({"email": "", "phone": None}, {"email": "", "phone": None}),
    ],
)
def test_contact_keys_keep_only_masked_addresses_and_phone_digits(value, expected):
    assert redact(value) == expected
    # Logged values are redacted again on their way out: nothing changes.
    assert redact(expected) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "{customer_phone: '999 123 45 67 (моб.)', customer_name: 'Иван'}",
            "{customer_phone: '********67', customer_name: 'Иван'}",
        ),
        (
            "{'to': 'ivan at example dot com', 'status': 'sent'}",
            "{'to': '[MASKED]', 'status': 'sent'}",
        ),
        (
            '[{"order_id": "MX95B9BT-000007", "customer_email": "ivan at example'
            ' dot com", "customer_phone": "+7 999 12',
            '[{"order_id": "MX95B9BT-000007", "customer_email": "[MASKED]",'
            ' "customer_phone": "+****12',
        ),
        (
            '{"To": "тел. 999-123-45-67", "Body": "Заказ MX95B9BT-000007 оплач',
            '{"To": "********67", "Body": "Заказ MX95B9BT-000007 оплач',
        ),
        (
            "sms.sent phone: 9991234567 order: 12",
            "sms.sent phone: ********67 order: 12",
        ),
        (
            "GET /notify?to=ivan%40example.com&order_id=12",
            "GET /notify?to=[MASKED]&order_id=12",
        ),
    ],
)
def test_contact_keys_in_text_that_is_not_json_are_masked(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"ivan.petrov"@example.com', "i***@example.com"),
        ('write to "Ivan Petrov"@example.com.', "write to I***@example.com."),
        ("ivan@[192.168.0.1]", "i***@[192.168.0.1]"),
        ("ivan@[IPv6:2001:db8::1]", "i***@[IPv6:2001:db8::1]"),
        ("ivan@192.168.0.1", "i***@192.168.0.1"),
        (
            '{"note": "write to \\"ivan petrov\\"@example.com',
            '{"note": "write to i***@example.com',
        ),
    ],
)
def test_quoted_and_ip_literal_emails_are_masked(text, expected):
    assert redact(text) == expected
    assert mask_email(text) == expected
