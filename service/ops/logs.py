"""Logging: readable lines by default, JSON with NEWSWATCH_LOG_FORMAT=json; secrets redacted."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from alerts.base import Redactor
from alerts.display import visible

CONTEXT = ("feed", "rule", "destination", "delivery")


class _Redactor(logging.Filter):
    """Removes secrets, in every form they take (`alerts.base.secret_forms`), from every record before any handler sees it."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= 4]
        self._redact = Redactor(self._secrets)

    def add(self, secret: str) -> None:
        """Redact one more secret from now on."""
        if len(secret) >= 4 and secret not in self._secrets:
            self._secrets.append(secret)
            self._redact = Redactor(self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            record.msg, record.args = self._redact(record.getMessage()), None
            if record.exc_info and record.exc_info[1] is not None:  # a traceback's text is the exception's too
                record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


class TextFormatter(logging.Formatter):
    """`time(UTC) level logger message key=value…`"""

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(f"{k}={getattr(record, k)}" for k in CONTEXT if hasattr(record, k))
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # UTC, and says so
        line = f"{when} {record.levelname:<7} {record.name} {record.getMessage()}"
        line = f"{line} {context}" if context else line
        trace = _trace(self, record)
        return visible(f"{line}\n{trace}" if trace else line)  # a remote's words in a message cannot drive the terminal


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data |= {k: getattr(record, k) for k in CONTEXT if hasattr(record, k)}
        if trace := _trace(self, record):
            data["exception"] = trace
        return visible(json.dumps(data, ensure_ascii=False, default=str))


def _trace(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    """The record's traceback: as the redactor left it, else formatted now."""
    return record.exc_text or (formatter.formatException(record.exc_info) if record.exc_info else "")


_REDACTOR = _Redactor([])


def redact_also(secret: str) -> None:
    """Redact a secret read after start-up (a webhook URL named by the config) from every log line."""
    _REDACTOR.add(secret)


def setup(level: str, fmt: str, secrets: Sequence[str]) -> None:
    """Configure the root logger to write to standard error."""
    global _REDACTOR
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    _REDACTOR = _Redactor([*secrets, *_REDACTOR._secrets])
    handler.addFilter(_REDACTOR)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "slack_sdk", "apscheduler", "aiosqlite", "asyncio", "alembic", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
