"""Mailgun delivery reports, verified and normalised by anymail's webhook view."""

from anymail.signals import tracking
from django.dispatch import receiver

from notifications.models import NotificationStatus
from notifications.services import notification_record_delivery

# anymail's normalised event type → ours; engagement events (opened, clicked)
# and transient ones (deferred) change nothing.
MAILGUN_EVENTS = {
    "queued": NotificationStatus.QUEUED,
    "sent": NotificationStatus.SENT,
    "delivered": NotificationStatus.DELIVERED,
    "bounced": NotificationStatus.FAILED,
    "rejected": NotificationStatus.FAILED,
    "failed": NotificationStatus.FAILED,
}


@receiver(tracking)
def mailgun_tracking(sender, event, esp_name, **kwargs):
    """Move the notification the event concerns to its new status."""
    ours = MAILGUN_EVENTS.get(event.event_type)
    if ours is None or not event.message_id:
        return
    notification_record_delivery(
        provider_message_id=event.message_id,
        status=ours,
        source=f"{esp_name.lower()}-webhook",
        error_code=str(event.reject_reason or ""),
        error_message=str(event.description or event.mta_response or ""),
    )
