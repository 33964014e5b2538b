"""The django-q2 schedules that drive the service, kept in step with settings."""

from django.conf import settings
from django_q.models import Schedule

POLL_TASK = "integrations.tasks.poll_sales"
PROCESS_TASK = "integrations.tasks.process_due_orders"
FLUSH_TOKENS_TASK = "integrations.tasks.flush_expired_tokens"


def schedules_sync(**kwargs) -> None:
    """Create or update the service's schedules from the current settings."""
    wanted = {
        "poll-sales": (POLL_TASK, settings.SALES_POLL_INTERVAL_MINUTES),
        "process-due-orders": (PROCESS_TASK, 1),
        # Blacklisted refresh tokens are kept whole; drop them once expired.
        "flush-expired-tokens": (FLUSH_TOKENS_TASK, 24 * 60),
    }
    for name, (func, minutes) in wanted.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
            },
        )
