"""2,000 orders through BillAPI and CustomAPI answering after 50 ms each.

With C orders in flight and two 50 ms calls an order, no pipeline can beat
C / 0.1 s orders a second: that bound is the baseline. The C orders in flight
are spread over worker processes as qcluster spreads them (``Q_WORKERS``, 2 by
default; ``BENCH_PIPELINE_PROCESSES`` here), and the service's CPU time per
order is summed over those processes (the sandbox runs in its own).
"""

import json
import os
import resource
import subprocess
import sys
import time

from bench.common import (
    PYTHON,
    ROOT,
    empty_tables,
    environment,
    report,
    sales_orders,
    sandbox,
)

COUNT = 2_000
IN_FLIGHT = 16
LATENCY_MS = 50
PROCESSES = int(os.environ.get("BENCH_PIPELINE_PROCESSES", 2))


def work(url: str, concurrency: int) -> None:
    """Work due orders in this process until none is left; print CPU seconds."""
    os.environ.update(environment())
    import django

    django.setup()
    from django.conf import settings

    from integrations.pipeline import orders_process_due
    from orders.models import WORKING_STATUSES, Order

    settings.UPSTREAMS["bill"]["URL"] = f"{url}/bill"
    settings.UPSTREAMS["custom"]["URL"] = f"{url}/custom"
    waiting = Order.objects.filter(status__in=WORKING_STATUSES)
    # Start-up (imports, settings) is not work on orders: leave it out.
    before = resource.getrusage(resource.RUSAGE_SELF)
    while waiting.exists():
        if not orders_process_due(
            batch_size=4 * concurrency, concurrency=concurrency
        ).claimed:
            time.sleep(0.1)  # retries, or orders the other worker holds
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({"cpu_seconds": cpu}))


def main() -> None:
    os.environ.update(environment())
    import django

    django.setup()
    from orders.models import Order, OrderStatus
    from orders.services import orders_ingest

    empty_tables()
    orders_ingest(records=sales_orders(COUNT, prefix="PL"))

    with sandbox(latency_ms=LATENCY_MS) as url:
        command = [PYTHON, "-m", "bench.pipeline", "--work", url]
        command.append(str(IN_FLIGHT // PROCESSES))
        started = time.perf_counter()
        workers = [
            subprocess.Popen(
                command, cwd=ROOT, env=environment(), stdout=subprocess.PIPE, text=True
            )
            for _ in range(PROCESSES)
        ]
        outputs = [worker.communicate()[0] for worker in workers]
        elapsed = time.perf_counter() - started

    if any(worker.returncode for worker in workers):
        raise RuntimeError("a pipeline worker failed")
    sent = Order.objects.filter(status=OrderStatus.SENT).count()
    if sent != COUNT:
        raise RuntimeError(f"only {sent} of {COUNT} orders were sent")
    cpu = sum(
        json.loads(out.strip().splitlines()[-1])["cpu_seconds"] for out in outputs
    )
    bound = IN_FLIGHT / (2 * LATENCY_MS / 1000)
    report(
        "pipeline",
        value=COUNT / elapsed,
        unit="orders/s",
        baseline=bound,
        target=">=0.8",
    )
    report(
        "cpu_per_order",
        value=cpu / COUNT * 1000,
        unit="ms",
        baseline=3.0,
        target="<=1.0",
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--work"]:
        work(sys.argv[2], int(sys.argv[3]))
    else:
        main()
