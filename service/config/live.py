"""The configuration in force, reloaded when its files change; a bad edit keeps the last good one."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from service.config.load import Config, fingerprint, load_config
from service.config.yamlfile import ConfigError

log = logging.getLogger("newswatch.config")


class LiveConfig:
    """Holds the current Config and the outcome of the last reload."""

    def __init__(self, directory: Path, clock: Callable[[], datetime], on_change: Callable[[Config], None] | None = None) -> None:
        self.directory = directory
        self._clock = clock
        self._on_change = on_change or (lambda config: None)
        self.current: Config = load_config(directory)
        self._seen = self.current.version
        self.last_error: str | None = None
        self.last_reload_at: datetime | None = clock()

    def __call__(self) -> Config:
        """The config in force."""
        return self.current

    def reload(self) -> str:
        """Load the files again if they changed: "unchanged", "loaded" or "rejected"."""
        try:
            version = fingerprint(self.directory)
        except OSError as exc:
            self.last_error = f"cannot read config: {exc}"
            return "rejected"
        if version == self._seen:
            return "unchanged"
        self._seen = version
        try:
            config = load_config(self.directory)
        except ConfigError as exc:
            self.last_error = str(exc)
            for problem in exc.problems:
                log.error("config rejected, keeping version %s: %s", self.current.version, problem)
            return "rejected"
        self.current, self.last_error, self.last_reload_at = config, None, self._clock()
        log.info("config version %s loaded: %d feeds, %d rules", config.version, len(config.feeds), len(config.ruleset.rules))
        self._on_change(config)
        return "loaded"

    @property
    def valid(self) -> bool:
        """True when the files on disk are the ones in force."""
        return self.last_error is None
