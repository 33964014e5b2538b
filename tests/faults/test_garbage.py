"""Upstreams that answer garbage: the service logs it, loses nothing, loops nowhere.

A small HTTP server of the test's own plays the answers the sandbox cannot
give: an HTML page or an empty body with status 200, JSON after a UTF-8 byte
order mark, a 50 MB body with or without its length declared, a body that
never ends, a cursor that does not move, the same orders on every page. The
huge and the endless answers are read by a worker in a child process whose
peak memory is measured; the others in the test's own process.

Already proven elsewhere, and not repeated here:

- a body over the cap, a redirect, a dripping body cut at the deadline, each
  status class, at the client — tests/integrations/test_http_client.py;
- a BOM before SalesAPI's JSON is read by the client —
  ``test_byte_order_mark_before_json_is_accepted``;
- a ``next_cursor`` that is too long, not text or not printable, JSON nested
  too deeply, records that are null, unstorable or invalid —
  tests/integrations/test_polling.py;
- BillAPI's cut-off JSON and HTML page, CustomAPI's HTML page and cut-off
  answer are asked again and the order completes, or rests in ``ошибка`` after
  the attempt limit — tests/e2e/test_pipeline.py
  ``test_an_unusable_answer_is_asked_again_and_the_order_completes`` and
  ``test_unusable_answers_without_end_rest_the_order_in_error``;
- the same order delivered twice, or again after the cursor is reset, is one
  row — ``test_same_order_polled_twice_is_one_row``.
"""

import contextlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from django.conf import settings as django_settings
from django.core.management import call_command

from integrations.models import SalesCursor
from integrations.polling import sales_poll
from orders.models import Order, OrderStatus
from tests.factories import sales_record

pytestmark = pytest.mark.django_db(transaction=True)

BOM = b"\xef\xbb\xbf"
HTML = b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"
MB = 1024 * 1024
HUGE = 50 * MB
# Runs the command in its arguments and prints that child's peak memory.
PEAK_RSS = (
    "import resource, subprocess, sys; "
    "code = subprocess.call([sys.executable, *sys.argv[1:]]); "
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(f'peak_rss_kb={usage.ru_maxrss}', flush=True); "
    "sys.exit(code)"
)


def body(data: bytes, *, status: int = 200, content_type="application/json"):
    """Answer ``data`` whole, with its length."""

    def answer(handler, query):
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return answer


def flood(size: int, *, declared: bool):
    """Answer ``size`` bytes of a JSON string, as fast as they are taken."""

    def answer(handler, query):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if declared:
            handler.send_header("Content-Length", str(size))
        handler.end_headers()
        chunk = b"x" * 65536
        handler.wfile.write(b'{"orders": ["')
        sent = 13
        while sent < size and not handler.server.stopping.is_set():
            handler.wfile.write(chunk)
            sent += len(chunk)

    return answer


def drip(handler, query):
    """Answer the start of a page, then a byte every 0.1 s, without end."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.end_headers()
    handler.wfile.write(b'{"orders": [')
    # Bounded only so that a broken client cannot keep the test's thread.
    for _ in range(1200):
        if handler.server.stopping.wait(0.1):
            return
        handler.wfile.write(b" ")
        handler.wfile.flush()


def sales_page(records, *, next_cursor):
    """Answer a page of ``records``; ``next_cursor`` maps the asked cursor."""

    def answer(handler, query):
        asked = query.get("cursor", [""])[0]
        text = json.dumps({"orders": records, "next_cursor": next_cursor(asked)})
        body(text.encode())(handler, query)

    return answer


class GarbageHandler(BaseHTTPRequestHandler):
    """Count each request and answer it as the server's ``answers`` say."""

    # HTTP/1.0: a body without a length ends when the connection closes.
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        self.answer()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.answer()

    def answer(self):
        url = urlsplit(self.path)
        with self.server.lock:
            self.server.requests[url.path] = self.server.requests.get(url.path, 0) + 1
        # The client hangs up mid-answer, as it should on garbage.
        with contextlib.suppress(OSError):
            self.server.answers[url.path](self, parse_qs(url.query))

    def log_message(self, *args):
        pass


