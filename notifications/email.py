"""Email through Mailgun, with django-anymail's Mailgun backend.

``MAILGUN_API_URL`` picks the region (``https://api.eu.mailgun.net/v3``) or the
sandbox. Every call to Mailgun and its answer is logged to upstream.log.
"""

import time

from anymail.backends.mailgun import EmailBackend as AnymailMailgunBackend
from anymail.exceptions import AnymailError, AnymailRequestsAPIError
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email

from integrations.http import log_exchange
from notifications.messages import email_content
from notifications.models import NotificationStatus
from notifications.outcome import (
    InvalidRecipient,
    SendOutcome,
    outcome_of_transport_error,
)
from orders.models import Order
from phpservice.metrics import status_outcome, transport_outcome

# Mailgun's HTTP status → what to tell the caller; others fall back below.
MAILGUN_ERRORS = {
    401: "Mailgun refused the API key (HTTP 401): check MAILGUN_API_KEY",
    403: "Mailgun refused the request (HTTP 403): check MAILGUN_API_KEY and the "
    "sending domain's permissions",
    404: "Mailgun does not know the sending domain (HTTP 404): check "
    "MAILGUN_SENDER_DOMAIN and MAILGUN_API_URL (EU domains use api.eu.mailgun.net)",
    429: "Mailgun is rate limiting (HTTP 429)",
}


class MailgunBackend(AnymailMailgunBackend):
    """Anymail's Mailgun backend, logging each exchange like the other upstreams."""

    def post_to_esp(self, payload, message):
        params = payload.get_request_params(self.api_url)
        context = {
            "upstream": "Mailgun",
            "method": "POST",
            "url": params.get("url", ""),
            "started": time.monotonic(),
            "request_body": params.get("data"),
        }
        try:
            response = super().post_to_esp(payload, message)
        except AnymailRequestsAPIError as err:
            log_exchange(
                **context,
                status=err.status_code,
                response_body=err.response.text if err.response is not None else None,
                error=f"{type(err).__name__}: {err}"[:500],
                # Without a status the request never got an answer.
                outcome=status_outcome(err.status_code)
                if err.status_code is not None
                else transport_outcome(err.__cause__),
            )
            raise
        log_exchange(
            **context, status=response.status_code, response_body=response.text
        )
        return response


def email_recipient(order: Order) -> str:
    """Return the order's email address, or raise InvalidRecipient."""
    address = order.customer_email.strip()
    try:
        validate_email(address)
    except ValidationError as err:
        raise InvalidRecipient(
            "customer_email",
            f"The order has no usable email address ({address!r}).",
        ) from err
    return address


def email_send(*, order: Order, recipient: str) -> SendOutcome:
    """Send the order's status to ``recipient`` and return Mailgun's verdict."""
    content = email_content(order)
    message = EmailMultiAlternatives(
        subject=content.subject, body=content.text, to=[recipient]
    )
    message.attach_alternative(content.html, "text/html")
    try:
        message.send()
    except AnymailRequestsAPIError as err:
        return _outcome_of_error(err)
    except AnymailError as err:
        return SendOutcome(
            status=NotificationStatus.FAILED,
            error_code="mailgun_error",
            error_message=str(err)[:500],
        )
    return SendOutcome(
        status=NotificationStatus.SENT,
        provider_message_id=message.anymail_status.message_id or "",
    )


def _outcome_of_error(err: AnymailRequestsAPIError) -> SendOutcome:
    if err.status_code is None:
        return outcome_of_transport_error(err.__cause__, provider="Mailgun")
    message = MAILGUN_ERRORS.get(err.status_code)
    if message is None:
        detail = err.response.text[:300] if err.response is not None else str(err)
        message = f"Mailgun answered HTTP {err.status_code}: {detail}"
    return SendOutcome(
        status=NotificationStatus.FAILED,
        error_code=f"http_{err.status_code}",
        error_message=message,
    )
