"""The upstream HTTP layer: limits, timeouts and what counts as which failure."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import responses

from integrations.http import (
    UpstreamInvalidResponse,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamServerError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from integrations.sales import SalesClient

BASE = "http://127.0.0.1:9/sales"


def client(**overrides) -> SalesClient:
    config = {
        "URL": BASE,
        "TOKEN": "",
        "CONNECT_TIMEOUT": 1.0,
        "READ_TIMEOUT": 1.0,
        "MAX_RESPONSE_BYTES": 1024,
    }
    return SalesClient(config={**config, **overrides})


@responses.activate
def test_redirect_is_not_followed():
    responses.add(
        responses.GET,
        f"{BASE}/orders",
        status=302,
        headers={"Location": "http://elsewhere.invalid/orders"},
    )

    with pytest.raises(UpstreamRejected, match="redirect to 'http://elsewhere"):
        client().fetch_page(cursor="", limit=10)

    assert len(responses.calls) == 1


@responses.activate
def test_body_over_the_cap_is_refused():
    responses.add(responses.GET, f"{BASE}/orders", body=b"[" + b" " * 5000 + b"]")

    with pytest.raises(UpstreamInvalidResponse, match="over the 1024-byte limit"):
        client().fetch_page(cursor="", limit=10)


@responses.activate
def test_byte_order_mark_before_json_is_accepted():
    responses.add(
        responses.GET,
        f"{BASE}/orders",
        body=b'\xef\xbb\xbf{"orders": [], "next_cursor": "c"}',
    )

    page = client().fetch_page(cursor="", limit=10)

    assert (page.records, page.next_cursor) == ([], "c")


@pytest.mark.parametrize(
    ("status", "headers", "error", "retryable"),
    [
        (500, {}, UpstreamServerError, True),
        (503, {}, UpstreamServerError, True),
        (429, {"Retry-After": "7"}, UpstreamRateLimited, True),
        (400, {}, UpstreamRejected, False),
        (404, {}, UpstreamRejected, False),
    ],
)
@responses.activate
def test_status_codes_map_to_failures(status, headers, error, retryable):
    responses.add(responses.GET, f"{BASE}/orders", status=status, headers=headers)

    with pytest.raises(error) as caught:
        client().fetch_page(cursor="", limit=10)

    assert caught.value.retryable is retryable
    assert caught.value.status == status
    if status == 429:
        assert caught.value.retry_after == 7.0


def test_unreachable_upstream_is_retryable():
    with pytest.raises(UpstreamUnreachable) as caught:
        client(URL="http://127.0.0.1:9/sales").fetch_page(cursor="", limit=10)

    assert caught.value.retryable


class DripHandler(BaseHTTPRequestHandler):
    """Promise a large body, then send it one byte every 0.2 s."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        try:
            for _ in range(50):  # at most 10 s, whatever the client does
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def drip_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), DripHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_dripping_body_is_cut_at_the_deadline(drip_server):
    # Each byte comes well within the read timeout, so only the deadline for
    # the whole answer (connect + read timeouts) can end this; without it the
    # server's own limit would end it as "broke off".
    with pytest.raises(UpstreamTimeout, match="did not end in time"):
        client(URL=drip_server, MAX_RESPONSE_BYTES=10_000).fetch_page(
            cursor="", limit=10
        )
