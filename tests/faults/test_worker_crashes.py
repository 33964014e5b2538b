"""Workers killed (SIGKILL) mid-order: nothing is lost, nothing happens twice.

Each test runs ``run_pipeline --once`` in a process of its own against the
sandbox in this process, kills it at a chosen point of an order's life, and
starts another. The orders' leases are two seconds, so the new worker takes
up what the dead one held; the sandbox's stats prove that no order got a
second invoice or a second filing accepted.
"""

import signal

import pytest

from integrations.sandbox import SandboxServer
from orders.models import Order, OrderStatus
from tests.factories import sales_record
from tests.faults.conftest import wait_until

ORDERS = 30
LAUNCHER = "tests/faults/dying_worker.py"
REJECTION = {"code": -1, "message": "Неверный формат данных"}


@pytest.fixture
def upstreams():
    """Start a slightly slow sandbox, so that a kill finds calls in flight."""
    server = SandboxServer(
        port=0, latency_ms=20, timeout_seconds=60, reject_share=0
    ).start()
    yield server
    server.stop()


def worker_env(processes, upstreams, **extra) -> dict:
    return processes.env(
        SALES_API_URL=f"{upstreams.url}/sales",
        BILL_API_URL=f"{upstreams.url}/bill",
        CUSTOM_API_URL=f"{upstreams.url}/custom",
        PIPELINE_LEASE_SECONDS="2",
        **extra,
    )


def start_worker(processes, upstreams, *, name, launcher=None, **extra):
    """Start ``run_pipeline --once`` (through ``launcher`` if given)."""
    command = ("run_pipeline", "--once", "--max-wait", "60")
    env = worker_env(processes, upstreams, **extra)
    if launcher is None:
        return processes.manage(*command, name=name, env=env)
    return processes.start(launcher, *command, name=name, env=env)


def serve_orders(upstreams, held_fault: dict | None = None):
    """Serve ORDERS orders, the last one rejected by CustomAPI.

    ``held_fault`` is played for three orders spread over the batch, so that
    on a database with several lanes more than one is in flight at the kill.
    Return the records and the ids of those orders.
    """
    records = [sales_record() for _ in range(ORDERS)]
    held = [records[i]["order_id"] for i in (9, 17, 25)] if held_fault else []
    faults = {order_id: held_fault for order_id in held}
    faults[records[-1]["order_id"]] = {"custom": REJECTION}
    upstreams.load_scenario({"orders": records, "faults": faults})
    return records, held


def requests_for(upstreams, upstream: str, order_id: str) -> int:
    by_order = upstreams.stats()[upstream]["by_order"]
    return by_order.get(order_id, {}).get("requests", 0)


def restart_and_finish(processes, upstreams) -> None:
    restarted = start_worker(processes, upstreams, name="restarted")
    assert restarted.wait(timeout=120) == 0, processes.output("restarted")


def assert_every_order_rests_with_one_effect(upstreams, records) -> None:
    statuses = dict(Order.objects.values_list("order_id", "status"))
    rejected = records[-1]["order_id"]
    assert statuses.pop(rejected) == OrderStatus.ERROR
    assert Order.objects.get(order_id=rejected).message == REJECTION["message"]
    assert statuses == {r["order_id"]: OrderStatus.SENT for r in records[:-1]}

    stats = upstreams.stats()
    for order_id in (r["order_id"] for r in records):
        assert stats["bill"]["by_order"][order_id]["effects"] == 1, order_id
    accepted = {
        order_id: counts["accepted"]
        for order_id, counts in stats["custom"]["by_order"].items()
    }
    assert accepted == {
        **{r["order_id"]: 1 for r in records[:-1]},
        rejected: 0,
    }


@pytest.mark.parametrize(
    ("step", "label", "waiting_status"),
    [
        ("bill", "BillAPI", OrderStatus.PROCESSING),
        ("custom", "CustomAPI", OrderStatus.INVOICED),
    ],
)
def test_worker_killed_during_a_call_leaves_one_effect_per_order(
    processes, upstreams, step, label, waiting_status
):
    # The upstream makes the effect (the invoice, the accepted filing), then
    # holds its answer back: the kill lands while the worker waits for it.
    records, held = serve_orders(upstreams, {step: ["timeout"]})
    read_timeout = {f"{step.upper()}_API_READ_TIMEOUT": "120"}
    worker = start_worker(processes, upstreams, name="worker", **read_timeout)

    wait_until(
        lambda: any(requests_for(upstreams, step, o) for o in held),
        timeout=60,
        what=f"a {label} call to be held",
    )
    processes.kill(worker)
    assert worker.returncode == -signal.SIGKILL
    assert Order.objects.filter(status=waiting_status).exists()

    restart_and_finish(processes, upstreams)

    assert_every_order_rests_with_one_effect(upstreams, records)
    assert upstreams.stats()[step]["replays"] >= 1


def test_worker_killed_between_bill_answer_and_save_gets_the_same_invoice(
    processes, upstreams
):
    records, _ = serve_orders(upstreams)
    doomed = records[9]["order_id"]
    worker = start_worker(
        processes,
        upstreams,
        name="dying",
        launcher=LAUNCHER,
        DIE_AFTER_INVOICE_OF=doomed,
    )

    assert worker.wait(timeout=60) == -signal.SIGKILL, processes.output("dying")
    order = Order.objects.get(order_id=doomed)
    assert order.status == OrderStatus.PROCESSING
    assert order.invoice is None
    assert upstreams.stats()["bill"]["by_order"][doomed]["effects"] == 1

    restart_and_finish(processes, upstreams)

    assert_every_order_rests_with_one_effect(upstreams, records)
    order.refresh_from_db()
    assert order.invoice_id == f"INV-{doomed}"
    assert upstreams.stats()["bill"]["by_order"][doomed]["requests"] == 2


def test_order_that_kills_its_worker_every_time_rests_in_error_after_the_limit(
    processes, upstreams
):
    healthy, poison = sales_record(), sales_record()
    upstreams.load_scenario({"orders": [healthy, poison]})
    limit = 3

    deaths = 0
    for run in range(limit + 2):
        worker = start_worker(
            processes,
            upstreams,
            name=f"run-{run}",
            launcher=LAUNCHER,
            DIE_AFTER_INVOICE_OF=poison["order_id"],
            PIPELINE_MAX_ATTEMPTS=str(limit),
        )
        code = worker.wait(timeout=60)
        if code != -signal.SIGKILL:
            assert code == 0, processes.output(f"run-{run}")
            break
        deaths += 1

    # Each death is an attempt that never finished; after the last one the
    # order is not called again but rests in error, saying why.
    assert deaths == limit
    order = Order.objects.get(order_id=poison["order_id"])
    assert order.status == OrderStatus.ERROR
    assert order.attempts == limit
    assert order.message == (
        f"BillAPI: attempt {limit} of {limit} never finished: the worker making "
        "it stopped (crashed, was killed or lost the database) — gave up after "
        f"{limit} attempts"
    )
    assert Order.objects.get(order_id=healthy["order_id"]).status == OrderStatus.SENT
    bill = upstreams.stats()["bill"]["by_order"][poison["order_id"]]
    assert bill == {"requests": limit, "effects": 1}
