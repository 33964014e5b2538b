"""The sandbox over HTTP: SalesAPI, BillAPI, CustomAPI, Mailgun and Twilio.

``SandboxServer`` serves in a background thread of the calling process, so
tests start it in-process; ``manage.py run_sandbox`` serves it from the
command line. Standard library only, and nothing here touches the database.
"""

import contextlib
import logging
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from integrations.sandbox import mailgun, twilio
from integrations.sandbox.generator import OrderStream
from integrations.sandbox.scenario import ScenarioError
from integrations.sandbox.state import (
    Answer,
    SandboxState,
    error_answer,
    json_answer,
    read_object,
)
from integrations.sandbox.webhooks import deliver

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
# Path prefix of each upstream: what its *_API_URL setting points at.
UPSTREAM_SETTINGS = {
    "SALES_API_URL": "/sales",
    "BILL_API_URL": "/bill",
    "CUSTOM_API_URL": "/custom",
    "MAILGUN_API_URL": "/mailgun/v3",
    "TWILIO_API_URL": "/twilio",
}
# path -> (method, SandboxServer method answering it, whether latency applies)
ROUTES = {
    "/sales/orders": ("GET", "answer_sales_orders", True),
    "/bill/invoices": ("POST", "answer_bill_invoice", True),
    "/custom/invoices": ("POST", "answer_custom_invoice", True),
    "/_sandbox/stats": ("GET", "answer_stats", False),
    "/_sandbox/reset": ("POST", "answer_reset", False),
    "/_sandbox/scenario": ("POST", "answer_scenario", False),
    "/_sandbox/deliver": ("POST", "answer_deliver", False),
}
# Mailgun's and Twilio's paths carry a sender domain or an account: each
# answers every path under its prefix, e.g. /mailgun/v3/<domain>/messages.
CHANNEL_ROUTE = ("POST", "answer_message", True)


def channel_name(path: str) -> str:
    """Return the first segment of ``path``: ``mailgun`` of ``/mailgun/v3/…``."""
    return path.lstrip("/").partition("/")[0]


class SandboxRequestHandler(BaseHTTPRequestHandler):
    """Turn one HTTP request into a call of the sandbox and write its answer."""

    protocol_version = "HTTP/1.1"
    server_version = "UpstreamSandbox/1.0"
    # Close keep-alive connections left idle this long (seconds).
    timeout = 60
    # Headers and body leave in two writes; with Nagle's algorithm the body
    # would wait for the client's delayed ACK, 40 ms an answer.
    disable_nagle_algorithm = True

    def do_GET(self):
        self.answer_request("GET")

    def do_POST(self):
        self.answer_request("POST")

    def do_PUT(self):
        self.answer_request("PUT")

    def do_PATCH(self):
        self.answer_request("PATCH")

    def do_DELETE(self):
        self.answer_request("DELETE")

    def answer_request(self, method: str) -> None:
        """Answer the request, holding the answer back if the sandbox says so."""
        sandbox = self.server.sandbox
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        body = self.read_body() if method in ("POST", "PUT", "PATCH") else b""
        if body is None:
            return
        answer = sandbox.answer(
            method=method,
            path=path,
            query=parse_qs(url.query),
            body=body,
            idempotency_key=self.headers.get("Idempotency-Key"),
            headers=self.headers,
        )
        if answer.delay_seconds and sandbox.pause(answer.delay_seconds):
            self.close_connection = True
            return
        self.write_answer(answer)

    def read_body(self) -> bytes | None:
        """Return the request body, or answer the request and return None."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            # The body's chunks would be read as the next request: hang up.
            self.close_connection = True
            self.write_answer(error_answer(411, "send the body with Content-Length"))
            return None
        length = self.headers.get("Content-Length", "0").strip() or "0"
        if not length.isdigit():
            self.close_connection = True
            self.write_answer(error_answer(400, "Content-Length is not a number"))
            return None
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            self.write_answer(
                error_answer(413, f"request body is over {MAX_BODY_BYTES} bytes")
            )
            return None
        return self.rfile.read(int(length))

    def write_answer(self, answer: Answer) -> None:
        """Write ``answer``; a client that has gone away is not an error."""
        body = answer.body.encode("utf-8")
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            # The client gave up (its read timeout, a test's timeout fault).
            self.close_connection = True

    def log_message(self, format, *args):
        if self.server.sandbox.verbose:
            super().log_message(format, *args)


class SandboxHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that can drop its open connections on stop."""

    allow_reuse_address = True
    daemon_threads = True
    # Idle keep-alive connections would make server_close() wait for them.
    block_on_close = False
    # The default backlog of 5 refuses connections when a pipeline opens a
    # few dozen at once.
    request_queue_size = 128

    def __init__(self, address, *, sandbox):
        self.sandbox = sandbox
        self.connections = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, SandboxRequestHandler)

    def process_request(self, request, client_address):
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut every open connection, so no thread serves on after stop."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        # Clients hang up mid-request all the time; that is not news.
        if isinstance(error, ConnectionError | TimeoutError):
            return
        logger.exception(
            "sandbox.request_failed", extra={"client_address": client_address}
        )


