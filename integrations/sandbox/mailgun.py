"""The sandbox's Mailgun: the send API anymail's Mailgun backend calls.

``POST /mailgun/v3/<domain>/messages`` with basic auth ``api:<key>`` and the
message as form fields: urlencoded, or multipart/form-data (anymail's choice
once a message has attachments). Answers are Mailgun's, as of 2025: 401 with
the bare text ``Forbidden`` for a wrong key, 400 ``{"message": ...}`` for a
message it cannot send, and 200 ``{"id": ..., "message": "Queued. Thank you."}``.
Tracking webhooks carry the ``event-data`` JSON Mailgun posts, signed with
HMAC-SHA256 of timestamp and token under the webhook signing key.
"""

import email.parser
import email.policy
import hashlib
import hmac
import json
import re
import secrets
import time
from datetime import UTC, datetime
from email.utils import getaddresses
from urllib.parse import parse_qsl, unquote

from integrations.sandbox.state import Answer, SandboxState, json_answer
from integrations.sandbox.webhooks import (
    DeliveryError,
    MessageChannel,
    WebhookCall,
    basic_credentials,
)

DEFAULT_API_KEY = "sandbox-mailgun-key"
DEFAULT_WEBHOOK_SIGNING_KEY = "sandbox-mailgun-signing-key"
MESSAGES_PATH = re.compile(r"/mailgun/v3/(?P<domain>[^/]+)/messages")
QUEUED = "Queued. Thank you."
# Field name prefixes: custom headers, custom variables, sending options.
HEADER_PREFIX, VARIABLE_PREFIX, OPTION_PREFIX = "h:", "v:", "o:"

# What each tracking event adds to its event-data, by severity for failures.
EVENT_DETAILS = {
    "accepted": {"log-level": "info"},
    "delivered": {
        "log-level": "info",
        "delivery-status": {
            "code": 250,
            "message": "OK",
            "description": "",
            "attempt-no": 1,
            "tls": True,
        },
    },
    "opened": {"log-level": "info"},
    "clicked": {"log-level": "info"},
    "unsubscribed": {"log-level": "info"},
    "complained": {"log-level": "warn"},
}
FAILURES = {
    "permanent": {
        "log-level": "error",
        "severity": "permanent",
        "reason": "bounce",
        "delivery-status": {
            "code": 550,
            "message": "5.1.1 The email account that you tried to reach does "
            "not exist.",
            "description": "",
            "bounce-code": "5.1.1",
            "attempt-no": 1,
        },
    },
    "temporary": {
        "log-level": "warn",
        "severity": "temporary",
        "reason": "generic",
        "delivery-status": {
            "code": 452,
            "message": "4.2.2 The email account that you tried to reach is over quota.",
            "description": "",
            "attempt-no": 1,
        },
    },
}


class FormError(ValueError):
    """A request body that is not the form it claims to be."""


class MailgunSandbox(MessageChannel):
    """Mailgun's send API and tracking webhooks, for any sender domain."""

    channel = "email"
    id_field = "id"
    events = (*EVENT_DETAILS, "failed")

    def __init__(
        self,
        *,
        state: SandboxState,
        api_key: str = DEFAULT_API_KEY,
        webhook_signing_key: str = DEFAULT_WEBHOOK_SIGNING_KEY,
    ):
        super().__init__(state=state)
        self.api_key = api_key
        self.webhook_signing_key = webhook_signing_key

    def message_key(self, message_id: str) -> str:
        # Webhooks carry the id without the angle brackets the API answers.
        return message_id.strip().strip("<>")

    # --- Send API ----------------------------------------------------------

    def take(
        self, *, path: str, authorization, content_type, body: bytes
    ) -> tuple[Answer, dict | None]:
        """Answer ``POST /mailgun/v3/<domain>/messages``."""
        match = MESSAGES_PATH.fullmatch(path)
        if match is None:
            return json_answer(404, {"message": "Not Found"}), None
        if basic_credentials(authorization) != ("api", self.api_key):
            return forbidden(), None
        try:
            fields, attachments = form_fields(content_type, body)
        except FormError as err:
            return mailgun_error(str(err)), None

        problem = send_problem(fields)
        if problem:
            return mailgun_error(problem), None
        domain = unquote(match["domain"])
        message = message_record(fields, domain=domain, attachments=attachments)
        answer = json_answer(200, {"id": message["id"], "message": QUEUED})
        recipients = [
            address
            for name in ("to", "cc", "bcc")
            for _, address in getaddresses(message[name])
        ]
        return self.faulted(recipients=recipients, answer=answer, message=message)

    # --- Tracking webhooks -----------------------------------------------

    def webhook_call(
        self, message: dict, *, event: str, url: str, forge: bool, options: dict
    ) -> WebhookCall:
        """Return Mailgun's tracking webhook call for ``event`` of ``message``."""
        addresses = [address for _, address in getaddresses(message["to"])]
        recipient = options.get("recipient", addresses[0] if addresses else "")
        if recipient not in addresses:
            raise DeliveryError(
                400, f"'recipient' {recipient!r} is not among the message's 'to'"
            )
        details = EVENT_DETAILS.get(event)
        if event == "failed":
            severity = options.get("severity", "permanent")
            if not isinstance(severity, str) or severity not in FAILURES:
                raise DeliveryError(
                    400, "'severity' must be 'permanent' or 'temporary'"
                )
            details = FAILURES[severity]

        event_data = {
            "event": event,
            "id": secrets.token_urlsafe(16)[:22],
            "timestamp": time.time(),
            "recipient": recipient,
            "recipient-domain": recipient.rpartition("@")[2],
            "tags": list(message["tags"]),
            "user-variables": dict(message["variables"]),
            "envelope": {
                "transport": "smtp",
                "sender": f"postmaster@{message['domain']}",
                "targets": recipient,
            },
            "message": {
                "headers": {
                    "message-id": self.message_key(message["id"]),
                    "from": message["from"],
                    "to": ", ".join(message["to"]),
                    "subject": message["subject"] or "",
                },
                "attachments": [],
            },
            **details,
        }
        key = self.webhook_signing_key
        if forge:
            key = f"forged-{secrets.token_hex(8)}"
        payload = {"signature": mailgun_signature(key), "event-data": event_data}
        return WebhookCall(body=json_bytes(payload), content_type="application/json")


