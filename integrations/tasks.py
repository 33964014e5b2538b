"""Background tasks run by django-q2's ``qcluster``.

Two schedules drive the service: ``poll_sales`` every
``SALES_POLL_INTERVAL_MINUTES`` and ``process_due_orders`` every minute, the
heartbeat that picks up retries that came due; a third, daily, drops expired
refresh tokens. Between beats, work chains:
a poll that found orders, or a pass that filled its whole batch, queues the
next pass at once. A scheduled run whose slot another run already took (see
``integrations.schedules``) does nothing and says so in its result.
"""

from dataclasses import asdict

from django.conf import settings
from django.core.management import call_command
from django_q.tasks import async_task

from integrations.pipeline import orders_process_due
from integrations.polling import sales_poll
from integrations.schedules import (
    FLUSH_TOKENS_SCHEDULE,
    POLL_SCHEDULE,
    PROCESS_SCHEDULE,
    PROCESS_TASK,
    schedule_slot_claim,
)

# The result of a scheduled run that found its slot already taken.
DUPLICATE = {"skipped": "duplicate run of its schedule slot"}


def poll_sales(scheduled_for: str | None = None) -> dict:
    """Poll SalesAPI once and queue processing when new orders arrived."""
    if not schedule_slot_claim(schedule=POLL_SCHEDULE, scheduled_for=scheduled_for):
        return dict(DUPLICATE)
    result = sales_poll()
    if result.created > result.invalid:
        async_task(PROCESS_TASK)
    return asdict(result)


def process_due_orders(scheduled_for: str | None = None) -> dict:
    """Work one batch of due orders; queue the next batch if this one was full."""
    if not schedule_slot_claim(schedule=PROCESS_SCHEDULE, scheduled_for=scheduled_for):
        return dict(DUPLICATE)
    result = orders_process_due()
    if result.claimed >= settings.PIPELINE["BATCH_SIZE"]:
        async_task(PROCESS_TASK)
    return asdict(result)


def flush_expired_tokens(scheduled_for: str | None = None) -> None:
    """Delete refresh tokens (and their blacklist entries) that have expired."""
    if not schedule_slot_claim(
        schedule=FLUSH_TOKENS_SCHEDULE, scheduled_for=scheduled_for
    ):
        return
    call_command("flushexpiredtokens")
