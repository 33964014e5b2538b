"""GET /health and GET /ready, the probes of load balancers and orchestrators."""

from datetime import timedelta

import pytest

from django.utils import timezone

from integrations.models import SalesCursor

pytestmark = pytest.mark.django_db


def test_health_answers_without_a_token(client):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_when_database_broker_and_polls_are_fine(client):
    SalesCursor.objects.create(last_success_at=timezone.now())

    response = client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "broker": "ok", "sales_poll": "ok"},
    }


def test_not_ready_before_the_first_successful_poll(client):
    response = client.get("/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["sales_poll"] == "no successful poll yet"


def test_not_ready_when_the_last_poll_is_too_old(client, settings):
    settings.READY_MAX_POLL_AGE_SECONDS = 300
    SalesCursor.objects.create(last_success_at=timezone.now() - timedelta(hours=1))

    response = client.get("/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["sales_poll"].startswith("last successful poll")


def test_not_ready_when_the_broker_does_not_answer(client, monkeypatch):
    SalesCursor.objects.create(last_success_at=timezone.now())

    class SilentBroker:
        def ping(self):
            raise ConnectionError("refused")

    monkeypatch.setattr("phpservice.health.get_broker", SilentBroker)

    response = client.get("/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "unreachable (ConnectionError)"


def test_probes_are_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/health").status_code == 200
    assert client.get("/status").status_code == 301
