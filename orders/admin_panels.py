"""What the order page shows beside the order's fields.

The pipeline's state (retries, dead letter), the status history as a
timeline, the notifications and the upstream exchanges: each one query,
whatever the order's age.
"""

import datetime
import json
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html

from integrations.models import UpstreamExchange
from integrations.pipeline import STEP_LABELS
from notifications.models import Notification
from orders.models import WORKING_STATUSES, Order, OrderStatus, OrderStatusChange
from orders.replay import replay_step

TIMELINE_SHOWN = 200
NOTIFICATIONS_SHOWN = 50
EXCHANGES_SHOWN = 50


def pretty_json(value) -> str:
    """Return ``value`` as indented JSON in a <pre>, or a dash for nothing."""
    if value in (None, "", {}, []):
        return "-"
    text = json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False)
    return format_html('<pre class="order-json">{}</pre>', text)


def pretty_body(text: str) -> str:
    """Return an exchanged body indented when it is JSON, else as it came."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if not isinstance(value, dict | list):
        return text
    return json.dumps(value, ensure_ascii=False, indent=2)


@dataclass
class PipelineState:
    """Where the pipeline is with the order, in the words staff use."""

    kind: str  # working, due, retry, dead-letter, rejected, failed, done
    headline: str
    step: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime.datetime | None
    last_error: str


def pipeline_state(
    order: Order, exchanges: list[UpstreamExchange], *, now=None
) -> PipelineState:
    """Return the pipeline's state of the order: retries, dead letter, rest."""
    now = now or timezone.now()
    limit = settings.PIPELINE["MAX_ATTEMPTS"]
    last_failed = next((ex for ex in reversed(exchanges) if ex.failed), None)
    last_error = ""
    if last_failed is not None:
        detail = last_failed.error or last_failed.response_body[:300]
        status = f" HTTP {last_failed.status}" if last_failed.status else ""
        last_error = f"{last_failed.upstream}{status}: {detail}"

    if order.status in WORKING_STATUSES:
        step = STEP_LABELS[order.status]
        if order.lease_expires_at and order.lease_expires_at > now:
            kind, headline = "working", f"A worker is calling {step} now"
        elif order.attempts:
            kind = "retry"
            headline = (
                f"Waiting to retry {step}: {order.attempts} of {limit} attempts failed"
            )
        else:
            kind, headline = "due", f"Due for {step}"
    elif order.status == OrderStatus.ERROR:
        step = STEP_LABELS[replay_step(order)]
        if order.attempts:
            kind = "dead-letter"
            headline = f"Dead letter: {step} gave up after {order.attempts} attempts"
        elif order.error_code:
            kind = "rejected"
            headline = f"CustomAPI rejected the invoice (code {order.error_code})"
        else:
            kind, headline = "failed", f"Failed at {step}"
        last_error = last_error or order.message
    else:
        step = "CustomAPI" if order.status == OrderStatus.SENT else "BillAPI"
        kind, headline = "done", "Nothing left to do"
    return PipelineState(
        kind=kind,
        headline=headline,
        step=step,
        attempts=order.attempts,
        max_attempts=limit,
        next_attempt_at=order.next_attempt_at
        if order.status in WORKING_STATUSES
        else None,
        last_error=last_error,
    )


@dataclass
class TimelineEntry:
    change: OrderStatusChange
    is_note: bool
    is_staff: bool


def order_panels(order: Order) -> dict:
    """Return the template context of the order page's panels."""
    changes = list(
        order.status_changes.order_by("-created_at", "-pk")[: TIMELINE_SHOWN + 1]
    )
    timeline_cut = len(changes) > TIMELINE_SHOWN
    changes = list(reversed(changes[:TIMELINE_SHOWN]))
    timeline = [
        TimelineEntry(
            change=change,
            is_note=change.from_status == change.to_status,
            is_staff=change.actor.startswith("staff:"),
        )
        for change in changes
    ]
    notifications = list(
        Notification.objects.filter(order=order)
        .select_related("requested_by")
        .order_by("-created_at", "-pk")[:NOTIFICATIONS_SHOWN]
    )
    # The latest ones, shown oldest first like the timeline.
    latest = list(
        UpstreamExchange.objects.filter(order=order).order_by("-created_at", "-pk")[
            : EXCHANGES_SHOWN + 1
        ]
    )
    more_exchanges = len(latest) > EXCHANGES_SHOWN
    exchanges = list(reversed(latest[:EXCHANGES_SHOWN]))
    for exchange in exchanges:
        exchange.request_pretty = pretty_body(exchange.request_body)
        exchange.response_pretty = pretty_body(exchange.response_body)
    return {
        "pipeline": pipeline_state(order, exchanges),
        "timeline": timeline,
        "timeline_cut": timeline_cut,
        "notifications": notifications,
        "exchanges": exchanges,
        "more_exchanges": more_exchanges,
    }
