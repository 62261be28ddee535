"""Process settings from the environment; only the entry point calls `Settings.from_env`.

| variable | default | meaning |
|---|---|---|
| NEWSWATCH_CONFIG_DIR | ./config | folder with feeds.yaml and rules.yaml |
| NEWSWATCH_DATABASE_URL | sqlite:///./data/newswatch.db | SQLite file or postgresql://… URL |
| NEWSWATCH_HTTP_HOST | 127.0.0.1 | address of the health and metrics server |
| NEWSWATCH_HTTP_PORT | 8080 | its port; 0 disables it |
| NEWSWATCH_LOG_LEVEL | INFO | DEBUG, INFO, WARNING, ERROR |
| NEWSWATCH_LOG_FORMAT | text | text or json |
| NEWSWATCH_INSTANCE | host-pid | the name this replica uses for its leases |
| NEWSWATCH_USER_AGENT | newswatch/VERSION (+URL) | the User-Agent of feed requests |
| NEWSWATCH_MAX_FEED_BYTES | 10000000 | largest feed body read |
| NEWSWATCH_FETCH_TIMEOUT | 30 | seconds for one whole fetch |
| NEWSWATCH_POLL_CONCURRENCY | 20 | feeds fetched at once |
| NEWSWATCH_PER_HOST | 2 | fetches at once to one host |
| NEWSWATCH_ARTICLE_TIMEOUT | 20 | seconds an item's article page may take (robots.txt, fetch, extraction) |
| NEWSWATCH_ARTICLE_PACE | 1 | seconds between two article pages of one host |
| NEWSWATCH_LEASE_SECONDS | 120 | how long a claimed feed or alert stays with this process if it dies |
| NEWSWATCH_PARSE_WORKERS | cores, if more than one | processes that parse feeds (0: a thread of the main process) |
| NEWSWATCH_RETENTION_DAYS | 90 | items that matched nothing are deleted this long after first seen (0 keeps all) |
| SLACK_BOT_TOKEN | (none) | bot token; without it Slack destinations print to the console |
| SLACK_API_URL | https://slack.com/api/ | Slack's Web API base URL (a proxy or compatible server) |
| SLACK_WEBHOOK_URL | (none) | default incoming webhook for `slack_webhook` destinations (`url_env` names any other variable) |
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from service import __version__

PROJECT_URL = "https://github.com/newswatch/newswatch"
DEFAULT_DATABASE = "sqlite:///./data/newswatch.db"


class SettingsError(ValueError):
    """An environment variable has a value that cannot be used."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    """Read a whole number, with a clear error."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    """Read a number of seconds (0 or more), with a clear error."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value >= 0:
        raise SettingsError(f"{name} must be at least 0, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    """Read one of a few words, with a clear error."""
    value = env.get(name, "").strip() or default
    if value.lower() not in choices and value.upper() not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything the process reads from its environment."""

    config_dir: Path = Path("config")
    database_url: str = DEFAULT_DATABASE
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    log_level: str = "INFO"
    log_format: str = "text"
    instance: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    user_agent: str = f"newswatch/{__version__} (+{PROJECT_URL})"
    max_feed_bytes: int = 10_000_000
    fetch_timeout: float = 30.0
    poll_concurrency: int = 20
    per_host: int = 2
    article_timeout: float = 20.0
    article_pace: float = 1.0
    lease_seconds: int = 120
    retention_days: int = 90
    parse_workers: int = field(default_factory=lambda: (os.cpu_count() or 1) if (os.cpu_count() or 1) > 1 else 0)
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_api_url: str | None = None
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)  # where destinations read their secrets (url_env)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read settings from an environment mapping (os.environ at the entry point)."""
        defaults = cls()
        return cls(
            config_dir=Path(env.get("NEWSWATCH_CONFIG_DIR") or "config"),
            database_url=env.get("NEWSWATCH_DATABASE_URL") or DEFAULT_DATABASE,
            http_host=env.get("NEWSWATCH_HTTP_HOST") or "127.0.0.1",
            http_port=_int(env, "NEWSWATCH_HTTP_PORT", 8080),
            log_level=_choice(env, "NEWSWATCH_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")).upper(),
            log_format=_choice(env, "NEWSWATCH_LOG_FORMAT", "text", ("text", "json")).lower(),
            instance=env.get("NEWSWATCH_INSTANCE") or defaults.instance,
            user_agent=env.get("NEWSWATCH_USER_AGENT") or defaults.user_agent,
            max_feed_bytes=_int(env, "NEWSWATCH_MAX_FEED_BYTES", 10_000_000, minimum=1024),
            fetch_timeout=float(_int(env, "NEWSWATCH_FETCH_TIMEOUT", 30, minimum=1)),
            poll_concurrency=_int(env, "NEWSWATCH_POLL_CONCURRENCY", 20, minimum=1),
            per_host=_int(env, "NEWSWATCH_PER_HOST", 2, minimum=1),
            article_timeout=float(_int(env, "NEWSWATCH_ARTICLE_TIMEOUT", 20, minimum=1)),
            article_pace=_float(env, "NEWSWATCH_ARTICLE_PACE", 1.0),
            lease_seconds=_int(env, "NEWSWATCH_LEASE_SECONDS", 120, minimum=1),
            retention_days=_int(env, "NEWSWATCH_RETENTION_DAYS", 90),
            parse_workers=_int(env, "NEWSWATCH_PARSE_WORKERS", defaults.parse_workers),
            slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
            slack_api_url=env.get("SLACK_API_URL") or None,
            environ=dict(env),
        )

    @property
    def secrets(self) -> list[str]:
        """Values that must never appear in logs, errors or the database."""
        webhooks = [v for k, v in self.environ.items() if k.startswith("SLACK_WEBHOOK")]  # others are redacted when a sink reads them
        return [s for s in (self.slack_bot_token, *webhooks) if s]
