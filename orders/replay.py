"""Staff replays: put an order that failed back in the pipeline.

A replay resumes from the step that failed. An order without an invoice
goes back to ``processing`` and BillAPI is asked again, under the same
Idempotency-Key as before: if BillAPI did make the invoice last time and only
its answer was lost, it answers with that invoice instead of making a second.
An order with an invoice goes back to ``invoiced`` and only CustomAPI is
asked again.

Which key the new filing carries depends on how the last one ended:

- CustomAPI rejected it (the order has CustomAPI's error code): nothing was
  filed, so a new key is safe, and needed, since an operator that remembers
  its answer per key would repeat the rejection forever. ``filing_round``
  goes up by one and becomes part of the key.
- Anything else (a timeout, 5xx answers until the pipeline gave up, an
  answer that could not be read): the filing may have gone through, so the
  same key is sent again; CustomAPI then answers with its first verdict
  instead of filing twice.
"""

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django_q.tasks import async_task

from integrations.bill import BillClient
from integrations.custom import CustomClient
from integrations.pipeline import STEP_LABELS, Clients, order_process_now
from integrations.schedules import PROCESS_TASK
from orders.models import Order, OrderStatus
from orders.services import InvalidTransition, order_transition
from orders.validation import validate_sales_record

logger = logging.getLogger(__name__)

# A replay run while a person waits gives each call this long to answer;
# a slower upstream counts as a failed attempt, which the workers retry
# with the usual timeouts. Two calls stay well inside a 30 s web timeout.
REPLAY_READ_TIMEOUT_SECONDS = 8.0
# Orders one bulk replay takes on; the rest wait for the next one.
MAX_BULK_REPLAY = 500


class ReplayRefused(Exception):
    """The order cannot be replayed; the message says why."""


def staff_actor(user) -> str:
    """Return how a staff member is named in an order's history."""
    return f"staff:{user.get_username()}"


def replay_step(order: Order) -> str:
    """Return the status a replay of the order resumes from."""
    if order.invoice_id and order.invoice:
        return OrderStatus.INVOICED
    return OrderStatus.PROCESSING


@transaction.atomic
def order_replay_start(*, order: Order, user) -> Order:
    """Move a failed order back to the step that failed; return it fresh.

    Raise ReplayRefused when the order is not in error, or when its SalesAPI
    data is invalid (BillAPI would only be sent the same again).
    """
    # Decided on the row as it is now, locked: a copy another member of staff
    # has replayed since would reuse a filing round CustomAPI already refused.
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status != OrderStatus.ERROR:
        raise ReplayRefused(
            f"Order {order.order_id} is {order.get_status_display()}; only "
            f"orders in {OrderStatus.ERROR.label} are replayed."
        )
    to_status = replay_step(order)
    updates = {"lease_owner": "", "lease_expires_at": None}
    if to_status == OrderStatus.PROCESSING:
        checked = validate_sales_record(order.payload)
        if not checked.is_valid:
            raise ReplayRefused(
                f"Order {order.order_id} cannot be replayed: its SalesAPI data "
                f"is invalid ({checked.error_message})."
            )
    elif order.error_code:
        updates["filing_round"] = order.filing_round + 1

    step = STEP_LABELS[to_status]
    message = f"Replay from {step} by {user.get_username()}"
    if "filing_round" in updates:
        message += f" (new filing, round {updates['filing_round']})"
    try:
        replayed = order_transition(
            order=order,
            to_status=to_status,
            actor=staff_actor(user),
            message=message,
            updates=updates,
        )
    except InvalidTransition as err:
        # Someone else replayed it a moment ago.
        raise ReplayRefused(
            f"Order {order.order_id} is no longer in {OrderStatus.ERROR.label}."
        ) from err
    logger.info(
        "order.replayed",
        extra={
            "order_id": order.order_id,
            "step": step,
            "actor": staff_actor(user),
            "filing_round": replayed.filing_round,
        },
    )
    return replayed


def replay_clients() -> Clients:
    """Return upstream clients that wait at most the replay timeout per answer."""

    def capped(name: str) -> dict:
        config = dict(settings.UPSTREAMS[name])
        config["READ_TIMEOUT"] = min(
            config["READ_TIMEOUT"], REPLAY_READ_TIMEOUT_SECONDS
        )
        return config

    return Clients(
        bill=BillClient(config=capped("bill")),
        custom=CustomClient(config=capped("custom")),
    )


def order_replay(*, order: Order, user) -> Order:
    """Replay a failed order and work it at once; return it as it ended.

    It ends resting (``sent`` or ``error``), or waiting for a retry that the
    workers make.
    """
    replayed = order_replay_start(order=order, user=user)
    return order_process_now(order=replayed, clients=replay_clients())


@dataclass
class BulkReplayResult:
    """What a bulk replay did: the orders replayed, and why others were not."""

    replayed: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    left_over: int = 0


def orders_replay(*, orders: QuerySet[Order], user) -> BulkReplayResult:
    """Replay the failed ones among ``orders``; the workers then take them up.

    At most ``MAX_BULK_REPLAY`` orders are taken on; ``left_over`` counts
    the failed orders beyond them.
    """
    result = BulkReplayResult()
    failed = orders.filter(status=OrderStatus.ERROR).order_by("pk")
    for order in failed[:MAX_BULK_REPLAY]:
        try:
            order_replay_start(order=order, user=user)
        except ReplayRefused as refused:
            result.refused[order.order_id] = str(refused)
        else:
            result.replayed.append(order.order_id)
    result.left_over = max(failed.count() - MAX_BULK_REPLAY, 0)
    if result.replayed:
        # Wake the workers now rather than at the next heartbeat.
        async_task(PROCESS_TASK)
    return result
