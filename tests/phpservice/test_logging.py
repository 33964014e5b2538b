import json
import logging
import logging.config
import os
import re
import stat
import subprocess
import sys
import textwrap
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.log import configure_logging

from phpservice.logging import (
    AppendFileHandler,
    ConsoleFormatter,
    JsonFormatter,
    build_logging_config,
    reset_request_id,
    set_request_id,
)
from phpservice.redaction import configured_secrets, reset_configured_secrets

ROOT = Path(__file__).resolve().parents[2]
BILL_TOKEN = "bill-upstream-token-7f3a9c"
MAILGUN_KEY = "mailgun-api-key-5b2e8d1f"
DB_PASSWORD = "db-password-4c6e8a"
BEARER = "opaque-bearer-9e7d5c3b"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
JSON_PASSWORD = "json-password-1a2b3c"
TRACE_PASSWORD = "trace-password-8d9e0f"
PHONE = "+7 (999) 999-99-99"


@pytest.fixture
def log_dir(tmp_path):
    """Route all logging into fresh files for one test, then restore settings."""
    directory = tmp_path / "logs"
    logging.config.dictConfig(build_logging_config(log_dir=directory, level="INFO"))
    yield directory
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)


@pytest.fixture
def secret_settings(settings, monkeypatch):
    """Configure secret values in every place configured_secrets reads."""
    settings.UPSTREAMS = {"bill": {"URL": "http://bill", "TOKEN": BILL_TOKEN}}
    settings.ANYMAIL = {"MAILGUN_API_KEY": MAILGUN_KEY, "MAILGUN_SENDER_DOMAIN": "x"}
    settings.LOG_SECRET_SETTINGS = ["ANYMAIL.MAILGUN_API_KEY", "SHORT_SECRET"]
    settings.SHORT_SECRET = "abc"
    monkeypatch.setitem(settings.DATABASES["default"], "PASSWORD", DB_PASSWORD)
    reset_configured_secrets()
    yield
    reset_configured_secrets()


