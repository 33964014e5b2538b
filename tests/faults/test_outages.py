"""Upstreams that go down for a while and come back.

Each upstream here is a sandbox of its own, stopped (connections refused)
and started again on the same port, so the service's settings never change:
as in production, only the far side comes and goes.

Already proven elsewhere, and not repeated here:

- SalesAPI down: the poll fails, the cursor and its last error are kept, and
  ``run_pipeline`` exits non-zero — tests/e2e/test_pipeline.py
  ``test_sales_outage_keeps_the_cursor_and_fails_the_command``;
- BillAPI answering 500 a few times, then 200: one invoice in the end —
  ``test_bill_server_errors_are_retried_into_one_invoice``; CustomAPI timing
  out, then answering: one filing — ``test_custom_timeout_then_success_has_one_effect``;
- an upstream that never comes back: ``ошибка`` after the last attempt —
  ``test_upstream_that_keeps_failing_rests_in_error_after_the_last_attempt``;
- a 429 is retried — ``test_rate_limited_call_is_retried``; Retry-After is
  read in seconds — tests/integrations/test_http_client.py
  ``test_status_codes_map_to_failures``.

Added here: SalesAPI back after an outage leaves no gap and serves nothing
twice; an order waiting on a stopped BillAPI or CustomAPI shows the backoff
(attempts, a future next attempt, a message naming the upstream and the
cause) and completes once it is back; the wait after a 429 is at least its
Retry-After.
"""

import time
from datetime import timedelta

import pytest

from django.core.management import call_command
from django.utils import timezone

from integrations.models import SalesCursor
from integrations.pipeline import orders_process_due
from integrations.polling import sales_poll
from integrations.sandbox import SandboxServer
from orders.models import Order, OrderStatus
from tests.factories import sales_record
from tests.faults.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


class Upstreams:
    """One sandbox per upstream, each stopped and restarted on its own port."""

    def __init__(self, settings):
        self.settings = settings
        self.servers: dict[str, SandboxServer] = {}
        self.scenario = None

    def start(self, name: str, *, port: int = 0) -> SandboxServer:
        server = SandboxServer(port=port, timeout_seconds=2.0, reject_share=0.0)
        server.start()
        if self.scenario is not None:
            server.load_scenario(self.scenario)
        self.servers[name] = server
        if not port:
            self.settings.UPSTREAMS = {
                **self.settings.UPSTREAMS,
                name: {**self.settings.UPSTREAMS[name], "URL": f"{server.url}/{name}"},
            }
        return server

    def load_scenario(self, scenario: dict) -> None:
        self.scenario = scenario
        for server in self.servers.values():
            server.load_scenario(scenario)

    def stop(self, name: str) -> None:
        self.servers[name].stop()

    def restart(self, name: str) -> SandboxServer:
        """Start the upstream again where it was: same port, same scenario."""
        return self.start(name, port=self.servers[name].port)

    def close(self) -> None:
        for server in self.servers.values():
            server.stop()


@pytest.fixture
def upstreams(settings):
    running = Upstreams(settings)
    for name in ("sales", "bill", "custom"):
        running.start(name)
    yield running
    running.close()


def rest_all(max_wait: float = 30) -> None:
    """Drive every order to a resting status, as a cron run would."""
    call_command("run_pipeline", "--once", "--no-poll", "--max-wait", str(max_wait))


def test_sales_back_after_an_outage_leaves_no_gap(upstreams, settings):
    settings.SALES_POLL_PAGE_SIZE = 2
    before = [sales_record() for _ in range(3)]
    upstreams.load_scenario({"orders": before})
    assert sales_poll().error == ""
    cursor = SalesCursor.objects.get().cursor

    upstreams.stop("sales")
    failed = sales_poll()
    assert failed.error.startswith("SalesAPI is unreachable")
    # Orders SalesAPI took meanwhile are waiting there when it comes back.
    after = [sales_record() for _ in range(3)]
    upstreams.load_scenario({"orders": before + after})
    upstreams.restart("sales")
    resumed = sales_poll()

    assert (resumed.error, resumed.created) == ("", 3)
    assert SalesCursor.objects.get().cursor != cursor
    assert SalesCursor.objects.get().last_error == ""
    stored = set(Order.objects.values_list("order_id", flat=True))
    assert stored == {r["order_id"] for r in before + after}
    # The new instance served only what came after the kept cursor.
    assert upstreams.servers["sales"].stats()["sales"]["orders_served"] == 3


