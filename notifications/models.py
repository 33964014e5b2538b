"""Notifications sent to customers about their orders, and what became of them."""

from django.conf import settings
from django.db import models

from orders.models import Order
from phpservice.fields import ExactCharField


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class NotificationStatus(models.TextChoices):
    """Where a notification is; the provider's delivery reports move it on."""

    # Handed to the provider, no answer recorded yet. A notification left
    # here (its process died mid-call) may have gone out: it is never sent
    # again from here, and notifications_reconcile_interrupted moves it to
    # unknown once no call can still be running.
    SENDING = "sending", "sending"
    QUEUED = "queued", "queued"
    SENT = "sent", "sent"
    DELIVERED = "delivered", "delivered"
    FAILED = "failed", "failed"
    UNDELIVERED = "undelivered", "undelivered"
    # The provider did not answer in time: the message may or may not have
    # gone out, so it is not sent again without a person deciding to.
    UNKNOWN = "unknown", "unknown"


class Notification(models.Model):
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="notifications"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    recipient = models.CharField(
        max_length=254, help_text="The address or E.164 number, as sent."
    )
    status = models.CharField(
        max_length=16,
        choices=NotificationStatus.choices,
        default=NotificationStatus.QUEUED,
    )
    provider_message_id = ExactCharField(max_length=255, blank=True, db_index=True)
    error_code = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # NULL rather than "": requests without a key must not collide in the
    # unique constraint below.
    idempotency_key = ExactCharField(max_length=64, null=True, blank=True)
    response = models.JSONField(
        null=True, blank=True, help_text="The API answer, replayed for a repeat."
    )
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["order", "channel", "created_at"],
                name="notification_recent_idx",
            ),
            # The metrics count notifications by channel and status at every
            # scrape: from this index alone, not from the wide rows.
            models.Index(fields=["channel", "status"], name="notification_status_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["requested_by", "idempotency_key"],
                name="notification_idempotency_key_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} for {self.order.order_id}: {self.status}"