def forbidden() -> Answer:
    """Return Mailgun's answer to a wrong or missing API key."""
    return Answer(
        401,
        "Forbidden",
        content_type="text/plain; charset=utf-8",
        headers={"WWW-Authenticate": 'Basic realm="MG API"'},
    )


def mailgun_error(message: str) -> Answer:
    """Return Mailgun's 400 answer to a message it cannot send."""
    return json_answer(400, {"message": message})


def send_problem(fields: list[tuple[str, str]]) -> str | None:
    """Return Mailgun's complaint about a message's fields, or None."""
    names = {name for name, value in fields if value}
    if "from" not in names:
        return "'from' parameter is missing"
    if "to" not in names:
        return "'to' parameter is missing"
    for name, value in fields:
        if name in ("to", "cc", "bcc"):
            for _, address in getaddresses([value]):
                local, at, domain = address.rpartition("@")
                if not (local and at and domain):
                    return (
                        f"'{name}' parameter is not a valid address. "
                        "please check documentation"
                    )
    if not names & {"text", "html", "amp-html", "template"}:
        return "Need at least one of 'text', 'html' or 'template' parameters specified"
    return None


def message_record(fields: list[tuple[str, str]], *, domain: str, attachments):
    """Return the message as the sandbox keeps it: every field as received."""

    def values(name: str) -> list[str]:
        return [value for field_name, value in fields if field_name == name]

    def first(name: str) -> str | None:
        found = values(name)
        return found[0] if found else None

    def prefixed(prefix: str) -> dict[str, str]:
        return {
            name[len(prefix) :]: value
            for name, value in fields
            if name.startswith(prefix) and name != "o:tag"
        }

    return {
        "id": message_id(domain),
        "domain": domain,
        "from": ", ".join(values("from")),
        "to": values("to"),
        "cc": values("cc"),
        "bcc": values("bcc"),
        "subject": first("subject"),
        "text": first("text"),
        "html": first("html"),
        "headers": prefixed(HEADER_PREFIX),
        "variables": prefixed(VARIABLE_PREFIX),
        "options": prefixed(OPTION_PREFIX),
        "tags": values("o:tag"),
        "attachments": attachments,
    }


def message_id(domain: str) -> str:
    """Return a new message id in Mailgun's form, angle brackets included."""
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    serial = secrets.randbelow(10**6)
    return f"<{stamp}.{serial}.{secrets.token_hex(8).upper()}@{domain}>"


def mailgun_signature(key: str) -> dict[str, str]:
    """Return a webhook's signature block, signed with ``key``."""
    timestamp = str(int(time.time()))
    token = secrets.token_hex(25)
    signature = hmac.new(
        key.encode("utf-8"), (timestamp + token).encode("ascii"), hashlib.sha256
    ).hexdigest()
    return {"timestamp": timestamp, "token": token, "signature": signature}


def form_fields(content_type: str | None, body: bytes):
    """Return the (name, value) fields and the attachments of a form body.

    Attachments are described, not kept: filename, content type and size.
    """
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        return multipart_fields(content_type, body)
    if media_type in ("", "application/x-www-form-urlencoded"):
        text = body.decode("utf-8", errors="replace")
        return parse_qsl(text, keep_blank_values=True), []
    # Mailgun reads only forms; anything else carries no fields.
    return [], []


def multipart_fields(content_type: str, body: bytes):
    """Return the fields and attachments of a multipart/form-data body."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n"
    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    form = parser.parsebytes(head.encode("latin-1") + body)
    if not form.is_multipart() or form.defects:
        raise FormError("the multipart/form-data body cannot be parsed")
    fields, attachments = [], []
    for part in form.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        content = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is None:
            fields.append((name, content.decode("utf-8", errors="replace")))
        else:
            attachments.append(
                {
                    "field": name,
                    "filename": filename,
                    "content_type": part.get_content_type(),
                    "size": len(content),
                }
            )
    return fields, attachments


def json_bytes(payload) -> bytes:
    """Return ``payload`` as UTF-8 JSON."""
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")
