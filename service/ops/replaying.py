"""One edited rule beside the rule in force, replayed over stored items: which side of the diff each item falls on.

The playground's replays (`service.ops.web.playground`) run these functions in a thread, or in a
parse worker process (`service.ingest.workers`) when the service has them: a `Comparison` is
plain data that pickles, and each process compiles it once. Items are matched as `rules
replay` matches them (`prepare_now`, each in its feed's context, `actions.feed_context`), but
without evidence: which rules match is all a count needs; the few items listed are matched
again for what they quote (`evidence`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from service.ingest.model import Evidence, FeedContext, Item
from service.ingest.prepare import prepare_now
from service.rules.compile import Groups, compile_rules
from service.rules.match import Ruleset

if TYPE_CHECKING:
    from service.config import Config
    from service.config.load import OneRule

BASE = "\x00in-force"  # the id the rule in force takes in a replay's ruleset, beside the edited one
SIDES = ("new", "lost", "unchanged")
_COMPILED: dict[str, Ruleset] = {}  # this process's compiled comparisons, by key
_KEPT = 4


@dataclass(frozen=True)
class Comparison:
    """What a replay compares: the edited rule and the rule in force of the same id (as BASE), their groups, the feeds' contexts."""

    key: str  # unique per replay: what a process caches its compiled ruleset under
    rule: str  # the edited rule's id
    rules: tuple[Any, ...]  # RuleSpec: the edited rule, then the rule in force if there is one
    groups: Mapping[str, Any]
    contexts: Mapping[str, FeedContext]

    def ruleset(self) -> Ruleset:
        """Both rules in one ruleset, so that each item is read once; compiled once per process."""
        found = _COMPILED.get(self.key)
        if found is None:
            while len(_COMPILED) >= _KEPT:
                del _COMPILED[next(iter(_COMPILED))]
            found = _COMPILED[self.key] = compile_rules(self.rules, Groups(self.groups))
        return found

    def context(self, feed_id: str) -> FeedContext:
        """The item's feed's context, as `actions.feed_context` gives it (a removed feed: its id alone)."""
        return self.contexts.get(feed_id) or FeedContext(feed_id)


def comparison(key: str, loaded: OneRule, config: Config) -> Comparison:
    """The comparison of an edited rule with the rule in force of the same id (none for a new rule)."""
    from service.ops.actions import feed_context

    spec = next((r for r in config.rules_file.rules if r.id == loaded.spec.id and r.enabled), None)
    rules = [loaded.spec.model_copy(update={"enabled": True})]
    if spec is not None:
        rules.append(spec.model_copy(update={"id": BASE}))
    contexts = {f.id: feed_context(config, f.id) for f in config.feeds}
    return Comparison(key, loaded.spec.id, tuple(rules), dict(config.rules_file.groups), contexts)


def sides(compared: Comparison, batch: Sequence[Item]) -> list[str]:
    """Each item's side: new (the edit matches it, the rule in force does not), lost, unchanged, or "" (neither)."""
    ruleset, out = compared.ruleset(), []
    for item in batch:
        [prepared] = prepare_now([item], ruleset, compared.context(item.feed_id), explain=False)
        matched = {m.rule_id for m in prepared.matches}
        edited, base = compared.rule in matched, BASE in matched
        out.append("unchanged" if edited and base else "new" if edited else "lost" if base else "")
    return out


def evidence(compared: Comparison, listed: Sequence[tuple[Item, str]]) -> list[Evidence]:
    """What each listed item quotes for its side: the edited rule's evidence for a new item, the rule in force's for a lost one."""
    ruleset, out = compared.ruleset(), []
    for item, side in listed:
        [prepared] = prepare_now([item], ruleset, compared.context(item.feed_id))
        wanted = compared.rule if side == "new" else BASE
        out.append(next((m.evidence for m in prepared.matches if m.rule_id == wanted), Evidence("")))
    return out
