"""The sandbox's Twilio: the Messages API the official twilio client calls.

``POST /twilio/2010-04-01/Accounts/<sid>/Messages.json`` with basic auth
``<sid>:<token>`` and urlencoded fields ``To``, ``From`` or
``MessagingServiceSid``, ``Body`` and optionally ``StatusCallback``. Answers
are Twilio's: 201 with the message resource, or an error object with
Twilio's error code (``{"code", "message", "more_info", "status"}``). Status
callbacks are urlencoded and signed in ``X-Twilio-Signature`` with
HMAC-SHA1 of the URL and the sorted parameters under the auth token.

Twilio's magic test numbers (+1 500 555 00xx) fail as they do with test
credentials, e.g. ``To`` +15005550001 is refused with error 21211.
"""

import base64
import hashlib
import hmac
import math
import re
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qsl, urlencode

from integrations.sandbox.scenario import E164_NUMBER
from integrations.sandbox.state import Answer, SandboxState, json_answer
from integrations.sandbox.webhooks import (
    DeliveryError,
    MessageChannel,
    WebhookCall,
    basic_credentials,
)

DEFAULT_ACCOUNT_SID = "ACsandbox0000000000000000000000000"
DEFAULT_AUTH_TOKEN = "sandbox-twilio-token"  # noqa: S105 (public sandbox default)
API_VERSION = "2010-04-01"
MESSAGES_PATH = re.compile(
    rf"/twilio/{API_VERSION}/Accounts/(?P<account_sid>[^/]+)/Messages\.json"
)
MAX_BODY_CHARS = 1600

# GSM 03.38: the default alphabet, and the extension table whose characters
# take two septets (an escape and the character).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
# (characters in one segment, characters per segment of a longer message)
GSM7_SEGMENT = (160, 153)
UCS2_SEGMENT = (70, 67)

# Twilio's error codes and messages, as its API words them.
AUTHENTICATE = (20003, "Authenticate")
TO_MISSING = (21604, "A 'To' phone number is required.")
TO_INVALID = (21211, "The 'To' number {to} is not a valid phone number.")
FROM_MISSING = (21603, "A 'From' phone number is required.")
BODY_MISSING = (21602, "Message body is required.")
BODY_TOO_LONG = (
    21617,
    "The concatenated message body exceeds the 1600 character limit.",
)
# Twilio's magic test numbers, answered as with test credentials (as of 2025).
TEST_TO_NUMBERS = {
    "+15005550001": TO_INVALID,
    "+15005550002": (
        21612,
        "The 'To' phone number: {to}, is not currently reachable using the "
        "'From' phone number: {sender} via SMS.",
    ),
    "+15005550003": (
        21408,
        "Permission to send an SMS has not been enabled for the region "
        "indicated by the 'To' number: {to}.",
    ),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}
TEST_FROM_NUMBERS = {
    "+15005550001": (
        21212,
        "The 'From' number {sender} is not a valid phone number, shortcode, "
        "or alphanumeric sender ID.",
    ),
    "+15005550007": (
        21606,
        "The 'From' phone number provided ({sender}) is not a valid "
        "message-capable Twilio phone number for this destination/account.",
    ),
    "+15005550008": (
        21611,
        "This 'From' number has exceeded the maximum number of queued messages.",
    ),
}
# The ErrorCode a status callback reports for a message that did not arrive.
CALLBACK_ERROR_CODES = {"undelivered": 30003, "failed": 30008}
EVENTS = ("queued", "sent", "delivered", "undelivered", "failed")


