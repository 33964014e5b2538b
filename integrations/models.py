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
