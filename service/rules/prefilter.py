"""The required-term prefilter: which rules an item's term hits leave worth evaluating.

Each rule's tree gives a necessary condition on the terms present, as alternatives of
slots: the rule can hold only if, for one of its alternatives, every slot (a set of terms)
has a hit. `all` multiplies its children's alternatives, `any` adds them, `none` requires
nothing, `in:` and `near` require what their terms do (nearness adds that every slot of
`near` is present). When a product would grow past `MAX_ALTERNATIVES`, a child's
alternatives are weakened into one slot (the union of their first slots): still necessary,
only less selective. The test is exact in one direction only: a rule that fails it cannot
match; one that passes is evaluated as before, so matches and evidence are unchanged.

Per item the test is a few integer ORs per hit term: each (rule, alternative) has one bit
per slot, and a rule is a candidate when some alternative has all its bits set.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from service.rules.nodes import AllOf, AnyOf, Near, Node, TermNode, Within

Slot = frozenset[int]
Alternatives = list[tuple[Slot, ...]]  # the node can hold only if every slot of one alternative has a hit
NOTHING: Alternatives = [()]  # no requirement: holds whatever is present
MAX_ALTERNATIVES = 16


def requirement(node: Node) -> Alternatives:
    """The node's necessary condition on the terms present, as alternatives of slots."""
    if isinstance(node, TermNode):
        return [(frozenset((node.term,)),)]
    if isinstance(node, Within):
        return requirement(node.inner)
    if isinstance(node, Near):
        return [tuple(frozenset(slot) for slot in node.slots)]
    if isinstance(node, AnyOf):
        return _either([requirement(c) for c in node.children])
    if isinstance(node, AllOf):
        return _both([requirement(c) for c in node.children])
    return NOTHING  # NoneOf, and any node type added later: nothing required


def _either(children: Sequence[Alternatives]) -> Alternatives:
    """Alternatives of `any`: the children's, with every one-slot alternative merged into one slot."""
    if not children or any(() in alternatives for alternatives in children):
        return NOTHING
    single: set[int] = set()
    out: Alternatives = []
    for alternatives in children:
        for alternative in alternatives:
            if len(alternative) == 1:
                single |= alternative[0]  # "a hit in S1, or a hit in S2" is "a hit in S1 | S2"
            elif alternative not in out:
                out.append(alternative)
    if single:
        out.insert(0, (frozenset(single),))
    return out if len(out) <= MAX_ALTERNATIVES else [_weakened(out)]


def _both(children: Sequence[Alternatives]) -> Alternatives:
    """Alternatives of `all`: one per choice of an alternative of each child, weakened to stay small."""
    out: Alternatives = [()]
    for alternatives in sorted(children, key=len):
        if alternatives == NOTHING:
            continue
        if len(out) * len(alternatives) > MAX_ALTERNATIVES:
            alternatives = [_weakened(alternatives)]
        out = [_merged(a, b) for a in out for b in alternatives]
    return out


def _weakened(alternatives: Alternatives) -> tuple[Slot, ...]:
    """One alternative implied by any of these: a single slot, the union of each alternative's first slot."""
    return (frozenset().union(*(alternative[0] for alternative in alternatives)),)


def _merged(a: tuple[Slot, ...], b: tuple[Slot, ...]) -> tuple[Slot, ...]:
    """Both alternatives' slots, each once."""
    return a + tuple(slot for slot in b if slot not in a)


class Prefilter:
    """The candidates among a ruleset's rules for an item's term hits (see the module docstring)."""

    def __init__(self, trees: Sequence[Node]) -> None:
        self._full: list[int] = []  # per entry (a rule's alternative): the bits of all its slots
        self._rule: list[int] = []  # per entry: its rule's number
        by_term: dict[int, dict[int, int]] = defaultdict(dict)
        for r, tree in enumerate(trees):
            for alternative in self._alternatives(tree):
                entry = len(self._full)
                self._full.append((1 << len(alternative)) - 1)
                self._rule.append(r)
                for bit, slot in enumerate(alternative):
                    for t in slot:
                        by_term[t][entry] = by_term[t].get(entry, 0) | 1 << bit
        self._by_term = {t: tuple(entries.items()) for t, entries in by_term.items()}

    @staticmethod
    def _alternatives(tree: Node) -> Alternatives:
        """The tree's requirement; an alternative that requires nothing requires a positive term (as matching always has)."""
        positive = tree.positive_terms()
        if not positive:
            return []  # never a candidate: nothing it holds on can be found
        return [alternative or (positive,) for alternative in requirement(tree)]

    def candidates(self, terms: Iterable[int]) -> list[int]:
        """The numbers of the rules, in order, for which some alternative has a hit in every slot."""
        found: dict[int, int] = {}
        get = found.get
        by_term = self._by_term
        for t in terms:
            for entry, bits in by_term.get(t, ()):
                found[entry] = get(entry, 0) | bits
        full, rule = self._full, self._rule
        return sorted({rule[e] for e, bits in found.items() if bits == full[e]})
