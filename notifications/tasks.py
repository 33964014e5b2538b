"""Background tasks about notifications, run by django-q2's ``qcluster``."""

from notifications.services import notifications_reconcile_interrupted


def reconcile_interrupted_notifications(scheduled_for: str | None = None) -> int:
    """Mark notifications whose sending process died as ``unknown``.

    Safe to run twice for one slot (a second run finds nothing left), so the
    slot ``scheduled_for`` is not claimed.
    """
    return notifications_reconcile_interrupted()
