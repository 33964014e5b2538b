"""Soak: 20,000 orders through the whole pipeline with upstream faults and kills.

The sandbox serves the orders from SalesAPI and answers a share of the
BillAPI and CustomAPI calls with faults (5xx, 429, answers held past the
read timeout after the effect was made, cut-off JSON, HTML pages) and a share
of the filings with a rejection. Worker processes poll and work orders as
qcluster's do; every few seconds one of them is killed with SIGKILL, wherever
it is, and a new one is started. Leases are short so that the orders a dead
worker held are taken up again within seconds.

At the end the invariants are checked against the database and against what
the sandbox saw:

- lost: an order SalesAPI served that is not in the database, or that rests
  in a status that disagrees with what CustomAPI did ('отправлен' without an
  acceptance, or an acceptance on an order in 'ошибка');
- duplicate_effects: invoices made and filings accepted beyond one an order;
- stuck: orders still in a working status when the time is up.

The last line is ``soak orders=N lost=L duplicate_effects=D stuck=S``; the
exit status is non-zero unless all three are zero.
"""

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import (
    PYTHON,
    ROOT,
    empty_tables,
    environment,
    free_port,
    running,
    sales_orders,
    wait_for_port,
)

COUNT = int(os.environ.get("SOAK_ORDERS", 20_000))
WORKERS = int(os.environ.get("SOAK_WORKERS", 2))
KILL_EVERY_SECONDS = float(os.environ.get("SOAK_KILL_EVERY_SECONDS", 15))
DEADLINE_SECONDS = float(os.environ.get("SOAK_DEADLINE_SECONDS", 12 * 60))
FAULT_SHARE = 0.15
REJECT_SHARE = 0.05
SEED = int(os.environ.get("SOAK_SEED", 20261204))

# What the pipeline's settings are in the soak: short leases so that a killed
# worker's orders come back quickly, quick retries, a read timeout below the
# sandbox's hold so that a held answer is an unknown outcome for the caller.
PIPELINE_ENVIRONMENT = {
    "PIPELINE_LEASE_SECONDS": 5,
    "PIPELINE_BACKOFF_BASE_SECONDS": 0.5,
    "PIPELINE_BACKOFF_MAX_SECONDS": 4,
    "PIPELINE_MAX_ATTEMPTS": 8,
    "PIPELINE_BATCH_SIZE": 32,
    "PIPELINE_CONCURRENCY": 8,
    "SALES_POLL_LEASE_SECONDS": 5,
    "SALES_POLL_PAGE_SIZE": 500,
    "SALES_POLL_MAX_PAGES": 4,
    "BILL_API_READ_TIMEOUT": 1,
    "CUSTOM_API_READ_TIMEOUT": 1,
    "LOG_LEVEL": "WARNING",
}
SANDBOX_HOLD_SECONDS = 2

# Faults an order may meet at one step: each list is answered one per call,
# after which calls succeed. None of them is longer than the attempts allow.
STEP_FAULTS = (
    ["http_500"],
    ["http_429"],
    ["timeout"],
    ["malformed"],
    ["html"],
    ["http_500", "timeout"],
    ["timeout", "http_500", "http_429"],
)
REJECTION = {"code": -1, "message": "Неверный ИНН покупателя"}


def scenario(orders: list[dict], rng: random.Random) -> dict:
    """Return the sandbox scenario: the orders and the faults to play."""
    faults = {}
    for order in orders:
        plan = {}
        if rng.random() < FAULT_SHARE:
            plan["bill"] = rng.choice(STEP_FAULTS)
        if rng.random() < FAULT_SHARE:
            plan["custom"] = rng.choice(STEP_FAULTS)
        if rng.random() < REJECT_SHARE:
            plan["custom"] = REJECTION
        if plan:
            faults[order["order_id"]] = plan
    return {"orders": orders, "faults": faults}


def work() -> None:
    """Poll and work orders until killed, as a qcluster worker would."""
    import django

    django.setup()
    from integrations.pipeline import orders_process_due
    from integrations.polling import sales_poll

    last_poll = 0.0
    while True:
        if time.monotonic() - last_poll > 1:
            sales_poll()
            last_poll = time.monotonic()
        if not orders_process_due().claimed:
            time.sleep(0.2)


def sandbox_stats(url: str) -> dict:
    import requests

    return requests.get(f"{url}/_sandbox/stats", timeout=60).json()


