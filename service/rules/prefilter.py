"""The required-term prefilter: which rules an item's term hits leave worth evaluating.

Each rule's tree gives a necessary condition on the terms present, as alternatives of
slots: the rule can hold only if, for one of its alternatives, every slot (a set of terms)
has a hit. `all` multiplies its children's alternatives, `any` adds them, `none` requires
nothing, `in:` and `near` require what their terms do (nearness adds that every slot of
`near` is present). When a product would grow past `MAX_ALTERNATIVES`, a child's
alternatives are weakened into one slot (the union of their first slots): still necessary,
only less selective. The test is exact in one direction only: a rule that fails it cannot
match; one that passes is evaluated as before, so matches and evidence are unchanged.

Per item, the rules with enough distinct terms present are counted first (in C), then the
slots of those few are checked.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import KeysView, Sequence
from itertools import chain, repeat

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
        by_term: dict[int, list[int]] = defaultdict(list)
        for r, tree in enumerate(trees):
            for t in sorted(tree.positive_terms()):
                by_term[t].append(r)
        self.rules_by_term = dict(by_term)  # term -> the rules it is a positive term of, in order
        self._min_hits = [tree.min_hits() for tree in trees]
        self._required = [tuple(self._alternatives(tree)) for tree in trees]

    @staticmethod
    def _alternatives(tree: Node) -> Alternatives:
        """The tree's requirement; an alternative that requires nothing requires a positive term (as matching always has)."""
        positive = tree.positive_terms()
        if not positive:
            return []  # never a candidate: nothing it holds on can be found
        return [alternative or (positive,) for alternative in requirement(tree)]

    def candidates(self, terms: KeysView[int]) -> list[int]:
        """The numbers of the rules, in order, with enough distinct terms present and some alternative hit in every slot.

        The count (in C) leaves few rules; the slots are checked on those (`isdisjoint` walks the smaller side).
        """
        counts = Counter(chain.from_iterable(map(self.rules_by_term.get, terms, repeat(()))))
        least, required = self._min_hits, self._required
        enough = sorted([r for r, n in counts.items() if n >= least[r]])
        return [r for r in enough if any(all(not terms.isdisjoint(slot) for slot in alternative) for alternative in required[r])]
