"""The HTTP layer shared by the SalesAPI, BillAPI and CustomAPI clients.

Each call has connect and read timeouts, an overall deadline for the body, and
a cap on the body's size; each exchange is logged to ``upstream.log`` with its
bodies redacted and truncated. Failures are raised as one exception family
whose ``retryable`` flag tells the pipeline whether to try again later.
"""

import json
import logging
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import requests

from django.conf import settings
from django.utils import timezone

from phpservice.redaction import redact, truncate

logger = logging.getLogger(__name__)

SNIPPET_CHARS = 300


class UpstreamError(Exception):
    """A call to an upstream API failed; carries what is needed to act on it."""

    retryable = False
    reason = "failed"

    def __init__(self, message, *, upstream, url="", status=None, body=""):
        super().__init__(message)
        self.upstream = upstream
        self.url = url
        self.status = status
        self.body = truncate(body or "", SNIPPET_CHARS)

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text}: {self.body}" if self.body else text


class UpstreamTimeout(UpstreamError):
    """No answer, or no whole answer, within the time allowed."""

    retryable = True
    reason = "timed out"


class UpstreamUnreachable(UpstreamError):
    """The connection could not be made."""

    retryable = True
    reason = "unreachable"


class UpstreamServerError(UpstreamError):
    """The upstream answered 5xx."""

    retryable = True
    reason = "server error"


class UpstreamRateLimited(UpstreamError):
    """The upstream answered 429; ``retry_after`` is its wish in seconds."""

    retryable = True
    reason = "rate limited"

    def __init__(self, message, *, retry_after=None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class UpstreamRejected(UpstreamError):
    """The upstream answered another 4xx: sending the same again won't help."""

    reason = "rejected the request"


class UpstreamInvalidResponse(UpstreamError):
    """The answer arrived but is not what the contract promises."""

    reason = "answered something unusable"


@dataclass
class UpstreamResponse:
    """A whole, size-checked answer."""

    status: int
    headers: dict
    body: bytes
    url: str

    @property
    def text(self) -> str:
        # Some upstreams put a UTF-8 byte order mark before their JSON.
        return self.body.decode("utf-8-sig", errors="replace")

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()


def parse_retry_after(value: str | None) -> float | None:
    """Return Retry-After (seconds or an HTTP date) as seconds from now."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


class UpstreamClient:
    """A small client for one upstream API, configured from ``UPSTREAMS``."""

    name = ""  # "sales", "bill" or "custom": the key in settings.UPSTREAMS
    label = ""  # how people call it: "SalesAPI"

    def __init__(self, *, config: dict | None = None, session=None):
        config = config or settings.UPSTREAMS[self.name]
        self.base_url = config["URL"]
        self.timeout = (config["CONNECT_TIMEOUT"], config["READ_TIMEOUT"])
        self.max_response_bytes = config["MAX_RESPONSE_BYTES"]
        self.session = session or requests.Session()
        self.session.headers["Accept"] = "application/json"
        if config.get("TOKEN"):
            self.session.headers["Authorization"] = f"Bearer {config['TOKEN']}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json=None,
        idempotency_key: str | None = None,
        order_id: str | None = None,
    ) -> UpstreamResponse:
        """Make one call and return the answer if it is 2xx; raise otherwise."""
        url = f"{self.base_url}{path}"
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        started = time.monotonic()
        context = {
            "upstream": self.label,
            "method": method,
            "url": url,
            "params": params,
            "idempotency_key": idempotency_key,
            "order_id": order_id,
            "request_body": json,
        }
        try:
            response = self._send(method, url, params, json, headers, started)
        except UpstreamError as err:
            self._log(context, started, error=err)
            raise
        self._log(context, started, response=response)
        self._raise_for_status(response)
        return response

    def _send(self, method, url, params, json, headers, started) -> UpstreamResponse:
        try:
            raw = self.session.request(
                method,
                url,
                params=params,
                json=json,
                headers=headers,
                timeout=self.timeout,
                stream=True,
            )
        except requests.Timeout as err:
            raise UpstreamTimeout(
                f"{self.label} did not answer in time", upstream=self.label, url=url
            ) from err
        except requests.RequestException as err:
            raise UpstreamUnreachable(
                f"{self.label} is unreachable ({type(err).__name__})",
                upstream=self.label,
                url=url,
            ) from err

        with raw:
            body = self._read_body(raw, url, started)
        return UpstreamResponse(
            status=raw.status_code, headers=dict(raw.headers), body=body, url=url
        )

    def _read_body(self, raw, url: str, started: float) -> bytes:
        # The read timeout bounds each wait for bytes; a deadline bounds the
        # whole body, so that a server dripping bytes cannot hold us forever.
        deadline = started + self.timeout[0] + self.timeout[1]
        declared = raw.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_response_bytes:
            raise UpstreamInvalidResponse(
                f"{self.label} answer of {declared} bytes is over the "
                f"{self.max_response_bytes}-byte limit",
                upstream=self.label,
                url=url,
                status=raw.status_code,
            )
        chunks, size = [], 0
        try:
            for chunk in raw.iter_content(chunk_size=65536):
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise UpstreamInvalidResponse(
                        f"{self.label} answer is over the "
                        f"{self.max_response_bytes}-byte limit",
                        upstream=self.label,
                        url=url,
                        status=raw.status_code,
                    )
                if time.monotonic() > deadline:
                    raise UpstreamTimeout(
                        f"{self.label} answer did not end in time",
                        upstream=self.label,
                        url=url,
                        status=raw.status_code,
                    )
                chunks.append(chunk)
        except requests.RequestException as err:
            raise UpstreamTimeout(
                f"{self.label} answer broke off ({type(err).__name__})",
                upstream=self.label,
                url=url,
                status=raw.status_code,
            ) from err
        return b"".join(chunks)

    def _raise_for_status(self, response: UpstreamResponse) -> None:
        status = response.status
        if 200 <= status < 300:
            return
        common = {
            "upstream": self.label,
            "url": response.url,
            "status": status,
            "body": response.text,
        }
        if status == 429:
            raise UpstreamRateLimited(
                f"{self.label} answered HTTP 429 (too many requests)",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                **common,
            )
        if status >= 500:
            raise UpstreamServerError(f"{self.label} answered HTTP {status}", **common)
        raise UpstreamRejected(f"{self.label} answered HTTP {status}", **common)

    def _log(self, context, started, *, response=None, error=None) -> None:
        duration_ms = round((time.monotonic() - started) * 1000, 1)
        limit = settings.LOG_BODY_MAX_CHARS
        extra = {
            **context,
            "request_body": None
            if context["request_body"] is None
            else truncate(
                json.dumps(redact(context["request_body"]), ensure_ascii=False),
                limit,
            ),
            "duration_ms": duration_ms,
        }
        if response is not None:
            extra["status"] = response.status
            extra["response_body"] = truncate(redact(response.text), limit)
            level = (
                logging.ERROR
                if response.status >= 500
                else logging.WARNING
                if response.status >= 400
                else logging.INFO
            )
        else:
            extra["status"] = error.status
            extra["error"] = f"{type(error).__name__}: {error}"
            level = logging.ERROR if error.retryable else logging.WARNING
        logger.log(level, "upstream.exchange", extra=extra)
