"""Logging: readable lines by default, JSON with NEWSWATCH_LOG_FORMAT=json; secrets redacted."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

CONTEXT = ("feed", "rule", "destination", "delivery")


class _Redactor(logging.Filter):
    """Removes secrets from every record's message before any handler sees it."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= 4]

    def add(self, secret: str) -> None:
        """Redact one more secret from now on."""
        if len(secret) >= 4 and secret not in self._secrets:
            self._secrets.append(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            message = record.getMessage()
            for secret in self._secrets:
                message = message.replace(secret, "[redacted]")
            record.msg, record.args = message, None
        return True


class TextFormatter(logging.Formatter):
    """`time(UTC) level logger message key=value…`"""

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(f"{k}={getattr(record, k)}" for k in CONTEXT if hasattr(record, k))
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # UTC, and says so
        line = f"{when} {record.levelname:<7} {record.name} {record.getMessage()}"
        line = f"{line} {context}" if context else line
        return f"{line}\n{self.formatException(record.exc_info)}" if record.exc_info else line


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
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class _Routine(logging.Filter):
    """Drops APScheduler's notes that a tick was skipped because the last run of the job is still going.

    Overlap is normal here: a poll or a delivery round can outlast its tick, and the next tick
    simply finds the work done. Logged at WARNING once a second, it buried what happened to
    feeds and alerts. At DEBUG they are kept.
    """

    ROUTINE = ("maximum number of running instances reached", "was missed by")

    def __init__(self, level: int) -> None:
        super().__init__()
        self._level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return self._level <= logging.DEBUG or not any(note in record.getMessage() for note in self.ROUTINE)


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
    scheduler = logging.getLogger("apscheduler.scheduler")
    scheduler.filters[:] = [_Routine(logging.getLevelName(level))]
