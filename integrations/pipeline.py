"""Drive orders through BillAPI and CustomAPI to a resting status.

The order row is the unit of work. A worker claims due orders by writing its
name and a lease expiry on them, works each one step after another, and lets
go of it when the order rests or waits for a retry. A worker that dies keeps
its orders only until the lease runs out; then another takes them up. Calls
carry an Idempotency-Key derived from the order, so repeating a call whose
outcome was unknown has no second effect upstream.
"""

import hashlib
import logging
import os
import queue
import random
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from integrations.bill import BillClient
from integrations.custom import CustomClient
from integrations.exchanges import exchanges_of_order
from integrations.http import UpstreamError
from orders.models import WORKING_STATUSES, Order, OrderStatus
from orders.services import (
    LeaseLost,
    lease_expiry,
    order_renew_lease,
    order_schedule_retry,
    order_transition,
)
from phpservice.metrics import pipeline_retry_observe

logger = logging.getLogger(__name__)

ACTOR = "pipeline"

# The step each working status is waiting on, as people name it.
STEP_LABELS = {
    OrderStatus.PROCESSING: "BillAPI",
    OrderStatus.INVOICED: "CustomAPI",
}


def worker_name() -> str:
    """Return a name for this claim that no other worker will use."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def bill_idempotency_key(order: Order) -> str:
    return f"bill-{order.order_id}"


def custom_idempotency_key(order: Order) -> str:
    # The invoice id is BillAPI's and may hold any character; a digest of it
    # keeps the header plain ASCII.
    digest = hashlib.sha256(order.invoice_id.encode()).hexdigest()[:16]
    key = f"custom-{order.order_id}-{digest}"
    # A staff replay of a filing CustomAPI rejected is a new filing: an
    # operator that remembers its answer under a key would repeat the
    # rejection forever (see orders.replay).
    return f"{key}-r{order.filing_round}" if order.filing_round else key


def backoff_seconds(attempt: int, *, retry_after: float | None = None) -> float:
    """Return how long to wait before ``attempt`` + 1: exponential, jittered."""
    config = settings.PIPELINE
    ceiling = min(
        config["BACKOFF_MAX_SECONDS"],
        config["BACKOFF_BASE_SECONDS"] * 2 ** max(attempt - 1, 0),
    )
    # Half fixed, half random: retries of many orders that failed together
    # spread out instead of arriving at the upstream together.
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, config["BACKOFF_MAX_SECONDS"]))
    return delay


@dataclass
class Clients:
    """The upstream clients one worker thread uses, each with its own session."""

    bill: BillClient = field(default_factory=BillClient)
    custom: CustomClient = field(default_factory=CustomClient)


def orders_claim_due(*, owner: str, limit: int) -> list[Order]:
    """Take up to ``limit`` due orders for ``owner`` and return them.

    Each order's ``left_behind`` says whether another worker still held it
    when its lease ran out: that worker died or hung, perhaps because of it.
    Its unfinished attempt is counted now, since nothing else will count it:
    an order that kills every worker taking it up is tried a bounded number
    of times, like one that fails. Counting here rather than as each attempt
    begins keeps the ordinary path free of a write.
    """
    now = timezone.now()
    due = Order.objects.filter(
        status__in=WORKING_STATUSES, next_attempt_at__lte=now
    ).filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
    lease_until = now + timedelta(seconds=settings.PIPELINE["LEASE_SECONDS"])
    with transaction.atomic():
        candidates = due.order_by("next_attempt_at")
        if connection.features.has_select_for_update_skip_locked:
            # Workers claiming at the same moment pass over each other's rows
            # instead of queueing behind them.
            candidates = candidates.select_for_update(skip_locked=True)
        previous_owners = dict(candidates.values_list("pk", "lease_owner")[:limit])
        pks = list(previous_owners)
        if not pks:
            return []
        # The conditional update is the claim itself: where no row locks
        # exist (SQLite), it still lets only one worker win each order.
        due.filter(pk__in=pks).update(lease_owner=owner, lease_expires_at=lease_until)
        if left_behind := [pk for pk, previous in previous_owners.items() if previous]:
            Order.objects.filter(pk__in=left_behind, lease_owner=owner).update(
                attempts=F("attempts") + 1
            )
    orders = list(Order.objects.filter(pk__in=pks, lease_owner=owner))
    for order in orders:
        order.left_behind = bool(previous_owners[order.pk])
    return orders


def order_process_now(*, order: Order, clients: Clients | None = None) -> Order:
    """Claim this one order if it is free and work it now; return it fresh.

    For staff who want to see an order's outcome at once (a replay). An
    order another worker holds is left to it.
    """
    owner = worker_name()
    now = timezone.now()
    claimed = (
        Order.objects.filter(pk=order.pk, status__in=WORKING_STATUSES)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(
            lease_owner=owner,
            lease_expires_at=now
            + timedelta(seconds=settings.PIPELINE["LEASE_SECONDS"]),
        )
    )
    if claimed:
        fresh = Order.objects.get(pk=order.pk)
        _advance_safely(fresh, owner, clients or Clients())
    return Order.objects.get(pk=order.pk)


def order_advance(*, order: Order, owner: str, clients: Clients) -> Order:
    """Work a claimed order until it rests, waits for a retry, or is lost."""
    while order.status in WORKING_STATUSES:
        try:
            if not _hold(order=order, owner=owner):
                break
            if not _attempts_left(order=order, owner=owner):
                break
            with exchanges_of_order(order.order_id, pk=order.pk):
                order = _take_step(order=order, owner=owner, clients=clients)
        except UpstreamError as err:
            _note_failure(
                order=order,
                owner=owner,
                problem=str(err),
                retryable=err.retryable,
                retry_after=getattr(err, "retry_after", None),
            )
            break
        except LeaseLost:
            logger.warning("order.lease_lost", extra={"order_id": order.order_id})
            break
    return order


def _hold(*, order: Order, owner: str) -> bool:
    """Make sure the lease covers the step about to start; False if it is lost.

    A claim's lease starts when the batch is claimed, and an order may wait in
    its lane behind others; a lease half gone is renewed before the call, so
    that another worker does not take up an order whose worker is alive.
    """
    if order.lease_expires_at is not None:
        remaining = (order.lease_expires_at - timezone.now()).total_seconds()
        if remaining > settings.PIPELINE["LEASE_SECONDS"] / 2:
            return True
    if order_renew_lease(order=order, lease_owner=owner):
        order.lease_expires_at = lease_expiry()
        return True
    logger.warning("order.lease_lost", extra={"order_id": order.order_id})
    return False


def _attempts_left(*, order: Order, owner: str) -> bool:
    """Return whether the order may be tried again; rest it in error if not.

    Failures are bounded where they are noted; this bounds the attempts that
    never finished, which ``orders_claim_due`` counts when it takes up an
    order a dead worker left behind.
    """
    limit = settings.PIPELINE["MAX_ATTEMPTS"]
    if order.attempts < limit:
        return True
    # The last attempt began and its outcome was never recorded: the worker
    # making it was killed, crashed or lost the database.
    step = STEP_LABELS[order.status]
    order_transition(
        order=order,
        to_status=OrderStatus.ERROR,
        actor=ACTOR,
        message=(
            f"{step}: attempt {order.attempts} of {limit} never finished: the "
            "worker making it stopped (crashed, was killed or lost the "
            f"database) — gave up after {order.attempts} attempts"
        ),
        lease_owner=owner,
        updates={
            "lease_owner": "",
            "lease_expires_at": None,
            "attempts": order.attempts,
        },
    )
    logger.error(
        "order.attempts_unfinished",
        extra={"order_id": order.order_id, "step": step, "attempts": limit},
    )
    return False


def _take_step(*, order: Order, owner: str, clients: Clients) -> Order:
    rest = {"lease_owner": "", "lease_expires_at": None}
    if order.status == OrderStatus.PROCESSING:
        invoice = clients.bill.create_invoice(
            order=order, idempotency_key=bill_idempotency_key(order)
        )
        return order_transition(
            order=order,
            to_status=OrderStatus.INVOICED,
            actor=ACTOR,
            message=f"BillAPI made invoice {invoice['invoice_id']}",
            lease_owner=owner,
            updates={"invoice": invoice, "invoice_id": invoice["invoice_id"]},
        )

    verdict = clients.custom.file_invoice(
        invoice=order.invoice,
        order_id=order.order_id,
        idempotency_key=custom_idempotency_key(order),
    )
    if verdict.accepted:
        return order_transition(
            order=order,
            to_status=OrderStatus.SENT,
            actor=ACTOR,
            message="CustomAPI accepted the invoice",
            lease_owner=owner,
            updates=rest,
        )
    logger.warning(
        "order.rejected_by_custom",
        extra={"order_id": order.order_id, "code": verdict.code},
    )
    return order_transition(
        order=order,
        to_status=OrderStatus.ERROR,
        actor=ACTOR,
        message=verdict.message,
        error_code=verdict.code,
        lease_owner=owner,
        updates=rest,
    )


def _note_failure(
    *,
    order: Order,
    owner: str,
    problem: str,
    retryable: bool,
    retry_after: float | None = None,
) -> None:
    """Schedule the order's next attempt, or rest it in error after the last."""
    step = STEP_LABELS[order.status]
    attempt = order.attempts + 1
    limit = settings.PIPELINE["MAX_ATTEMPTS"]
    if retryable and attempt < limit:
        delay = backoff_seconds(attempt, retry_after=retry_after)
        next_at = timezone.now() + timedelta(seconds=delay)
        message = (
            f"{problem} — attempt {attempt} of {limit} failed; "
            f"retrying {step} in {delay:.0f} s"
        )
        if order_schedule_retry(
            order=order,
            lease_owner=owner,
            attempts=attempt,
            next_attempt_at=next_at,
            message=message,
        ):
            pipeline_retry_observe(step=step)
            logger.info(
                "order.retry_scheduled",
                extra={
                    "order_id": order.order_id,
                    "step": step,
                    "attempt": attempt,
                    "delay_seconds": round(delay, 1),
                },
            )
        return

    message = f"{problem} — gave up after {attempt} attempts" if retryable else problem
    try:
        order_transition(
            order=order,
            to_status=OrderStatus.ERROR,
            actor=ACTOR,
            message=message,
            lease_owner=owner,
            # The attempts stay on the dead-lettered order for staff to see.
            updates={"lease_owner": "", "lease_expires_at": None, "attempts": attempt},
        )
    except LeaseLost:
        logger.warning("order.lease_lost", extra={"order_id": order.order_id})


