"""``POST /notify`` and the providers' delivery reports."""

import logging

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from twilio.request_validator import RequestValidator

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from notifications.models import Channel, NotificationStatus
from notifications.services import (
    NotifyRefused,
    notification_record_delivery,
    notification_send,
)
from orders.selectors import orders_visible_to
from orders.validation import ORDER_ID_RE
from phpservice.schema import BODY_ERRORS, error_responses

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY_RE = ORDER_ID_RE  # the same safe alphabet, up to 64 characters

# Twilio's MessageStatus → ours; statuses not listed change nothing.
TWILIO_STATUSES = {
    "queued": NotificationStatus.QUEUED,
    "accepted": NotificationStatus.QUEUED,
    "sending": NotificationStatus.QUEUED,
    "sent": NotificationStatus.SENT,
    "delivered": NotificationStatus.DELIVERED,
    "read": NotificationStatus.DELIVERED,
    "undelivered": NotificationStatus.UNDELIVERED,
    "failed": NotificationStatus.FAILED,
    "canceled": NotificationStatus.FAILED,
}


class NotifyRequestSerializer(serializers.Serializer):
    order_id = serializers.RegexField(
        ORDER_ID_RE,
        max_length=64,
        error_messages={"invalid": "Use 1-64 letters, digits, '.', '_', ':' or '-'."},
    )
    notify_type = serializers.ChoiceField(choices=Channel.values)


class NotifyErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class NotifyAnswerSerializer(serializers.Serializer):
    """The answer of POST /notify; only describes it in the schema."""

    success = serializers.BooleanField()
    notification_id = serializers.IntegerField()
    order_id = serializers.CharField()
    channel = serializers.ChoiceField(choices=Channel.values)
    status = serializers.ChoiceField(choices=NotificationStatus.values)
    recipient = serializers.CharField(help_text="Masked: i***@example.com")
    provider_message_id = serializers.CharField(required=False)
    error = NotifyErrorSerializer(required=False)


IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "pattern": IDEMPOTENCY_KEY_RE.pattern, "maxLength": 64},
    OpenApiParameter.HEADER,
    description="Repeat a request with the same key to get the first answer again.",
)


class NotifyView(APIView):
    """Tell an order's customer its current status by email or SMS."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "notify"

    @extend_schema(
        operation_id="notify",
        summary="Tell the customer the order's status by email or SMS",
        request=NotifyRequestSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        examples=[
            OpenApiExample(
                "Email",
                value={"order_id": "123456", "notify_type": "email"},
                request_only=True,
            )
        ],
        responses={
            200: NotifyAnswerSerializer,
            502: NotifyAnswerSerializer,
            504: NotifyAnswerSerializer,
            **error_responses(*BODY_ERRORS, 401, 404, 409, 422, 429, 503),
        },
    )
    def post(self, request):
        query = NotifyRequestSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        order_id = query.validated_data["order_id"]
        key = request.headers.get("Idempotency-Key")
        if key is not None and not IDEMPOTENCY_KEY_RE.match(key):
            raise ValidationError(
                {"Idempotency-Key": ["Use 1-64 letters, digits, '.', '_', ':' or '-'."]}
            )

        order = orders_visible_to(request.user).filter(order_id=order_id).first()
        if order is None:
            raise NotFound(f"No order {order_id}.")
        try:
            result = notification_send(
                order=order,
                channel=query.validated_data["notify_type"],
                user=request.user,
                idempotency_key=key,
            )
        except NotifyRefused as refused:
            return _refusal(refused)

        response = Response(result.body, status=result.http_status)
        if result.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


def _refusal(refused: NotifyRefused) -> Response:
    # Nothing was sent: the service's error shape, like a 400 or a 404, not
    # the answer shape that tells a provider's verdict (200, 502, 504).
    error = {"code": refused.code, "message": refused.message}
    if refused.field:
        error["fields"] = {refused.field: [refused.message]}
    response = Response({"error": error}, status=refused.http_status)
    if refused.retry_after:
        response["Retry-After"] = str(refused.retry_after)
    return response


@csrf_exempt
@require_POST
def twilio_status_callback(request):
    """Apply a Twilio delivery report, if Twilio's signature on it holds."""
    config = settings.TWILIO
    # Twilio signs the exact URL it was given; behind a proxy the request's
    # own URL may differ, so the configured one is preferred.
    url = config["STATUS_CALLBACK_URL"] or request.build_absolute_uri()
    signature = request.headers.get("X-Twilio-Signature", "")
    validator = RequestValidator(config["AUTH_TOKEN"])
    if not config["AUTH_TOKEN"] or not validator.validate(url, request.POST, signature):
        logger.warning("notification.forged_report", extra={"source": "twilio"})
        return HttpResponse("Invalid signature", status=status.HTTP_403_FORBIDDEN)

    ours = TWILIO_STATUSES.get(request.POST.get("MessageStatus", ""))
    sid = request.POST.get("MessageSid", "")
    if ours is not None and sid:
        notification_record_delivery(
            provider_message_id=sid,
            status=ours,
            source="twilio",
            error_code=request.POST.get("ErrorCode", ""),
            error_message=request.POST.get("ErrorMessage", ""),
        )
    return HttpResponse(status=status.HTTP_204_NO_CONTENT)