@pytest.fixture
def isolated_logger():
    """Return a logger of its own that does not propagate to the root."""
    logger = logging.getLogger(f"tests.isolated.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def attach_file(logger, path):
    handler = AppendFileHandler(path)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    return handler


def read_lines(path):
    """Return the file's records, asserting each line is one JSON object."""
    lines = path.read_bytes().decode("utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert all(isinstance(record, dict) for record in records)
    return records


def make_record(msg="order.saved", args=(), level=logging.INFO, **extra):
    return logging.makeLogRecord(
        {
            "name": "orders",
            "msg": msg,
            "args": args,
            "levelno": level,
            "levelname": logging.getLevelName(level),
            **extra,
        }
    )


def test_records_are_routed_to_their_files(log_dir):
    logging.getLogger("phpservice.requests").info("http.request")
    logging.getLogger("integrations.http").info("upstream.exchange")
    logging.getLogger("orders.services").info("order.saved")
    logging.getLogger("orders.services").error("order.failed")
    logging.getLogger("django.request").error("Internal Server Error: /status")
    logging.getLogger("django.server").error("GET /status 500")
    logging.getLogger("django.server").info("GET /status 200")

    def events(name):
        return [record["event"] for record in read_lines(log_dir / name)]

    assert events("api.log") == ["http.request"]
    assert events("upstream.log") == ["upstream.exchange"]
    assert events("errors.log") == [
        "order.failed",
        "Internal Server Error: /status",
        "GET /status 500",
    ]
    assert len(events("service.log")) == 7


def test_line_carries_fields_in_order_then_extras(log_dir):
    token = set_request_id("req-42")
    try:
        logging.getLogger("orders.services").warning(
            "order.saved %s",
            "123456",
            extra={"amount": Decimal("50000.00"), "when": object, "share": 0.5},
        )
    finally:
        reset_request_id(token)

    (record,) = read_lines(log_dir / "service.log")
    assert list(record) == [
        "ts",
        "level",
        "logger",
        "event",
        "pid",
        "request_id",
        "amount",
        "when",
        "share",
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["ts"])
    assert record["level"] == "WARNING"
    assert record["logger"] == "orders.services"
    assert record["event"] == "order.saved 123456"
    assert record["pid"] == os.getpid()
    assert record["request_id"] == "req-42"
    assert record["amount"] == "50000.00"
    assert record["when"] == "<class 'object'>"
    assert record["share"] == 0.5


def test_extras_named_like_own_fields_do_not_replace_them(log_dir):
    logging.getLogger("orders").info("order.saved", extra={"event": "x", "ts": 1})

    (record,) = read_lines(log_dir / "service.log")
    assert record["event"] == "order.saved"
    assert (record["extra_event"], record["extra_ts"]) == ("x", 1)


def test_exceptions_reach_errors_log_with_traceback(log_dir):
    try:
        raise ValueError("Неверный формат данных")
    except ValueError:
        logging.getLogger("integrations.custom").exception("invoice.rejected")

    (record,) = read_lines(log_dir / "errors.log")
    assert record["event"] == "invoice.rejected"
    assert record["exc"].startswith("Traceback (most recent call last):")
    assert record["exc"].endswith("ValueError: Неверный формат данных")
    assert list(record)[-1] == "exc"


@pytest.mark.usefixtures("secret_settings")
def test_secrets_never_reach_any_file(log_dir):
    logging.getLogger("integrations.http").info(
        "upstream.exchange",
        extra={
            "headers": {"Authorization": f"Bearer {BEARER}", "Idempotency-Key": "k-7"},
            "request_body": json.dumps({"password": JSON_PASSWORD, "order_id": "12"}),
            "url": f"http://127.0.0.1/bill?token={BILL_TOKEN}&order_id=12",
            "idempotency_key": "order-123456-invoice",
            "note": f"mail key {MAILGUN_KEY}, django key {settings.SECRET_KEY}",
        },
    )
    logging.getLogger("phpservice.requests").warning("jwt.rejected %s", JWT)
    logging.getLogger("orders").warning("auth header was Bearer %s", BEARER)
    try:
        raise ConnectionError(f"password={TRACE_PASSWORD} for {DB_PASSWORD}")
    except ConnectionError:
        logging.getLogger("orders").exception("database.unreachable")

    raw = b"".join(path.read_bytes() for path in sorted(log_dir.iterdir()))
    secrets = [BILL_TOKEN, MAILGUN_KEY, DB_PASSWORD, BEARER, JWT, JSON_PASSWORD]
    secrets += [TRACE_PASSWORD, settings.SECRET_KEY, settings.JWT_SIGNING_KEY]
    assert [secret for secret in secrets if secret.encode() in raw] == []
    (exchange,) = read_lines(log_dir / "upstream.log")
    assert exchange["headers"] == {
        "Authorization": "[REDACTED]",
        "Idempotency-Key": "k-7",
    }
    assert json.loads(exchange["request_body"]) == {
        "password": "[REDACTED]",
        "order_id": "12",
    }
    assert exchange["url"] == "http://127.0.0.1/bill?token=[REDACTED]&order_id=12"
    assert exchange["idempotency_key"] == "order-123456-invoice"
    assert exchange["note"] == "mail key [REDACTED], django key [REDACTED]"
    errors = read_lines(log_dir / "errors.log")
    assert "ConnectionError: password=[REDACTED] for [REDACTED]" in errors[0]["exc"]
    assert b"[REDACTED-JWT]" in raw


def test_contact_data_is_masked_and_cyrillic_kept_as_is(log_dir):
    order = {
        "customer_name": "Иван Иванов",
        "customer_email": "ivan@example.com",
        "customer_phone": PHONE,
    }
    logging.getLogger("notifications.email").info(
        "notification.sent",
        extra={
            "to": ["ivan@example.com"],
            "phone": 79991234567,
            "order": json.dumps(order, ensure_ascii=False),
        },
    )
    logging.getLogger("orders").info(
        "customer ivan.petrov@example.com called from 8 (999) 123-45-67"
    )

    raw = (log_dir / "service.log").read_bytes()
    for leaked in (b"ivan@", b"ivan.petrov@", b"999-99-99", b"123-45-67", b"9991234"):
        assert leaked not in raw
    assert "Иван Иванов".encode() in raw
    assert b"\\u04" not in raw
    sent, free_text = read_lines(log_dir / "service.log")
    assert sent["to"] == ["i***@example.com"]
    assert sent["phone"] == "*********67"
    assert json.loads(sent["order"]) == {
        "customer_name": "Иван Иванов",
        "customer_email": "i***@example.com",
        "customer_phone": "+*********99",
    }
    assert free_text["event"] == "customer i***@example.com called from *********67"


def test_console_line_is_short_and_redacted():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = make_record(
            "order.failed for %s",
            ("ivan@example.com",),
            logging.ERROR,
            exc_info=sys.exc_info(),
            password="hunter2-secret",
            order_id="123456",
        )

    line = ConsoleFormatter().format(record)

    assert "\n" not in line
    assert "ERROR orders order.failed for i***@example.com" in line
    assert "password=[REDACTED] order_id=123456 | RuntimeError: boom" in line
    assert "hunter2-secret" not in line


def test_console_shows_warnings_and_above_by_default(tmp_path):
    config = build_logging_config(log_dir=tmp_path, level="debug")

    assert config["handlers"]["console"]["level"] == "WARNING"
    assert config["root"]["level"] == "DEBUG"
    assert config["disable_existing_loggers"] is False


def test_unknown_level_names_the_setting_to_fix(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="LOG_LEVEL='LOUD'"):
        build_logging_config(log_dir=tmp_path, level="loud")


@pytest.mark.usefixtures("secret_settings")
def test_configured_secrets_read_settings_and_skip_short_values():
    secrets = configured_secrets()

    for value in (settings.SECRET_KEY, settings.JWT_SIGNING_KEY, BILL_TOKEN):
        assert value in secrets
    assert MAILGUN_KEY in secrets
    assert DB_PASSWORD in secrets
    assert "abc" not in secrets


def test_lines_reach_a_moved_or_removed_file_by_name(tmp_path, isolated_logger):
    path = tmp_path / "service.log"
    attach_file(isolated_logger, path)

    isolated_logger.info("before.move")
    path.rename(tmp_path / "service.log.1")
    isolated_logger.info("after.move")
    path.unlink()
    isolated_logger.info("after.remove")

    moved = [record["event"] for record in read_lines(tmp_path / "service.log.1")]
    assert moved == ["before.move"]
    assert [record["event"] for record in read_lines(path)] == ["after.remove"]
    assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0


def test_failed_record_is_reported_without_its_arguments(tmp_path, capsys):
    path = tmp_path / "service.log"
    handler = AppendFileHandler(path)
    handler.setFormatter(JsonFormatter())

    handler.handle(make_record("order %d saved", ("hunter2-secret",)))
    handler.close()

    error = capsys.readouterr().err
    assert "--- Logging error in" in error
    assert "hunter2-secret" not in error
    assert path.read_bytes() == b""


WRITER = textwrap.dedent(
    """
    import logging, sys, time
    from phpservice.logging import AppendFileHandler, JsonFormatter

    path, worker, start_at = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    handler = AppendFileHandler(path)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"writer{worker}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    payload = f"счёт-{worker}" * 300
    while time.time() < start_at:
        time.sleep(0.001)
    for seq in range(500):
        extra = {"worker": worker, "seq": seq, "payload": payload}
        logger.info("test.concurrent_write", extra=extra)
    handler.close()
    """
)


def test_processes_appending_at_once_never_interleave_lines(tmp_path):
    path = tmp_path / "service.log"
    start_at = str(time.time() + 2)
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(worker), start_at],
            cwd=ROOT,
            env=environment,
        )
        for worker in range(4)
    ]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0, 0, 0]

    data = path.read_bytes()
    records = read_lines(path)
    assert data.count(b"\n") == 2000
    assert len(records) == 2000
    assert len(data) > 2000 * 3000
    assert {(record["worker"], record["seq"]) for record in records} == {
        (worker, seq) for worker in range(4) for seq in range(500)
    }
    assert all(
        record["payload"] == f"счёт-{record['worker']}" * 300 for record in records
    )
