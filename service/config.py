"""Load feeds.yaml and rules.yaml, validate everything, and compile the rules.

Every problem is reported as `file:line:column: message`; nothing invalid is half-loaded.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from service import rules, text
from service.model import Item
from service.parse import is_feed, parse_article, parse_feed
from service.schema import (
    Example,
    ExampleFile,
    ExampleItem,
    FeedsFile,
    FeedSpec,
    MatchSpec,
    NearSpec,
    RegexSpec,
    RulesFile,
    RuleSpec,
    TermSpec,
)
from service.yamlfile import ConfigError, Document, Problem, load

M = TypeVar("M", bound=BaseModel)
FEEDS_FILE = "feeds.yaml"
RULES_FILE = "rules.yaml"


@dataclass(frozen=True)
class Config:
    """A validated configuration: feeds, destinations and compiled rules."""

    feeds: list[FeedSpec]
    rules_file: RulesFile
    ruleset: rules.Ruleset
    version: str

    def feed(self, feed_id: str) -> FeedSpec | None:
        """The feed with this id, if configured."""
        return self._feeds_by_id.get(feed_id)

    @functools.cached_property
    def _feeds_by_id(self) -> dict[str, FeedSpec]:
        """Feeds by id: every poll looks its feed up, and a scan was quadratic at 10,000 feeds."""
        return {f.id: f for f in self.feeds}


def fingerprint(directory: Path) -> str:
    """A short hash of the config files' bytes: the version a running service reports."""
    digest = hashlib.sha256()
    for name in (FEEDS_FILE, RULES_FILE):
        path = directory / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.exists() else b"") + b"\0")
    return digest.hexdigest()[:12]


def load_config(directory: Path) -> Config:
    """Load and validate both files in `directory`; raise ConfigError listing every problem."""
    problems: list[Problem] = []
    feeds_doc, feeds = _load_model(directory / FEEDS_FILE, FeedsFile, problems)
    rules_doc, rules_file = _load_model(directory / RULES_FILE, RulesFile, problems)
    if feeds is not None and feeds_doc is not None:
        problems += _check_feeds(feeds, feeds_doc)
    if rules_file is not None and rules_doc is not None:
        problems += _check_rules(rules_file, rules_doc, feeds.feeds if feeds else None) + _check_operations(rules_file, rules_doc)
    if problems or feeds is None or rules_file is None:
        raise ConfigError(problems)
    ruleset = compile_rules(rules_file)
    assert rules_doc is not None
    problems += _check_examples(rules_file, rules_doc, ruleset, directory)
    if problems:
        raise ConfigError(problems)
    ruleset.version = fingerprint(directory)
    return Config(feeds=feeds.feeds, rules_file=rules_file, ruleset=ruleset, version=ruleset.version)


def _load_model(path: Path, model: type[M], problems: list[Problem]) -> tuple[Document | None, M | None]:
    """Parse one file into its model, adding its problems to `problems`."""
    try:
        doc = load(path, display=str(path))
    except ConfigError as exc:
        problems += exc.problems
        return None, None
    if not isinstance(doc.data, dict):
        problems.append(doc.problem([], f"expected a mapping with the keys {_keys(model)}"))
        return doc, None
    try:
        return doc, model.model_validate(doc.data)
    except ValidationError as exc:
        problems += [_translate(doc, error) for error in exc.errors()]
        return doc, None


def _keys(model: type[BaseModel]) -> str:
    """The keys a model accepts, for messages."""
    return ", ".join(f"'{k}'" for k in model.model_fields)


def _translate(doc: Document, error: Any) -> Problem:
    """Turn one pydantic error into a located message a person can act on."""
    loc = [step for step in error["loc"] if not (isinstance(step, str) and step.startswith("<"))]
    kind, ctx = error["type"], error.get("ctx", {})
    name = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        return doc.problem(loc, f"unknown key '{name}'", at_key=True)
    if kind == "missing":
        return doc.problem(loc[:-1], f"missing required key '{name}'")
    return doc.problem(loc, _MESSAGES.get(kind, "{msg}").format(msg=error["msg"], **ctx, field=name))


_MESSAGES = {
    "string_type": "expected a string",
    "int_type": "expected a whole number",
    "bool_type": "expected true or false",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "literal_error": "expected {expected}",
    "string_pattern_mismatch": "'{field}' has an invalid value: it must match {pattern}",
    "too_short": "expected at least {min_length} item(s)",
    "string_too_short": "must not be empty",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "value_error": "{error}",
    "union_tag_invalid": "expected one of {expected_tags}",
    "union_tag_not_found": "missing the key '{discriminator}'",
    "node": "expected a term (a string) or a mapping with 'all', 'any', 'none', 'near', 'regex' or 'term'",
}


