"""The configuration in force, reloaded when its files change; a bad edit keeps the last good one.

Whatever goes wrong with an edit (a located problem, or anything else a hostile file can do),
the last good configuration stays, and the failure is the reload's error: on /healthz, as
`newswatch_config_valid 0` on /metrics, and in the log once per failed edit. A service reloads
with `refresh()`, which reads and parses the files off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from service.config.load import Config, fingerprint, load_config
from service.config.yamlfile import ConfigError

log = logging.getLogger("newswatch.config")


class LiveConfig:
    """Holds the current Config and the outcome of the last reload."""

    def __init__(
        self,
        directory: Path,
        clock: Callable[[], datetime],
        on_change: Callable[[Config], None] | None = None,
        load: Callable[[Path], Config] = load_config,
    ) -> None:
        self.directory = directory
        self._clock = clock
        self._on_change = on_change or (lambda config: None)
        self._load_config = load
        self.current: Config = load(directory)
        self._seen = self.current.version
        self.last_error: str | None = None
        self.last_reload_at: datetime | None = clock()
        self._rejected: list[str] = []  # the problems of the last rejected edit, logged once

    def __call__(self) -> Config:
        """The config in force."""
        return self.current

    def reload(self) -> str:
        """Load the files again if they changed: "unchanged", "loaded" or "rejected"."""
        version = self._version()
        if not isinstance(version, str):
            return self._reject(version)
        if version == self._seen:
            return "unchanged"
        self._seen = version
        return self._settle(self._load())

    async def refresh(self) -> str:
        """`reload`, with the files read and parsed in a thread: the event loop goes on answering meanwhile."""
        version = await asyncio.to_thread(self._version)
        if not isinstance(version, str):
            return self._reject(version)
        if version == self._seen:
            return "unchanged"
        self._seen = version
        return self._settle(await asyncio.to_thread(self._load))

    def _version(self) -> str | list[str]:
        """The files' fingerprint, or why they cannot be read."""
        try:
            return fingerprint(self.directory)
        except OSError as exc:
            return [f"cannot read config: {exc}"]

    def _load(self) -> Config | list[str]:
        """The loaded config, or its problems: whatever fails, it fails here, as problems."""
        try:
            return self._load_config(self.directory)
        except ConfigError as exc:
            return [str(problem) for problem in exc.problems]
        except Exception as exc:  # a hostile or broken file must never end a reload silently
            log.exception("config could not be loaded")
            return [f"{self.directory}: the config could not be loaded: {type(exc).__name__}: {exc}"[:1000]]

    def _settle(self, loaded: Config | list[str]) -> str:
        """Put a loaded config in force, or record why it was rejected."""
        if not isinstance(loaded, Config):
            return self._reject(loaded)
        self.current, self.last_error, self.last_reload_at, self._rejected = loaded, None, self._clock(), []
        log.info("config version %s loaded: %d feeds, %d rules", loaded.version, len(loaded.feeds), len(loaded.ruleset.rules))
        self._on_change(loaded)
        return "loaded"

    def _reject(self, problems: list[str]) -> str:
        """Record a rejected edit; log its problems unless the last rejection had the same ones."""
        if problems != self._rejected:
            for problem in problems:
                log.error("config rejected, keeping version %s: %s", self.current.version, problem)
        self._rejected = problems
        self.last_error = "\n".join(problems)
        return "rejected"

    @property
    def valid(self) -> bool:
        """True when the files on disk are the ones in force."""
        return self.last_error is None
