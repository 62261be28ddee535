"""YAML documents that remember where each value was written, for `file:line:column` errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in a configuration file, printed as `file:line:column: message`."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class ConfigError(Exception):
    """A configuration could not be loaded; `problems` says exactly why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Document:
    """A parsed YAML file: its plain data and its node tree."""

    path: str
    data: Any
    root: yaml.Node | None

    def problem(self, where: Sequence[str | int], message: str, at_key: bool = False) -> Problem:
        """A problem located at the value (or the key) reached by following `where`."""
        node = self._locate(where, at_key)
        mark = node.start_mark if node is not None else None
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return Problem(self.path, line, column, message)

    def _locate(self, where: Sequence[str | int], at_key: bool) -> yaml.Node | None:
        """Follow a path of keys and indexes as far as the document goes."""
        node = self.root
        for depth, step in enumerate(where):
            last = depth == len(where) - 1
            if isinstance(node, yaml.MappingNode):
                pair = next(((k, v) for k, v in node.value if k.value == step), None)
                if pair is None and not last:
                    continue  # a step that is no key, such as a union's tag ("console"): look for the next one here
                if pair is None:
                    return node
                node = pair[0] if last and at_key else pair[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
                node = node.value[step]
            else:
                return node
        return node


MAX_BYTES = 4_000_000  # a config file larger than this is refused unread
MAX_DEPTH = 64  # nested lists and mappings; a rule needs fewer than 20
MAX_ALIAS_NODES = 100_000  # values that aliases (*name) may stand for, in all: an alias bomb is refused, a few merges are not
TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")} | {"!"}


def load(path: Path, display: str | None = None) -> Document:
    """Parse one YAML file; syntax errors, files over the limits and duplicate keys raise ConfigError."""
    name = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError([Problem(name, 1, 1, f"the file is {size:,} bytes: config files are limited to {MAX_BYTES:,}")])
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(name, 1, 1, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(name, 1, 1, f"cannot read file: {exc}")]) from None
    return parse(source, name)


_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it: 5-10 times faster


def parse(source: str, name: str) -> Document:
    """Parse YAML text into a Document, within the limits; any failure is a ConfigError with its place."""
    if len(source) > MAX_BYTES:
        raise ConfigError([Problem(name, 1, 1, f"the text is {len(source):,} characters: config files are limited to {MAX_BYTES:,}")])
    try:
        _check_events(source, name, _LOADER)  # the composer and constructor recurse: the limits come first
        root = _compose(source)
    except yaml.YAMLError:
        try:  # the pure-Python parser reports the error, in words that do not depend on the build
            _check_events(source, name, yaml.SafeLoader)
            root = yaml.compose(source, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            raise ConfigError([_syntax_problem(exc, name)]) from None
    duplicates = _duplicate_keys(root, name)
    if duplicates:
        raise ConfigError(duplicates)
    try:
        data = _LOADER("").construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        raise ConfigError([_syntax_problem(exc, name)]) from None
    return Document(name, data, root)


def _compose(source: str) -> yaml.Node | None:
    """The node tree."""
    node: yaml.Node | None = yaml.compose(source, Loader=_LOADER)
    return node


def _check_events(source: str, name: str, loader: Any) -> None:
    """Refuse, before anything recurses, nesting deeper than MAX_DEPTH, alias bombs, recursive aliases and tags.

    The parser's events come one by one from a state machine, so even a file of 100,000
    nested brackets is read here without recursion.
    """
    expanded: dict[str, int] = {}  # anchor -> the values it stands for
    open_: list[list[Any]] = []  # the collections being read: [anchor, values so far]
    aliased = 0
    for event in yaml.parse(source, Loader=loader):
        if isinstance(event, yaml.AliasEvent):
            if any(frame[0] == event.anchor for frame in open_):
                raise ConfigError([_at(name, event, f"'*{event.anchor}' refers to the '&{event.anchor}' that contains it")])
            size = expanded.get(str(event.anchor), 1)
            aliased += size
            if aliased > MAX_ALIAS_NODES:
                message = f"aliases stand for more than {MAX_ALIAS_NODES:,} values (an alias bomb?): write the values out"
                raise ConfigError([_at(name, event, message)])
            _count(open_, size)
        elif isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent):
            if event.tag is not None and event.tag not in TAGS:
                message = f"the tag '{_short(event.tag)}' is not allowed: newswatch reads plain YAML, without tags"
                raise ConfigError([_at(name, event, message)])
            if isinstance(event, yaml.ScalarEvent):
                expanded.update({event.anchor: 1} if event.anchor else {})
                _count(open_, 1)
            elif len(open_) >= MAX_DEPTH:
                raise ConfigError([_at(name, event, f"lists and mappings are nested more than {MAX_DEPTH} deep")])
            else:
                open_.append([event.anchor, 1])
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, size = open_.pop()
            expanded.update({anchor: size} if anchor else {})
            _count(open_, size)


def _count(open_: list[list[Any]], size: int) -> None:
    """Add `size` values to the collection being read."""
    if open_:
        open_[-1][1] += size


def _at(name: str, event: Any, message: str) -> Problem:
    """A problem at an event's place."""
    mark = event.start_mark
    return Problem(name, mark.line + 1, mark.column + 1, message)


def _short(tag: str) -> str:
    """A tag as it was written (`!!python/object` rather than its long form)."""
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag


_HINTS = (  # PyYAML's words -> what helps
    ("mapping values are not allowed", "a ':' where no mapping can start: check the indentation, or quote a value that holds ': '"),
    ("could not find expected ':'", "expected 'key: value': check the indentation, or add the missing ':'"),
    ("did not find expected key", "expected a key at this indentation: check the indentation"),
    ("did not find expected '-' indicator", "expected a list item ('- ...') at this indentation: check the indentation"),
    ("expected <block end>", "this line is indented differently from the one above: check the indentation"),
    ("found character '\\t' that cannot start any token", "a tab: YAML is indented with spaces only"),
    ("found undefined alias", "an alias (*name) whose anchor (&name) is not defined before it"),
    ("found duplicate anchor", "an anchor (&name) defined twice"),
    ("found unknown escape character", "an unknown escape in a double-quoted string: use single quotes, or write '\\\\'"),
    ("found unexpected end of stream", "the file ends inside a quoted string: close the quote"),
    ("expected ',' or ']'", "a list opened with '[' is not closed with ']'"),
    ("expected ',' or '}'", "a mapping opened with '{' is not closed with '}'"),
    ("could not determine a constructor", "a value that plain YAML cannot hold"),
)


def _syntax_problem(exc: yaml.YAMLError, name: str) -> Problem:
    """A YAML error as a located problem, in words that say what to do."""
    mark = getattr(exc, "problem_mark", None)
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    said = str(getattr(exc, "problem", None) or exc)
    hint = next((words for prefix, words in _HINTS if said.startswith(prefix)), None)
    return Problem(name, line, column, f"YAML syntax error: {hint or said}")


def _duplicate_keys(node: yaml.Node | None, name: str) -> list[Problem]:
    """Report keys written twice in one mapping (PyYAML would silently keep the last)."""
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if key.value in seen:
                mark = key.start_mark
                problems.append(Problem(name, mark.line + 1, mark.column + 1, f"duplicate key '{key.value}'"))
            seen.add(key.value)
            problems += _duplicate_keys(value, name)
    elif isinstance(node, yaml.SequenceNode):
        for child in node.value:
            problems += _duplicate_keys(child, name)
    return problems
