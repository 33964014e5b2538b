import ipaddress
import socket
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client.exposition import ThreadingWSGIServer

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from phpservice.metrics_endpoint import metrics_wsgi_app, multiprocess_dir


class QuietHandler(WSGIRequestHandler):
    """Answer scrapes without writing a line per scrape to stderr."""

    def log_message(self, format, *args):
        pass


class Command(BaseCommand):
    help = (
        "Serve GET /metrics for the processes of this node that count into "
        "PROMETHEUS_MULTIPROC_DIR (qcluster and its workers), with "
        "prometheus_client's exposition. Binds 127.0.0.1 unless told otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--port", type=int, required=True, help="Port to listen on (0: any free)."
        )
        parser.add_argument(
            "--bind",
            default="127.0.0.1",
            help="Address to listen on (default 127.0.0.1). Another address "
            "needs METRICS_TOKEN set.",
        )
        parser.add_argument(
            "--database",
            action="store_true",
            help="Also serve the figures read from the database (orders by "
            "status, …); web nodes' /metrics serves them already.",
        )

    def handle(self, *args, port, bind, database, **options):
        if not multiprocess_dir():
            raise CommandError(
                "Set PROMETHEUS_MULTIPROC_DIR, to the same directory as the "
                "processes whose figures this serves (see docs/metrics.md); "
                "without it this command could only serve its own, empty ones."
            )
        if not _is_loopback(bind) and not settings.METRICS_TOKEN and not settings.DEBUG:
            raise CommandError(
                f"Set METRICS_TOKEN to serve metrics on {bind}; without a token "
                "they are served on the loopback address only."
            )

        class Server(ThreadingWSGIServer):
            address_family = socket.AF_INET6 if ":" in bind else socket.AF_INET

        httpd = make_server(
            bind,
            port,
            metrics_wsgi_app(database=database),
            server_class=Server,
            handler_class=QuietHandler,
        )
        host, port = httpd.server_address[:2]
        self.stdout.write(f"Serving metrics on http://{_url_host(host)}:{port}/metrics")
        self.stdout.flush()
        try:
            httpd.serve_forever(poll_interval=0.5)
        except KeyboardInterrupt:
            pass
        finally:
            httpd.server_close()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
