"""State the integrations keep between runs."""

from django.db import models


class SalesCursor(models.Model):
    """Where the SalesAPI poll resumes, and which poller holds it."""

    name = models.CharField(max_length=32, unique=True, default="default")
    cursor = models.TextField(blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.cursor or '(start)'}"


class UpstreamExchange(models.Model):
    """One call to an upstream about an order and its answer, as logged.

    Bodies, URL and error are redacted exactly like ``upstream.log`` and cut
    to ``EXCHANGE_BODY_MAX_CHARS``, so that staff can read an upstream's exact
    answer in the admin without access to the log files.
    """

    order = models.ForeignKey(
        "orders.Order", on_delete=models.CASCADE, related_name="exchanges"
    )
    upstream = models.CharField(max_length=32)
    method = models.CharField(max_length=8)
    url = models.CharField(max_length=500)
    idempotency_key = models.CharField(max_length=128, blank=True)
    status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="HTTP status; empty when none came back."
    )
    duration_ms = models.FloatField()
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["order", "created_at"], name="exchange_order_idx")
        ]

    def __str__(self) -> str:
        return f"{self.upstream} {self.method} {self.status or '-'}"

    @property
    def failed(self) -> bool:
        """Return whether the call got no answer or an answer of 400 and up."""
        return bool(self.error) or self.status is None or self.status >= 400


class ScheduleRun(models.Model):
    """One run of a schedule's slot, so that a slot fired twice runs once.

    django-q2 can hand out a slot's task twice: its scheduler queues the task
    before its transaction commits, and a non-transactional broker (Redis)
    keeps the task when that transaction then fails and the slot stays due.
    """

    schedule = models.CharField(max_length=100)
    slot = models.DateTimeField(help_text="The run time the scheduler intended.")
    started_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "slot"], name="schedule_run_once_per_slot"
            )
        ]

    def __str__(self) -> str:
        return f"{self.schedule} @ {self.slot.isoformat()}"
