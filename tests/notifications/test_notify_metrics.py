"""Notifications in the metrics: by channel and status, and each provider call."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from orders.models import OrderStatus
from tests.factories import make_order

TOKEN = "metrics-token-0a9b8c7d6e5f4a3b"

pytestmark = pytest.mark.django_db


@pytest.fixture
def scrape(client, settings):
    """Return a function scraping /metrics; it returns {(name, labels): value}."""
    settings.METRICS_TOKEN = TOKEN

    def get() -> dict:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples
        }

    return get


def calls(samples: dict, upstream: str, outcome: str) -> float:
    labels = (("outcome", outcome), ("upstream", upstream))
    return samples.get(("phpservice_upstream_calls_total", labels), 0.0)


def notifications(samples: dict, channel: str, status: str) -> float:
    labels = (("channel", channel), ("status", status))
    return samples[("phpservice_notifications", labels)]


def test_sent_and_refused_notifications_are_counted(messaging_sandbox, notify, scrape):
    order = make_order(status=OrderStatus.SENT, customer_phone="+15005550001")
    before = scrape()

    assert notify(order.order_id, "email").status_code == 200
    assert notify(order.order_id, "sms").status_code == 502

    after = scrape()
    assert notifications(after, "email", "sent") == 1
    assert notifications(after, "sms", "failed") == 1
    assert notifications(after, "sms", "sent") == 0
    assert calls(after, "mailgun", "ok") - calls(before, "mailgun", "ok") == 1
    assert calls(after, "twilio", "http_4xx") - calls(before, "twilio", "http_4xx") == 1


def test_provider_timeout_is_counted_as_such(messaging_sandbox, notify, scrape):
    order = make_order()
    messaging_sandbox.load_scenario({"email_faults": {"ivan@example.com": "timeout"}})
    before = scrape()

    assert notify(order.order_id, "email").status_code == 504

    after = scrape()
    assert notifications(after, "email", "unknown") == 1
    assert calls(after, "mailgun", "timeout") - calls(before, "mailgun", "timeout") == 1


def test_unreachable_provider_is_counted_as_such(
    messaging_sandbox, notify, scrape, settings
):
    settings.TWILIO = {**settings.TWILIO, "API_URL": "http://127.0.0.1:9"}
    order = make_order()
    before = scrape()

    assert notify(order.order_id, "sms").status_code == 502

    after = scrape()
    unreachable = calls(after, "twilio", "unreachable")
    assert unreachable - calls(before, "twilio", "unreachable") == 1
