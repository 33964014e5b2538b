import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from integrations.sandbox import SandboxServer


@pytest.fixture
def start():
    """Start sandboxes for a test and stop them after it."""
    servers = []

    def start_server(**kwargs) -> SandboxServer:
        kwargs.setdefault("reject_share", 0)
        server = SandboxServer(**kwargs).start()
        servers.append(server)
        return server

    yield start_server
    for server in servers:
        server.stop()


class RecordingHandler(BaseHTTPRequestHandler):
    """Record each POST and answer with the receiver's configured reply."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.received.append(
            {"path": self.path, "headers": self.headers, "body": body}
        )
        status, text = self.server.reply
        payload = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format, *args):
        pass


@pytest.fixture
def receiver():
    """Run a webhook receiver on a free loopback port; it records what it gets."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RecordingHandler)
    httpd.received = []
    httpd.reply = (200, "ok")
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
