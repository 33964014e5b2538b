"""SMS through Twilio, with the official twilio client.

``TWILIO_API_URL`` replaces ``https://api.twilio.com`` in every call, which is
how the sandbox (or a regional edge) is reached; each call to Twilio and its
answer is logged to upstream.log.
"""

import time

import phonenumbers
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from django.conf import settings

from integrations.http import log_exchange
from notifications.messages import sms_text
from notifications.models import NotificationStatus
from notifications.outcome import (
    InvalidRecipient,
    SendOutcome,
    outcome_of_transport_error,
)
from orders.models import Order
from phpservice.metrics import transport_outcome

TWILIO_API_URL = "https://api.twilio.com"


class BaseUrlHttpClient(TwilioHttpClient):
    """Twilio's HTTP client, sending to ``base_url`` and logging each exchange."""

    def __init__(self, *, base_url: str, timeout: float):
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, params=None, data=None, headers=None, **kwargs):
        if url.startswith(TWILIO_API_URL):
            url = self.base_url + url[len(TWILIO_API_URL) :]
        context = {
            "upstream": "Twilio",
            "method": method.upper(),
            "url": url,
            "started": time.monotonic(),
            "request_body": data,
        }
        try:
            response = super().request(
                method, url, params=params, data=data, headers=headers, **kwargs
            )
        except requests.RequestException as err:
            log_exchange(
                **context,
                error=f"{type(err).__name__}: {err}"[:500],
                outcome=transport_outcome(err),
            )
            raise
        log_exchange(
            **context, status=response.status_code, response_body=response.text
        )
        return response


def twilio_client() -> Client:
    """Return a Twilio client configured from settings.TWILIO."""
    config = settings.TWILIO
    return Client(
        config["ACCOUNT_SID"],
        config["AUTH_TOKEN"],
        http_client=BaseUrlHttpClient(
            base_url=config["API_URL"], timeout=config["TIMEOUT"]
        ),
    )


def phone_to_e164(raw: str, *, region: str) -> str:
    """Return ``raw`` as an E.164 number, or raise InvalidRecipient."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as err:
        raise InvalidRecipient(
            "customer_phone", f"{raw!r} cannot be read as a phone number."
        ) from err
    if not phonenumbers.is_valid_number(number):
        raise InvalidRecipient(
            "customer_phone", f"{raw!r} is not a valid phone number."
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def sms_recipient(order: Order) -> str:
    """Return the order's phone number in E.164, or raise InvalidRecipient."""
    if not order.customer_phone.strip():
        raise InvalidRecipient("customer_phone", "The order has no phone number.")
    return phone_to_e164(order.customer_phone, region=settings.NOTIFY["PHONE_REGION"])


def sms_send(*, order: Order, recipient: str) -> SendOutcome:
    """Send the order's status by SMS to ``recipient`` and return Twilio's verdict."""
    config = settings.TWILIO
    sender = (
        {"messaging_service_sid": config["MESSAGING_SERVICE_SID"]}
        if config["MESSAGING_SERVICE_SID"]
        else {"from_": config["FROM_NUMBER"]}
    )
    if config["STATUS_CALLBACK_URL"]:
        sender["status_callback"] = config["STATUS_CALLBACK_URL"]
    try:
        message = twilio_client().messages.create(
            to=recipient, body=sms_text(order), **sender
        )
    except TwilioRestException as err:
        return SendOutcome(
            status=NotificationStatus.FAILED,
            error_code=str(err.code or f"http_{err.status}"),
            error_message=(err.msg or f"Twilio answered HTTP {err.status}")[:500],
        )
    except requests.RequestException as err:
        return outcome_of_transport_error(err, provider="Twilio")
    except TwilioException as err:
        return SendOutcome(
            status=NotificationStatus.FAILED,
            error_code="twilio_error",
            error_message=str(err)[:500],
        )
    return SendOutcome(
        status=NotificationStatus.SENT, provider_message_id=message.sid or ""
    )
