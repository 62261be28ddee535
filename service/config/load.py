"""Load feeds.yaml and rules.yaml, validate everything, and compile the rules.

Every problem is reported as `file:line:column: message`; nothing invalid is half-loaded.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from service.config.schema import FeedsFile, FeedSpec, HostSpec, RulesFile, RuleSpec
from service.config.types import DELIVERIES, Delivery
from service.config.yamlfile import MAX_BYTES, ConfigError, Document, Problem, load, parse
from service.destinations import check_destination
from service.ingest.model import FeedContext, Item
from service.ingest.parse import parse_article, read_document
from service.ingest.prepare import prepare_now
from service.rules import text
from service.rules.compile import RESERVED, Compiler, Groups, check_rule, compile_rules
from service.rules.match import Ruleset
from service.rules.operators import Issue
from service.rules.spec import Example, ExampleFile, ExampleItem

M = TypeVar("M", bound=BaseModel)
FEEDS_FILE = "feeds.yaml"
RULES_FILE = "rules.yaml"


@dataclass(frozen=True)
class Config:
    """A validated configuration: feeds, destinations and compiled rules."""

    feeds: list[FeedSpec]
    rules_file: RulesFile
    ruleset: Ruleset
    version: str
    hosts: dict[str, HostSpec] = field(default_factory=dict)
    directory: Path | None = None  # where it was read from: `file:` feed URLs are relative to it
    full_urls: bool = False  # feeds.yaml's `show_full_urls`: URLs shown whole, query string and user:password included

    def host_limit(self, host: str, default: int) -> int:
        """How many fetches may run at once to `host` ("name" or "name:port"): its own limit, else `default`."""
        spec = self.hosts.get(host) or self.hosts.get(host.rsplit(":", 1)[0])
        return spec.concurrency if spec else default

    def feed(self, feed_id: str) -> FeedSpec | None:
        """The feed with this id, if configured."""
        return self._feeds_by_id.get(feed_id)

    def feed_at(self, url: str) -> FeedSpec | None:
        """The feed polled at this URL, if configured."""
        return next((f for f in self.feeds if f.url == url), None)

    def delivery_of(self, destination: str, rule_ids: Iterable[str]) -> Delivery | None:
        """How an alert of these rules goes to this destination: the soonest of each rule's own or the destination's delivery.

        None for a destination no longer configured (its alerts are left as they are).
        """
        spec = self.rules_file.destinations.get(destination)
        if spec is None:
            return None
        kinds = [self._rule_delivery.get(rule) or spec.delivery for rule in rule_ids] or [spec.delivery]
        return min(kinds, key=DELIVERIES.index)

    def briefing_kinds(self, destination: str) -> list[Delivery]:
        """The briefings (daily, weekly) this destination gets: its own delivery, or that of a rule routed to it."""
        spec = self.rules_file.destinations[destination]
        wanted = {spec.delivery} | {
            self._rule_delivery.get(r.id) or spec.delivery for r in self.rules_file.rules if r.enabled and destination in r.destinations
        }
        return [kind for kind in DELIVERIES if kind in wanted and kind != "instant"]

    @functools.cached_property
    def _rule_delivery(self) -> dict[str, Delivery]:
        """Rules that set their own delivery, by id."""
        return {r.id: r.delivery for r in self.rules_file.rules if r.delivery is not None}

    @functools.cached_property
    def rule_order(self) -> tuple[str, ...]:
        """The enabled rules' ids, in the order rules.yaml lists them."""
        return tuple(r.id for r in self.ruleset.rules)

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
    compiler = None
    if rules_file is not None and rules_doc is not None:
        compiler = Compiler(Groups(rules_file.groups))
        problems += _check_rules(rules_file, rules_doc, feeds.feeds if feeds else None, compiler) + _check_operations(rules_file, rules_doc)
        problems += _check_destinations(rules_file, rules_doc)
    if problems or feeds is None or rules_file is None or compiler is None:
        raise ConfigError(problems)
    ruleset = compile_rules(rules_file.rules, compiler.groups, compiler)  # the trees the checks compiled
    assert rules_doc is not None
    problems += _check_examples(rules_file, rules_doc, ruleset, directory)
    if problems:
        raise ConfigError(problems)
    ruleset.version = fingerprint(directory)
    return Config(
        feeds=feeds.feeds,
        rules_file=rules_file,
        ruleset=ruleset,
        version=ruleset.version,
        hosts=feeds.hosts,
        directory=directory,
        full_urls=feeds.show_full_urls,
    )


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
        problems += [_translate(doc, error, model) for error in exc.errors()]
        return doc, None


