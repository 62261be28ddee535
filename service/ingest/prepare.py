"""The one prepare → match path: polling, `rules test`, `rules replay` and rule examples all go through it.

To prepare an item is to give it the text the rules should see: what the feed carried, plus
its article page's main text when that is wanted and obtainable (`service.ingest.article`).
The rules then match the prepared item. Because every tool takes this path, `rules test`
and `rules replay` see exactly what the service sees.

Whether a page is wanted (`article:` per feed):
- `never`: no page is fetched;
- `always`: the page of every item that may alert;
- `auto` (the default): only when the feed's own text is short (under `SHORT_WORDS` words)
  and the item already hits a term of a rule in scope that it does not match yet, so a cold
  poll of a thousand feeds does not become twenty thousand page fetches.
An item that may not alert (a new feed's backlog, an item older than `max_age`) never
costs a page.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from service.ingest.model import Article, Item, RuleMatch, Status
from service.rules.match import Ruleset

SHORT_WORDS = 150
ArticleMode = Literal["auto", "always", "never"]


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


def prepare_now(items: Sequence[Item], ruleset: Ruleset, tags: Iterable[str] = ()) -> list[Prepared]:
    """Prepare and match without fetching anything: the feed's text and any article text stored with the item."""
    scope = tuple(tags)
    return [Prepared(item, ruleset.match(item, scope), _stored(item)) for item in items]


def _stored(item: Item) -> Article:
    """The outcome for an item whose article text, if any, came with it."""
    return Article(Status.FETCHED, item.article, "stored with the item") if item.article else Article(Status.DISABLED)


async def prepare(
    items: Sequence[Item],
    ruleset: Ruleset,
    tags: Iterable[str] = (),
    mode: ArticleMode = "never",
    articles: ArticleSource | None = None,
    may_alert: Callable[[Item], bool] = lambda item: True,
    paused: str | None = None,
    origin: str | None = None,
) -> list[Prepared]:
    """Prepare and match `items` of one feed; pages are fetched concurrently, each within its budget.

    `paused` says why this feed's pages are not fetched for now (after failures), if so; `origin`
    is the feed's URL, which decides which addresses its links may lead to (`service.ingest.guard`).
    """
    import asyncio  # here, not at import: `rules check` loads this module and needs no event loop

    scope = tuple(tags)
    first = [(item, ruleset.match(item, scope)) for item in items]
    wanted = [_wanted(item, matches, ruleset, scope, mode, may_alert(item), articles is not None, paused) for item, matches in first]
    fetched = await asyncio.gather(*(_page(item, want, articles, origin) for (item, _), want in zip(first, wanted, strict=True)))
    out = []
    for (item, matches), article in zip(first, fetched, strict=True):
        if article.status is Status.FETCHED and article.text and article.text != item.article:
            item = dataclasses.replace(item, article=article.text)
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


def snippet_source(item: Item, term_fields: Iterable[Sequence[str]]) -> tuple[str, str]:
    """The text to quote for a match, and where it is from: the article when a matched term occurs only there."""
    if item.article and any(tuple(fields) == ("article",) for fields in term_fields):
        return "article", item.article
    for body in (item.summary, item.content):
        if body:
            return "feed", body
    return ("article", item.article) if item.article else ("feed", item.title)
