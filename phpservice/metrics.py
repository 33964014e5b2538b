"""The figures each process counts for itself: upstream calls and retries.

They are recorded where the thing happens, in memory (or, with
``PROMETHEUS_MULTIPROC_DIR`` set, in a per-process file that the scrape sums
over every process of the node), so that recording costs no query and next to
no CPU. Figures that live in the database are not here: they are read at
scrape time by ``phpservice.metrics_collector``.

This module imports nothing from Django's models, so that the HTTP layer can
record into it from anywhere.
"""

import requests
from prometheus_client import Counter, Histogram

# How people name each upstream → the label value of the metrics. An unknown
# one keeps its own name, lowercased, rather than being dropped.
UPSTREAM_LABELS = {
    "SalesAPI": "sales",
    "BillAPI": "bill",
    "CustomAPI": "custom",
    "Mailgun": "mailgun",
    "Twilio": "twilio",
}

# Latency buckets, in seconds: from a quick local answer up to the longest
# read timeout an upstream is given (15 s by default).
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30)

UPSTREAM_CALLS = Counter(
    "phpservice_upstream_calls",
    "Calls to an upstream API, by upstream and outcome.",
    ["upstream", "outcome"],
)
UPSTREAM_CALL_SECONDS = Histogram(
    "phpservice_upstream_call_duration_seconds",
    "Time from sending a call to an upstream to having its whole answer.",
    ["upstream", "outcome"],
    buckets=LATENCY_BUCKETS,
)
UPSTREAM_INVALID_ANSWERS = Counter(
    "phpservice_upstream_invalid_answers",
    "2xx answers that broke the upstream's contract (not JSON, fields missing).",
    ["upstream"],
)
PIPELINE_RETRIES = Counter(
    "phpservice_pipeline_retries",
    "Retries the pipeline scheduled, by the step that failed.",
    ["step"],
)


def upstream_label(upstream: str) -> str:
    """Return the metric label of an upstream named as people name it."""
    return UPSTREAM_LABELS.get(upstream) or upstream.lower()


def status_outcome(status: int | None) -> str:
    """Return the outcome of a call that got an HTTP answer with ``status``."""
    if status is None:
        return "unreachable"
    if 200 <= status < 300:
        return "ok"
    if status == 429:
        # Retried like a 5xx but caused by us; worth telling apart.
        return "rate_limited"
    return f"http_{status // 100}xx"


def transport_outcome(error: BaseException | None) -> str:
    """Return the outcome of a call that got no HTTP answer at all."""
    return "timeout" if isinstance(error, requests.Timeout) else "unreachable"


def upstream_call_observe(*, upstream: str, outcome: str, seconds: float) -> None:
    """Count one call to ``upstream`` and how long it took."""
    label = upstream_label(upstream)
    UPSTREAM_CALLS.labels(label, outcome).inc()
    UPSTREAM_CALL_SECONDS.labels(label, outcome).observe(seconds)


def upstream_invalid_answer_observe(*, upstream: str) -> None:
    """Count one answer from ``upstream`` that could not be used."""
    UPSTREAM_INVALID_ANSWERS.labels(upstream_label(upstream)).inc()


def pipeline_retry_observe(*, step: str) -> None:
    """Count one retry the pipeline scheduled for ``step`` (BillAPI, CustomAPI)."""
    PIPELINE_RETRIES.labels(upstream_label(step)).inc()
