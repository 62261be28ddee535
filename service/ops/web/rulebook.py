"""The rules as written in rules.yaml (with line numbers) and the state of their examples, for the Rules page and the playground.

Each rule's text is its own lines of the file, so that the playground starts from what its
author wrote, comments included. A rule that uses a YAML anchor defined in another rule
cannot be loaded from its own lines; its text is then written out from the file's parsed
tree, with the anchored values in place.
"""

from __future__ import annotations

from typing import Any

import yaml

from service.config import Config
from service.config.load import RULES_FILE, fingerprint, load_rule
from service.config.yamlfile import ConfigError, parse

_CACHE: dict[str, list[dict[str, Any]]] = {}  # by config version: examples are run once per version


def rule_sources(config: Config) -> list[dict[str, Any]]:
    """Each rule of the config in force: its YAML lines as rules.yaml has them, and its examples run as `rules check` runs them."""
    cached = _CACHE.get(config.version)
    if cached is not None:
        return cached
    source = _rules_text(config)
    located = _located(source) if source else {}
    out = []
    for spec in config.rules_file.rules:
        first, own, text = located.get(spec.id, (0, "", ""))
        examples, failing = _examples(text, config) if text else (0, [])
        out.append(
            {
                "id": spec.id,
                "name": spec.name or spec.id,
                "enabled": spec.enabled,
                "destinations": spec.destinations,
                "first_line": first,
                "text": text,
                "lines": [(first + n, line) for n, line in enumerate(own.splitlines())],
                "examples": examples,
                "failing": failing,
            }
        )
    _CACHE.clear()
    _CACHE[config.version] = out
    return out


def _rules_text(config: Config) -> str:
    """rules.yaml as in force (empty if the file on disk has changed since: a rejected edit)."""
    if config.directory is None or fingerprint(config.directory) != config.version:
        return ""
    return (config.directory / RULES_FILE).read_text(encoding="utf-8")


def _located(source: str) -> dict[str, tuple[int, str, str]]:
    """Each rule's first line number, its own lines (its list item, de-indented) and a text of it that loads alone, by id."""
    try:
        doc = parse(source, RULES_FILE)
    except ConfigError:
        return {}
    lines = source.splitlines()
    root = doc.root
    found: dict[str, tuple[int, str, str]] = {}
    if not isinstance(root, yaml.MappingNode):
        return found
    rules = next((v for k, v in root.value if k.value == "rules"), None)
    if not isinstance(rules, yaml.SequenceNode):
        return found
    for node in rules.value:
        if not isinstance(node, yaml.MappingNode):
            continue
        rule_id = next((v.value for k, v in node.value if k.value == "id"), None)
        start, end = node.start_mark, node.end_mark
        ends_inside = end.line < len(lines) and lines[end.line][: end.column].strip() != ""
        chunk = lines[start.line : end.line + (1 if ends_inside else 0)]
        if chunk:
            chunk[0] = " " * start.column + chunk[0][start.column :]
        own = _dedent(chunk, start.column)
        found[str(rule_id)] = (start.line + 1, own, _standalone(own, node))
    return found


def _standalone(text: str, node: yaml.Node) -> str:
    """The rule's own lines if they load alone, else the rule written out from the file's tree (other rules' anchors resolved)."""
    try:
        parse(text, RULES_FILE)
    except ConfigError:  # an alias (*name) whose anchor is in another rule: valid in the file, not alone
        return yaml.serialize(node, Dumper=yaml.SafeDumper, allow_unicode=True, width=110)
    return text


def _dedent(chunk: list[str], column: int) -> str:
    """The rule's lines without the list's indentation."""
    return "\n".join(line[column:] if line[:column].strip() == "" else line.lstrip() for line in chunk).rstrip() + "\n"


def _examples(text: str, config: Config) -> tuple[int, list[str]]:
    """How many examples the rule has and the ones that fail (as `rules check` reports them)."""
    try:
        loaded = load_rule(text, config)
    except ConfigError as exc:
        return 0, [str(p) for p in exc.problems]
    return loaded.examples, [str(p) for p in loaded.failing]
