"""The operators of the rule language: the extension point. One class per operator, one entry in OPERATORS.

An operator says how it is written (`Spec`, a strict model, and the mapping `keys` that
select it), what it checks beyond the model (`check`, with exact messages), and what it
compiles to: a node that knows which terms it needs and how to evaluate their hits.

The operators, as users write them in `match:`:

- `term`: a word, a phrase (its words in sequence, whatever lies between them) or a prefix
  (`demarcat*`), written as a string or as `{term: "đường", exact: true}`; `"@name"` stands
  for every term of a group. Holds when the term occurs in one of the rule's fields, on word
  boundaries (inside words, on grapheme-cluster boundaries, for scripts written without
  spaces; a katakana term is a whole katakana word; a Korean noun may take its particles and
  an Arabic word its clitics), case and diacritics folded unless `exact`. With `not_in: [...]`
  (terms or groups), an occurrence inside an occurrence of one of those does not count:
  `{term: "@border", not_in: ["Médecins sans frontières", "cross-border payment*"]}`.
- `all` / `any` / `none` (one mapping; all the keys given apply): every child holds / at least
  one holds / no child holds. With `in: sentence` or `in: paragraph`, the whole mapping must
  hold within one sentence (paragraph) of one field, so `none` there means "not in that
  sentence": `{in: sentence, all: ["@border", "@vietnam"], none: ["@thailand"]}`. `in: lead`
  is the headline and the first paragraph of each other field (the second, when the first repeats
  the headline): what the story says it is about. `in: headline` is the title field alone.
- `near`: each listed term or group occurs within `within` words of the first (default 10),
  or `within: sentence` / `within: paragraph`, in one field.
- `regex`: an RE2 regular expression (linear time) searched in the text as written, case-
  insensitive unless `case_sensitive: true`. It gives no positions, so it cannot be used
  inside `in:` or `near`.

A new operator is one subclass of `Operator` here and one entry in `OPERATORS`; the
JSON Schema, the YAML discriminator and the error messages follow from the registry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Protocol, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, WithJsonSchema

from service.rules.index import Term, regex_error
from service.rules.nodes import AllOf, AnyOf, Near, Node, NoneOf, TermNode, Within
from service.rules.text import UNITS

Path = list[str | int]
Issue = tuple[Path, str]  # where in the rule (relative to the node) and what is wrong


class Strict(BaseModel):
    """A config section: unknown keys are errors, values are not coerced between types."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PlainTermSpec(Strict):
    """A term with its diacritics option only: what `not_in` lists besides strings."""

    term: Annotated[str, Field(min_length=1)]
    exact: bool = False


class TermSpec(PlainTermSpec):
    """A term with options: `{term: "đường", exact: true}` requires the exact diacritics; `not_in` lists
    compounds and names an occurrence must not lie inside (`{term: "@border", not_in: ["@border-compounds"]}`)."""

    not_in: list[Annotated[str | PlainTermSpec, Field(union_mode="left_to_right")]] = []


TermLike = Annotated[str | TermSpec, Field(union_mode="left_to_right")]


class Compiler(Protocol):
    """What an operator may ask of the rule compiler."""

    def slot(self, term: str | TermSpec) -> tuple[int, ...]:
        """The numbers of the terms a term or a group reference stands for."""

    def add(self, term: Term) -> int:
        """The number of a term, interned."""

    def node(self, spec: Any) -> Node:
        """Compile a child node."""


class Checker(Protocol):
    """What an operator may ask of the rule checker."""

    def term(self, term: str | TermSpec, at: Path) -> list[Issue]:
        """Problems of one term or group reference."""

    def node(self, spec: Any, at: Path) -> list[Issue]:
        """Problems of a child node."""


# The operators.


class Operator(ABC):
    """One operator of the rule language (see the module docstring)."""

    tag: ClassVar[str]  # its name in messages and in the schema's discriminator
    keys: ClassVar[tuple[str, ...]]  # the mapping keys that select it (the first one found wins, in registry order)
    Spec: ClassVar[type[BaseModel]]

    @classmethod
    def check(cls, spec: Any, checker: Checker, at: Path) -> list[Issue]:
        """Problems the model cannot see: references, compilability."""
        return []

    @classmethod
    @abstractmethod
    def compile(cls, spec: Any, compiler: Compiler) -> Node:
        """The node this spec compiles to."""


class TermOperator(Operator):
    """A word, a phrase, a prefix or a group reference (a plain string, or a mapping with `term`)."""

    tag = "<term-options>"
    keys = ("term",)
    Spec = TermSpec

    @classmethod
    def check(cls, spec: Any, checker: Checker, at: Path) -> list[Issue]:
        return checker.term(spec, at if isinstance(spec, str) else [*at, "term"])

    @classmethod
    def compile(cls, spec: Any, compiler: Compiler) -> Node:
        slot = compiler.slot(spec)
        if isinstance(spec, str) and spec.startswith("@"):
            return AnyOf(tuple(TermNode(t) for t in slot), label=spec)
        return TermNode(slot[0]) if len(slot) == 1 else AnyOf(tuple(TermNode(t) for t in slot))


def _unit(value: Any) -> Any:
    """`sentence`, `paragraph`, or (for `within`) a number of words from 1 to 100."""
    if value in UNITS or (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 100):
        return value
    raise ValueError("expected a number of words from 1 to 100, sentence or paragraph")


Within_ = Annotated[
    int | str,
    BeforeValidator(_unit),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1, "maximum": 100}, {"enum": list(UNITS)}]}),
]


class BooleanSpec(Strict):
    """`all` / `any` / `none` children (every key given applies), optionally within one sentence or paragraph."""

    model_config = ConfigDict(populate_by_name=True)
    all: list[NodeSpec] | None = None
    any: list[NodeSpec] | None = None
    none: list[NodeSpec] | None = None
    in_: Literal["sentence", "paragraph", "lead", "headline"] | None = Field(default=None, alias="in")


