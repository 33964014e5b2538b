"""Shared pieces of the benchmarks: environment, processes, output lines."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def environment(**overrides) -> dict:
    """Return production-like settings for a benchmark process (DEBUG off)."""
    env = dict(os.environ)
    env.update(
        {
            "DEBUG": "0",
            "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef",
            "JWT_SIGNING_KEY": "bench-jwt-signing-key-not-for-production-0123456",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": os.environ.get(
                "BENCH_DATABASE_URL", "mysql://root@127.0.0.1:3306/phpservice_bench"
            ),
            "SALES_API_URL": "http://127.0.0.1:9/sales",
            "BILL_API_URL": "http://127.0.0.1:9/bill",
            "CUSTOM_API_URL": "http://127.0.0.1:9/custom",
            "LOG_DIR": os.environ.get("BENCH_LOG_DIR", str(ROOT / "logs" / "bench")),
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "phpservice.settings",
        }
    )
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@contextmanager
def running(command: list[str], *, env: dict, port: int | None = None, log=None):
    """Run ``command`` in the background for the duration of the block."""
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        if port:
            wait_for_port(port)
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextmanager
def sandbox(*, orders: list[dict] | None = None, latency_ms: int = 0):
    """Start the sandbox as its own process; yield its base URL."""
    port = free_port()
    command = [PYTHON, "manage.py", "run_sandbox", "--port", str(port)]
    command += ["--latency-ms", str(latency_ms), "--reject-share", "0"]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as scenario:
        json.dump({"orders": orders or []}, scenario, ensure_ascii=False)
    command += ["--scenario", scenario.name]
    try:
        with running(command, env=environment(), port=port):
            yield f"http://127.0.0.1:{port}"
    finally:
        os.unlink(scenario.name)


def manage(*args: str, env: dict | None = None) -> str:
    """Run a management command and return its output; fail loudly."""
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env or environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


# Everything a benchmark leaves behind that the next one must not find.
TABLES = (
    "notifications_notification",
    "integrations_upstreamexchange",
    "orders_orderpayloadconflict",
    "orders_orderstatuschange",
    "orders_order",
    "orders_rejectedsalesrecord",
    "integrations_salescursor",
)


def empty_tables() -> None:
    """Empty the order tables of the benchmark database (Django set up)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
        for table in TABLES:
            cursor.execute(f"TRUNCATE TABLE {connection.ops.quote_name(table)}")
        cursor.execute("SET FOREIGN_KEY_CHECKS = 1")


def sales_orders(count: int, *, prefix: str) -> list[dict]:
    """Return ``count`` valid SalesAPI orders."""
    return [
        {
            "order_id": f"{prefix}-{number:06d}",
            "product_id": f"P-{number % 97}",
            "product_name": "Ноутбук «Бенч» ☕",
            "product_price": f"{1000 + number % 5000}.{number % 100:02d}",
            "quantity": str(1 + number % 5),
            "customer_id": str(7000 + number % 300),
            "customer_name": "Иван Иванов",
            "customer_email": f"buyer{number}@example.com",
            "customer_phone": "+7 (999) 999-99-99",
        }
        for number in range(count)
    ]


def report(name: str, *, value, unit: str, baseline, target: str, ratio=None) -> None:
    """Print one result line in the form scripts read."""
    if ratio is None:
        ratio = value / baseline if baseline else float("nan")
    print(
        f"bench {name} value={value:.3f} unit={unit} baseline={baseline:.3f} "
        f"ratio={ratio:.3f} target={target}",
        flush=True,
    )


if __name__ == "__main__":
    # python -m bench.common ARGS: run manage.py ARGS in the benchmark setting.
    print(manage(*sys.argv[1:]), end="")