@pytest.fixture
def garbage():
    """Serve the test's answers on a free loopback port."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), GarbageHandler)
    httpd.daemon_threads = True
    httpd.answers, httpd.requests = {}, {}
    httpd.lock, httpd.stopping = threading.Lock(), threading.Event()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield httpd
    httpd.stopping.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def upstreams(settings, garbage):
    """Point the three upstreams at the garbage server."""
    settings.UPSTREAMS = {
        name: {**config, "URL": f"{garbage.url}/{name}"}
        for name, config in settings.UPSTREAMS.items()
    }
    return garbage


def logged(name: str, *needles: str) -> bool:
    """Return whether one line of LOG_DIR/``name`` holds every needle."""
    path = Path(str(django_settings.LOG_DIR)) / name
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return any(all(needle in line for needle in needles) for line in lines)


# --- SalesAPI ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (body(HTML, content_type="text/html"), "is not usable JSON (Expecting value"),
        (body(b""), "is not usable JSON (Expecting value"),
        (body(b"   \r\n"), "is not usable JSON (Expecting value"),
        (body(BOM + BOM + b"{}"), "is not usable JSON (Unexpected UTF-8 BOM"),
    ],
    ids=["html", "empty", "blank", "two-boms"],
)
def test_sales_garbage_fails_the_poll_and_keeps_the_cursor(upstreams, answer, problem):
    SalesCursor.objects.create(cursor="kept")
    upstreams.answers["/sales/orders"] = answer

    result = sales_poll()

    assert result.error.startswith(f"SalesAPI answer {problem}"), result.error
    cursor = SalesCursor.objects.get()
    assert (cursor.cursor, cursor.lease_owner) == ("kept", "")
    assert cursor.last_error == result.error
    assert upstreams.requests == {"/sales/orders": 1}
    assert logged("errors.log", "sales.poll_failed", f"SalesAPI answer {problem}")
    assert logged("upstream.log", upstreams.url, "SalesAPI")
    # The next poll asks for the same page again, once.
    sales_poll()
    assert upstreams.requests == {"/sales/orders": 2}


def test_sales_page_after_a_byte_order_mark_is_saved(upstreams):
    record = sales_record()
    page = json.dumps({"orders": [record], "next_cursor": "c2"}).encode()
    upstreams.answers["/sales/orders"] = body(BOM + page)

    result = sales_poll()

    assert (result.error, result.created) == ("", 1)
    assert Order.objects.get().order_id == record["order_id"]
    assert SalesCursor.objects.get().cursor == "c2"


def test_cursor_that_does_not_move_ends_the_poll_after_one_page(upstreams):
    SalesCursor.objects.create(cursor="c1")
    record = sales_record()
    upstreams.answers["/sales/orders"] = sales_page(
        [record], next_cursor=lambda asked: asked
    )

    first, second = sales_poll(), sales_poll()

    assert (first.error, first.pages, first.created) == ("", 1, 1)
    assert (second.pages, second.unchanged) == (1, 1)
    assert upstreams.requests == {"/sales/orders": 2}
    assert SalesCursor.objects.get().cursor == "c1"
    assert Order.objects.count() == 1


def test_same_orders_on_every_page_stop_at_the_page_limit(upstreams, settings):
    settings.SALES_POLL_MAX_PAGES = 5
    records = [sales_record(), sales_record()]
    upstreams.answers["/sales/orders"] = sales_page(
        records, next_cursor=lambda asked: f"{asked}+"
    )

    result = sales_poll()

    assert (result.error, result.pages) == ("", 5)
    assert (result.created, result.unchanged) == (2, 8)
    assert upstreams.requests == {"/sales/orders": 5}
    assert sorted(Order.objects.values_list("order_id", flat=True)) == sorted(
        r["order_id"] for r in records
    )
    # The cursor moved on, so the next poll goes on from there, not from the
    # beginning.
    assert SalesCursor.objects.get().cursor == "+++++"


def peak_rss_kb(processes, name: str) -> int:
    found = re.search(r"peak_rss_kb=(\d+)", processes.output(name))
    assert found, processes.output(name)
    return int(found.group(1))


def run_worker(processes, upstreams, name: str, *, timeout: float = 90) -> float:
    """Run one ``run_pipeline --once`` in a child; return how long it took."""
    started = time.monotonic()
    child = processes.start(
        "-c",
        PEAK_RSS,
        "manage.py",
        "run_pipeline",
        "--once",
        "--max-wait",
        "5",
        name=name,
        env=processes.env(SALES_API_URL=f"{upstreams.url}/sales"),
    )
    child.wait(timeout=timeout)
    return time.monotonic() - started


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (flood(HUGE, declared=True), f"answer of {HUGE} bytes is over the"),
        (flood(HUGE, declared=False), "answer is over the 2097152-byte limit"),
        (drip, "answer did not end in time"),
    ],
    ids=["50MB-declared", "50MB-undeclared", "never-ending"],
)
def test_huge_or_endless_sales_answer_keeps_the_worker_small(
    processes, upstreams, answer, problem
):
    upstreams.answers["/sales/orders"] = sales_page([], next_cursor=lambda _: "c1")
    run_worker(processes, upstreams, "baseline")
    baseline = peak_rss_kb(processes, "baseline")
    upstreams.answers["/sales/orders"] = answer

    took = run_worker(processes, upstreams, "worker")

    output = processes.output("worker")
    assert f"The poll failed: SalesAPI {problem}" in output, output
    assert "Traceback" not in output
    # The answer is dropped at the cap or the deadline, not kept whole: the
    # worker grows by a small fraction of the 50 MB offered.
    assert peak_rss_kb(processes, "worker") - baseline < 8 * 1024, output
    assert upstreams.requests == {"/sales/orders": 2}
    # Connect and read timeouts of SalesAPI bound the endless answer.
    assert took < 60
    log = (processes.log_dir / "errors.log").read_text(encoding="utf-8")
    assert "sales.poll_failed" in log and problem in log
    assert SalesCursor.objects.get().cursor == "c1"


# --- BillAPI and CustomAPI --------------------------------------------------


@pytest.fixture
def run_once():
    """Return a function driving every due order to rest, without a poll."""

    def run():
        call_command("run_pipeline", "--once", "--no-poll", "--max-wait", "30")

    return run


@pytest.fixture
def order(upstreams):
    """One order polled from the garbage server, due for BillAPI."""
    record = sales_record()
    upstreams.answers["/sales/orders"] = sales_page(
        [record], next_cursor=lambda _: "c1"
    )
    assert sales_poll().created == 1
    return Order.objects.get(order_id=record["order_id"])


def invoice_for(order) -> bytes:
    """Return a small invoice data set for ``order``, as BillAPI answers it."""
    invoice = {"invoice_id": f"INV-{order.order_id}", "order_id": order.order_id}
    return json.dumps(invoice).encode()


@pytest.mark.parametrize(
    ("step", "answer", "problem", "garbled"),
    [
        (
            "bill",
            body(HTML, content_type="text/html"),
            "BillAPI answer is not usable JSON",
            True,
        ),
        ("bill", body(b""), "BillAPI answer is not usable JSON", True),
        ("bill", flood(HUGE, declared=False), "BillAPI answer is over the", False),
        ("custom", body(b""), "CustomAPI answer cannot be parsed", True),
        ("custom", flood(HUGE, declared=False), "CustomAPI answer is over the", False),
    ],
    ids=["bill-html", "bill-empty", "bill-50MB", "custom-empty", "custom-50MB"],
)
def test_unusable_answer_ends_in_error_after_bounded_calls(
    upstreams, order, run_once, settings, step, answer, problem, garbled
):
    upstreams.answers["/bill/invoices"] = body(invoice_for(order))
    upstreams.answers["/custom/invoices"] = body(b'{"success": true}')
    upstreams.answers[f"/{step}/invoices"] = answer

    run_once()

    # An answer that did not arrive readable is asked for again, up to the
    # attempt limit; one over the size cap would be as big again: no retry.
    order.refresh_from_db()
    limit = settings.PIPELINE["MAX_ATTEMPTS"]
    assert order.status == OrderStatus.ERROR
    assert order.message.startswith(problem), order.message
    assert (f"gave up after {limit} attempts" in order.message) is garbled
    assert upstreams.requests[f"/{step}/invoices"] == (limit if garbled else 1)
    assert logged("upstream.log", f"{upstreams.url}/{step}/invoices", order.order_id)


def test_answers_after_a_byte_order_mark_are_read(upstreams, order, run_once):
    upstreams.answers["/bill/invoices"] = body(BOM + invoice_for(order))
    upstreams.answers["/custom/invoices"] = body(BOM + b"{success: true}")

    run_once()

    order.refresh_from_db()
    assert order.status == OrderStatus.SENT
    assert order.invoice_id == f"INV-{order.order_id}"


def test_endless_bill_answer_is_retried_then_given_up(
    upstreams, order, run_once, settings
):
    settings.UPSTREAMS["bill"] = {
        **settings.UPSTREAMS["bill"],
        "CONNECT_TIMEOUT": 0.5,
        "READ_TIMEOUT": 0.5,
    }
    upstreams.answers["/bill/invoices"] = drip

    run_once()

    order.refresh_from_db()
    limit = settings.PIPELINE["MAX_ATTEMPTS"]
    assert order.status == OrderStatus.ERROR
    assert order.message.startswith("BillAPI answer did not end in time")
    assert f"gave up after {limit} attempts" in order.message
    assert upstreams.requests["/bill/invoices"] == limit
