"""The rule language as written in rules.yaml: strict models; the nodes of `match` come from the operator registry.

The file around it (destinations, throttles, feeds) is `service.config.schema`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from service.rules.fields import DEFAULT_FIELDS, FieldName
from service.rules.operators import BooleanSpec, NodeSpec, Strict, TermLike

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Id = Annotated[str, Field(pattern=ID_PATTERN)]
Group = Annotated[list[TermLike], Field(min_length=1)]

__all__ = ["DEFAULT_FIELDS", "BooleanSpec", "FieldName", "NodeSpec", "Strict", "TermLike"]


class ExampleFile(Strict):
    """An example read from a file: a plain-text article or an RSS/Atom/JSON feed."""

    file: Annotated[str, Field(min_length=1)]


class ExampleItem(Strict):
    """An example written out field by field."""

    title: str = ""
    summary: str = ""
    content: str = ""
    article: str = ""
    link: str = ""
    language: str = ""


Example = Annotated[str | ExampleFile | ExampleItem, Field(union_mode="left_to_right")]


class ExamplesSpec(Strict):
    """Items a rule must match and must not match; `rules check` and every reload run them."""

    match: list[Example] = []
    no_match: list[Example] = []
