"""Placeholder: JSON-lines logging with redaction (being written)."""


def build_logging_config(*, log_dir, level):
    return {"version": 1, "disable_existing_loggers": False}
