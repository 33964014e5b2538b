"""Read-only queries on notifications."""

from django.db.models import Count

from notifications.models import Channel, Notification, NotificationStatus


def notification_status_counts() -> dict[tuple[str, str], int]:
    """Return the number of notifications per (channel, status), every pair listed.

    Grouped on the (channel, status) index, so that the count never reads the
    rows themselves, which carry the provider's answers.
    """
    counts = {
        (channel, status): count
        for channel, status, count in Notification.objects.values_list(
            "channel", "status"
        )
        .annotate(count=Count("pk"))
        .order_by()
    }
    return {
        (channel.value, status.value): counts.get((channel.value, status.value), 0)
        for channel in Channel
        for status in NotificationStatus
    }
