"""A worker's peak memory over ten times the orders, against the smaller run.

Each size runs in a fresh process that polls every order from the sandbox
and drives each to a resting status, as a qcluster worker would; the ratio
of the two peaks shows whether memory grows with the work done. The sizes
are 2,000 and 20,000 by default, to stay inside the 15 minutes a run may
take at the pipeline's present speed; BENCH_MEMORY_SMALL=5000
BENCH_MEMORY_LARGE=50000 runs the full-size comparison (about 12 minutes).
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

SMALL = int(os.environ.get("BENCH_MEMORY_SMALL", 2_000))
LARGE = int(os.environ.get("BENCH_MEMORY_LARGE", 20_000))


def work(count: int, url: str) -> None:
    """Poll and process ``count`` orders in this process; print the peak RSS."""
    os.environ.update(environment())
    import django

    django.setup()
    from django.conf import settings

    from integrations.pipeline import orders_process_due
    from integrations.polling import sales_poll
    from orders.models import WORKING_STATUSES, Order

    for name in ("sales", "bill", "custom"):
        settings.UPSTREAMS[name]["URL"] = f"{url}/{name}"
    settings.SALES_POLL_PAGE_SIZE = 1000
    empty_tables()

    while sales_poll().created:
        pass
    waiting = Order.objects.filter(status__in=WORKING_STATUSES)
    while waiting.exists():
        if not orders_process_due(batch_size=64, concurrency=16).claimed:
            time.sleep(0.1)
    if Order.objects.filter(order_id__startswith="MEM").count() != count:
        raise RuntimeError("not every order was taken in")
    print(json.dumps({"peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


def peak_kib(count: int) -> int:
    with sandbox(orders=sales_orders(count, prefix=f"MEM{count}")) as url:
        output = subprocess.run(
            [PYTHON, "-m", "bench.memory", "--work", str(count), url],
            cwd=ROOT,
            env=environment(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return json.loads(output.strip().splitlines()[-1])["peak_kib"]


def main() -> None:
    small, large = peak_kib(SMALL), peak_kib(LARGE)
    report(
        "memory_growth",
        value=large / 1024,
        unit="MiB",
        baseline=small / 1024,
        target="<=1.2",
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--work"]:
        work(int(sys.argv[2]), sys.argv[3])
    else:
        main()