def _check_feeds(feeds: FeedsFile, doc: Document) -> list[Problem]:
    """Cross-checks within feeds.yaml."""
    problems = []
    seen: set[str] = set()
    for i, feed in enumerate(feeds.feeds):
        if feed.id in seen:
            problems.append(doc.problem(["feeds", i, "id"], f"duplicate feed id '{feed.id}'"))
        seen.add(feed.id)
    return problems


def _check_operations(spec: RulesFile, doc: Document) -> list[Problem]:
    """The operations destination must be defined."""
    if spec.operations and spec.operations.destination not in spec.destinations:
        return [doc.problem(["operations", "destination"], f"undefined destination '{spec.operations.destination}'")]
    return []


def _check_rules(spec: RulesFile, doc: Document, feeds: list[FeedSpec] | None) -> list[Problem]:
    """Cross-checks of rules.yaml: references, duplicates, terms, rules that match everything."""
    problems: list[Problem] = []
    scopes = {f.id for f in feeds} | {t for f in feeds for t in f.tags} if feeds is not None else None
    for name, terms in spec.groups.items():
        for j, term in enumerate(terms):
            problems += _check_term(term, doc, ["groups", name, j], set(spec.groups))
    seen: set[str] = set()
    for i, rule in enumerate(spec.rules):
        at: list[str | int] = ["rules", i]
        if rule.id in seen:
            problems.append(doc.problem([*at, "id"], f"duplicate rule id '{rule.id}'"))
        seen.add(rule.id)
        for j, dest in enumerate(rule.destinations):
            if dest not in spec.destinations:
                problems.append(doc.problem([*at, "destinations", j], f"undefined destination '{dest}'"))
        for j, scope in enumerate(rule.feeds):
            if scopes is not None and scope not in scopes:
                problems.append(doc.problem([*at, "feeds", j], f"'{scope}' is neither a feed id nor a feed tag"))
        problems += _check_node(rule.match, doc, [*at, "match"], set(spec.groups))
        if not problems and not rules.needs_a_hit(_compile_rule(rule, spec, _Terms()).tree):
            problems.append(doc.problem([*at, "match"], f"rule '{rule.id}' would match every item: give it a term outside 'none'"))
    return problems


def _check_node(node: Any, doc: Document, at: list[str | int], groups: set[str]) -> list[Problem]:
    """Check every term under a rule node."""
    if isinstance(node, RegexSpec):
        error = rules.regex_error(node.regex)
        return [doc.problem([*at, "regex"], f"invalid regular expression: {error}")] if error else []
    if isinstance(node, NearSpec):
        return [p for j, t in enumerate(node.near) for p in _check_term(t, doc, [*at, "near", j], groups)]
    if isinstance(node, MatchSpec):
        if node.all is None and node.any is None and node.none is None:
            return [doc.problem(at, "expected at least one of 'all', 'any', 'none'")]
        return [p for key, children in _branches(node) for j, c in enumerate(children) for p in _check_node(c, doc, [*at, key, j], groups)]
    return _check_term(node, doc, at, groups)


def _check_term(term: str | TermSpec, doc: Document, at: list[str | int], groups: set[str]) -> list[Problem]:
    """A term must have a letter or digit; a group reference must name a group."""
    label = term.term if isinstance(term, TermSpec) else term
    where = [*at, "term"] if isinstance(term, TermSpec) else at
    if isinstance(term, str) and label.startswith("@"):
        if label[1:] not in groups:
            return [doc.problem(where, f"undefined term group '{label[1:]}'")]
        return []
    if not text.tokens(text.fold(label.rstrip("*"))):
        return [doc.problem(where, f"term '{label}' has no letters or digits")]
    return []


def _branches(node: MatchSpec) -> Iterator[tuple[str, list[Any]]]:
    """The non-empty boolean branches of a node."""
    for key in ("all", "any", "none"):
        children = getattr(node, key)
        if children is not None:
            yield key, children


class _Terms:
    """Interns terms so that every distinct term is searched once for all rules."""

    def __init__(self) -> None:
        self.terms: list[rules.Term] = []
        self._index: dict[tuple[str, bool, bool, str | None], int] = {}

    def add(self, term: rules.Term) -> int:
        """Return the number of `term`, adding it if new."""
        key = (term.key, term.exact, term.prefix, term.regex)
        if key not in self._index:
            self._index[key] = len(self.terms)
            self.terms.append(term)
        return self._index[key]


