"""Two qcluster nodes on one database and one Redis broker do each thing once.

Two ``manage.py qcluster`` processes stand for two worker hosts: each has its
own log directory, both share the test database and a Redis server the test
starts on a free loopback port. The sandbox serves 5,000 orders. Polls are
queued on the shared broker over and over, as many schedules and operators
would, so that the nodes fight over the cursor; the schedules run as they do
in production, one slot a minute, with both nodes' schedulers awake.
"""

import itertools
import json
import signal
import socket
import subprocess
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pytest
import redis

from django_q.brokers.redis_broker import Redis as RedisBroker
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.tasks import async_task

from integrations.sandbox import SandboxServer
from integrations.sandbox.generator import OrderStream
from integrations.schedules import (
    FLUSH_TOKENS_SCHEDULE,
    POLL_SCHEDULE,
    POLL_TASK,
    PROCESS_SCHEDULE,
)
from orders.models import WORKING_STATUSES, Order, OrderStatus
from tests.faults.conftest import require_binary, wait_until

ORDER_COUNT = 5000
NODES = ("node-a", "node-b")
# A poll reads two pages of 100: it takes 25 polls to read every order, so
# the nodes have to keep taking the cursor from each other.
PAGE_SIZE = 100
PAGES_PER_POLL = 2
# Seconds between the extra polls queued while orders are still being read.
POLL_EVERY_SECONDS = 0.4


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on just now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.fixture
def redis_url(tmp_path):
    """Start a throwaway redis-server on a free loopback port; return its URL."""
    binary = require_binary("redis-server")
    port = free_port()
    output = open(tmp_path / "redis.out", "ab")  # noqa: SIM115
    server = subprocess.Popen(
        [
            *(binary, "--bind", "127.0.0.1", "--port", str(port)),
            *("--save", "", "--appendonly", "no", "--dir", str(tmp_path)),
        ],
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output.close()
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.from_url(url)
    try:
        wait_until(lambda: answers(client), timeout=20, what="redis-server")
        yield url
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture
def shared_queue(redis_url, monkeypatch):
    """Return the broker the nodes take their tasks from, for this process."""
    # The test process itself runs on the ORM broker; only its pushes of
    # extra polls go to the nodes' Redis.
    monkeypatch.setattr(Conf, "REDIS", redis_url)
    return RedisBroker()


@pytest.fixture
def sandbox():
    orders = OrderStream(seed=20261204, orders_per_minute=0).orders(0, ORDER_COUNT)
    server = SandboxServer(
        port=0, scenario={"orders": orders, "reject_share": 0.1}
    ).start()
    yield server
    server.stop()


class ServiceLog:
    """The poll and schedule records of one node's service.log, read as it grows.

    Only new complete lines are read each time, and only those of the events
    watched are parsed: the test reads while the nodes write thousands of
    lines, and must not slow them down.
    """

    WATCHED = (b'"event": "sales.', b'"event": "schedule.')

    def __init__(self, log_dir: Path):
        self.path = log_dir / "service.log"
        self.offset = 0
        self.events: dict[str, list[dict]] = defaultdict(list)

    def __getitem__(self, event: str) -> list[dict]:
        self.read()
        return self.events[event]

    def read(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as log:
            log.seek(self.offset)
            complete, newline, _ = log.read().rpartition(b"\n")
        self.offset += len(complete) + len(newline)
        for line in complete.split(b"\n") if newline else ():
            if any(watched in line for watched in self.WATCHED):
                record = json.loads(line)
                self.events[record["event"]].append(record)


def test_two_nodes_poll_in_turn_process_each_order_once_and_fire_each_slot_once(
    processes, sandbox, redis_url, shared_queue, tmp_path
):
    started = time.monotonic()
    log_dirs = {node: tmp_path / node for node in NODES}
    logs = {node: ServiceLog(log_dir) for node, log_dir in log_dirs.items()}
    nodes = {}
    for node, log_dir in log_dirs.items():
        log_dir.mkdir()
        env = processes.env(
            **sandbox.upstream_urls(),
            LOG_DIR=str(log_dir),
            Q_REDIS_URL=redis_url,
            Q_WORKERS="2",
            SALES_POLL_PAGE_SIZE=str(PAGE_SIZE),
            SALES_POLL_MAX_PAGES=str(PAGES_PER_POLL),
            # A busy machine answers slowly; a timeout here would only add
            # retries (harmless, but they blur the counts checked below).
            SALES_API_READ_TIMEOUT="30",
            BILL_API_READ_TIMEOUT="30",
            CUSTOM_API_READ_TIMEOUT="30",
        )
        nodes[node] = processes.manage("qcluster", name=node, env=env)

    def polled(node: str) -> list[dict]:
        return logs[node]["sales.poll_done"]

    last_push = 0.0

    def every_order_read_by_both_nodes_polling():
        nonlocal last_push
        for node, process in nodes.items():
            assert process.poll() is None, processes.output(node)
        if time.monotonic() - last_push >= POLL_EVERY_SECONDS:
            async_task(POLL_TASK, broker=shared_queue)
            last_push = time.monotonic()
        return Order.objects.count() >= ORDER_COUNT and all(map(polled, NODES))

    wait_until(
        every_order_read_by_both_nodes_polling,
        timeout=180,
        interval=0.2,
        what="both nodes to poll and every order to be read",
    )

    def slots(schedule: str) -> set[str]:
        runs = [run for node in NODES for run in logs[node]["schedule.run"]]
        return {run["slot"] for run in runs if run["schedule"] == schedule}

    def every_order_at_rest_after_two_slots():
        for node, process in nodes.items():
            assert process.poll() is None, processes.output(node)
        return (
            not Order.objects.filter(status__in=WORKING_STATUSES).exists()
            and len(slots(POLL_SCHEDULE)) >= 2
            and len(slots(PROCESS_SCHEDULE)) >= 2
        )

    wait_until(
        every_order_at_rest_after_two_slots,
        timeout=max(60, 300 - (time.monotonic() - started)),
        interval=0.5,
        what="every order at rest and two slots of each minute schedule",
    )

    # SIGTERM drains a node: it stops taking tasks, finishes what it holds
    # and exits.
    for process in nodes.values():
        process.send_signal(signal.SIGTERM)
    for node, process in nodes.items():
        process.wait(timeout=60)
        assert process.returncode == 0, processes.output(node)

    # Every task went through Redis, none through the database's queue.
    assert not OrmQ.objects.exists()

    # Each order was invoiced once, filed at most once, and rests.
    assert Order.objects.count() == ORDER_COUNT
    stats = sandbox.stats()
    assert stats["sales"]["orders_served"] == ORDER_COUNT, "a page was read twice"
    bill = stats["bill"]["by_order"]
    custom = stats["custom"]["by_order"]
    assert len(bill) == ORDER_COUNT
    assert {counts["effects"] for counts in bill.values()} == {1}
    assert max(counts["accepted"] for counts in custom.values()) == 1
    statuses = Counter(Order.objects.values_list("status", flat=True))
    assert set(statuses) == {OrderStatus.SENT, OrderStatus.ERROR}
    assert statuses[OrderStatus.SENT] == stats["custom"]["accepted"]
    # The orders in error are the ones CustomAPI rejected, nothing else.
    assert statuses[OrderStatus.ERROR] == stats["custom"]["rejected"]

    # Polls held the cursor one at a time, and both nodes held it.
    polls = [(node, poll) for node in NODES for poll in polled(node)]
    assert {node for node, _ in polls} == set(NODES)
    spans = sorted(
        (
            datetime.fromisoformat(poll["held_from"]),
            datetime.fromisoformat(poll["held_until"]),
            node,
        )
        for node, poll in polls
    )
    for before, after in itertools.pairwise(spans):
        assert after[0] >= before[1], f"polls overlapped: {before} and {after}"
    assert all(poll["poll"]["error"] == "" for _, poll in polls)
    for node in NODES:
        assert logs[node]["sales.poll_lease_lost"] == []

    # Each schedule's slot did its work once, whichever node ran it.
    runs = Counter(
        (run["schedule"], run["slot"])
        for node in NODES
        for run in logs[node]["schedule.run"]
    )
    duplicates = [
        record for node in NODES for record in logs[node]["schedule.duplicate_skipped"]
    ]
    assert runs, "no schedule ran"
    assert max(runs.values()) == 1, (runs, duplicates)
    assert {schedule for schedule, _ in runs} == {
        POLL_SCHEDULE,
        PROCESS_SCHEDULE,
        FLUSH_TOKENS_SCHEDULE,
    }

    # GET /ready checks the broker the node is configured with: Redis here.
    def ready(q_redis_url: str, name: str) -> tuple[int, dict]:
        shell = processes.manage(
            "shell",
            "-c",
            "from django.test import Client; "
            "response = Client().get('/ready'); "
            "print('READY', response.status_code, response.content.decode())",
            name=name,
            env=processes.env(Q_REDIS_URL=q_redis_url),
        )
        assert shell.wait(timeout=60) == 0, processes.output(name)
        line = processes.output(name).split("READY ", 1)[1].strip()
        status, body = line.split(" ", 1)
        return int(status), json.loads(body)

    assert ready(redis_url, "ready-redis") == (
        200,
        {
            "status": "ready",
            "checks": {"database": "ok", "broker": "ok", "sales_poll": "ok"},
        },
    )
    status, body = ready(f"redis://127.0.0.1:{free_port()}/0", "ready-no-redis")
    assert status == 503
    assert body["checks"]["broker"] == "unreachable (ConnectionError)"
