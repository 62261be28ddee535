"""A sink that prints alerts to a text stream (standard output by default)."""

from __future__ import annotations

import sys
from typing import TextIO

from alerts import render
from alerts.base import Message


class ConsoleSink:
    """Prints each alert readably; used when no Slack credentials are configured."""

    min_interval = 0.0

    def __init__(self, name: str, stream: TextIO | None = None, timezone: str = "UTC") -> None:
        self.rate_key = f"console:{name}"
        self._stream = stream
        self._timezone = timezone

    async def send(self, message: Message) -> str | None:
        """Print the alert or digest; a console has no message id, so it never threads."""
        stream = self._stream or sys.stdout
        stream.write(render.console(message, self._timezone))
        stream.flush()
        return None

    async def aclose(self) -> None:
        """Nothing to release."""