def compile_rules(spec: RulesFile) -> rules.Ruleset:
    """Compile every enabled rule into one Ruleset."""
    terms = _Terms()
    compiled = [_compile_rule(r, spec, terms) for r in spec.rules if r.enabled]
    return rules.Ruleset(rules=compiled, terms=terms.terms)


def _compile_rule(rule: RuleSpec, spec: RulesFile, terms: _Terms) -> rules.Rule:
    """Compile one rule's tree."""
    return rules.Rule(
        id=rule.id,
        name=rule.name or rule.id,
        destinations=tuple(rule.destinations),
        tree=_compile_node(rule.match, spec, terms),
        fields=tuple(rule.fields),
        feeds=frozenset(rule.feeds),
        languages=frozenset(rule.languages),
    )


def _compile_node(node: Any, spec: RulesFile, terms: _Terms) -> rules.Node:
    """Compile a node of a rule tree."""
    if isinstance(node, MatchSpec):
        parts: list[rules.Node] = []
        for key, children in _branches(node):
            compiled = tuple(_compile_node(c, spec, terms) for c in children)
            parts.append(rules.AllOf(compiled) if key == "all" else rules.AnyOf(compiled) if key == "any" else rules.NoneOf(compiled))
        if len(parts) == 1:
            return parts[0]
        flat = [c for p in parts for c in (p.children if isinstance(p, rules.AllOf) else (p,))]
        return rules.AllOf(tuple(flat))
    if isinstance(node, NearSpec):
        return rules.Near(tuple(_slot(t, spec, terms) for t in node.near), node.within)
    if isinstance(node, RegexSpec):
        return rules.TermNode(terms.add(rules.Term.pattern(node.regex, node.case_sensitive)))
    slot = _slot(node, spec, terms)
    return rules.TermNode(slot[0]) if len(slot) == 1 else rules.AnyOf(tuple(rules.TermNode(t) for t in slot))


def _slot(term: str | TermSpec, spec: RulesFile, terms: _Terms) -> tuple[int, ...]:
    """The term numbers a term or a group reference stands for."""
    if isinstance(term, str) and term.startswith("@"):
        return tuple(terms.add(_term(t)) for t in spec.groups[term[1:]])
    return (terms.add(_term(term)),)


def _term(term: str | TermSpec) -> rules.Term:
    """Build a Term from its config form."""
    if isinstance(term, TermSpec):
        return rules.Term.parse(term.term, exact=term.exact)
    return rules.Term.parse(term)


def _check_examples(spec: RulesFile, doc: Document, ruleset: rules.Ruleset, directory: Path) -> list[Problem]:
    """Run every rule's examples: each `match` item must match it, each `no_match` item must not."""
    problems: list[Problem] = []
    for i, rule in enumerate(spec.rules):
        if rule.examples is None or not rule.enabled:
            continue
        for kind, expected in (("match", True), ("no_match", False)):
            for j, example in enumerate(getattr(rule.examples, kind)):
                at: list[str | int] = ["rules", i, "examples", kind, j]
                try:
                    found = _example_items(example, directory)
                except FileNotFoundError:
                    problems.append(doc.problem(at, f"example file not found: {getattr(example, 'file', '')} (relative to {directory})"))
                    continue
                except (OSError, ValueError) as exc:
                    problems.append(doc.problem(at, f"cannot read example: {exc}"))
                    continue
                for item in found:
                    matched = any(m.rule_id == rule.id for m in ruleset.match(item, rule.feeds))
                    if matched != expected:
                        verb = "does not match" if expected else "matches"
                        problems.append(doc.problem(at, f"example {verb} rule '{rule.id}': {text.truncate(item.title, 80)!r}"))
    return problems


def _example_items(example: Example, directory: Path) -> list[Item]:
    """The items an example stands for."""
    if isinstance(example, str):
        return [parse_article(example, "example", feed_id="example")]
    if isinstance(example, ExampleItem):
        return [Item(feed_id="example", key="example", **example.model_dump())]
    assert isinstance(example, ExampleFile)
    path = directory / example.file
    data = path.read_bytes()
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        parsed = parse_feed(data, path.resolve().as_uri(), "example")
        if not is_feed(parsed) or not parsed.items:
            raise ValueError(f"{example.file} holds no feed items")
        return parsed.items
    return [parse_article(data.decode("utf-8", errors="replace"), path.name, feed_id="example")]