class BooleanOperator(Operator):
    """`all`, `any`, `none`, and `in: sentence | paragraph | lead | headline`."""

    tag = "<match>"
    keys = ("all", "any", "none", "in")
    Spec = BooleanSpec

    @classmethod
    def check(cls, spec: Any, checker: Checker, at: Path) -> list[Issue]:
        branches = list(_branches(spec))
        if not branches:
            return [(at, "expected at least one of 'all', 'any', 'none'")]
        issues = [issue for key, children in branches for j, c in enumerate(children) for issue in checker.node(c, [*at, key, j])]
        regexes = any(isinstance(c, RegexOperator.Spec) for _, children in branches for c in _flatten(children))
        if spec.in_ and regexes and not issues:
            issues.append(([*at, "in"], f"a regex gives no positions, so it cannot be used within 'in: {spec.in_}'"))
        return issues

    @classmethod
    def compile(cls, spec: Any, compiler: Compiler) -> Node:
        parts: list[Node] = []
        for key, children in _branches(spec):
            compiled = tuple(compiler.node(c) for c in children)
            parts.append(AllOf(compiled) if key == "all" else AnyOf(compiled) if key == "any" else NoneOf(compiled))
        node = parts[0] if len(parts) == 1 else AllOf(tuple(c for p in parts for c in (p.children if isinstance(p, AllOf) else (p,))))
        return Within(spec.in_, node) if spec.in_ else node


def _branches(spec: BooleanSpec) -> list[tuple[str, list[Any]]]:
    """The non-empty boolean branches of a mapping."""
    return [(key, getattr(spec, key)) for key in ("all", "any", "none") if getattr(spec, key) is not None]


def _flatten(children: Sequence[Any]) -> list[Any]:
    """Every spec under these children, nested ones included."""
    out: list[Any] = []
    for child in children:
        out.append(child)
        if isinstance(child, BooleanSpec):
            out += _flatten([c for _, cs in _branches(child) for c in cs])
    return out


class NearSpec(Strict):
    """Terms that must occur within `within` words of the first one, or in the same sentence or paragraph."""

    near: Annotated[list[TermLike], Field(min_length=2)]
    within: Within_ = 10


class NearOperator(Operator):
    """`near: [A, B, …]` with `within: N | sentence | paragraph`."""

    tag = "<near>"
    keys = ("near",)
    Spec = NearSpec

    @classmethod
    def check(cls, spec: Any, checker: Checker, at: Path) -> list[Issue]:
        return [issue for j, term in enumerate(spec.near) for issue in checker.term(term, _term_path([*at, "near", j], term))]

    @classmethod
    def compile(cls, spec: Any, compiler: Compiler) -> Node:
        labels = tuple(t.term if isinstance(t, TermSpec) else t for t in spec.near)
        return Near(tuple(compiler.slot(t) for t in spec.near), spec.within, labels)


def _term_path(at: Path, term: str | TermSpec) -> Path:
    """Where a term's text is: the item itself, or its `term` key."""
    return [*at, "term"] if isinstance(term, TermSpec) else at


class RegexSpec(Strict):
    """A regular expression (RE2 syntax: linear time, no backreferences), case-insensitive unless asked."""

    regex: Annotated[str, Field(min_length=1)]
    case_sensitive: bool = False


class RegexOperator(Operator):
    """`regex: PATTERN` with `case_sensitive`."""

    tag = "<regex>"
    keys = ("regex",)
    Spec = RegexSpec

    @classmethod
    def check(cls, spec: Any, checker: Checker, at: Path) -> list[Issue]:
        error = regex_error(spec.regex)
        return [([*at, "regex"], f"invalid regular expression: {error}")] if error else []

    @classmethod
    def compile(cls, spec: Any, compiler: Compiler) -> Node:
        return TermNode(compiler.add(Term.pattern(spec.regex, spec.case_sensitive)))


OPERATORS: tuple[type[Operator], ...] = (TermOperator, NearOperator, RegexOperator, BooleanOperator)


def operator_of(spec: Any) -> type[Operator]:
    """The operator a parsed spec belongs to (a plain string is a term)."""
    if isinstance(spec, str):
        return TermOperator
    for operator in OPERATORS:
        if isinstance(spec, operator.Spec):
            return operator
    raise TypeError(f"not a rule node: {spec!r}")


def tag_of(value: Any) -> str | None:
    """The discriminator tag of a raw YAML value or of a parsed spec, for precise error messages."""
    if isinstance(value, str):
        return "<term>"
    if isinstance(value, dict):
        for operator in OPERATORS:
            if any(key in value for key in operator.keys):
                return operator.tag
        return BooleanOperator.tag
    return next((operator.tag for operator in OPERATORS if isinstance(value, operator.Spec)), None)


def _node_union() -> Any:
    """The tagged union of every operator's spec (and the plain string of a term), for pydantic."""
    choices = [Annotated[str, Tag("<term>")], *(Annotated[op.Spec, Tag(op.tag)] for op in OPERATORS)]
    keys = ["all", "any", "none", *sorted({key for op in OPERATORS if op is not BooleanOperator for key in op.keys})]
    message = "expected a term (a string) or a mapping with " + ", ".join(f"'{k}'" for k in keys[:-1]) + f" or '{keys[-1]}'"
    return Annotated[Union[tuple(choices)], Discriminator(tag_of, custom_error_type="node", custom_error_message=message)]  # noqa: UP007


if TYPE_CHECKING:
    NodeSpec = Any
else:
    NodeSpec = _node_union()
BooleanSpec.model_rebuild()
