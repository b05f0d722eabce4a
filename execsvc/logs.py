"""Logging for the daemon: human-readable on the console, JSON lines in files with rotation.

A redaction filter replaces every registered secret (the Kite access token, the API secret, the
control token) with ``***`` in each record's message and arguments, on every handler, so a secret
that slips into a log call still never reaches a screen or a file.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from pathlib import Path
from typing import Any

_SECRETS: set[str] = set()


def register_secret(value: str | None) -> None:
    """Redact ``value`` from every log record from now on (values shorter than 6 are ignored)."""
    if value and len(value) >= 6:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    """Renders the message once, redacted, so handlers never see the raw arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            record.msg = redact(record.getMessage())
            record.args = None
        return True


class RedactingFormatter(logging.Formatter):
    """The console format, with secrets redacted from the whole text (tracebacks included)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(
    level: str = "INFO",
    *,
    logs_dir: str | Path | None = None,
    max_bytes: int = 10_000_000,
    backups: int = 5,
) -> Path | None:
    """Console logs on stderr and, with ``logs_dir``, rotating JSON-lines logs in ``execsvc.jsonl``.

    Returns:
        The JSON log file, if any.
    """
    root = logging.getLogger()
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for handler in list(root.handlers):
        root.removeHandler(handler)
    redactor = RedactingFilter()
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(RedactingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    console.addFilter(redactor)
    root.addHandler(console)
    if logs_dir is None:
        return None
    directory = Path(logs_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "execsvc.jsonl"
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups)
    file_handler.setFormatter(JsonFormatter())
    file_handler.addFilter(redactor)
    root.addHandler(file_handler)
    return path
