"""Options of the sources that are not feeds: `kind: sitemap` and `kind: listing` (`service.ingest.sources`).

feeds.yaml::

    - id: tay-ninh-news
      kind: sitemap                  # a news sitemap, a sitemap index, or a site (its robots.txt names them)
      url: https://baotayninh.vn/
      sitemap: {newest: 100, sitemaps: 3}
    - id: fresh-news-local
      kind: listing                  # a page that lists articles
      url: https://www.freshnewsasia.com/index.php/en/localnews.html
      listing:                       # optional CSS selectors; without them the article links are found by their shape
        item: "div.article-card"
        link: "a.title"
        title: "h2"
        date: "time"
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from service.rules.spec import Strict


def _selector(value: str) -> str:
    """A CSS selector that cssselect can translate to XPath."""
    from cssselect import GenericTranslator, SelectorError

    try:
        GenericTranslator().css_to_xpath(value)
    except SelectorError as exc:
        raise ValueError(f"'{value}' is not a CSS selector: {exc}") from None
    return value


Selector = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_selector)]


class SitemapOptions(Strict):
    """How much of a site's sitemaps one poll reads."""

    newest: Annotated[int, Field(ge=1, le=1000)] = 100  # entries considered per poll: the newest by date
    sitemaps: Annotated[int, Field(ge=1, le=20)] = 3  # sitemaps of an index (or of robots.txt) read per poll: news ones first, then newest


class ListingOptions(Strict):
    """Where a listing page's articles are: CSS selectors, or (without them) the links that look like articles."""

    newest: Annotated[int, Field(ge=1, le=500)] = 50  # links taken per poll, from the top of the page
    item: Selector | None = None  # one element per article; `link`, `title` and `date` are looked for inside it
    link: Selector | None = None  # the article's link (default: the item's first link); without `item`, every article link
    title: Selector | None = None  # the headline (default: the link's text)
    date: Selector | None = None  # its date: a `datetime` or `content` attribute, or the text (ISO 8601 or dd/mm/yyyy)

    @model_validator(mode="after")
    def _needs_item(self) -> Any:
        """`title` and `date` are looked for inside an item: without `item` they have nothing to be inside."""
        if (self.title or self.date) and not self.item:
            raise ValueError("'title' and 'date' are read inside each 'item': give 'item' too")
        return self
