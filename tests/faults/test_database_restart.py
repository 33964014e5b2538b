"""MariaDB stopped and started again under a running service.

The test runs a MariaDB server of its own (a fresh data directory, a free
loopback port), whatever database the rest of the suite uses, so that it can
stop that server without touching anyone else's. Against it run a web process
(gunicorn) and a worker (``run_pipeline --once``), both with persistent
connections, while the sandbox plays SalesAPI, BillAPI and CustomAPI. The
server is stopped mid-run (a clean SIGTERM, or a SIGKILL that leaves InnoDB to
recover its log) and started again on the same data directory and port.

What must hold afterwards, with no process restarted by hand: ``/ready`` and
``GET /status`` answer again; the worker waited for the database instead of
dying on it; every order SalesAPI served is stored once and rests; the next
poll resumes from the kept cursor; no order has a second invoice or filing.
"""

import contextlib
import getpass
import importlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from integrations.sandbox import SandboxServer
from tests.factories import sales_record
from tests.faults.conftest import require_binary, wait_until

DATABASE = "service"
PASSWORD = "restart-probe-password"
PAGE_SIZE = 2


def require_mysqlclient():
    """Return the MySQLdb module; skip locally and fail in CI without it."""
    try:
        return importlib.import_module("MySQLdb")
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("mysqlclient is not installed")
        pytest.skip("mysqlclient is not installed")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MariaDB:
    """A throw-away MariaDB server on loopback, stopped and started at will."""

    def __init__(self, base: Path):
        self.mysqldb = require_mysqlclient()
        self.server = require_binary("mariadbd")
        self.installer = require_binary("mariadb-install-db")
        self.datadir = base / "data"
        # A Unix socket path must stay under ~100 characters; tmp_path may not.
        self.rundir = Path(tempfile.mkdtemp(prefix="mdb-"))
        self.log = base / "mariadbd.log"
        self.port = free_port()
        self.user = getpass.getuser()
        self.process: subprocess.Popen | None = None

    def install(self) -> None:
        subprocess.run(
            [
                self.installer,
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--user={self.user}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    self.server,
                    "--no-defaults",
                    f"--datadir={self.datadir}",
                    f"--socket={self.rundir / 'sock'}",
                    f"--pid-file={self.rundir / 'pid'}",
                    f"--port={self.port}",
                    "--bind-address=127.0.0.1",
                    f"--user={self.user}",
                    "--skip-log-bin",
                    "--skip-name-resolve",
                    "--innodb-buffer-pool-size=16M",
                    "--innodb-log-file-size=8M",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._answers, timeout=60, what="MariaDB to accept connections")

    def stop(self, signum: int) -> None:
        """Stop the server with ``signum`` and wait until it is gone."""
        self.process.send_signal(signum)
        self.process.wait(timeout=60)

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"mariadbd exited: {self.log.read_text()[-2000:]}")
        try:
            self.query("SELECT 1", database=None)
        except self.mysqldb.OperationalError:
            return False
        return True

    def query(self, sql: str, *args, database: str | None = DATABASE) -> list:
        connection = self.mysqldb.connect(
            host="127.0.0.1",
            port=self.port,
            user="root",
            connect_timeout=5,
            charset="utf8mb4",
            **({"database": database} if database else {}),
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args or None)
                rows = list(cursor.fetchall())
            connection.commit()
            return rows
        finally:
            connection.close()

    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/{DATABASE}"

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        shutil.rmtree(self.rundir, ignore_errors=True)


@pytest.fixture
def mariadb(tmp_path):
    server = MariaDB(tmp_path / "mariadb")
    server.install()
    server.start()
    server.query(
        f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        database=None,
    )
    yield server
    server.close()


