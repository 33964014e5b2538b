"""GET /metrics: who may scrape it, what it counts, and across processes."""

import io
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from django.utils import timezone

from integrations.pipeline import orders_process_due
from orders.models import Order, OrderStatus
from phpservice.redaction import redact
from tests.factories import make_order, sales_record

TOKEN = "metrics-token-6f1d2c9a8b7e4f30"
AUTH = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
REPO = Path(django_settings.BASE_DIR)
CALLS = "phpservice_upstream_calls_total"
DURATION_COUNT = "phpservice_upstream_call_duration_seconds_count"
INVALID = "phpservice_upstream_invalid_answers_total"
RETRIES = "phpservice_pipeline_retries_total"
OLDEST = "phpservice_oldest_working_order_age_seconds"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def parse(text: str) -> dict:
    """Return every sample of a scrape as {(name, sorted labels): value}."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client) -> dict:
    response = client.get("/metrics", **AUTH)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return parse(response.content.decode())


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- Access -------------------------------------------------------------------


def test_without_a_token_configured_metrics_answer_404_like_an_unknown_path(
    client, settings
):
    settings.METRICS_TOKEN = ""

    response = client.get("/metrics", **AUTH)
    posted = client.post("/metrics")

    assert response.status_code == 404
    assert response.json() == client.get("/no-such-path").json()
    assert posted.status_code == 404


def test_without_a_token_configured_debug_serves_metrics_openly(client, settings):
    settings.METRICS_TOKEN = ""
    settings.DEBUG = True

    response = client.get("/metrics")

    assert response.status_code == 200
    assert b"phpservice_orders" in response.content


def test_scrape_without_a_token_is_401_with_a_bearer_challenge(client):
    response = client.get("/metrics")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert response.json()["error"]["code"] == "not_authenticated"
    assert b"phpservice_orders" not in response.content


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",
        "Bearer jwt.looking.token",
    ],
)
def test_scrape_with_a_wrong_token_is_401(client, header):
    response = client.get("/metrics", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert b"phpservice_orders" not in response.content


def test_wrong_token_is_told_invalid_token(client):
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")

    assert (
        response["WWW-Authenticate"] == 'Bearer realm="metrics", error="invalid_token"'
    )
    assert response.json()["error"]["code"] == "invalid_token"


def test_scrape_with_the_token_serves_the_text_format(client):
    response = client.get("/metrics", **AUTH)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert response["Cache-Control"] == "no-store"
    assert "phpservice_database_metrics_up 1.0" in response.content.decode()


@pytest.mark.parametrize(
    "accept",
    ["application/openmetrics-text; version=abc", "application/openmetrics-text"],
)
def test_a_scraper_asking_for_openmetrics_gets_a_format_it_can_read(client, accept):
    response = client.get("/metrics", HTTP_ACCEPT=accept, **AUTH)

    assert response.status_code == 200
    body = response.content.decode()
    assert "phpservice_database_metrics_up" in body
    if "version=abc" in accept:  # not a version: the plain text format
        assert response["Content-Type"].startswith("text/plain; version=")
    else:
        assert response["Content-Type"].startswith("application/openmetrics-text")
        assert body.rstrip().endswith("# EOF")


def test_metrics_are_exempt_from_the_https_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/status").status_code == 301
    assert client.get("/metrics", **AUTH).status_code == 200


def test_the_token_is_redacted_from_log_lines(settings):
    line = f"scraped with Authorization: Bearer {TOKEN} from 10.0.0.7"

    assert TOKEN not in redact(line)


# --- Figures from the database -------------------------------------------------


def test_orders_are_counted_by_status(client):
    make_order(status=OrderStatus.SENT)
    make_order(status=OrderStatus.SENT)
    make_order(status=OrderStatus.ERROR)

    samples = scrape(client)

    assert value(samples, "phpservice_orders", status="sent") == 2
    assert value(samples, "phpservice_orders", status="error") == 1
    # Every status is listed, so that a rate over it never starts from nothing.
    assert ("phpservice_orders", (("status", "invoiced"),)) in samples


def test_oldest_working_order_age_is_that_of_the_first_to_arrive(client):
    older, newer = make_order(), make_order(status=OrderStatus.INVOICED)
    now = timezone.now()
    Order.objects.filter(pk=older.pk).update(created_at=now - timedelta(hours=2))
    Order.objects.filter(pk=newer.pk).update(created_at=now - timedelta(minutes=5))
    make_order(status=OrderStatus.SENT)

    samples = scrape(client)

    processing = value(samples, OLDEST, status="processing")
    invoiced = value(samples, OLDEST, status="invoiced")
    assert 7200 <= processing < 7300
    assert 300 <= invoiced < 400


def test_oldest_working_order_age_is_zero_when_nothing_waits(client):
    make_order(status=OrderStatus.SENT)

    samples = scrape(client)

    assert value(samples, OLDEST, status="processing") == 0


def test_unreachable_database_still_serves_the_process_figures(client, monkeypatch):
    def broken():
        raise DatabaseError("server has gone away")

    monkeypatch.setattr("phpservice.metrics_collector.order_status_counts", broken)

    samples = scrape(client)

    assert value(samples, "phpservice_database_metrics_up") == 0
    assert not any(name == "phpservice_orders" for name, _ in samples)


# --- Figures each process counts, after real calls through the sandbox ---------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_pipeline_calls_and_retries_are_counted(client, sandbox):
    sent, rejected = sales_record(), sales_record()
    sandbox.load_scenario(
        {
            "orders": [sent, rejected],
            "faults": {
                sent["order_id"]: {"bill": ["http_500", "http_500"]},
                rejected["order_id"]: {
                    "custom": {"code": -1, "message": "Неверный формат данных"}
                },
            },
        }
    )
    before = scrape(client)

    call_command("run_pipeline", "--once", "--max-wait", "30", stdout=io.StringIO())

    after = scrape(client)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert value(after, "phpservice_orders", status="sent") == 1
    assert value(after, "phpservice_orders", status="error") == 1
    assert grew(CALLS, upstream="sales", outcome="ok") >= 1
    assert grew(CALLS, upstream="bill", outcome="http_5xx") == 2
    assert grew(CALLS, upstream="bill", outcome="ok") == 2
    assert grew(CALLS, upstream="custom", outcome="ok") == 2
    assert grew(RETRIES, step="bill") == 2
    assert grew(RETRIES, step="custom") == 0
    assert (
        grew(
            DURATION_COUNT,
            upstream="bill",
            outcome="ok",
        )
        == 2
    )
    assert (
        grew(
            "phpservice_upstream_call_duration_seconds_bucket",
            upstream="bill",
            outcome="ok",
            le="+Inf",
        )
        == 2
    )
    assert value(after, OLDEST, status="processing") == 0


@pytest.mark.e2e
def test_timeouts_and_unusable_answers_are_counted_apart(client, sandbox):
    order = make_order()
    sandbox.load_scenario({"faults": {order.order_id: {"custom": ["timeout", "html"]}}})
    before = scrape(client)

    orders_process_due()
    timed_out = scrape(client)
    Order.objects.filter(pk=order.pk).update(next_attempt_at=timezone.now())
    orders_process_due()
    after = scrape(client)

    def grew(since, until, name, **labels):
        return value(until, name, **labels) - value(since, name, **labels)

    custom = {"upstream": "custom"}
    assert grew(before, timed_out, CALLS, **custom, outcome="timeout") == 1
    assert grew(before, timed_out, RETRIES, step="custom") == 1
    assert grew(before, timed_out, INVALID, **custom) == 0
    # The HTML page is a 200 at the HTTP level, unusable by the contract.
    assert grew(timed_out, after, CALLS, **custom, outcome="ok") == 1
    assert grew(timed_out, after, INVALID, **custom) == 1
    assert grew(timed_out, after, CALLS, **custom, outcome="timeout") == 0


# --- Several processes: PROMETHEUS_MULTIPROC_DIR -------------------------------

RECORDER = textwrap.dedent(
    """
    import sys

    import django

    django.setup()

    from integrations.sales import SalesClient

    client = SalesClient()
    for _ in range(int(sys.argv[1])):
        client.fetch_page(cursor="", limit=1)
    """
)


def _environment(directory, sandbox, **extra) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "SALES_API_URL": f"{sandbox.url}/sales",
        **extra,
    }


def _record_in_two_processes(directory, sandbox) -> None:
    recorders = [
        subprocess.Popen(
            [sys.executable, "-c", RECORDER, str(calls)],
            cwd=REPO,
            env=_environment(directory, sandbox),
        )
        for calls in (3, 4)
    ]
    for recorder in recorders:
        assert recorder.wait(timeout=60) == 0


def test_web_scrape_sums_the_calls_of_every_process(
    client, sandbox, tmp_path, monkeypatch
):
    _record_in_two_processes(tmp_path, sandbox)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    samples = scrape(client)

    assert len(list(tmp_path.glob("counter_*.db"))) == 2
    calls = {"upstream": "sales", "outcome": "ok"}
    assert value(samples, CALLS, **calls) == 7
    assert value(samples, DURATION_COUNT, **calls) == 7
    # The database figures come with them, once.
    assert value(samples, "phpservice_database_metrics_up") == 1


@pytest.fixture
def serve_metrics(sandbox, tmp_path):
    """Start ``serve_metrics --port 0`` on the directory; return its URL."""
    servers = []

    def start(**extra_env) -> str:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "serve_metrics", "--port", "0"],
            cwd=REPO,
            env=_environment(tmp_path, sandbox, **extra_env),
            stdout=subprocess.PIPE,
            text=True,
        )
        servers.append(server)
        line = server.stdout.readline()
        assert line.startswith("Serving metrics on http://127.0.0.1:"), line
        return line.split()[-1]

    yield start
    for server in servers:
        server.terminate()
        server.wait(timeout=10)


def _get(url: str, headers=None) -> tuple[int, str]:
    # Only the loopback URL that serve_metrics printed is opened here.
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_worker_node_serves_the_sum_of_its_processes(serve_metrics, sandbox, tmp_path):
    _record_in_two_processes(tmp_path, sandbox)
    url = serve_metrics()

    status, text = _get(url)

    assert status == 200
    samples = parse(text)
    assert value(samples, CALLS, upstream="sales", outcome="ok") == 7
    # Orders are the web nodes' to tell unless --database is given.
    assert not any(name == "phpservice_orders" for name, _ in samples)


def test_worker_node_asks_for_the_token_when_one_is_set(serve_metrics):
    url = serve_metrics(METRICS_TOKEN=TOKEN)

    assert _get(url)[0] == 401
    assert _get(url, {"Authorization": "Bearer wrong"})[0] == 401
    assert _get(url, {"Authorization": f"Bearer {TOKEN}"})[0] == 200


def test_serve_metrics_needs_the_multiprocess_directory(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)

    with pytest.raises(CommandError, match="Set PROMETHEUS_MULTIPROC_DIR"):
        call_command("serve_metrics", "--port", "0")


def test_serve_metrics_beyond_loopback_needs_a_token(settings, tmp_path, monkeypatch):
    settings.METRICS_TOKEN = ""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    with pytest.raises(CommandError, match="Set METRICS_TOKEN"):
        # Refused before anything is bound.
        call_command("serve_metrics", "--port", "0", "--bind", "0.0.0.0")  # noqa: S104
