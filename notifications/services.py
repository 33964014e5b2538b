"""Business actions on notifications: send one, record a delivery report."""

import logging
import math
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.exchanges import exchanges_of_order
from notifications.email import email_recipient, email_send
from notifications.models import Channel, Notification, NotificationStatus
from notifications.outcome import SendOutcome
from notifications.sms import sms_recipient, sms_send
from orders.models import Order
from orders.services import order_note
from phpservice.redaction import mask_email, mask_phone

logger = logging.getLogger(__name__)

SENDERS = {Channel.EMAIL: email_send, Channel.SMS: sms_send}
RECIPIENTS = {Channel.EMAIL: email_recipient, Channel.SMS: sms_recipient}
MASKS = {Channel.EMAIL: mask_email, Channel.SMS: mask_phone}
PROVIDERS = {Channel.EMAIL: "Mailgun", Channel.SMS: "Twilio"}

# Who notes an interrupted sending in the order's history.
RECONCILE_ACTOR = "notifications-reconcile"

# Outcome → HTTP status of the answer to POST /notify.
ANSWER_STATUS = {
    NotificationStatus.SENT: 200,
    NotificationStatus.FAILED: 502,
    NotificationStatus.UNKNOWN: 504,
}

# How far along each status is; a delivery report never moves a notification
# back (reports may arrive out of order).
PROGRESS = {
    NotificationStatus.SENDING: -1,
    NotificationStatus.UNKNOWN: -1,
    NotificationStatus.QUEUED: 0,
    NotificationStatus.SENT: 1,
    NotificationStatus.DELIVERED: 2,
    NotificationStatus.FAILED: 2,
    NotificationStatus.UNDELIVERED: 2,
}


