"""The one prepare → match path: polling, `rules test`, `rules replay`, rule examples and Slack's `/newswatch test`.

To prepare an item is to give it the text the rules should see: what the feed carried (with the
feed's language where the item declares none), plus its article page's main text when that is
wanted and obtainable (`service.ingest.article`). The rules then match the prepared item. Every
tool passes the feed's `FeedContext` and takes this path, so `rules test` and `rules replay`
see exactly what the service sees; `service.ingest.route` then decides where each match goes.

Whether a page is wanted (`article:` per feed, `FeedContext.article`):
- `never`: no page is fetched;
- `always`: the page of every item that may alert;
- `auto` (the default): only when the feed's own text is short (under `SHORT_WORDS` words)
  and the item already hits a term of a rule in scope that it does not match yet, so a cold
  poll of a thousand feeds does not become twenty thousand page fetches.
An item that may not alert (a new feed's backlog, an item older than `max_age`) never
costs a page; a new feed's backlog is not even matched (`unmatched`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from service.ingest.model import Article, ArticleMode, FeedContext, Item, RuleMatch, Status
from service.rules.match import Ruleset

SHORT_WORDS = 150
BACKLOG = "a new feed's backlog: stored unmatched"


class ArticleSource(Protocol):
    """Where page text comes from (`service.ingest.article.Articles`)."""

    async def fetch(self, url: str, origin: str | None = None) -> Article:
        """The page's main text, or why there is none; `origin` is the feed the link came from."""
        ...


@dataclass(frozen=True, slots=True)
class Prepared:
    """An item as the rules saw it, what they matched, and how its text was obtained."""

    item: Item
    matches: list[RuleMatch]
    article: Article


def prepare_now(items: Sequence[Item], ruleset: Ruleset, context: FeedContext, explain: bool = True) -> list[Prepared]:
    """Prepare and match without fetching anything: the feed's text and any article text stored with the item.

    Without `explain`, the matches name the rules only (`Ruleset.match`): what a replay counts.
    """
    return [Prepared(item, ruleset.match(item, context.scope, explain), _stored(item)) for item in _in_context(items, context)]


def unmatched(items: Sequence[Item], context: FeedContext) -> list[Prepared]:
    """Items stored without matching (a new feed's silent backlog): prepared, no page, no rule run."""
    return [Prepared(item, [], Article(Status.DISABLED, detail=BACKLOG)) for item in _in_context(items, context)]


def _in_context(items: Sequence[Item], context: FeedContext) -> list[Item]:
    """The items with the feed's language where they declare none."""
    if not context.language:
        return list(items)
    return [i if i.language else dataclasses.replace(i, language=context.language) for i in items]


def _stored(item: Item) -> Article:
    """The outcome for an item whose article text, if any, came with it."""
    return Article(Status.FETCHED, item.article, "stored with the item") if item.article else Article(Status.DISABLED)


async def prepare(
    items: Sequence[Item],
    ruleset: Ruleset,
    context: FeedContext,
    articles: ArticleSource | None = None,
    may_alert: Callable[[Item], bool] = lambda item: True,
    paused: str | None = None,
) -> list[Prepared]:
    """Prepare and match `items` of one feed; pages are fetched concurrently, each within its budget.

    `paused` says why this feed's pages are not fetched for now (after failures), if so; the
    context's URL decides which addresses the feed's links may lead to (`service.ingest.guard`).
    """
    import asyncio  # here, not at import: `rules check` loads this module and needs no event loop

    scope, mode = context.scope, context.article
    first = [(item, ruleset.match(item, scope)) for item in _in_context(items, context)]
    wanted = [_wanted(item, matches, ruleset, scope, mode, may_alert(item), articles is not None, paused) for item, matches in first]
    fetched = await asyncio.gather(*(_page(item, want, articles, context.url) for (item, _), want in zip(first, wanted, strict=True)))
    out = []
    for (item, matches), article in zip(first, fetched, strict=True):
        seen = item
        if article.via and article.url and article.url != item.link:  # an aggregator's link, led to the outlet's page
            item = dataclasses.replace(item, link=article.url, via=article.via)
        if article.status is Status.FETCHED and article.text and article.text != item.article:
            item = dataclasses.replace(item, article=article.text)
        if item is not seen:
            matches = ruleset.match(item, scope)
        out.append(Prepared(item, matches, article))
    return out


def _wanted(
    item: Item,
    matches: list[RuleMatch],
    ruleset: Ruleset,
    scope: tuple[str, ...],
    mode: ArticleMode,
    may_alert: bool,
    can_fetch: bool,
    paused: str | None,
) -> Article | None:
    """None if the page should be fetched, else the outcome that says why not."""
    if item.article:
        return _stored(item)
    if mode == "never" or not may_alert or not can_fetch or not item.link:
        no_link = item.link_problem or "no link"
        reason = "article: never" if mode == "never" else "the item does not alert" if not may_alert else no_link if can_fetch else ""
        return Article(Status.DISABLED, detail=reason)
    if mode == "auto":
        words = len(f"{item.summary} {item.content}".split())
        if words >= SHORT_WORDS:
            return Article(Status.NOT_NEEDED, detail=f"the feed carries {words} words")
        hinted = set(ruleset.hinted_rules(item, scope)) - {m.rule_id for m in matches}
        if not hinted:
            return Article(Status.NOT_NEEDED, detail="no rule it could still match" if matches else "no rule term in the feed's text")
    if paused:
        return Article(Status.PAUSED, detail=paused)
    return None


async def _page(item: Item, decided: Article | None, articles: ArticleSource | None, origin: str | None) -> Article:
    """The decided outcome, or the fetched page."""
    if decided is not None or articles is None:
        return decided or Article(Status.DISABLED)
    return await articles.fetch(item.link, origin)
