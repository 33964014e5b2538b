"""Background tasks run by django-q2's ``qcluster``.

Two schedules drive the service: ``poll_sales`` every
``SALES_POLL_INTERVAL_MINUTES`` and ``process_due_orders`` every minute, the
heartbeat that picks up retries that came due; a third, daily, drops expired
refresh tokens. Between beats, work chains:
a poll that found orders, or a pass that filled its whole batch, queues the
next pass at once.
"""

from dataclasses import asdict

from django.conf import settings
from django.core.management import call_command
from django_q.tasks import async_task

from integrations.pipeline import orders_process_due
from integrations.polling import sales_poll
from integrations.schedules import PROCESS_TASK


def poll_sales() -> dict:
    """Poll SalesAPI once and queue processing when new orders arrived."""
    result = sales_poll()
    if result.created > result.invalid:
        async_task(PROCESS_TASK)
    return asdict(result)


def process_due_orders() -> dict:
    """Work one batch of due orders; queue the next batch if this one was full."""
    result = orders_process_due()
    if result.claimed >= settings.PIPELINE["BATCH_SIZE"]:
        async_task(PROCESS_TASK)
    return asdict(result)


def flush_expired_tokens() -> None:
    """Delete refresh tokens (and their blacklist entries) that have expired."""
    call_command("flushexpiredtokens")
