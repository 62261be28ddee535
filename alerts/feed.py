"""The feed of matches: a destination that other readers subscribe to, as Atom or JSON Feed, instead of being pushed to.

Sending is recording: the outbox marks the delivery sent, and the feed (`service.ops.feeds_out`)
serves the sent deliveries of the destination, one entry per story. The remote id is the
delivery id, so a later report of the same story names the first as its thread and joins its
entry. It never fails and never paces.
"""

from __future__ import annotations

from alerts.messages import Alert, Message, Mode


class FeedSink:
    """Accepts every message: the feed is read from the outbox by the web server."""

    min_interval = 0.0

    def __init__(self, name: str) -> None:
        self.rate_key = f"feed:{name}"

    async def send(self, message: Message) -> str | None:
        """Accept the message; its story's id (the first report's delivery id) is its remote id."""
        if isinstance(message, Alert) and message.mode == Mode.REPLY and message.thread_ts:
            return message.thread_ts
        return str(message.delivery_ids[0])

    async def aclose(self) -> None:
        """Nothing to release."""