class NotifyRefused(Exception):
    """The request cannot be carried out; nothing was sent."""

    def __init__(self, code, message, *, http_status, retry_after=None, field=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.retry_after = retry_after
        self.field = field


@dataclass
class NotifyResult:
    body: dict
    http_status: int
    replayed: bool = False


def missing_settings(channel: str) -> list[str]:
    """Return the environment variables still to set before ``channel`` works."""
    if channel == Channel.EMAIL:
        wanted = {
            "MAILGUN_API_KEY": settings.ANYMAIL.get("MAILGUN_API_KEY"),
            "MAILGUN_SENDER_DOMAIN": settings.ANYMAIL.get("MAILGUN_SENDER_DOMAIN"),
        }
    else:
        twilio = settings.TWILIO
        wanted = {
            "TWILIO_ACCOUNT_SID": twilio["ACCOUNT_SID"],
            "TWILIO_AUTH_TOKEN": twilio["AUTH_TOKEN"],
            "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID": twilio["FROM_NUMBER"]
            or twilio["MESSAGING_SERVICE_SID"],
        }
    return [name for name, value in wanted.items() if not value]


def notification_send(
    *,
    order: Order,
    channel: str,
    user,
    idempotency_key: str | None = None,
    actor: str | None = None,
) -> NotifyResult:
    """Tell the order's customer its status by ``channel``; record the attempt.

    A repeated ``idempotency_key`` returns the first answer without sending.
    ``actor`` names the requester in the order's history (``api:<user>`` by
    default). Raise NotifyRefused when nothing may or can be sent.
    """
    if idempotency_key:
        earlier = _earlier_answer(order, channel, user, idempotency_key)
        if earlier is not None:
            return earlier
    missing = missing_settings(channel)
    if missing:
        raise NotifyRefused(
            "not_configured",
            f"{Channel(channel).label} notifications are not configured: set "
            + ", ".join(missing),
            http_status=503,
        )
    try:
        recipient = RECIPIENTS[channel](order)
    except ValueError as err:
        raise NotifyRefused(
            "invalid_recipient", str(err), http_status=400, field=err.field
        ) from err

    notification = _start(order, channel, recipient, user, idempotency_key)
    with exchanges_of_order(order.order_id, pk=order.pk):
        outcome = SENDERS[channel](order=order, recipient=recipient)

    recorded, body = _record_outcome(notification, outcome)
    http_status = ANSWER_STATUS[outcome.status]
    verdict = (
        "accepted" if outcome.accepted else f"{outcome.status}: {outcome.error_message}"
    )
    if not recorded:
        verdict += " (answered after it was marked unknown)"
        notification.refresh_from_db()
        body, http_status = notification.response, notification.response_status
    order_note(
        order=order,
        message=f"{Channel(channel).label} to {body['recipient']}: {verdict}",
        actor=actor or f"api:{user.get_username()}",
    )
    logger.info(
        "notification.sent" if outcome.accepted else "notification.not_sent",
        extra={
            "order_id": order.order_id,
            "channel": channel,
            "notification_id": notification.pk,
            "status": outcome.status,
            "error_code": outcome.error_code,
        },
    )
    return NotifyResult(body=body, http_status=http_status)


def _record_outcome(
    notification: Notification, outcome: SendOutcome
) -> tuple[bool, dict]:
    """Store the outcome and the answer it makes; return whether it was stored.

    Only while the notification is still ``sending``: once it has an outcome
    (a call that outlived the reconcile, or a reconcile that came after the
    call), the answer its key gives never changes.
    """
    body = {
        "success": outcome.accepted,
        "notification_id": notification.pk,
        "order_id": notification.order.order_id,
        "channel": notification.channel,
        "status": outcome.status,
        "recipient": MASKS[notification.channel](notification.recipient),
    }
    if outcome.accepted:
        body["provider_message_id"] = outcome.provider_message_id
    else:
        body["error"] = {"code": outcome.error_code, "message": outcome.error_message}
    recorded = Notification.objects.filter(
        pk=notification.pk, status=NotificationStatus.SENDING
    ).update(
        status=outcome.status,
        provider_message_id=outcome.provider_message_id,
        error_code=outcome.error_code,
        error_message=outcome.error_message,
        response=body,
        response_status=ANSWER_STATUS[outcome.status],
        updated_at=timezone.now(),
    )
    return bool(recorded), body


def _earlier_answer(order, channel, user, key) -> NotifyResult | None:
    earlier = Notification.objects.filter(
        requested_by=user, idempotency_key=key
    ).first()
    if earlier is None:
        return None
    if (earlier.order_id, earlier.channel) != (order.pk, channel):
        raise NotifyRefused(
            "idempotency_key_reused",
            "This Idempotency-Key was used for another order or channel.",
            http_status=422,
        )
    if earlier.response is None:
        raise NotifyRefused(
            "in_progress",
            "A request with this Idempotency-Key is still being carried out.",
            http_status=409,
        )
    return NotifyResult(
        body=earlier.response, http_status=earlier.response_status, replayed=True
    )


@transaction.atomic
def _start(order, channel, recipient, user, idempotency_key) -> Notification:
    # The order's row lock makes the cooldown check and the new row one step,
    # so two requests at the same moment cannot both pass the check.
    Order.objects.select_for_update().filter(pk=order.pk).first()
    # A sending whose outcome is not known yet, however old, holds off every
    # new one: its process may have died after the message went out, and the
    # reconcile has not said so yet.
    if Notification.objects.filter(
        order=order, channel=channel, status=NotificationStatus.SENDING
    ).exists():
        raise NotifyRefused(
            "in_progress",
            f"A notification of this order by {Channel(channel).label} is still "
            "being sent; its outcome is not known yet.",
            http_status=409,
        )
    cooldown = settings.NOTIFY["COOLDOWN_SECONDS"]
    last = (
        Notification.objects.filter(
            order=order,
            channel=channel,
            created_at__gte=timezone.now() - timedelta(seconds=cooldown),
        )
        .exclude(status=NotificationStatus.FAILED)
        .order_by("-created_at")
        .first()
    )
    if last is not None:
        elapsed = (timezone.now() - last.created_at).total_seconds()
        wait = max(math.ceil(cooldown - elapsed), 1)
        raise NotifyRefused(
            "cooldown",
            f"This order was notified by {Channel(channel).label} moments ago; "
            f"try again in {wait} s.",
            http_status=429,
            retry_after=wait,
        )
    try:
        with transaction.atomic():
            # Committed before the call, in ``sending``: should the process
            # die mid-call, this row (and its idempotency key) still tells
            # that the message may have gone out, and nothing sends it again.
            return Notification.objects.create(
                order=order,
                channel=channel,
                recipient=recipient,
                requested_by=user,
                idempotency_key=idempotency_key,
                status=NotificationStatus.SENDING,
            )
    except IntegrityError as err:
        raise NotifyRefused(
            "in_progress",
            "A request with this Idempotency-Key is still being carried out.",
            http_status=409,
        ) from err


def notifications_reconcile_interrupted(
    *, older_than_seconds: float | None = None
) -> int:
    """Mark notifications stuck in ``sending`` as ``unknown``; return how many.

    A notification is ``sending`` only while its call runs, which the
    providers' timeouts bound; one older than ``NOTIFY_SENDING_TIMEOUT_SECONDS``
    was left by a process that died mid-call. It may have gone out, so it
    becomes ``unknown`` and is never sent again: a repeat of its request gets
    a 504 answer saying so, and the order's history tells staff.
    """
    if older_than_seconds is None:
        older_than_seconds = settings.NOTIFY["SENDING_TIMEOUT_SECONDS"]
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stuck = Notification.objects.filter(
        status=NotificationStatus.SENDING, created_at__lt=cutoff
    ).select_related("order")
    return sum(_mark_interrupted(notification) for notification in stuck)


def _mark_interrupted(notification: Notification) -> bool:
    channel = notification.channel
    message = (
        f"The sending stopped before {PROVIDERS[channel]} answered (its process "
        "ended); the message may have been sent, so it is not sent again "
        "automatically"
    )
    outcome = SendOutcome(
        status=NotificationStatus.UNKNOWN,
        error_code="interrupted",
        error_message=message,
    )
    with transaction.atomic():
        updated, body = _record_outcome(notification, outcome)
        if not updated:
            return False
        order_note(
            order=notification.order,
            message=(
                f"{Channel(channel).label} to {body['recipient']}: unknown: {message}"
            ),
            actor=RECONCILE_ACTOR,
        )
    logger.warning(
        "notification.interrupted",
        extra={
            "order_id": notification.order.order_id,
            "channel": channel,
            "notification_id": notification.pk,
        },
    )
    return True


def notification_record_delivery(
    *,
    provider_message_id: str,
    status: str,
    source: str,
    error_code: str = "",
    error_message: str = "",
) -> Notification | None:
    """Apply a provider's delivery report; return the notification it concerns."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update()
            .select_related("order")
            .filter(provider_message_id=provider_message_id)
            .first()
        )
        if notification is None:
            logger.warning(
                "notification.report_for_unknown_message",
                extra={"provider_message_id": provider_message_id, "source": source},
            )
            return None
        if PROGRESS[status] <= PROGRESS[notification.status]:
            return notification
        notification.status = status
        notification.error_code = error_code[:32]
        notification.error_message = error_message[:500]
        notification.save(
            update_fields=["status", "error_code", "error_message", "updated_at"]
        )
        order_note(
            order=notification.order,
            message=f"{notification.get_channel_display()} "
            f"{MASKS[notification.channel](notification.recipient)}: {status}",
            actor=source,
        )
    logger.info(
        "notification.delivery_report",
        extra={"notification_id": notification.pk, "status": status, "source": source},
    )
    return notification
