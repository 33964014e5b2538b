"""The django-q2 schedules that drive the service, kept in step with settings.

Each scheduled task is handed the slot it was fired for (the schedule's
``next_run`` at that moment, as ``scheduled_for``) and runs only if no other
run of that slot has started: ``schedule_slot_claim`` below. Several
``qcluster`` nodes may then share one database and broker without a slot's
work being done twice.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django_q.models import Schedule

from integrations.models import ScheduleRun

logger = logging.getLogger(__name__)

POLL_TASK = "integrations.tasks.poll_sales"
PROCESS_TASK = "integrations.tasks.process_due_orders"
FLUSH_TOKENS_TASK = "integrations.tasks.flush_expired_tokens"
RECONCILE_NOTIFICATIONS_TASK = "notifications.tasks.reconcile_interrupted_notifications"

POLL_SCHEDULE = "poll-sales"
PROCESS_SCHEDULE = "process-due-orders"
FLUSH_TOKENS_SCHEDULE = "flush-expired-tokens"
RECONCILE_NOTIFICATIONS_SCHEDULE = "reconcile-notifications"

# The keyword under which django-q2 passes a run's intended time to the task.
SLOT_KWARG = "scheduled_for"
# Slot records older than this are deleted; no slot is fired that late.
SLOT_RECORDS_KEPT = timedelta(days=2)


def schedules_sync(**kwargs) -> None:
    """Create or update the service's schedules from the current settings."""
    wanted = {
        POLL_SCHEDULE: (POLL_TASK, settings.SALES_POLL_INTERVAL_MINUTES),
        PROCESS_SCHEDULE: (PROCESS_TASK, 1),
        # Blacklisted refresh tokens are kept whole; drop them once expired.
        FLUSH_TOKENS_SCHEDULE: (FLUSH_TOKENS_TASK, 24 * 60),
        # Notifications whose sending process died become "unknown".
        RECONCILE_NOTIFICATIONS_SCHEDULE: (RECONCILE_NOTIFICATIONS_TASK, 5),
    }
    for name, (func, minutes) in wanted.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
                "intended_date_kwarg": SLOT_KWARG,
            },
        )


def schedule_slot_claim(*, schedule: str, scheduled_for: str | None) -> bool:
    """Return whether this run may do the slot's work: no other run started it.

    A run without a slot (queued by another task, or by hand) always may.
    """
    if not scheduled_for:
        return True
    slot = datetime.fromisoformat(scheduled_for)
    try:
        with transaction.atomic():
            ScheduleRun.objects.create(schedule=schedule, slot=slot)
    except IntegrityError:
        logger.warning(
            "schedule.duplicate_skipped",
            extra={"schedule": schedule, "slot": scheduled_for},
        )
        return False
    ScheduleRun.objects.filter(
        schedule=schedule, slot__lt=slot - SLOT_RECORDS_KEPT
    ).delete()
    logger.info("schedule.run", extra={"schedule": schedule, "slot": scheduled_for})
    return True
