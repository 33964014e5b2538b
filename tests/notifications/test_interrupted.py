"""Notifications whose sending process died are reconciled to ``unknown``."""

from datetime import timedelta

import pytest

from django.utils import timezone
from django_q.models import Schedule

from integrations.schedules import RECONCILE_NOTIFICATIONS_TASK
from notifications import tasks
from notifications.models import Notification, NotificationStatus
from notifications.services import notifications_reconcile_interrupted
from tests.factories import make_order

pytestmark = pytest.mark.django_db


def sending(order, *, seconds_ago: float, **fields) -> Notification:
    notification = Notification.objects.create(
        order=order,
        channel="sms",
        recipient="+79999999999",
        status=NotificationStatus.SENDING,
        **fields,
    )
    created_at = timezone.now() - timedelta(seconds=seconds_ago)
    Notification.objects.filter(pk=notification.pk).update(created_at=created_at)
    return notification


def test_only_notifications_sending_past_the_timeout_become_unknown(settings):
    settings.NOTIFY = {**settings.NOTIFY, "SENDING_TIMEOUT_SECONDS": 300}
    order = make_order()
    stuck = sending(order, seconds_ago=301, idempotency_key="k-1")
    running = sending(order, seconds_ago=5)

    assert tasks.reconcile_interrupted_notifications() == 1
    assert notifications_reconcile_interrupted() == 0

    stuck.refresh_from_db()
    running.refresh_from_db()
    assert stuck.status == NotificationStatus.UNKNOWN
    assert stuck.response_status == 504
    assert stuck.response["error"]["code"] == "interrupted"
    assert stuck.response["recipient"] == "+*********99"
    assert stuck.error_message.startswith("The sending stopped before Twilio")
    assert running.status == NotificationStatus.SENDING
    [note] = order.status_changes.filter(actor="notifications-reconcile")
    assert note.message.startswith("SMS to +*********99: unknown: ")


def test_migrate_installs_the_reconciliation_schedule():
    schedule = Schedule.objects.get(func=RECONCILE_NOTIFICATIONS_TASK)

    assert (schedule.schedule_type, schedule.minutes) == (Schedule.MINUTES, 5)
