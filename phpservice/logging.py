"""Write logs as JSON lines that carry no secrets and no readable contact data.

Files under ``LOG_DIR``: ``service.log`` (all at ``LOG_LEVEL``), ``api.log``
(``phpservice.requests``), ``upstream.log`` (``integrations.http``) and
``errors.log`` (errors with tracebacks); warnings also go to stderr. Web workers
and ``qcluster`` share the files: each line is one ``write(2)`` in ``O_APPEND``
mode, so lines never interleave. Nothing rotates in-process: logrotate may move
the files (no ``copytruncate`` needed); each process reopens a moved file by
name on its next record. Both formatters pass all they output through ``redact``.
"""

import contextvars
import datetime
import json
import logging
import os
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from phpservice.redaction import redact, truncate

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)


def get_request_id() -> str | None:
    """Return the id of the request being handled, or None outside one."""
    return request_id_var.get()


def set_request_id(value: str | None) -> contextvars.Token:
    """Bind ``value`` as the request id; ``reset_request_id(token)`` undoes it."""
    return request_id_var.set(value)


def reset_request_id(token: contextvars.Token) -> None:
    """Restore the request id that was current before ``set_request_id``."""
    request_id_var.reset(token)


# --- Formatters -------------------------------------------------------------------

_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))).union(
    ("message", "asctime", "taskName", "request_id")
)
_OWN_KEYS = frozenset(("ts", "level", "logger", "event", "pid", "exc", "stack"))


def _extras(record: logging.LogRecord) -> dict:
    return {
        (f"extra_{key}" if key in _OWN_KEYS else key): value
        for key, value in vars(record).items()
        if key not in _RECORD_ATTRS and not key.startswith("_")
    }


def _record_request_id(record: logging.LogRecord) -> str | None:
    return getattr(record, "request_id", None) or request_id_var.get()


class JsonFormatter(logging.Formatter):
    """Format a record as one redacted JSON object without a line break."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
            "pid": record.process,
            "request_id": _record_request_id(record),
            **_extras(record),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exc"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return json.dumps(redact(payload), ensure_ascii=False, default=str)


class ConsoleFormatter(logging.Formatter):
    """Format a record as one short redacted line for a terminal."""

    max_chars = 1000

    def format(self, record: logging.LogRecord) -> str:
        parts = [self.formatTime(record), record.levelname, record.name]
        request_id = _record_request_id(record)
        if request_id:
            parts.append(f"[{request_id}]")
        parts.append(record.getMessage())
        parts += [f"{key}={value}" for key, value in redact(_extras(record)).items()]
        if record.exc_info and record.exc_info[0] is not None:
            parts.append(f"| {record.exc_info[0].__name__}: {record.exc_info[1]}")
        line = redact(" ".join(str(part) for part in parts)).replace("\n", "\\n")
        return truncate(line, self.max_chars)


# --- Handler and configuration ---------------------------------------------------


class AppendFileHandler(logging.Handler):
    """Append each record to ``filename`` with one write, safe across processes.

    The file is never rotated here. When logrotate moves or removes it (no
    ``copytruncate`` needed), the next record reopens ``filename`` by name.
    """

    def __init__(
        self, filename, encoding="utf-8", permissions=0o640, level=logging.NOTSET
    ):
        super().__init__(level)
        self.filename = os.path.abspath(os.fspath(filename))
        self.encoding = encoding
        self.permissions = permissions
        self._fd = None
        self._identity = None
        self._open()

    def emit(self, record: logging.LogRecord) -> None:
        """Write the formatted record, reopening the file if it was moved away."""
        try:
            data = (self.format(record) + "\n").encode(
                self.encoding, "backslashreplace"
            )
            self._reopen_if_moved()
            written = os.write(self._fd, data)
            if written != len(data):
                # Only a full disk or a signal cuts a file write short; writing
                # the rest separately could interleave with other processes.
                raise OSError(f"short write: {written} of {len(data)} bytes")
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def handleError(self, record: logging.LogRecord) -> None:
        """Report a failed record on stderr without echoing its message or args."""
        if logging.raiseExceptions and sys.stderr:
            error = sys.exc_info()[1]
            sys.stderr.write(
                f"--- Logging error in {self.filename}: {type(error).__name__}: "
                f"{error} (from {record.name} at {record.pathname}:{record.lineno})\n"
            )

    def close(self) -> None:
        """Close the file descriptor."""
        with self.lock:
            self._close()
        super().close()

    def _open(self) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(self.filename, flags, self.permissions)
        status = os.fstat(fd)
        self._fd, self._identity = fd, (status.st_dev, status.st_ino)

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def _reopen_if_moved(self) -> None:
        try:
            status = os.stat(self.filename)
            identity = (status.st_dev, status.st_ino)
        except FileNotFoundError:
            identity = None
        if self._fd is None or identity != self._identity:
            self._close()
            self._open()


def build_logging_config(*, log_dir, level, console_level="WARNING") -> dict:
    """Return the ``dictConfig`` that writes JSON-line files into ``log_dir``."""
    level = str(level).upper()
    if not isinstance(logging.getLevelName(level), int):
        raise ImproperlyConfigured(
            f"LOG_LEVEL={level!r} is not a level; use DEBUG, INFO, WARNING or ERROR."
        )
    log_dir = Path(log_dir)
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ImproperlyConfigured(
            f"Set LOG_DIR to a writable directory ({err})."
        ) from err
    files = {"service": "NOTSET", "api": "NOTSET", "upstream": "NOTSET"}
    # Django's defaults print to the console only in DEBUG, mail the admins
    # and keep django.server to itself: route all of them through the files.
    inherit = {"handlers": [], "level": "NOTSET", "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "phpservice.logging.JsonFormatter"},
            "console": {"()": "phpservice.logging.ConsoleFormatter"},
        },
        "handlers": {
            **{
                name: {
                    "class": "phpservice.logging.AppendFileHandler",
                    "filename": str(log_dir / f"{name}.log"),
                    "formatter": "json",
                    "level": file_level,
                }
                for name, file_level in {**files, "errors": "ERROR"}.items()
            },
            "console": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "console",
                "level": console_level,
            },
        },
        "root": {"level": level, "handlers": ["service", "errors", "console"]},
        "loggers": {
            "phpservice.requests": {**inherit, "handlers": ["api"]},
            "integrations.http": {**inherit, "handlers": ["upstream"]},
            "django": inherit,
            "django.server": inherit,
            "django-q": inherit,
            # The twilio client logs each request in several lines of its own;
            # upstream.log already has the whole exchange, redacted.
            "twilio": {**inherit, "level": "WARNING"},
        },
    }