class Web:
    """The web process as a client sees it."""

    def __init__(self, url: str):
        self.url = url
        self.session = requests.Session()
        self.session.trust_env = False
        self.token = ""

    def get(self, path: str, **params):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            return self.session.get(
                self.url + path, params=params, headers=headers, timeout=10
            )
        except requests.RequestException:
            return None

    def status_code(self, path: str, **params) -> int | None:
        response = self.get(path, **params)
        return None if response is None else response.status_code

    def log_in(self, username: str) -> None:
        response = self.session.post(
            self.url + "/auth/token",
            json={"username": username, "password": PASSWORD},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        self.token = response.json()["access"]


def resting(mariadb) -> dict:
    return dict(
        mariadb.query("SELECT order_id, status FROM orders_order ORDER BY order_id")
    )


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"]
)
def test_service_recovers_from_a_database_restart(processes, mariadb, signum):
    first = [sales_record() for _ in range(10)]
    # The first orders meet two BillAPI failures each, so that some of them
    # wait for a retry when the database goes away.
    faults = {r["order_id"]: {"bill": ["http_500", "http_500"]} for r in first[:4]}
    sandbox = SandboxServer(
        port=0, latency_ms=100, timeout_seconds=2.0, reject_share=0.0
    ).start()
    sandbox.load_scenario({"orders": first, "faults": faults})
    web_port = free_port()
    env = processes.env(
        DATABASE_URL=mariadb.url(),
        # Persistent connections: the ones a restart leaves broken.
        DB_CONN_MAX_AGE="600",
        SALES_API_URL=f"{sandbox.url}/sales",
        BILL_API_URL=f"{sandbox.url}/bill",
        CUSTOM_API_URL=f"{sandbox.url}/custom",
        SALES_POLL_PAGE_SIZE=str(PAGE_SIZE),
        SALES_POLL_LEASE_SECONDS="3",
        PIPELINE_LEASE_SECONDS="3",
        PIPELINE_BACKOFF_BASE_SECONDS="0.5",
        PIPELINE_BACKOFF_MAX_SECONDS="1",
        PIPELINE_MAX_ATTEMPTS="20",
        API_USER_PASSWORD=PASSWORD,
    )
    try:
        migrate = processes.manage("migrate", "--noinput", name="migrate", env=env)
        assert migrate.wait(timeout=240) == 0, processes.output("migrate")
        user = processes.manage(
            "create_api_user", "probe", "--role", "operator", name="user", env=env
        )
        assert user.wait(timeout=60) == 0, processes.output("user")

        web_process = processes.start(
            "-m",
            "gunicorn",
            "phpservice.wsgi",
            "--bind",
            f"127.0.0.1:{web_port}",
            "--workers",
            "1",
            "--threads",
            "2",
            name="web",
            env=env,
        )
        web = Web(f"http://127.0.0.1:{web_port}")
        wait_until(lambda: web.status_code("/health") == 200, timeout=60, what="web")
        web.log_in("probe")

        worker = processes.manage(
            "run_pipeline", "--once", "--max-wait", "120", name="worker", env=env
        )
        # Stop the database once the poll has saved its first page: the
        # rest of the poll, and the orders' work, meet the outage.
        wait_until(
            lambda: mariadb.query(
                "SELECT 1 FROM integrations_salescursor WHERE `cursor` <> ''"
            ),
            timeout=60,
            what="the first page to be saved",
        )
        mariadb.stop(signum)

        outage = web.get("/ready")
        assert outage is not None and outage.status_code == 503, outage
        assert outage.json()["checks"]["database"].startswith("unreachable")
        # Long enough for the worker to meet the outage at every turn.
        time.sleep(3)
        assert worker.poll() is None, processes.output("worker")
        mariadb.start()

        assert worker.wait(timeout=150) in (0, 1), processes.output("worker")
        output = processes.output("worker")
        assert "Traceback" not in output, output
        assert "in progress" not in output, output
        # It met the outage, in the poll or while waiting on its orders.
        assert (
            "The poll failed: The database" in output
            or "pipeline.database_unavailable" in output
        ), output

        # The web process reconnects by itself: no "server has gone away".
        wait_until(lambda: web.status_code("/ready") == 200, timeout=30, what="ready")
        assert web.status_code("/status", order_id=first[0]["order_id"]) == 200
        assert web_process.poll() is None

        # More orders arrive; the next poll starts where the kept cursor says.
        second = [sales_record() for _ in range(5)]
        sandbox.load_scenario({"orders": first + second})
        again = processes.manage(
            "run_pipeline", "--once", "--max-wait", "60", name="worker-2", env=env
        )
        assert again.wait(timeout=120) == 0, processes.output("worker-2")

        served = {r["order_id"] for r in first + second}
        stored = resting(mariadb)
        assert set(stored) == served
        assert set(stored.values()) == {"sent"}, stored
        stats = sandbox.stats()
        # A page whose save the outage broke is asked for once more; nothing
        # beyond that is served twice.
        assert len(served) <= stats["sales"]["orders_served"] <= len(served) + PAGE_SIZE
        for upstream in ("bill", "custom"):
            effects = {
                order_id: counts["effects"]
                for order_id, counts in stats[upstream]["by_order"].items()
            }
            assert effects == dict.fromkeys(served, 1), upstream
        assert mariadb.query("SELECT lease_owner FROM integrations_salescursor") == [
            ("",)
        ]
    finally:
        sandbox.stop()
