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


def load(path: Path, display: str | None = None) -> Document:
    """Parse one YAML file; syntax errors and duplicate keys raise ConfigError."""
    name = display or str(path)
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(name, 1, 1, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(name, 1, 1, f"cannot read file: {exc}")]) from None
    return parse(source, name)


_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it: 5-10 times faster


def _compose(source: str) -> yaml.Node | None:
    """The node tree; a syntax error is reported by the pure-Python parser, whose messages do not depend on the build."""
    try:
        node: yaml.Node | None = yaml.compose(source, Loader=_LOADER)
    except yaml.YAMLError:
        node = yaml.compose(source, Loader=yaml.SafeLoader)  # raises the error to report
    return node


def parse(source: str, name: str) -> Document:
    """Parse YAML text into a Document."""
    try:
        root = _compose(source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ConfigError([Problem(name, line, column, f"YAML syntax error: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(name, 1, 1, f"YAML syntax error: {exc}")]) from None
    duplicates = list(_duplicate_keys(root, name))
    if duplicates:
        raise ConfigError(duplicates)
    loader = _LOADER("")
    data = loader.construct_document(root) if root is not None else None
    return Document(name, data, root)


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
