"""Process settings from the environment, as one table: each field names its variable, default, meaning and secrecy.

Only the entry point calls `Settings.from_env(os.environ)`; everything else receives a
`Settings`. The README's table of variables is `markdown_table()`'s output (a test keeps them
equal), so a default is written once.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from alerts.base import unquoted
from service import __version__

PROJECT_URL = "https://github.com/newswatch/newswatch"


class SettingsError(ValueError):
    """An environment variable has a value that cannot be used."""


def _var(env: str, doc: str, shown: str | None = None, secret: bool = False, table: str = "main") -> dict[str, Any]:
    """A field's table entry: its variable, what it means, how its default is shown, whether it is secret, which table lists it."""
    return {"env": env, "doc": doc, "shown": shown, "secret": secret, "table": table}


def _web(env: str, doc: str, shown: str | None = None, secret: bool = False) -> dict[str, Any]:
    """A setting of the web pages: listed in docs/web.md's table rather than the README's."""
    return _var(env, doc, shown, secret, table="web")


def _cores() -> int:
    """Parse workers by default: one core fewer than the machine has (the main process needs one), else a thread."""
    return max(0, (os.cpu_count() or 1) - 1)


class Settings(BaseModel):
    """Everything the process reads from its environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    config_dir: Path = Field(
        Path("config"), json_schema_extra=_var("NEWSWATCH_CONFIG_DIR", "folder with `feeds.yaml` and `rules.yaml`", "`./config`")
    )
    database_url: str = Field(
        "sqlite:///./data/newswatch.db",
        json_schema_extra=_var(
            "NEWSWATCH_DATABASE_URL",
            "SQLite file, or `postgresql://user:pass@host/db` (add `?search_path=SCHEMA` to use a schema)",
        ),
    )
    http_host: str = Field("127.0.0.1", json_schema_extra=_var("NEWSWATCH_HTTP_HOST", "address of the health and metrics server"))
    http_port: Annotated[int, Field(ge=0, le=65535)] = Field(
        8080, json_schema_extra=_var("NEWSWATCH_HTTP_PORT", "its port; `0` disables it")
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", json_schema_extra=_var("NEWSWATCH_LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR")
    )
    log_format: Literal["text", "json"] = Field(
        "text", json_schema_extra=_var("NEWSWATCH_LOG_FORMAT", "`json` for one JSON object per line")
    )
    instance: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}",
        json_schema_extra=_var("NEWSWATCH_INSTANCE", "this replica's name in leases", "`hostname-pid`"),
    )
    user_agent: str = Field(
        f"newswatch/{__version__} (+{PROJECT_URL})",
        json_schema_extra=_var("NEWSWATCH_USER_AGENT", "User-Agent of feed, page and robots.txt requests", "`newswatch/VERSION (+URL)`"),
    )
    max_feed_bytes: Annotated[int, Field(ge=1024)] = Field(
        10_000_000, json_schema_extra=_var("NEWSWATCH_MAX_FEED_BYTES", "largest feed or page body read (decompressed)")
    )
    fetch_timeout: Annotated[float, Field(gt=0)] = Field(
        30.0, json_schema_extra=_var("NEWSWATCH_FETCH_TIMEOUT", "seconds for one whole fetch", "`30`")
    )
    poll_concurrency: Annotated[int, Field(ge=1)] = Field(20, json_schema_extra=_var("NEWSWATCH_POLL_CONCURRENCY", "feeds fetched at once"))
    per_host: Annotated[int, Field(ge=1)] = Field(2, json_schema_extra=_var("NEWSWATCH_PER_HOST", "fetches at once to one host"))
    article_timeout: Annotated[float, Field(gt=0)] = Field(
        20.0,
        json_schema_extra=_var(
            "NEWSWATCH_ARTICLE_TIMEOUT", "seconds an item's article page may take in all (robots.txt, pace, fetch, extract)", "`20`"
        ),
    )
    article_pace: Annotated[float, Field(ge=0)] = Field(
        1.0, json_schema_extra=_var("NEWSWATCH_ARTICLE_PACE", "seconds between two article pages of one host", "`1`")
    )
    lease_seconds: Annotated[int, Field(ge=1)] = Field(
        120,
        json_schema_extra=_var(
            "NEWSWATCH_LEASE_SECONDS", "how long a dead process's claimed feeds and alerts wait before another takes them"
        ),
    )
    db_pool_size: Annotated[int, Field(ge=1)] = Field(
        10,
        json_schema_extra=_var(
            "NEWSWATCH_DB_POOL_SIZE",
            "connections a process keeps to PostgreSQL, and as many again in a burst (its `max_connections` caps all replicas')",
        ),
    )
    retention_days: Annotated[int, Field(ge=0)] = Field(
        90,
        json_schema_extra=_var(
            "NEWSWATCH_RETENTION_DAYS", "unmatched items are deleted after this, and the article text of the rest (`0`: never)"
        ),
    )
    parse_workers: Annotated[int, Field(ge=0)] = Field(
        default_factory=_cores,
        json_schema_extra=_var(
            "NEWSWATCH_PARSE_WORKERS",
            "processes that parse feeds (`0`: a thread); article pages are always extracted in at least two stoppable processes",
            "the cores less one",
        ),
    )
    slack_bot_token: str | None = Field(
        None,
        repr=False,
        json_schema_extra=_var(
            "SLACK_BOT_TOKEN", "bot token (`chat:write`); without it Slack destinations print to the console", secret=True
        ),
    )
    slack_app_token: str | None = Field(
        None,
        repr=False,
        json_schema_extra=_var(
            "SLACK_APP_TOKEN",
            "app-level token (`connections:write`): buttons on alerts, over Socket Mode; without it, alerts carry no buttons",
            secret=True,
        ),
    )
    slack_api_url: str | None = Field(
        None,
        json_schema_extra=_var(
            "SLACK_API_URL", "Slack Web API base URL (a proxy or a Slack-compatible server)", "`https://slack.com/api/`"
        ),
    )
    web: Literal["on", "auto", "off"] = Field(
        "on",
        json_schema_extra=_web(
            "NEWSWATCH_WEB",
            "`on`: the pages and /api/v1 (a non-loopback address without access control refuses to start); "
            "`auto`: only where that is safe (a loopback address, or access control set), else health and metrics only; `off`",
        ),
    )
    web_token: str | None = Field(
        None,
        repr=False,
        json_schema_extra=_web("NEWSWATCH_WEB_TOKEN", "a shared token that signs people in (and API clients)", secret=True),
    )
    web_proxy_header: str | None = Field(
        None,
        json_schema_extra=_web(
            "NEWSWATCH_WEB_PROXY_HEADER", "the header a trusted reverse proxy names the signed-in user in, e.g. `X-Forwarded-User`"
        ),
    )
    web_proxy_from: str = Field(
        "127.0.0.1/32,::1/128",
        json_schema_extra=_web("NEWSWATCH_WEB_PROXY_FROM", "the addresses (CIDR, comma-separated) that header is believed from"),
    )
    web_url: str | None = Field(
        None,
        json_schema_extra=_web(
            "NEWSWATCH_WEB_URL", "the pages' public address, e.g. `https://newswatch.example.org` (Slack sign-in needs it)"
        ),
    )
    web_secret: str | None = Field(
        None,
        repr=False,
        json_schema_extra=_web(
            "NEWSWATCH_WEB_SECRET",
            "signs session cookies; set it to keep sessions across restarts and replicas",
            "random per process",
            True,
        ),
    )
    slack_client_id: str | None = Field(
        None, json_schema_extra=_web("SLACK_CLIENT_ID", "the Slack app's client id: turns on *Sign in with Slack*")
    )
    slack_client_secret: str | None = Field(
        None, repr=False, json_schema_extra=_web("SLACK_CLIENT_SECRET", "the Slack app's client secret", secret=True)
    )
    slack_team_id: str | None = Field(
        None, json_schema_extra=_web("SLACK_TEAM_ID", "the workspace (`T…`) whose members may sign in with Slack")
    )
    environ: Mapping[str, str] = Field(default_factory=dict, repr=False, exclude=True)  # where destinations read secrets (`url_env`)
    notes: tuple[str, ...] = Field((), repr=False, exclude=True)  # warnings about the environment, logged once logging is set up

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _case(cls, value: Any, info: ValidationInfo) -> Any:
        """Levels are upper case and formats lower case, however they were written."""
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "log_level" else value.lower()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read every setting from an environment mapping (os.environ at the entry point); unset or empty means the default."""
        given = {name: env[f.json_schema_extra["env"]] for name, f in _table() if env.get(f.json_schema_extra["env"], "").strip()}
        values, notes = {k: v.strip() for k, v in given.items()}, []
        for name, f in _table():
            if name in values and f.json_schema_extra["secret"] and unquoted(values[name]) != values[name]:
                values[name] = unquoted(values[name])
                notes.append(f"{f.json_schema_extra['env']} is written with quotes around it: they were removed (they are not part of it)")
        try:
            return cls.model_validate(values | {"environ": dict(env), "notes": tuple(notes)}, strict=False)
        except ValidationError as exc:
            error = exc.errors()[0]
            name = str(error["loc"][0])
            variable = dict(_table())[name].json_schema_extra["env"]
            raise SettingsError(f"{variable}: {error['msg'].lower()}, got {given.get(name)!r}") from None

    @property
    def secrets(self) -> list[str]:
        """Values that must never appear in logs, errors or the database (a sink adds the ones it reads later)."""
        secret = [str(getattr(self, name) or "") for name, f in _table() if f.json_schema_extra["secret"]]
        webhooks = [v for k, v in self.environ.items() if k.startswith("SLACK_WEBHOOK")]
        return [s for s in (*secret, *webhooks) if s]


def _table() -> list[tuple[str, Any]]:
    """The fields that come from variables, in order."""
    return [(name, f) for name, f in Settings.model_fields.items() if isinstance(f.json_schema_extra, dict)]


def markdown_table(table: str = "main") -> str:
    """The table of environment variables in docs/configuration.md (`table="web"`: docs/web.md's)."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for _, f in _table():
        extra = f.json_schema_extra
        if extra["table"] != table:
            continue
        shown = extra["shown"] or ("unset" if f.default is None else f"`{f.default}`")
        lines.append(f"| `{extra['env']}` | {shown} | {extra['doc']} |")
    if table != "main":
        return "\n".join(lines)
    webhook = "`SLACK_WEBHOOK_URL`, or the variable a destination's `url_env` names"
    lines.append(f"| {webhook} | unset | incoming webhook URL of a `slack_webhook` destination |")
    return "\n".join(lines)