@dataclass
class ProcessResult:
    """What one processing pass did."""

    claimed: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


def orders_process_due(
    *, batch_size: int | None = None, concurrency: int | None = None
) -> ProcessResult:
    """Claim one batch of due orders and work them, several at a time."""
    batch_size = batch_size or settings.PIPELINE["BATCH_SIZE"]
    concurrency = concurrency or settings.PIPELINE["CONCURRENCY"]
    owner = worker_name()
    orders = orders_claim_due(owner=owner, limit=batch_size)
    result = ProcessResult(claimed=len(orders))
    if not orders:
        return result

    if connection.vendor == "sqlite":
        # SQLite has one writer at a time; threads would only queue.
        concurrency = 1
    outcomes: list[Order] = []
    # Orders a dead worker left behind are worked first, one at a time and
    # with nothing else in flight: if one of them is what kills workers, its
    # next kill costs no other order an unfinished attempt.
    left_behind = [order for order in orders if order.left_behind]
    if left_behind:
        clients = Clients()
        outcomes.extend(_advance_safely(order, owner, clients) for order in left_behind)
    work: queue.SimpleQueue = queue.SimpleQueue()
    for order in orders:
        if not order.left_behind:
            work.put(order)

    def lane() -> None:
        clients = Clients()
        try:
            while True:
                try:
                    order = work.get_nowait()
                except queue.Empty:
                    return
                outcomes.append(_advance_safely(order, owner, clients))
        finally:
            if threading.current_thread() is not threading.main_thread():
                connections.close_all()

    lanes = min(concurrency, work.qsize())
    if lanes <= 1:
        lane()
    else:
        threads = [threading.Thread(target=lane, daemon=True) for _ in range(lanes)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    for order in outcomes:
        result.by_status[order.status] = result.by_status.get(order.status, 0) + 1
    return result


def _advance_safely(order: Order, owner: str, clients: Clients) -> Order:
    # One order's unexpected failure must not stop the others in the batch:
    # it is logged with its traceback and the order is tried again later.
    try:
        return order_advance(order=order, owner=owner, clients=clients)
    except Exception as err:
        logger.exception("order.processing_failed", extra={"order_id": order.order_id})
        close_old_connections()
        try:
            _note_failure(
                order=order,
                owner=owner,
                problem=f"Internal error ({type(err).__name__}) while working on it",
                retryable=True,
            )
        except Exception:
            # The database itself may be away; the lease then runs out and
            # another pass takes the order up.
            logger.exception(
                "order.failure_not_recorded", extra={"order_id": order.order_id}
            )
        return order
