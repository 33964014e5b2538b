"""A live worker keeps its orders: leases renewed before each call.

Another worker may take up an order only when its lease has run out, which
must mean its worker died, not that it was slow to reach the order or moved
on to the next step. The sandbox answers after a delay, so that the test can
act while a call is under way.
"""

import threading
import time
from datetime import timedelta

import pytest

from django.contrib.auth import get_user_model
from django.utils import timezone

from integrations.pipeline import (
    Clients,
    custom_idempotency_key,
    order_advance,
    orders_claim_due,
)
from integrations.sandbox import SandboxServer
from orders.models import Order, OrderStatus
from orders.replay import order_replay_start
from orders.services import order_transition
from tests.factories import make_order

pytestmark = pytest.mark.django_db(transaction=True)

LATENCY_SECONDS = 0.6


@pytest.fixture
def slow_upstreams(settings):
    server = SandboxServer(
        port=0, latency_ms=LATENCY_SECONDS * 1000, reject_share=0.0
    ).start()
    settings.UPSTREAMS = {
        name: {**config, "URL": f"{server.url}/{name}"}
        for name, config in settings.UPSTREAMS.items()
    }
    yield server
    server.stop()


def expire_soon(order, seconds: float) -> None:
    Order.objects.filter(pk=order.pk).update(
        lease_expires_at=timezone.now() + timedelta(seconds=seconds)
    )


def work_in_background(order, owner) -> threading.Thread:
    thread = threading.Thread(
        target=order_advance,
        kwargs={"order": order, "owner": owner, "clients": Clients()},
    )
    thread.start()
    return thread


def claims_while(thread, *, at: float) -> list:
    """Let another worker try to claim ``at`` seconds in; return what it got."""
    time.sleep(at)
    taken = orders_claim_due(owner="other-worker", limit=10)
    thread.join(timeout=30)
    return taken


def test_an_order_that_waited_in_its_lane_is_not_taken_from_a_live_worker(
    slow_upstreams,
):
    make_order()
    (order,) = orders_claim_due(owner="worker", limit=1)
    # As if it had waited behind other orders: little of its lease is left,
    # less than the call about to start will take.
    expire_soon(order, 0.3)
    order.lease_expires_at = timezone.now() + timedelta(seconds=0.3)

    taken = claims_while(work_in_background(order, "worker"), at=0.5)

    assert taken == []
    order.refresh_from_db()
    assert (order.status, order.attempts) == (OrderStatus.SENT, 0)
    stats = slow_upstreams.stats()
    assert stats["bill"]["requests"] == stats["custom"]["requests"] == 1


def test_the_lease_covers_the_second_step_too(slow_upstreams, settings):
    # A lease that outlasts one call but not two.
    settings.PIPELINE = {**settings.PIPELINE, "LEASE_SECONDS": 1.5 * LATENCY_SECONDS}
    make_order()
    (order,) = orders_claim_due(owner="worker", limit=1)

    # Into the CustomAPI call, past the claim's lease.
    taken = claims_while(work_in_background(order, "worker"), at=1.7 * LATENCY_SECONDS)

    assert taken == []
    order.refresh_from_db()
    assert (order.status, order.attempts) == (OrderStatus.SENT, 0)
    stats = slow_upstreams.stats()
    assert stats["custom"]["requests"] == 1


def test_a_replay_from_an_old_copy_files_under_a_new_round():
    staff = get_user_model().objects.create_user("staff", password="pw-Ax8!mQ2z#")
    order = make_order(
        status=OrderStatus.ERROR,
        invoice={"invoice_id": "INV-1"},
        invoice_id="INV-1",
        error_code="-1",
    )
    seen_by_first = Order.objects.get(pk=order.pk)

    # A second member of staff replays it; CustomAPI rejects round 1 again.
    first = order_replay_start(order=Order.objects.get(pk=order.pk), user=staff)
    rejected_key = custom_idempotency_key(first)
    order_transition(
        order=first,
        to_status=OrderStatus.ERROR,
        actor="t",
        message="x",
        error_code="-1",
    )
    # Then the first replays from the page they loaded before all that.
    second = order_replay_start(order=seen_by_first, user=staff)

    assert second.filing_round == 2
    assert custom_idempotency_key(second) != rejected_key
