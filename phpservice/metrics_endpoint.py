"""Serve the metrics: ``GET /metrics`` on web nodes, ``serve_metrics`` on workers.

With ``PROMETHEUS_MULTIPROC_DIR`` set, the per-process figures of every
process writing to that directory (gunicorn workers, qcluster's workers) are
summed at each scrape; without it, only the answering process's own are
served. The database figures are added by ``DatabaseCollector``.

Access: with ``METRICS_TOKEN`` set, a scrape must send ``Authorization:
Bearer <token>``. Without it, web nodes answer 404 unless DEBUG is on, as for
any unknown path: an unconfigured deployment does not publish its figures.
"""

import hmac
import os

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import (
    CONTENT_TYPE_LATEST,
    choose_encoder,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from django.conf import settings
from django.db import connections
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from phpservice.metrics_collector import DatabaseCollector

# Our error code of a refused scrape → the RFC 6750 error in WWW-Authenticate.
BEARER_ERRORS = {"not_authenticated": None, "invalid_token": "invalid_token"}
REFUSAL_MESSAGES = {
    "not_authenticated": "Send the metrics token as 'Authorization: Bearer …'.",
    "invalid_token": "The metrics token is not valid.",
}


def multiprocess_dir() -> str:
    """Return the directory the processes of this node count into, or ''."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def scrape_registry(*, database: bool) -> CollectorRegistry:
    """Return a registry of what one scrape of this node serves."""
    # Nothing is collected on registration: only the scrape reads figures.
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    if database:
        registry.register(DatabaseCollector())
    return registry


def token_problem(authorization: str) -> str | None:
    """Return why ``authorization`` does not carry METRICS_TOKEN, or None."""
    scheme, _, given = authorization.strip().partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        return "not_authenticated"
    # Compared in constant time: the answer must not tell how much matched.
    if not hmac.compare_digest(given.encode(), settings.METRICS_TOKEN.encode()):
        return "invalid_token"
    return None


def _challenge(code: str) -> str:
    # RFC 6750 §3.1: a request without a token is told no error code.
    error = BEARER_ERRORS.get(code)
    challenge = 'Bearer realm="metrics"'
    return f'{challenge}, error="{error}"' if error else challenge


# It changes nothing; exempt so that any method gets the view's own answer
# (404 while metrics are off), not the CSRF check's 403.
@csrf_exempt
def metrics(request):
    """Answer the node's metrics in the Prometheus text format."""
    if settings.METRICS_TOKEN:
        problem = token_problem(request.headers.get("Authorization", ""))
        if problem:
            response = JsonResponse(
                {"error": {"code": problem, "message": REFUSAL_MESSAGES[problem]}},
                status=401,
            )
            response["WWW-Authenticate"] = _challenge(problem)
            return response
    elif not settings.DEBUG:
        raise Http404("Metrics are off: METRICS_TOKEN is not set.")
    if request.method not in ("GET", "HEAD"):
        response = HttpResponse(status=405)
        response["Allow"] = "GET, HEAD"
        return response

    encoder, content_type = _encoder_for(request.headers.get("Accept", ""))
    return HttpResponse(
        encoder(scrape_registry(database=True)), content_type=content_type
    )


def _encoder_for(accept: str):
    """Return the exposition format the scraper asks for, or the plain one.

    prometheus_client fails on an ``Accept`` it cannot parse (an OpenMetrics
    version that is not a number); such a scraper gets the text format.
    """
    try:
        return choose_encoder(accept)
    except (TypeError, ValueError):
        return generate_latest, CONTENT_TYPE_LATEST


def metrics_wsgi_app(*, database: bool):
    """Return a WSGI app serving ``/metrics`` like the web view, for workers."""

    def app(environ, start_response):
        status, headers, body = _answer(environ, database=database)
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return app


def _answer(environ, *, database: bool) -> tuple[str, list, bytes]:
    if environ.get("PATH_INFO") != "/metrics":
        return "404 Not Found", [("Content-Type", "text/plain")], b"Not found\n"
    if settings.METRICS_TOKEN:
        problem = token_problem(environ.get("HTTP_AUTHORIZATION", ""))
        if problem:
            return (
                "401 Unauthorized",
                [
                    ("Content-Type", "text/plain"),
                    ("WWW-Authenticate", _challenge(problem)),
                ],
                f"{REFUSAL_MESSAGES[problem]}\n".encode(),
            )
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return "405 Method Not Allowed", [("Allow", "GET, HEAD")], b""

    encoder, content_type = _encoder_for(environ.get("HTTP_ACCEPT", ""))
    try:
        body = encoder(scrape_registry(database=database))
    finally:
        if database:
            # Each scrape runs in a thread of its own: its connection ends
            # with it instead of waiting to be collected.
            connections.close_all()
    return "200 OK", [("Content-Type", content_type)], body
