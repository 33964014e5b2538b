import pytest

from rest_framework.throttling import ScopedRateThrottle

from integrations.sandbox import SandboxServer
from tests.conftest import bearer

MAILGUN_KEY = "test-mailgun-key-5b2e8d1f"
MAILGUN_SIGNING_KEY = "test-mailgun-signing-key-77aa"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "test-twilio-token-4c6e8a2b"


@pytest.fixture
def messaging_sandbox(settings):
    """Start a sandbox playing Mailgun and Twilio; point both providers at it."""
    server = SandboxServer(
        port=0,
        timeout_seconds=2.0,
        mailgun_api_key=MAILGUN_KEY,
        mailgun_webhook_signing_key=MAILGUN_SIGNING_KEY,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,
    ).start()
    # The test runner swaps in an in-memory email backend; use the real one.
    settings.EMAIL_BACKEND = "notifications.email.MailgunBackend"
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "MAILGUN_API_KEY": MAILGUN_KEY,
        "MAILGUN_SENDER_DOMAIN": "mg.example.com",
        "MAILGUN_API_URL": f"{server.url}/mailgun/v3",
        "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_SIGNING_KEY,
        "REQUESTS_TIMEOUT": (1, 1),
    }
    settings.TWILIO = {
        **settings.TWILIO,
        "ACCOUNT_SID": TWILIO_SID,
        "AUTH_TOKEN": TWILIO_TOKEN,
        "FROM_NUMBER": "+15005550006",
        "API_URL": f"{server.url}/twilio",
        "TIMEOUT": 1.0,
    }
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def generous_throttle(monkeypatch):
    """Let tests notify freely unless they set a rate of their own."""
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"notify": "1000/hour"})


@pytest.fixture
def notify(api_client, operator):
    """Return a function posting to /notify; it returns the response."""

    def post(order_id, notify_type, *, user=None, key=None):
        headers = bearer(user or operator)
        if key is not None:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        return api_client.post(
            "/notify",
            {"order_id": order_id, "notify_type": notify_type},
            format="json",
            **headers,
        )

    return post
