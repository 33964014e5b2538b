"""Q_REDIS_URL chooses django-q2's Redis broker; without it the ORM's is used."""

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]

SHOW_BROKER = """
from django_q.brokers import get_broker
from phpservice.redaction import redact
broker = get_broker()
pool = getattr(broker.connection, "connection_pool", None)
kwargs = pool.connection_kwargs if pool else {}
names = ("socket_connect_timeout", "socket_timeout")
timeouts = [kwargs.get(name, "-") for name in names]
print(type(broker).__name__, kwargs.get("port", "-"), *timeouts,
      redact("password s3cret-redis-pass"))
"""


def shell(tmp_path, **environment) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "LOG_DIR": str(tmp_path),
        **environment,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", SHOW_BROKER],
        cwd=BASE_DIR,
        env={name: value for name, value in env.items() if value is not None},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_orm_broker_is_the_default(tmp_path):
    result = shell(tmp_path, Q_REDIS_URL=None)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "ORM",
        "-",
        "-",
        "-",
        "password",
        "s3cret-redis-pass",
    ]


def test_q_redis_url_chooses_redis_and_its_password_never_reaches_a_log(tmp_path):
    # Nothing is contacted: the client connects on its first command.
    result = shell(tmp_path, Q_REDIS_URL="redis://:s3cret-redis-pass@127.0.0.1:6390/2")

    assert result.returncode == 0, result.stderr
    # Timeouts are set, so that a Redis that stops answering hangs nothing.
    assert result.stdout.split() == [
        "Redis",
        "6390",
        "3.0",
        "10.0",
        "password",
        "[REDACTED]",
    ]


def test_timeouts_in_q_redis_url_win(tmp_path):
    result = shell(tmp_path, Q_REDIS_URL="redis://127.0.0.1:6390/2?socket_timeout=4.5")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:4] == ["Redis", "6390", "3.0", "4.5"]


def test_a_q_redis_url_of_another_kind_is_refused(tmp_path):
    result = shell(tmp_path, Q_REDIS_URL="http://127.0.0.1:6390/0")

    assert result.returncode != 0
    assert "Q_REDIS_URL must be a redis://, rediss:// or unix:// URL" in (
        result.stdout + result.stderr
    )