@pytest.mark.parametrize(
    ("upstream", "label", "waiting_in"),
    [
        ("bill", "BillAPI", OrderStatus.PROCESSING),
        ("custom", "CustomAPI", OrderStatus.INVOICED),
    ],
)
def test_order_waits_with_backoff_for_a_stopped_upstream(
    upstreams, settings, upstream, label, waiting_in
):
    settings.PIPELINE = {
        **settings.PIPELINE,
        "BACKOFF_BASE_SECONDS": 1.0,
        "BACKOFF_MAX_SECONDS": 2.0,
        "MAX_ATTEMPTS": 6,
    }
    record = sales_record()
    upstreams.load_scenario({"orders": [record]})
    sales_poll()
    upstreams.stop(upstream)

    for attempt in (1, 2):
        wait_until(
            lambda: orders_process_due().claimed,
            timeout=10,
            what=f"attempt {attempt} to come due",
        )
        order = Order.objects.get(order_id=record["order_id"])
        assert order.status == waiting_in
        assert order.attempts == attempt
        assert order.next_attempt_at > timezone.now()
        assert order.message.startswith(f"{label} is unreachable (ConnectionError)")
        assert f"attempt {attempt} of 6 failed; retrying {label} in" in order.message
        # Not due yet: a pass now leaves it alone.
        assert orders_process_due().claimed == 0

    server = upstreams.restart(upstream)
    rest_all()

    order = Order.objects.get(order_id=record["order_id"])
    assert order.status == OrderStatus.SENT
    assert order.attempts == 0
    counts = server.stats()[upstream]["by_order"][record["order_id"]]
    assert (counts["requests"], counts["effects"]) == (1, 1)


def test_custom_server_errors_hold_the_order_then_it_is_sent(upstreams, settings):
    settings.PIPELINE = {**settings.PIPELINE, "BACKOFF_BASE_SECONDS": 1.0}
    record = sales_record()
    upstreams.load_scenario(
        {
            "orders": [record],
            "faults": {record["order_id"]: {"custom": ["http_500", "http_500"]}},
        }
    )
    sales_poll()

    orders_process_due()

    order = Order.objects.get(order_id=record["order_id"])
    assert order.status == OrderStatus.INVOICED
    assert order.attempts == 1
    assert order.next_attempt_at > timezone.now()
    assert order.message.startswith("CustomAPI answered HTTP 500")
    rest_all()
    order.refresh_from_db()
    assert order.status == OrderStatus.SENT
    custom = upstreams.servers["custom"].stats()["custom"]["by_order"]
    assert custom[record["order_id"]]["requests"] == 3
    assert custom[record["order_id"]]["effects"] == 1


def test_next_attempt_after_429_is_not_before_retry_after(upstreams, settings):
    # The backoff alone would retry within 0.05 s; the sandbox asks for 1 s.
    settings.PIPELINE = {
        **settings.PIPELINE,
        "BACKOFF_BASE_SECONDS": 0.05,
        "BACKOFF_MAX_SECONDS": 5.0,
    }
    record = sales_record()
    upstreams.load_scenario(
        {"orders": [record], "faults": {record["order_id"]: {"bill": ["http_429"]}}}
    )
    sales_poll()
    asked_at = timezone.now()

    orders_process_due()

    order = Order.objects.get(order_id=record["order_id"])
    assert order.message.startswith("BillAPI answered HTTP 429 (too many requests)")
    assert order.next_attempt_at >= asked_at + timedelta(seconds=1)
    bill = upstreams.servers["bill"]
    while timezone.now() < order.next_attempt_at - timedelta(seconds=0.1):
        orders_process_due()
        time.sleep(0.05)
    assert bill.stats()["bill"]["by_order"][record["order_id"]]["requests"] == 1

    rest_all()

    order.refresh_from_db()
    assert order.status == OrderStatus.SENT
    assert bill.stats()["bill"]["by_order"][record["order_id"]]["requests"] == 2