class SandboxServer:
    """SalesAPI, BillAPI, CustomAPI, Mailgun and Twilio played on ``host:port``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        scenario=None,
        latency_ms: float = 0,
        timeout_seconds: float = 30.0,
        seed=None,
        reject_share: float = 0.1,
        orders_per_minute: float = 60,
        relaxed_json: bool = True,
        verbose: bool = False,
        order_id_prefix: str | None = None,
        mailgun_api_key: str = mailgun.DEFAULT_API_KEY,
        mailgun_webhook_signing_key: str = mailgun.DEFAULT_WEBHOOK_SIGNING_KEY,
        twilio_account_sid: str = twilio.DEFAULT_ACCOUNT_SID,
        twilio_auth_token: str = twilio.DEFAULT_AUTH_TOKEN,
    ):
        if latency_ms < 0 or timeout_seconds < 0:
            raise ValueError("latency_ms and timeout_seconds must not be negative")
        if not 0 <= reject_share <= 1:
            raise ValueError("reject_share must be from 0 to 1")
        self.host = host
        self.port = port
        self.latency_seconds = latency_ms / 1000
        self.verbose = verbose
        self.state = SandboxState(
            stream=OrderStream(
                seed=seed,
                orders_per_minute=orders_per_minute,
                order_id_prefix=order_id_prefix,
            ),
            scenario=scenario,
            timeout_seconds=timeout_seconds,
            reject_share=reject_share,
            relaxed_json=relaxed_json,
        )
        # Stats name them "mailgun" and "twilio"; deliveries "email" and "sms".
        self.channels = {
            "mailgun": mailgun.MailgunSandbox(
                state=self.state,
                api_key=mailgun_api_key,
                webhook_signing_key=mailgun_webhook_signing_key,
            ),
            "twilio": twilio.TwilioSandbox(
                state=self.state,
                account_sid=twilio_account_sid,
                auth_token=twilio_auth_token,
            ),
        }
        self.stopping = threading.Event()
        self.httpd = None
        self.thread = None

    # --- Life cycle ------------------------------------------------------

    def start(self) -> "SandboxServer":
        """Start serving in a background thread; return once listening."""
        if self.httpd is not None:
            raise RuntimeError("the sandbox has already been started")
        self.httpd = SandboxHTTPServer((self.host, self.port), sandbox=self)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"sandbox-{self.port}",
            daemon=True,
        )
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections and wake held-back answers."""
        if self.httpd is None or self.stopping.is_set():
            return
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.close_connections()
        self.httpd.server_close()
        self.thread.join()

    def serve_until_stopped(self) -> None:
        """Block until ``stop()`` is called; Ctrl-C still gets through."""
        # Short waits keep the main thread responsive to signals.
        while not self.stopping.wait(0.5):
            pass

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def pause(self, seconds: float) -> bool:
        """Wait ``seconds``; return True if the sandbox stopped meanwhile."""
        return self.stopping.wait(seconds)

    # --- Addresses and control ---------------------------------------------

    @property
    def url(self) -> str:
        """Return the base URL, e.g. ``http://127.0.0.1:54321``."""
        if self.httpd is None:
            raise RuntimeError("start() the sandbox before asking for its URL")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def upstream_urls(self) -> dict[str, str]:
        """Return the upstream URL settings that point the service here."""
        return {name: self.url + path for name, path in UPSTREAM_SETTINGS.items()}

    def stats(self) -> dict:
        """Return what each upstream received, Mailgun and Twilio included."""
        stats = self.state.stats()
        for name, channel in self.channels.items():
            stats[name] = channel.stats()
        return stats

    def reset(self) -> None:
        """Forget stats, stored idempotent answers, messages and fault progress."""
        self.state.reset()
        for channel in self.channels.values():
            channel.reset()

    def load_scenario(self, scenario) -> None:
        """Play ``scenario`` from now on; raise ``ScenarioError`` if it is bad."""
        self.state.load_scenario(scenario)

    # --- Answers -----------------------------------------------------------

    def answer(
        self,
        *,
        method: str,
        path: str,
        query: dict,
        body: bytes,
        idempotency_key: str | None,
        headers=None,
    ) -> Answer:
        """Return the answer to one request."""
        route = ROUTES.get(path)
        if route is None and channel_name(path) in self.channels:
            route = CHANNEL_ROUTE
        if route is None:
            return error_answer(404, f"no such endpoint: {path}")
        allowed_method, answer_name, has_latency = route
        if method != allowed_method:
            return error_answer(
                405,
                f"{path} answers {allowed_method} only",
                headers={"Allow": allowed_method},
            )
        if has_latency and self.latency_seconds:
            self.pause(self.latency_seconds)
        return getattr(self, answer_name)(
            path=path,
            query=query,
            body=body,
            idempotency_key=idempotency_key,
            headers=headers if headers is not None else {},
        )

    def answer_sales_orders(self, *, query: dict, **_) -> Answer:
        return self.state.sales_orders(
            cursor=query.get("cursor", [""])[0],
            limit=query.get("limit", [None])[0],
        )

    def answer_bill_invoice(self, *, body: bytes, idempotency_key, **_) -> Answer:
        return self.state.bill_invoice(body=body, idempotency_key=idempotency_key)

    def answer_custom_invoice(self, *, body: bytes, idempotency_key, **_) -> Answer:
        return self.state.custom_invoice(body=body, idempotency_key=idempotency_key)

    def answer_stats(self, **_) -> Answer:
        return json_answer(200, self.stats())

    def answer_reset(self, **_) -> Answer:
        self.reset()
        return json_answer(200, {"ok": True})

    def answer_scenario(self, *, body: bytes, **_) -> Answer:
        scenario = read_object(body)
        if scenario is None:
            return error_answer(400, "request body must be a JSON object")
        try:
            self.load_scenario(scenario)
        except ScenarioError as err:
            return error_answer(400, f"bad scenario: {err}")
        return json_answer(200, {"ok": True})

    def answer_message(self, *, path: str, body: bytes, headers, **_) -> Answer:
        return self.channels[channel_name(path)].answer_send(
            path=path,
            authorization=headers.get("Authorization"),
            content_type=headers.get("Content-Type"),
            body=body,
        )

    def answer_deliver(self, *, body: bytes, **_) -> Answer:
        channels = {channel.channel: channel for channel in self.channels.values()}
        return deliver(body, channels=channels)
