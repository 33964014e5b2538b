"""Give every request an id and log its outcome to ``api.log``."""

import logging
import re
import time
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.utils.functional import SimpleLazyObject, empty

from phpservice.logging import reset_request_id, set_request_id
from phpservice.redaction import redact

# Named for what it carries rather than after this module: the logging
# configuration routes this name to api.log.
logger = logging.getLogger("phpservice.requests")

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")


class RequestLogMiddleware:
    """Tag each request with an id and log method, path, status and duration.

    An incoming ``X-Request-ID`` is kept when it is 1–64 characters of
    ``A-Z a-z 0-9 . _ -``, otherwise a new one is made. The id is bound to
    ``request_id_var`` for every record logged while the request is handled,
    stored as ``request.request_id`` and sent back in the response. Bodies are
    not logged here; static files are not logged at all.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        static_path = urlsplit(settings.STATIC_URL or "").path
        self.skipped_prefix = static_path if static_path.strip("/") else None

    def __call__(self, request):
        if self.skipped_prefix and request.path.startswith(self.skipped_prefix):
            return self.get_response(request)

        request_id = request_id_from(request)
        request.request_id = request_id
        token = set_request_id(request_id)
        started = time.monotonic()
        response = None
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            return response
        finally:
            # Also reached when an exception escapes the view stack: the
            # request is then logged as a 500 and the exception goes on.
            log_request(request, response, started)
            reset_request_id(token)


def request_id_from(request) -> str:
    """Return the request's valid ``X-Request-ID``, or a new random id."""
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    return incoming if REQUEST_ID_RE.fullmatch(incoming) else uuid.uuid4().hex


def log_request(request, response, started: float) -> None:
    """Log the event ``http.request`` at a level that follows the status."""
    status = response.status_code if response is not None else 500
    if status >= 500:
        level = logging.ERROR
    elif status >= 400:
        level = logging.WARNING
    else:
        level = logging.INFO
    logger.log(
        level,
        "http.request",
        extra={
            "method": request.method,
            "path": request.path,
            "query": query_for_log(request),
            "status": status,
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
            "user": username_of(request),
            "remote_addr": request.META.get("REMOTE_ADDR"),
            "response_bytes": response_bytes(response),
        },
    )


def query_for_log(request) -> dict | str:
    """Return the query parameters, redacted, one value or a list per name."""
    try:
        params = {
            name: values[0] if len(values) == 1 else values
            for name, values in request.GET.lists()
        }
    except SuspiciousOperation:  # too many fields: keep the raw text
        return redact(request.META.get("QUERY_STRING", ""))
    return redact(params)


def username_of(request) -> str | None:
    """Return the authenticated user's name, or None.

    Read after the response, because DRF authenticates inside the view and
    then sets ``request.user`` on the Django request. A user the view never
    looked at stays unloaded: logging must not cost a session query.
    """
    user = getattr(request, "user", None)
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
        return None
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.get_username()


def response_bytes(response) -> int | None:
    """Return the size of the response body when it is known."""
    if response is None:
        return None
    length = response.get("Content-Length", "")
    if length.isdigit():
        return int(length)
    return None if response.streaming else len(response.content)
