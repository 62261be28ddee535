"""Links to the Slack messages alerts became: `https://WORKSPACE.slack.com/archives/CHANNEL/pTS`.

That is the form `chat.getPermalink` answers with; building it here costs one `auth.test` per
process (the workspace's URL) instead of one call per message shown. It needs the channel's id,
which chat.postMessage answered with and the outbox stored (`deliveries.remote_channel`); rows
sent before that have no link. A reply in a thread links into its thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

log = logging.getLogger("newswatch.web")
RETRY_SECONDS = 300.0  # after Slack would not say, ask again no sooner than this
ASK_SECONDS = 3.0  # a page waits at most this long for auth.test


class SlackLinks:
    """The workspace URL, read once with auth.test (slack-sdk's client with the bot token), and the links built from it."""

    def __init__(self, client: Any) -> None:
        self._client = client  # AsyncWebClient, or None without a bot token
        self._workspace: str | None = None
        self._asked_at = -RETRY_SECONDS
        self._lock = asyncio.Lock()

    async def workspace(self) -> str | None:
        """`https://WORKSPACE.slack.com/`, or None when there is no token or Slack would not say (asked again later)."""
        if self._workspace is not None or self._client is None:
            return self._workspace
        async with self._lock:
            if self._workspace is None and time.monotonic() - self._asked_at >= RETRY_SECONDS:
                self._asked_at = time.monotonic()
                self._workspace = await self._ask()
        return self._workspace

    async def _ask(self) -> str | None:
        try:
            response = await asyncio.wait_for(self._client.auth_test(), ASK_SECONDS)
        except Exception as exc:  # no scope, no network, a revoked token: pages go on without links
            log.warning("no links to Slack messages for now: auth.test failed: %s", type(exc).__name__)
            return None
        url = str(response.get("url") or "")
        return url if url.startswith("https://") else None


def permalink(workspace: str | None, channel: str | None, ts: str | None, thread_ts: str | None = None) -> str | None:
    """The link to a Slack message, if everything it needs is known."""
    if not (workspace and channel and ts):
        return None
    link = f"{workspace.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
    return f"{link}?thread_ts={thread_ts}&cid={channel}" if thread_ts and thread_ts != ts else link
