"""What the sandbox's Mailgun and Twilio share: their memory and their webhooks.

Each messaging channel counts its requests, remembers the last
``KEPT_MESSAGES`` messages it accepted and, asked by ``POST /_sandbox/deliver``,
tells a webhook what became of one of them, signed as the real service signs
it. Webhooks go to loopback addresses only, without proxies and without
following redirects, so the sandbox never calls beyond this machine.
"""

import base64
import binascii
import copy
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

from integrations.sandbox.answers import truncated
from integrations.sandbox.state import (
    Answer,
    SandboxState,
    error_answer,
    json_answer,
    read_object,
)

KEPT_MESSAGES = 1000
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
WEBHOOK_TIMEOUT_SECONDS = 10
# How much of the webhook's answer /_sandbox/deliver passes on.
WEBHOOK_BODY_CHARS = 500


class DeliveryError(Exception):
    """A delivery the sandbox will not make; ``status`` is its HTTP answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class WebhookCall:
    """A webhook request a channel makes about a message, ready to send."""

    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """Return the (user, password) of a basic Authorization header, or None."""
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


class MessageChannel:
    """A messaging API's memory: its request counts and the messages it accepted.

    Subclasses answer one send request in ``take`` and describe a delivery
    event in ``webhook_call``.
    """

    # The channel's name in /_sandbox/deliver and in scenario faults.
    channel = ""
    # The field of a kept message that holds its id.
    id_field = "id"
    # The events /_sandbox/deliver may report for this channel.
    events: tuple[str, ...] = ()

    def __init__(self, *, state: SandboxState):
        self.state = state
        self.lock = threading.Lock()
        self.counts = {"requests": 0, "accepted": 0, "rejected": 0}
        self.messages = OrderedDict()

    def stats(self) -> dict:
        """Return the counts and the kept messages, oldest first."""
        with self.lock:
            messages = copy.deepcopy(list(self.messages.values()))
            return {**self.counts, "messages": messages}

    def reset(self) -> None:
        """Forget the counts and the kept messages."""
        with self.lock:
            self.counts = {"requests": 0, "accepted": 0, "rejected": 0}
            self.messages = OrderedDict()

    def find(self, message_id: str) -> dict | None:
        """Return a copy of the kept message with this id, or None."""
        with self.lock:
            message = self.messages.get(self.message_key(message_id))
            return copy.deepcopy(message)

    def message_key(self, message_id: str) -> str:
        """Return the key the message with this id is kept under."""
        return message_id

    def answer_send(self, **request) -> Answer:
        """Answer a send request; keep the message if the channel accepted it."""
        answer, message = self.take(**request)
        with self.lock:
            self.counts["requests"] += 1
            if message is None:
                self.counts["rejected"] += 1
                return answer
            self.counts["accepted"] += 1
            self.messages[self.message_key(message[self.id_field])] = message
            while len(self.messages) > KEPT_MESSAGES:
                self.messages.popitem(last=False)
        return answer

    def take(self, **request) -> tuple[Answer, dict | None]:
        """Return the answer to a send request and the message it accepted."""
        raise NotImplementedError

    def webhook_call(
        self, message: dict, *, event: str, url: str, forge: bool, options: dict
    ) -> WebhookCall:
        """Return the signed webhook call reporting ``event`` for ``message``."""
        raise NotImplementedError

    def faulted(
        self, *, recipients, answer: Answer, message: dict
    ) -> tuple[Answer, dict | None]:
        """Return what the scenario's fault for ``recipients`` makes of a send.

        ``answer`` and ``message`` are what the channel answers and keeps
        without a fault. As with BillAPI and CustomAPI, a ``timeout`` keeps
        the message and holds its answer back; other faults keep nothing.
        """
        fault = self.state.message_fault(channel=self.channel, recipients=recipients)
        if fault == "malformed":
            cut = Answer(200, truncated(answer.body), content_type=answer.content_type)
            return cut, None
        stopped = self.state.fault_answer(fault)
        if stopped is not None:
            return stopped, None
        return self.state.held_back(answer, fault), message


def deliver(body: bytes, *, channels: dict[str, MessageChannel]) -> Answer:
    """Answer ``POST /_sandbox/deliver``: call a webhook about a kept message."""
    request = read_object(body)
    if request is None:
        return error_answer(400, "request body must be a JSON object")
    try:
        channel, message, event, url = delivery_read(request, channels=channels)
        call = channel.webhook_call(
            message,
            event=event,
            url=without_credentials(url),
            forge=request.get("forge", False),
            options=request,
        )
        status, text = webhook_post(url, call)
    except DeliveryError as err:
        return error_answer(err.status, str(err))
    return json_answer(200, {"status": status, "body": text})


def delivery_read(request: dict, *, channels: dict[str, MessageChannel]):
    """Return the channel, message, event and URL a deliver request names."""
    name = request.get("channel")
    channel = channels.get(name) if isinstance(name, str) else None
    if channel is None:
        raise DeliveryError(
            400, f"'channel' must be one of {', '.join(map(repr, channels))}"
        )
    if not isinstance(request.get("forge", False), bool):
        raise DeliveryError(400, "'forge' must be true or false")

    message_id = request.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise DeliveryError(400, "'message_id' must be a non-empty string")
    message = channel.find(message_id)
    if message is None:
        raise DeliveryError(
            404, f"no accepted {channel.channel} message with id {message_id!r}"
        )

    event = request.get("event")
    if event not in channel.events:
        raise DeliveryError(
            400,
            f"'event' of {channel.channel} must be one of {', '.join(channel.events)}",
        )
    # A Twilio message may name its own status callback.
    url = request.get("url") or message.get("status_callback")
    if not isinstance(url, str) or not url:
        raise DeliveryError(400, "'url' must be the webhook's URL")
    loopback_check(url)
    return channel, message, event, url


def loopback_check(url: str) -> None:
    """Raise ``DeliveryError`` unless ``url`` is plain HTTP to this machine."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError as err:
        raise DeliveryError(400, "'url' is not a valid URL") from err
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS:
        raise DeliveryError(
            400,
            f"'url' {without_credentials(url)!r} is refused: webhooks go to "
            "http://127.0.0.1 or http://localhost only",
        )


def without_credentials(url: str) -> str:
    """Return ``url`` without its ``user:password@``, as the receiver sees it."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=netloc))


def webhook_post(url: str, call: WebhookCall) -> tuple[int, str]:
    """POST ``call`` to ``url``; return the answer's status and text.

    Credentials in the URL go as basic auth, as Mailgun and Twilio send them.
    """
    parts = urlsplit(url)
    headers = {"Content-Type": call.content_type, **call.headers}
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        token = base64.b64encode(pair.encode("utf-8")).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    request = urllib.request.Request(  # noqa: S310 (loopback_check passed)
        without_credentials(url), data=call.body, headers=headers, method="POST"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirects())
    try:
        with opener.open(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            return response.status, answer_text(response.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, answer_text(err.read())
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DeliveryError(
            502, f"webhook {without_credentials(url)!r} unreachable: {reason}"
        ) from err


def answer_text(body: bytes) -> str:
    """Return the start of a webhook's answer, as text."""
    return body.decode("utf-8", errors="replace")[:WEBHOOK_BODY_CHARS]


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """Hand a redirect back as the answer: it may point beyond this machine."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None
