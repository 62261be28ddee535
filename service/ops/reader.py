"""Reading a source for `rules test` and Slack's `/newswatch test`: a feed, a web page or a plain-text article, from a URL or a file.

It fetches with the service's own fetcher and article step, so that a tested source is read as
the service reads it; the network and trafilatura are loaded only when a source is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from service.ingest.model import Item
from service.ingest.parse import read_document

if TYPE_CHECKING:
    from service.config import Config
    from service.ingest.article import Articles
    from service.ingest.fetch import Fetcher
    from service.ingest.guard import Guard
    from service.settings import Settings

ANY_DOCUMENT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/html;q=0.8, */*;q=0.5"
Offload = Callable[..., Awaitable[Any]]  # runs fn(*args) off the event loop


class Reader:
    """An HTTP client, the fetcher and the article step, for the life of one command."""

    def __init__(self, config: Config, settings: Settings, guard: Guard | None = None, offload: Offload | None = None) -> None:
        self._config = config
        self._settings = settings
        self._guard = guard
        self._run = offload or _in_thread  # where documents are read and pages extracted: never the caller's event loop
        self._stack = contextlib.AsyncExitStack()
        self._fetcher: Fetcher | None = None
        self.articles: Articles | None = None

    async def __aenter__(self) -> Reader:
        from service.ingest.article import Articles
        from service.ingest.client import build_client
        from service.ingest.extract import extract_article
        from service.ingest.fetch import Fetcher

        settings, guard = self._settings, self._guard
        client = await self._stack.enter_async_context(build_client(settings.user_agent))
        # A guarded client (its own TLS context) only when asked: the CLI's start-up stays as it was.
        public = await self._stack.enter_async_context(build_client(settings.user_agent, guard=guard)) if guard else client
        self._fetcher = Fetcher(
            client,
            settings.config_dir,
            settings.max_feed_bytes,
            lambda host: self._config.host_limit(host, settings.per_host),
            settings.fetch_timeout,
            public_client=public,
            guard=guard,
        )
        extract = functools.partial(self._run, extract_article)
        self.articles = Articles(self._fetcher, extract, settings.user_agent, settings.article_timeout, settings.article_pace, guard=guard)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        await self._stack.aclose()

    async def items(self, source: str, feed_id: str) -> list[Item]:
        """The items of a feed, a web page or a plain-text article, from a URL or a file."""
        from service.ingest.fetch import Fetched

        if not source.startswith(("http://", "https://")):
            path = Path(source)
            return await asyncio.to_thread(lambda: read_document(path.read_bytes(), path.resolve().as_uri(), path.name, feed_id))
        assert self._fetcher is not None
        result = await self._fetcher.fetch(source, accept=ANY_DOCUMENT, public_only=self._guard is not None, network="auto")
        if not isinstance(result, Fetched):
            raise ValueError(getattr(result, "message", "not modified"))
        seconds = self._settings.article_timeout
        try:
            async with asyncio.timeout(seconds):
                found: list[Item] = await self._run(read_document, result.body, result.url, source, feed_id, result.content_type)
        except TimeoutError:
            raise ValueError(f"reading it took longer than {seconds:g} s; it was stopped") from None
        return found


async def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)` off the event loop (the CLI has no worker processes)."""
    return await asyncio.to_thread(fn, *args)
