"""The one list of item fields a rule can search, in the order matches are reported."""

from __future__ import annotations

from typing import Literal, get_args

FieldName = Literal["title", "summary", "content", "article", "author", "link", "domain"]
FIELDS: tuple[str, ...] = get_args(FieldName)
DEFAULT_FIELDS: tuple[FieldName, ...] = ("title", "summary", "content", "article")
FEED_FIELDS: tuple[FieldName, ...] = ("title", "summary", "content")  # what the feed itself carries, before any article page