class TwilioSandbox(MessageChannel):
    """Twilio's Messages API and status callbacks, for one account."""

    channel = "sms"
    id_field = "sid"
    events = EVENTS

    def __init__(
        self,
        *,
        state: SandboxState,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
    ):
        super().__init__(state=state)
        self.account_sid = account_sid
        self.auth_token = auth_token

    # --- Messages API ------------------------------------------------------

    def take(
        self, *, path: str, authorization, content_type, body: bytes
    ) -> tuple[Answer, dict | None]:
        """Answer ``POST /twilio/2010-04-01/Accounts/<sid>/Messages.json``."""
        match = MESSAGES_PATH.fullmatch(path)
        resource = path.removeprefix("/twilio")
        if match is None:
            return not_found(resource), None
        if basic_credentials(authorization) != (self.account_sid, self.auth_token):
            return twilio_error(401, *AUTHENTICATE), None
        if match["account_sid"] != self.account_sid:
            return not_found(resource), None

        fields = dict(parse_qsl(body.decode("utf-8", errors="replace")))
        problem = send_problem(fields)
        if problem is not None:
            code, wording = problem
            message = wording.format(to=fields.get("To"), sender=fields.get("From"))
            return twilio_error(400, code, message), None

        message = {
            "sid": "SM" + uuid.uuid4().hex,
            "to": fields["To"],
            "from": fields.get("From"),
            "messaging_service_sid": fields.get("MessagingServiceSid"),
            "body": fields.get("Body", ""),
            "num_segments": segments_count(fields.get("Body", "")),
            "status_callback": fields.get("StatusCallback"),
        }
        answer = json_answer(201, self.resource(message))
        return self.faulted(recipients=[message["to"]], answer=answer, message=message)

    def resource(self, message: dict) -> dict:
        """Return the message resource Twilio answers to a new message."""
        now = format_datetime(datetime.now(UTC).replace(microsecond=0))
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": message["body"],
            "date_created": now,
            "date_sent": now,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": message["from"],
            "messaging_service_sid": message["messaging_service_sid"],
            "num_media": "0",
            "num_segments": str(message["num_segments"]),
            "price": None,
            "price_unit": "USD",
            "sid": message["sid"],
            "status": "queued",
            "subresource_uris": {},
            "to": message["to"],
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}"
            f"/Messages/{message['sid']}.json",
        }

    # --- Status callbacks ------------------------------------------------

    def webhook_call(
        self, message: dict, *, event: str, url: str, forge: bool, options: dict
    ) -> WebhookCall:
        """Return Twilio's status callback for ``event`` of ``message``."""
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "MessageSid": message["sid"],
            "MessageStatus": event,
            "SmsSid": message["sid"],
            "SmsStatus": event,
            "To": message["to"],
        }
        if message["from"]:
            params["From"] = message["from"]
        if message["messaging_service_sid"]:
            params["MessagingServiceSid"] = message["messaging_service_sid"]
        if event in CALLBACK_ERROR_CODES:
            error_code = options.get("error_code", CALLBACK_ERROR_CODES[event])
            if not isinstance(error_code, int) or isinstance(error_code, bool):
                raise DeliveryError(400, "'error_code' must be an integer")
            params["ErrorCode"] = str(error_code)

        key = f"forged-{uuid.uuid4().hex}" if forge else self.auth_token
        return WebhookCall(
            body=urlencode(params).encode("ascii"),
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": twilio_signature(key, url, params)},
        )


def send_problem(fields: dict[str, str]) -> tuple[int, str] | None:
    """Return Twilio's (code, message) for a message it refuses, or None."""
    if not fields.get("To"):
        return TO_MISSING
    if not E164_NUMBER.fullmatch(fields["To"]):
        return TO_INVALID
    if not fields.get("From") and not fields.get("MessagingServiceSid"):
        return FROM_MISSING
    if fields.get("From") in TEST_FROM_NUMBERS:
        return TEST_FROM_NUMBERS[fields["From"]]
    if fields["To"] in TEST_TO_NUMBERS:
        return TEST_TO_NUMBERS[fields["To"]]
    # Media or a content template stands in for a body.
    if not fields.get("Body") and not fields.keys() & {"MediaUrl", "ContentSid"}:
        return BODY_MISSING
    if len(fields.get("Body", "")) > MAX_BODY_CHARS:
        return BODY_TOO_LONG
    return None


def twilio_error(status: int, code: int, message: str) -> Answer:
    """Return Twilio's error answer for ``code``."""
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
    payload = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return json_answer(status, payload, headers=headers)


def not_found(resource: str) -> Answer:
    """Return Twilio's answer for a resource that does not exist."""
    return twilio_error(404, 20404, f"The requested resource {resource} was not found")


def segments_count(body: str) -> int:
    """Return how many SMS segments ``body`` takes, in GSM-7 or else UCS-2."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in body):
        units = len(body) + sum(char in GSM7_EXTENSION for char in body)
        single, per_segment = GSM7_SEGMENT
    else:
        # UCS-2 counts UTF-16 code units: an emoji takes two.
        units = len(body.encode("utf-16-le")) // 2
        single, per_segment = UCS2_SEGMENT
    if units <= single:
        return 1
    return math.ceil(units / per_segment)


def twilio_signature(key: str, url: str, params: dict[str, str]) -> str:
    """Return the X-Twilio-Signature of a POST of ``params`` to ``url``."""
    signed = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(key.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode("ascii")
