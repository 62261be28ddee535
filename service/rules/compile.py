"""Check and compile rules: every node through the operator registry, every term interned once, one Ruleset.

Problems come back as (path, message) pairs relative to what was checked; the config
loader turns them into `file:line:column: message`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import TypeAdapter

from service.rules import normalise
from service.rules.index import Term
from service.rules.match import Rule, Ruleset
from service.rules.nodes import Node
from service.rules.operators import BooleanSpec, Issue, PlainTermSpec, TermSpec, operator_of
from service.rules.spec import Group, Id

GAZETTEER = Path(__file__).with_name("gazetteer.yaml")
RESERVED = "places."  # group names of the shipped gazetteer


class RuleLike(Protocol):
    """What the compiler reads of a rule spec (service.config.schema.RuleSpec)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def destinations(self) -> list[str]: ...
    @property
    def match(self) -> BooleanSpec: ...
    @property
    def fields(self) -> Sequence[str]: ...
    @property
    def feeds(self) -> list[str]: ...
    @property
    def languages(self) -> list[str]: ...
    @property
    def enabled(self) -> bool: ...


@functools.cache
def gazetteer() -> dict[str, list[str | TermSpec]]:
    """The shipped place groups (`places.*`), validated like a config's groups."""
    data = yaml.load(GAZETTEER.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    groups: dict[str, list[str | TermSpec]] = TypeAdapter(dict[Id, Group]).validate_python(data["groups"])
    assert all(name.startswith(RESERVED) for name in groups), "gazetteer groups are named places.*"
    return groups


class Groups:
    """Term groups by name, the config's own and the gazetteer's; a group may list other groups ("@name")."""

    def __init__(self, own: Mapping[str, Sequence[str | TermSpec]]) -> None:
        self._groups: dict[str, Sequence[str | TermSpec]] = {**gazetteer(), **own}
        self._own = list(own)

    def __contains__(self, name: str) -> bool:
        return name in self._groups

    def terms(self, name: str) -> list[str | TermSpec]:
        """Every term of a group, the groups it lists expanded (each group once).

        A listed `{term: "@other", not_in: [...]}` stands for every term of `other`, each with those masks.
        """
        out: list[str | TermSpec] = []
        seen: set[str] = set()
        todo = [name]
        while todo:
            current = todo.pop()
            if current in seen or current not in self._groups:
                continue
            seen.add(current)
            for term in self._groups[current]:
                if isinstance(term, str) and term.startswith("@"):
                    todo.append(term[1:])
                elif isinstance(term, TermSpec) and term.term.startswith("@"):
                    out += [with_masks(t, term.not_in) for t in self.terms(term.term[1:]) if term.term[1:] != current]
                else:
                    out.append(term)
        return out

    def check(self) -> list[Issue]:
        """Problems of the config's own groups: undefined references, cycles, empty terms (names: `reserved`)."""
        issues: list[Issue] = []
        checker = _Checker(self)
        cyclic: set[str] = set()  # groups of a cycle already reported
        component = self._components()
        for name in self._own:
            for j, term in enumerate(self._groups[name]):
                at: list[str | int] = ["groups", name, j]
                issues += checker.term(term, at if isinstance(term, str) else [*at, "term"])
                if isinstance(term, str) and term.startswith("@") and name not in cyclic and component.get(term[1:]) == component[name]:
                    issues.append((at, f"group '{name}' includes itself through '{term}'"))
                    cyclic |= {g for g, c in component.items() if c == component[name]}
        return issues

    def reserved(self) -> list[str]:
        """The config's own groups whose names are kept for the gazetteer."""
        return [name for name in self._own if name.startswith(RESERVED)]

    def _components(self) -> dict[str, int]:
        """Each group's strongly connected component over "@name" references.

        A reference from `a` to `b` closes a cycle exactly when both lie in one component; one pass
        over all groups, where a reachability walk per reference took quadratic time.
        """
        edges = {
            g: [t[1:] for t in terms if isinstance(t, str) and t.startswith("@") and t[1:] in self._groups]
            for g, terms in self._groups.items()
        }
        tarjan = _Tarjan(edges)
        for root in edges:
            if root not in tarjan.index:
                tarjan.visit(root)
        return tarjan.component


class _Tarjan:
    """Tarjan's strongly connected components, without recursion (a chain of groups may be long)."""

    def __init__(self, edges: Mapping[str, Sequence[str]]) -> None:
        self.edges = edges
        self.index: dict[str, int] = {}
        self.low: dict[str, int] = {}
        self.component: dict[str, int] = {}
        self.stack: list[str] = []

    def visit(self, root: str) -> None:
        """Number every node reachable from `root` and close its components."""
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                self.index[node] = self.low[node] = len(self.index)
                self.stack.append(node)
            if i < len(self.edges[node]):
                work.append((node, i + 1))
                nxt = self.edges[node][i]
                if nxt not in self.index:
                    work.append((nxt, 0))
                elif nxt not in self.component:
                    self.low[node] = min(self.low[node], self.index[nxt])
                continue
            self._close(node)
            if work:
                parent = work[-1][0]
                self.low[parent] = min(self.low[parent], self.low[node])

    def _close(self, node: str) -> None:
        """Pop `node`'s component off the stack once `node` is its root."""
        if self.low[node] != self.index[node]:
            return
        while True:
            member = self.stack.pop()
            self.component[member] = self.index[node]
            if member == node:
                return


class _Checker:
    """Checks terms and nodes against the groups in force."""

    def __init__(self, groups: Groups) -> None:
        self._groups = groups

    def term(self, term: str | PlainTermSpec, at: list[str | int]) -> list[Issue]:
        """A term must have a letter or digit; a group reference must name a group; `not_in` lists terms too.

        `at` points at the term's text (a mapping's `term` key); `not_in` entries are reported beside it.
        """
        label = term.term if isinstance(term, PlainTermSpec) else term
        issues: list[Issue] = []
        if isinstance(term, TermSpec):
            base = at[:-1] if at and at[-1] == "term" else at
            for j, mask in enumerate(term.not_in):
                issues += self.term(mask, [*base, "not_in", j] + (["term"] if isinstance(mask, PlainTermSpec) else []))
            if label.startswith("@") and term.exact:
                issues.append(([*base, "exact"], f"'exact' applies to a term, not to the group '{label[1:]}': set it on the group's terms"))
        if label.startswith("@") and isinstance(term, str | TermSpec):
            return issues + ([] if label[1:] in self._groups else [(at, f"undefined term group '{label[1:]}'")])
        if not normalise.tokens(normalise.fold(label.rstrip("*"))):
            issues.append((at, f"term '{label}' has no letters or digits"))
        return issues

    def node(self, spec: Any, at: list[str | int]) -> list[Issue]:
        """Problems of one node, by its operator."""
        return operator_of(spec).check(spec, self, at)


def check_rule(rule: RuleLike, groups: Groups, compiler: Compiler | None = None) -> list[Issue]:
    """Problems of one rule's `match`, paths relative to the rule; `compiler` keeps the tree for `compile_rules`."""
    issues = _Checker(groups).node(rule.match, ["match"])
    if not issues and not (compiler or Compiler(groups)).tree(rule.match).needs_a_hit():
        issues.append((["match"], f"rule '{rule.id}' would match every item: give it a term outside 'none'"))
    return issues


def compile_rules(rules: Sequence[RuleLike], groups: Groups, compiler: Compiler | None = None) -> Ruleset:
    """Compile every enabled rule into one Ruleset; `compiler`, the one that checked them, compiles each tree once.

    Give it only a compiler that checked these rules and no others: every term it interned is
    searched for.
    """
    compiler = compiler or Compiler(groups)
    compiled = [
        Rule(
            id=rule.id,
            name=rule.name or rule.id,
            destinations=tuple(rule.destinations),
            tree=compiler.tree(rule.match),
            fields=tuple(rule.fields),
            feeds=frozenset(rule.feeds),
            languages=frozenset(rule.languages),
        )
        for rule in rules
        if rule.enabled
    ]
    return Ruleset(rules=compiled, terms=compiler.terms)


class Compiler:
    """Interns terms so that every distinct term is searched once for all rules."""

    def __init__(self, groups: Groups) -> None:
        self.groups = groups
        self.terms: list[Term] = []
        self._index: dict[tuple[str, bool, bool, str | None, tuple[int, ...]], int] = {}
        self._group_slots: dict[str, tuple[int, ...]] = {}
        self._trees: dict[int, tuple[BooleanSpec, Node]] = {}  # by id of the rule's `match`, which it keeps alive

    def tree(self, match: BooleanSpec) -> Node:
        """A rule's compiled `match`, compiled once however often it is asked for (checked, then compiled)."""
        kept = self._trees.get(id(match))
        if kept is None or kept[0] is not match:
            kept = self._trees[id(match)] = (match, self.node(match))
        return kept[1]

    def add(self, term: Term) -> int:
        """Return the number of `term`, adding it if new."""
        key = (term.key, term.exact, term.prefix, term.regex, term.masks)
        if key not in self._index:
            self._index[key] = len(self.terms)
            self.terms.append(term)
        return self._index[key]

    def slot(self, term: str | TermSpec) -> tuple[int, ...]:
        """The term numbers a term or a group reference stands for (a group's resolved once per compile)."""
        if isinstance(term, TermSpec) and term.term.startswith("@"):
            key = term.model_dump_json()
            if key not in self._group_slots:
                members = self.groups.terms(term.term[1:])
                self._group_slots[key] = tuple(dict.fromkeys(n for t in members for n in self.slot(with_masks(t, term.not_in))))
            return self._group_slots[key]
        if isinstance(term, str) and term.startswith("@"):
            if term not in self._group_slots:
                self._group_slots[term] = tuple(dict.fromkeys(n for t in self.groups.terms(term[1:]) for n in self.slot(t)))
            return self._group_slots[term]
        parsed = _term(term)
        if isinstance(term, TermSpec) and term.not_in:
            plain = [mask if isinstance(mask, str) else TermSpec(term=mask.term, exact=mask.exact) for mask in term.not_in]
            masks = {n for mask in plain for n in self.slot(mask)}
            parsed = dataclasses.replace(parsed, masks=tuple(sorted(masks)))
        return (self.add(parsed),)

    def node(self, spec: Any) -> Node:
        """Compile a node by its operator."""
        return operator_of(spec).compile(spec, self)


def _term(term: str | PlainTermSpec) -> Term:
    """Build a Term from its config form (without its masks)."""
    if isinstance(term, PlainTermSpec):
        return _parsed(term.term, term.exact)
    return _parsed(term, False)


def with_masks(term: str | TermSpec, not_in: Sequence[str | PlainTermSpec]) -> str | TermSpec:
    """A term of a group with the masks of the `{term: "@group", not_in: [...]}` that listed it added."""
    if not not_in:
        return term
    if isinstance(term, TermSpec):
        return TermSpec(term=term.term, exact=term.exact, not_in=[*term.not_in, *not_in])
    return TermSpec(term=term, not_in=list(not_in))


@functools.lru_cache(maxsize=65_536)
def _parsed(label: str, exact: bool) -> Term:
    """Parse a term once: groups are referenced by many rules, and every reload compiles them all."""
    return Term.parse(label, exact=exact)
