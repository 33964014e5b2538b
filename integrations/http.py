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
import urllib3

from django.conf import settings
from django.utils import timezone

from integrations.exchanges import (
    current_order_id,
    exchange_body_limit,
    exchange_keep,
)
from phpservice.metrics import (
    status_outcome,
    upstream_call_observe,
    upstream_invalid_answer_observe,
)
from phpservice.redaction import Redacted, redact, truncate

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
    """The answer arrived but is not what the contract promises.

    A well-formed answer that breaks the contract would break it again:
    it is not retried. One that did not arrive readable at all (``garbled``:
    a proxy's HTML error page, an empty body, JSON cut off on the way) is
    tried again within the bounded attempts; the Idempotency-Key makes asking
    again safe.
    """

    reason = "answered something unusable"

    def __init__(self, message, *, garbled=False, **kwargs):
        super().__init__(message, **kwargs)
        self.retryable = garbled


# The metric outcome of a call that ended in one of these before its status
# could be looked at; any other error is counted by the status it carries.
ERROR_OUTCOMES = {
    UpstreamTimeout: "timeout",
    UpstreamUnreachable: "unreachable",
    UpstreamInvalidResponse: "invalid_answer",
}


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


def _level_for(status: int | None) -> int:
    if status is None or status >= 500:
        return logging.ERROR
    return logging.WARNING if status >= 400 else logging.INFO


def _redacted(body: str | None, limit: int) -> str | None:
    if body is None:
        return None
    # Redacting a whole 2 MB page would cost more than the call it logs.
    # Cutting first at twice the limit is safe: whatever the first cut splits
    # lies beyond the limit, so it is cut off again after redaction.
    if len(body) > 2 * limit:
        body = body[: 2 * limit]
    return redact(body)


def _cut(text: str | None, limit: int) -> Redacted | None:
    return None if text is None else Redacted(truncate(text, limit))


def log_exchange(
    *,
    upstream: str,
    method: str,
    url: str,
    started: float,
    status: int | None = None,
    request_body=None,
    response_body: str | None = None,
    error: str | None = None,
    level: int | None = None,
    outcome: str | None = None,
    **context,
) -> None:
    """Log one call to an upstream and its answer, redacted, to upstream.log.

    Bodies are redacted before they are cut to LOG_BODY_MAX_CHARS, so that a
    cut never leaves half a secret behind. The level follows the outcome.
    An exchange about an order (``order_id``, or one named by
    ``exchanges_of_order``) is also kept in the database, redacted the same.
    The call is also counted in the metrics, under ``outcome`` (by default the
    one its status says).
    """
    seconds = time.monotonic() - started
    upstream_call_observe(
        upstream=upstream,
        outcome=outcome or status_outcome(status),
        seconds=seconds,
    )
    limit = settings.LOG_BODY_MAX_CHARS
    if request_body is not None and not isinstance(request_body, str):
        request_body = json.dumps(redact(request_body), ensure_ascii=False, default=str)
    extra = {
        "upstream": upstream,
        "method": method,
        "url": url,
        "status": status,
        "duration_ms": round(seconds * 1000, 1),
        **context,
    }
    order_id = context.get("order_id") or current_order_id()
    kept = exchange_body_limit() if order_id else 0
    # Redacted once, then cut to size for the log and for the database.
    request_text = _redacted(request_body, max(limit, kept))
    response_text = _redacted(response_body, max(limit, kept))
    extra["request_body"] = _cut(request_text, limit)
    extra["response_body"] = _cut(response_text, limit)
    if error:
        extra["error"] = error
    logger.log(
        level if level is not None else _level_for(status),
        "upstream.exchange",
        extra=extra,
    )

    if order_id:
        exchange_keep(
            order_id=order_id,
            upstream=upstream,
            method=method,
            url=redact(url),
            status=status,
            duration_ms=extra["duration_ms"],
            request_body=_cut(request_text, kept),
            response_body=_cut(response_text, kept),
            error=redact(error) if error else "",
            idempotency_key=context.get("idempotency_key"),
        )


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
        # Proxies and credentials are not read from the environment: an
        # upstream is reached as its URL setting says, and the look-up would
        # cost more than the rest of a call's preparation.
        self.session.trust_env = False
        self.session.headers["Accept"] = "application/json"
        if config.get("TOKEN"):
            self.session.headers["Authorization"] = f"Bearer {config['TOKEN']}"

    def invalid_answer(
        self, response: UpstreamResponse, problem: str, *, garbled: bool = False
    ) -> UpstreamInvalidResponse:
        """Return the error for an answer that breaks the upstream's contract.

        ``garbled`` says the answer could not be read at all, so that asking
        again may well get a readable one.
        """
        upstream_invalid_answer_observe(upstream=self.label)
        return UpstreamInvalidResponse(
            f"{self.label} answer {problem}",
            upstream=self.label,
            url=response.url,
            status=response.status,
            body=response.text,
            garbled=garbled,
        )

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
            "started": started,
            "request_body": json,
            "params": params,
            "idempotency_key": idempotency_key,
            "order_id": order_id,
        }
        try:
            response = self._send(method, url, params, json, headers, started)
        except UpstreamError as err:
            log_exchange(
                **context,
                status=err.status,
                error=f"{type(err).__name__}: {err}",
                level=logging.ERROR if err.retryable else logging.WARNING,
                outcome=ERROR_OUTCOMES.get(type(err)),
            )
            raise
        log_exchange(**context, status=response.status, response_body=response.text)
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
                # A redirect of a POST would be replayed as a GET to wherever
                # it points; an upstream that moved is a configuration matter.
                allow_redirects=False,
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
            # read1 returns whatever has arrived (unlike read, which waits for
            # the whole chunk), so the deadline is checked at every arrival.
            while chunk := raw.raw.read1(65536, decode_content=True):
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
        except (urllib3.exceptions.HTTPError, OSError) as err:
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
        if 300 <= status < 400:
            raise UpstreamRejected(
                f"{self.label} answered HTTP {status}, a redirect to "
                f"{response.headers.get('Location', '?')!r}; check its URL setting",
                **common,
            )
        raise UpstreamRejected(f"{self.label} answered HTTP {status}", **common)