def check(orders: list[dict], stats: dict) -> dict:
    """Compare the database with what the sandbox saw; return the counts."""
    from django.db.models import Count

    from orders.models import WORKING_STATUSES, Order, OrderStatus

    status_of = dict(Order.objects.values_list("order_id", "status"))
    bill = stats["bill"]["by_order"]
    custom = stats["custom"]["by_order"]
    lost = duplicates = 0
    for order in orders:
        order_id = order["order_id"]
        accepted = custom.get(order_id, {}).get("accepted", 0)
        duplicates += max(bill.get(order_id, {}).get("effects", 0) - 1, 0)
        duplicates += max(accepted - 1, 0)
        status = status_of.get(order_id)
        if status in WORKING_STATUSES:
            continue  # counted as stuck
        if status is None or (status == OrderStatus.SENT) != (accepted > 0):
            lost += 1
    return {
        "lost": lost,
        "duplicate_effects": duplicates,
        "stuck": Order.objects.filter(status__in=WORKING_STATUSES).count(),
        "by_status": {
            OrderStatus(status).label: count
            for status, count in Order.objects.values_list("status")
            .order_by()
            .annotate(count=Count("pk"))
        },
    }


def main() -> int:
    import django

    os.environ.update(environment())
    django.setup()
    from orders.models import WORKING_STATUSES, Order

    empty_tables()
    rng = random.Random(SEED)
    orders = sales_orders(COUNT, prefix=f"SK{int(time.time())}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_dir = ROOT / "logs" / "soak"
    log_dir.mkdir(parents=True, exist_ok=True)

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(scenario(orders, rng), file, ensure_ascii=False)
    command = [PYTHON, "manage.py", "run_sandbox", "--port", str(port)]
    command += ["--scenario", file.name, "--reject-share", "0"]
    command += ["--timeout-seconds", str(SANDBOX_HOLD_SECONDS)]
    worker_env = environment(
        SALES_API_URL=f"{url}/sales",
        BILL_API_URL=f"{url}/bill",
        CUSTOM_API_URL=f"{url}/custom",
        LOG_DIR=log_dir,
        **PIPELINE_ENVIRONMENT,
    )
    started = time.monotonic()
    kills = 0
    try:
        with running(command, env=environment(), port=port):
            wait_for_port(port)
            workers = [spawn(worker_env) for _ in range(WORKERS)]
            next_kill = time.monotonic() + KILL_EVERY_SECONDS / 2
            while time.monotonic() - started < DEADLINE_SECONDS:
                time.sleep(1)
                known = Order.objects.count()
                working = Order.objects.filter(status__in=WORKING_STATUSES).count()
                if known >= COUNT and not working:
                    break
                if time.monotonic() >= next_kill:
                    victim = rng.randrange(len(workers))
                    os.killpg(workers[victim].pid, signal.SIGKILL)
                    workers[victim].wait()
                    workers[victim] = spawn(worker_env)
                    kills += 1
                    next_kill = time.monotonic() + KILL_EVERY_SECONDS
                    print(
                        f"soak: {time.monotonic() - started:.0f} s, "
                        f"{known} orders known, {working} working, kill {kills}",
                        file=sys.stderr,
                        flush=True,
                    )
            for worker in workers:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
            stats = sandbox_stats(url)
    finally:
        os.unlink(file.name)

    result = check(orders, stats)
    elapsed = time.monotonic() - started
    print(
        f"soak: {elapsed:.0f} s, {kills} workers killed, "
        f"{len(stats['bill']['by_order'])} orders reached BillAPI, "
        f"by status {result['by_status']}",
        file=sys.stderr,
    )
    print(
        f"soak orders={COUNT} lost={result['lost']} "
        f"duplicate_effects={result['duplicate_effects']} stuck={result['stuck']}",
        flush=True,
    )
    return 1 if result["lost"] or result["duplicate_effects"] or result["stuck"] else 0


def spawn(env: dict) -> subprocess.Popen:
    """Start a worker; what it prints goes to logs/soak/workers.out."""
    with open(Path(env["LOG_DIR"]) / "workers.out", "ab") as output:
        return subprocess.Popen(
            [PYTHON, "-m", "bench.soak", "--work"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--work"]:
        work()
    else:
        sys.exit(main())
