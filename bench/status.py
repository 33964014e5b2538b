"""GET /status under load (wrk), against a minimal JWT view in the same run."""

import re
import statistics
import subprocess

from bench.common import PYTHON, environment, free_port, manage, report, running

ROUNDS = 3
SECONDS = 6
CONNECTIONS = 8

SETUP = """
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import RefreshToken
from orders.management.commands.create_api_user import operators_group
from orders.models import Order, OrderStatus
from orders.services import orders_ingest
from bench.common import empty_tables, sales_orders

empty_tables()
orders_ingest(records=sales_orders(2000, prefix="ST"))
# Resting orders: a worker started by a later benchmark has nothing to do.
Order.objects.update(status=OrderStatus.SENT, next_attempt_at=None)
user, _ = get_user_model().objects.get_or_create(username="bench-operator")
user.groups.add(operators_group())
print(RefreshToken.for_user(user).access_token)
"""


def wrk(url: str, token: str) -> tuple[float, float]:
    """Return requests per second and the p99 latency in ms."""
    output = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{SECONDS}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {token}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", output).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    if "Non-2xx" in output:
        raise RuntimeError(f"non-2xx answers during the run:\n{output}")
    return rps, p99


def serve(settings_module: str, port: int):
    env = environment(
        DJANGO_SETTINGS_MODULE=settings_module, JWT_ACCESS_LIFETIME_SECONDS=3600
    )
    command = [
        PYTHON,
        "-m",
        "gunicorn",
        "phpservice.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--log-level",
        "warning",
    ]
    return running(command, env=env, port=port)


def main() -> None:
    token = (
        manage("shell", "-c", SETUP, env=environment(JWT_ACCESS_LIFETIME_SECONDS=3600))
        .strip()
        .splitlines()[-1]
    )
    path = "/status?order_id=ST-000123"
    results = {"ours": [], "baseline": []}
    ports = {"ours": free_port(), "baseline": free_port()}
    with (
        serve("phpservice.settings", ports["ours"]),
        serve("bench.baseline_settings", ports["baseline"]),
    ):
        for port in ports.values():  # warm both up
            wrk(f"http://127.0.0.1:{port}{path}", token)
        for _ in range(ROUNDS):
            for name, port in ports.items():
                results[name].append(wrk(f"http://127.0.0.1:{port}{path}", token))

    ours_rps = statistics.median(r[0] for r in results["ours"])
    base_rps = statistics.median(r[0] for r in results["baseline"])
    ours_p99 = statistics.median(r[1] for r in results["ours"])
    base_p99 = statistics.median(r[1] for r in results["baseline"])
    report(
        "status_rps", value=ours_rps, unit="req/s", baseline=base_rps, target=">=1.0"
    )
    report("status_p99", value=ours_p99, unit="ms", baseline=base_p99, target="<=1.2")


if __name__ == "__main__":
    main()
