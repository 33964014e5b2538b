"""2,000 orders through BillAPI and CustomAPI answering after 50 ms each.

With C orders in flight and two 50 ms calls an order, no pipeline can beat
C / 0.1 s orders a second: that bound is the baseline. The service's own
CPU time per order is measured in the worker process (the sandbox runs in
a process of its own).
"""

import os
import resource
import time

from bench.common import empty_tables, environment, report, sales_orders, sandbox

COUNT = 2_000
IN_FLIGHT = 16
LATENCY_MS = 50


def main() -> None:
    os.environ.update(environment(PIPELINE_CONCURRENCY=IN_FLIGHT))
    import django

    django.setup()
    from django.conf import settings

    from integrations.pipeline import orders_process_due
    from orders.models import WORKING_STATUSES, Order, OrderStatus
    from orders.services import orders_ingest

    empty_tables()
    orders_ingest(records=sales_orders(COUNT, prefix="PL"))

    with sandbox(latency_ms=LATENCY_MS) as url:
        settings.UPSTREAMS["bill"]["URL"] = f"{url}/bill"
        settings.UPSTREAMS["custom"]["URL"] = f"{url}/custom"
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        waiting = Order.objects.filter(
            order_id__startswith="PL-", status__in=WORKING_STATUSES
        )
        while waiting.exists():
            if not orders_process_due(
                batch_size=4 * IN_FLIGHT, concurrency=IN_FLIGHT
            ).claimed:
                time.sleep(0.1)  # only retries are left; they come due soon
        elapsed = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)

    sent = Order.objects.filter(order_id__startswith="PL-", status=OrderStatus.SENT)
    if sent.count() != COUNT:
        raise RuntimeError(f"only {sent.count()} of {COUNT} orders were sent")
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
        cpu_after.ru_stime - cpu_before.ru_stime
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
    main()
