"""The one list of item fields a rule can search, in the order matches are reported."""

from __future__ import annotations

from typing import Literal, get_args

FieldName = Literal["title", "summary", "content", "article", "author", "link", "domain"]
FIELDS: tuple[str, ...] = get_args(FieldName)
DEFAULT_FIELDS: tuple[FieldName, ...] = ("title", "summary", "content", "article")
FEED_FIELDS: tuple[FieldName, ...] = ("title", "summary", "content")  # what the feed itself carries, before any article page
BODY_FIELDS: tuple[str, ...] = ("summary", "content", "article")  # an item's text beyond its title
# Where an alert's quote is taken from first: the body, before the title an alert shows anyway.
QUOTE_ORDER: tuple[str, ...] = ("summary", "content", "article", "title", "author", "link", "domain")
