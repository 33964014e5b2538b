"""Fixtures for the fault tests: real processes on the test database.

Workers, qcluster nodes and servers run as processes of their own, on the
test database, and are killed for real (SIGKILL), so a test proves what a
crash on a production host would leave behind.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.faults)


def require_binary(name: str) -> str:
    """Return the path of program ``name``.

    Without it the test is skipped on a developer's machine, and fails in CI
    (where ``CI`` is set), which installs everything the tests need.
    """
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if path:
        return path
    message = f"{name} is not installed"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def database_url() -> str:
    """Return a DATABASE_URL naming the test database, for another process."""
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(config["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            raise RuntimeError("fault tests need the SQLite test database in a file")
        return f"sqlite:///{name}"
    user = config["USER"]
    password = f":{config['PASSWORD']}" if config["PASSWORD"] else ""
    host = config["HOST"] or "127.0.0.1"
    port = config["PORT"] or 3306
    return f"mysql://{user}{password}@{host}:{port}/{config['NAME']}"


def wait_until(predicate, *, timeout: float, interval: float = 0.1, what: str = ""):
    """Call ``predicate`` until it returns something true; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s waiting for {what}")
        time.sleep(interval)


class Processes:
    """Start service processes on the test database; kill what is left after."""

    def __init__(self, base_env: dict, log_dir: Path):
        self.base_env = base_env
        self.log_dir = log_dir
        self.started: list[subprocess.Popen] = []

    def env(self, **extra: str) -> dict:
        return {**self.base_env, **extra}

    def start(self, *args: str, name: str, env: dict | None = None) -> subprocess.Popen:
        """Start ``python <args>`` in the project; its output goes to a file."""
        output = open(self.log_dir / f"{name}.out", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=env or self.base_env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        output.close()
        process.name = name
        self.started.append(process)
        return process

    def manage(self, *args: str, name: str, env: dict | None = None):
        return self.start("manage.py", *args, name=name, env=env)

    def output(self, name: str) -> str:
        path = self.log_dir / f"{name}.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL the process and its children: a crash, not a shutdown."""
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def close(self) -> None:
        for process in self.started:
            self.kill(process)


@pytest.fixture
def processes(transactional_db, tmp_path):
    """Start processes that use the test database, with test settings."""
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    base_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "LOG_DIR": str(log_dir),
        "PYTHONUNBUFFERED": "1",
    }
    # The processes take the upstreams from the test's settings at start.
    for name, prefix in (("sales", "SALES"), ("bill", "BILL"), ("custom", "CUSTOM")):
        base_env[f"{prefix}_API_URL"] = settings.UPSTREAMS[name]["URL"]
    running = Processes(base_env, log_dir)
    yield running
    running.close()