def _keys(model: type[BaseModel]) -> str:
    """The keys a model accepts, for messages."""
    return ", ".join(f"'{k}'" for k in model.model_fields)


def _translate(doc: Document, error: Any, model: type[BaseModel]) -> Problem:
    """Turn one pydantic error into a located message a person can act on."""
    loc = [step for step in error["loc"] if not (isinstance(step, str) and step.startswith("<"))]
    kind, ctx = error["type"], error.get("ctx", {})
    name = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        return doc.problem(loc, f"unknown key '{name}'{_did_you_mean(name, model, loc[:-1])}", at_key=True)
    if kind == "missing":
        return doc.problem(loc[:-1], f"missing required key '{name}'")
    return doc.problem(loc, _MESSAGES.get(kind, "{msg}").format(msg=error["msg"], **ctx, field=name))


def _did_you_mean(key: str, model: type[BaseModel], where: list[Any]) -> str:
    """ " (did you mean 'x'?)" for a key close to one the mapping at `where` accepts, else ""."""
    close = difflib.get_close_matches(str(key), sorted(_keys_at(model, where)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _keys_at(model: type[BaseModel], where: list[Any]) -> set[str]:
    """The keys the mapping reached by following `where` from `model` accepts (all of a union's members)."""
    kinds: list[Any] = [model]
    for step in where:
        found: list[Any] = []
        for kind in _members(kinds):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                field = kind.model_fields.get(str(step))
                found += [field.annotation] if field is not None else [kind]  # no such field: a union's tag, stay
            elif typing.get_origin(kind) in (list, dict):
                found.append(typing.get_args(kind)[-1])
        kinds = found
    return {name for kind in _members(kinds) if isinstance(kind, type) and issubclass(kind, BaseModel) for name in kind.model_fields}


def _members(kinds: list[Any]) -> list[Any]:
    """Types with their Annotated, Optional and Union wrappers taken off."""
    out: list[Any] = []
    for kind in kinds:
        origin = typing.get_origin(kind)
        if origin is typing.Annotated:
            out += _members([typing.get_args(kind)[0]])
        elif origin in (typing.Union, types.UnionType):
            out += _members(list(typing.get_args(kind)))
        else:
            out.append(kind)
    return out


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


def _check_destinations(spec: RulesFile, doc: Document) -> list[Problem]:
    """Each destination kind's own cross-checks (an e-mail destination's per-rule recipients name rules routed to it)."""
    return [
        doc.problem(["destinations", name, *path], message, at_key=True)
        for name, dest in spec.destinations.items()
        for path, message in check_destination(name, dest, spec)
    ]


def _check_rules(spec: RulesFile, doc: Document, feeds: list[FeedSpec] | None, compiler: Compiler) -> list[Problem]:
    """Cross-checks of rules.yaml: references, duplicates, groups, and each rule's `match` (enabled rules compiled by `compiler`)."""
    groups = compiler.groups
    problems = [
        doc.problem(["groups", name], f"group names starting with '{RESERVED}' are kept for the shipped gazetteer", at_key=True)
        for name in groups.reserved()
    ]
    problems += _located(doc, [], groups.check())
    scopes = {f.id for f in feeds} | {t for f in feeds for t in f.tags} if feeds is not None else None
    seen: set[str] = set()
    for i, rule in enumerate(spec.rules):
        if rule.id in seen:
            problems.append(doc.problem(["rules", i, "id"], f"duplicate rule id '{rule.id}'"))
        seen.add(rule.id)
        problems += _check_rule(rule, doc, ["rules", i], spec, groups, scopes, compiler if rule.enabled else None)
    return problems


def _check_rule(
    rule: RuleSpec,
    doc: Document,
    at: list[str | int],
    spec: RulesFile,
    groups: Groups,
    scopes: set[str] | None,
    compiler: Compiler | None = None,
) -> list[Problem]:
    """One rule's references (destinations, feeds) and its `match`, located at `at` in `doc`."""
    problems = []
    for j, dest in enumerate(rule.destinations):
        if dest not in spec.destinations:
            problems.append(doc.problem([*at, "destinations", j], f"undefined destination '{dest}'"))
    for j, scope in enumerate(rule.feeds):
        if scopes is not None and scope not in scopes:
            problems.append(doc.problem([*at, "feeds", j], f"'{scope}' is neither a feed id nor a feed tag"))
    return problems + _located(doc, at, check_rule(rule, groups, compiler))


def _located(doc: Document, at: list[str | int], issues: list[Issue]) -> list[Problem]:
    """Problems at their place in the file, from paths relative to `at`."""
    return [doc.problem([*at, *path], message) for path, message in issues]


def _check_examples(spec: RulesFile, doc: Document, ruleset: Ruleset, directory: Path) -> list[Problem]:
    """Run every rule's examples: each `match` item must match it, each `no_match` item must not."""
    problems: list[Problem] = []
    for i, rule in enumerate(spec.rules):
        if rule.examples is not None and rule.enabled:
            problems += _rule_examples(rule, doc, ["rules", i], ruleset, directory)
    return problems


def _rule_examples(rule: RuleSpec, doc: Document, at: list[str | int], ruleset: Ruleset, directory: Path | None) -> list[Problem]:
    """One rule's examples that fail, located at `at` in `doc`."""
    problems: list[Problem] = []
    assert rule.examples is not None
    for kind, expected in (("match", True), ("no_match", False)):
        for j, example in enumerate(getattr(rule.examples, kind)):
            where: list[str | int] = [*at, "examples", kind, j]
            try:
                found = _example_items(example, directory or Path("."))
            except FileNotFoundError:
                problems.append(doc.problem(where, f"example file not found: {getattr(example, 'file', '')} (relative to {directory})"))
                continue
            except (OSError, ValueError) as exc:
                problems.append(doc.problem(where, f"cannot read example: {exc}"))
                continue
            for prepared in prepare_now(found, ruleset, FeedContext("example", tuple(rule.feeds)), explain=False):
                item, matched = prepared.item, any(m.rule_id == rule.id for m in prepared.matches)
                if matched != expected:
                    verb = "does not match" if expected else "matches"
                    shown = item.title or item.summary or item.content  # a summary-only example is shown by its summary
                    problems.append(doc.problem(where, f"example {verb} rule '{rule.id}': {text.truncate(shown, 80)!r}"))
    return problems


@dataclass(frozen=True)
class OneRule:
    """One rule as someone wrote it (the web playground): validated and compiled as `rules check` does, its examples run."""

    spec: RuleSpec
    ruleset: Ruleset  # this rule alone
    examples: int  # how many examples it has
    failing: list[Problem]  # the examples that fail, located in the text


def load_rule(source: str, config: Config, name: str = "rule") -> OneRule:
    """Check and compile one rule written as YAML (a rule's mapping, or a list of one) against `config`'s groups, feeds and destinations.

    The same checks, compiler and example runs as `rules check`; problems are located in `source`
    (`name:line:column: message`). A failing example does not stop it: it is listed in `failing`.
    """
    doc = parse(source, name)
    at: list[str | int] = [0] if isinstance(doc.data, list) and len(doc.data) == 1 else []
    data = doc.data[0] if at else doc.data
    if not isinstance(data, dict):
        raise ConfigError([doc.problem([], "expected one rule: a mapping with 'id', 'destinations' and 'match'")])
    try:
        rule = RuleSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_translate(doc, {**e, "loc": (*at, *e["loc"])}, RuleSpec) for e in exc.errors()]) from None
    spec = config.rules_file
    scopes = {f.id for f in config.feeds} | {t for f in config.feeds for t in f.tags}
    groups = Groups(spec.groups)
    problems = _check_rule(rule, doc, at, spec, groups, scopes)
    if problems:
        raise ConfigError(problems)
    ruleset = compile_rules([rule.model_copy(update={"enabled": True})], groups)
    ruleset.version = f"{config.version}+edit"
    count = len(rule.examples.match) + len(rule.examples.no_match) if rule.examples else 0
    failing = _rule_examples(rule, doc, at, ruleset, config.directory) if rule.examples else []
    return OneRule(rule, ruleset, count, failing)


def _example_items(example: Example, directory: Path) -> list[Item]:
    """The items an example stands for."""
    if isinstance(example, str):
        return [parse_article(example, "example", feed_id="example")]
    if isinstance(example, ExampleItem):
        return [Item(feed_id="example", key="example", **example.model_dump())]
    assert isinstance(example, ExampleFile)
    path = directory / example.file
    return read_document(_read_example(path), path.resolve().as_uri(), example.file, feed_id="example")


def _read_example(path: Path) -> bytes:
    """An example file's bytes: a regular file within the size limit (never a device or a pipe, which may never end)."""
    if not path.is_file():
        raise FileNotFoundError(path) if not path.exists() else ValueError(f"{path.name} is not a regular file")
    with path.open("rb") as file:
        data = file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_BYTES:,} bytes")
    return data
