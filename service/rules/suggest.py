"""Suggestions for one rule from what the desk said about it: terms to exclude and terms to add, as YAML diffs.

No model. The evidence is items in three kinds: `relevant` (alerts rated relevant, labelled
items the rule matches and should), `false_alarm` (alerts rated not relevant, labelled items
it matches and should not) and `missed` (stories the desk reported missed, labelled items it
should match and does not). Candidates are the folded word n-grams of that evidence and the
term groups (the config's and the gazetteer's) that occur in it:

- an exclusion (`none:` at the top of the rule's match) is a candidate when it occurs in false
  alarms; it costs the relevant items it also occurs in;
- an addition (one more term in a group the rule uses) is a candidate when it occurs in missed
  stories; it costs the false alarms and other items it also occurs in.

The best candidates are then applied to the rules file, checked like any edit (the rule's
examples included), and measured: on the evidence, on stored items through the same matching
as `rules replay` (a function the caller passes), and on the labelled set's tuning part. This
module returns data; `service.ops.suggest` formats it. It never writes a file.
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from service.config import Config, fingerprint, load_config
from service.config.schema import RulesFile
from service.config.yamlfile import ConfigError
from service.ingest.model import FeedContext, Item
from service.rules import normalise
from service.rules.compile import Groups, compile_rules, gazetteer
from service.rules.match import Ruleset

RELEVANT, FALSE_ALARM, MISSED = "relevant", "false_alarm", "missed"
RULES_FILE = "rules.yaml"
# Words that make no term on their own, and that an n-gram does not begin or end with.
_STOPWORDS = frozenset(
    (
        "a", "an", "the", "of", "and", "or", "in", "on", "at", "to", "for", "from", "by", "with", "as", "is", "are", "was", "were",
        "be", "been", "has", "have", "had", "it", "its", "this", "that", "these", "those", "said", "says", "will", "would", "new",
        "after", "over", "into", "about", "than", "but", "not", "no", "s", "de", "des", "du", "la", "le", "les", "et", "en", "un",
        "une", "au", "aux", "el", "los", "las", "del", "y", "der", "die", "das", "und", "den", "dem", "von", "mit", "im", "zu", "va",
        "cua", "cac", "la", "co", "duoc", "trong", "cho", "voi", "tai", "da", "nhung", "mot", "nay", "khi", "se", "ve", "theo", "tu",
        "ngay",
    )
)  # fmt: skip

Matcher = Callable[[Ruleset, Item, FeedContext], set[str]]  # the rule ids an item matches, as `rules replay` finds them


@dataclass(frozen=True)
class Evidence:
    """One item and what the desk (or the labelled set) says about it."""

    kind: str  # RELEVANT, FALSE_ALARM or MISSED
    source: str  # where it came from: "feedback 12", "missed 3", "labelled vi-023"
    item: Item


@dataclass(frozen=True)
class Change:
    """An edit of rules.yaml: what it adds, where, and why."""

    kind: str  # "exclude" or "add"
    term: str
    group: str | None  # for "add": the group of rules.yaml it goes into
    why: str  # the counts behind it, in words
    diff: str  # a unified diff of rules.yaml
    text: str = field(repr=False, default="")  # the edited rules.yaml


@dataclass(frozen=True)
class Outcome:
    """What a change does, measured."""

    false_alarms_removed: int  # evidence
    relevant_lost: int
    misses_caught: int
    false_alarms_added: int
    replayed: int  # stored items replayed
    caught: int  # stored items the rule would match after the change and does not now
    lost: int  # stored items it matches now and would not after
    labelled: int  # labelled items (tuning part) measured
    before: tuple[float, float]  # precision, recall on them
    after: tuple[float, float]

    @property
    def gain(self) -> int:
        """Evidence put right minus evidence put wrong."""
        return self.false_alarms_removed + self.misses_caught - self.relevant_lost - self.false_alarms_added


@dataclass(frozen=True)
class Suggestion:
    """A change and its outcome."""

    change: Change
    outcome: Outcome


@dataclass
class Report:
    """Everything `rules suggest` found for one rule."""

    rule: str
    evidence: dict[str, int]  # kind -> count
    suggestions: list[Suggestion]
    notes: list[str] = field(default_factory=list)  # candidates that could not be applied, and why
    version: str = ""  # the fingerprint of the files measured (config/rules.yaml as on disk)


def suggest(
    rule: str,
    config_dir: Path,
    evidence: Sequence[Evidence],
    stored: Sequence[tuple[Item, FeedContext]],
    labelled: Sequence[dict[str, Any]],
    matcher: Matcher,
    limit: int = 5,
    config: Config | None = None,
) -> Report:
    """Rank exclusions and additions for `rule`, apply the best to a copy of the rules, measure them.

    `config` is `config_dir` as the caller loaded it; it is loaded again only if the files changed since.
    """
    source = (config_dir / RULES_FILE).read_text(encoding="utf-8")
    if config is None or config.version != fingerprint(config_dir):  # the files the diffs apply to, as they are now
        config = load_config(config_dir)
    if rule not in {r.id for r in config.ruleset.rules}:
        raise ValueError(f"no enabled rule with id '{rule}'")
    report = Report(rule, dict(Counter(e.kind for e in evidence)), [], version=config.version)
    present = _presence(evidence, config.rules_file)
    target = {FALSE_ALARM: "exclude", MISSED: "add"}
    changes: list[Change] = []
    for kind, action in target.items():
        for term, why in _ranked(evidence, present, kind)[: limit * 2]:
            change = _exclusion(source, rule, term, why) if action == "exclude" else _addition(source, rule, term, why, evidence)
            if change is None:
                report.notes.append(f"{action} {term}: no place for it in rules.yaml that catches a missed story")
            else:
                changes.append(change)
    measured = _measure(rule, config_dir, config.ruleset, changes, evidence, stored, labelled, matcher, report.notes)
    measured.sort(key=lambda s: (-s.outcome.gain, s.outcome.lost - s.outcome.caught, s.change.term))
    report.suggestions = [s for s in measured if s.outcome.gain > 0][:limit]
    return report


# Candidates.


def grams(item: Item) -> set[str]:
    """The word n-grams (1 to 3 words) of an item's text, lower case with its diacritics (as a term would be written)."""
    out: set[str] = set()
    for value in (item.title, item.summary, item.content[:3000], item.article[:3000]):
        if not value:
            continue
        folded, exact = normalise.fold(value).split(), normalise.exact(value).split()
        words = exact if len(exact) == len(folded) else folded
        for n in (1, 2, 3):
            for i in range(len(words) - n + 1):
                gram = words[i : i + n]
                if _useful(gram, folded[i : i + n] if words is exact else gram):
                    out.add(" ".join(gram))
    return out


def _useful(gram: list[str], folded: list[str]) -> bool:
    """Not a stopword at either end, not a number, long enough to mean something."""
    if folded[0] in _STOPWORDS or folded[-1] in _STOPWORDS or any(w.isdigit() for w in folded):
        return False
    return len(gram) > 1 or normalise.unsegmented(gram[0]) or len(gram[0]) >= 4


def _presence(evidence: Sequence[Evidence], rules_file: RulesFile) -> list[set[str]]:
    """For each piece of evidence: its n-grams and the groups ("@name") with a term in it."""
    names = sorted({*rules_file.groups, *gazetteer()})
    probe = RulesFile.model_validate(
        {"destinations": {"d": {"type": "console"}}, "groups": rules_file.model_dump()["groups"]}
        | {"rules": [{"id": f"g{i}", "destinations": ["d"], "match": {"any": [f"@{name}"]}} for i, name in enumerate(names)]}
    )
    groups = compile_rules(probe.rules, Groups(probe.groups))
    out = []
    for e in evidence:
        found = {f"@{names[int(m.rule_id[1:])]}" for m in groups.match(e.item)}
        out.append(grams(e.item) | found)
    return out


def _ranked(evidence: Sequence[Evidence], present: Sequence[set[str]], kind: str) -> list[tuple[str, str]]:
    """Candidates for one side, best first, with the counts that rank them."""
    against = (RELEVANT,) if kind == FALSE_ALARM else (FALSE_ALARM, RELEVANT)
    hits: Counter[str] = Counter()
    costs: Counter[str] = Counter()
    for e, found in zip(evidence, present, strict=True):
        if e.kind == kind:
            hits.update(found)
        elif e.kind in against:
            costs.update(found)
    label = "false alarms" if kind == FALSE_ALARM else "missed stories"
    other = "relevant items" if kind == FALSE_ALARM else "other items"
    total = sum(e.kind == kind for e in evidence)
    least = 2 if total >= 3 else 1  # with three or more to learn from, a term seen once is an anecdote
    ranked = sorted(hits, key=lambda t: (-(hits[t] - 2 * costs[t]), -hits[t], not t.startswith("@"), -len(t), t))
    kept = [t for t in ranked if hits[t] >= least and hits[t] - 2 * costs[t] > 0]
    return [(t, f"in {hits[t]} of {total} {label}, {costs[t]} {other}") for t in kept]


# Edits of rules.yaml, as text: comments and layout stay as they are.


def _exclusion(source: str, rule: str, term: str, why: str) -> Change | None:
    """`none: [term]` at the top of the rule's match (an item with the term anywhere is left out)."""
    edited = add_exclusion(source, rule, term)
    return None if edited is None else Change("exclude", term, None, why, _diff(source, edited), edited)


def _addition(source: str, rule: str, term: str, why: str, evidence: Sequence[Evidence]) -> Change | None:
    """The term added to the group of the rule that makes it catch the most missed stories (and the fewest others)."""
    data = yaml.safe_load(source)
    best: tuple[tuple[int, int, int], str, str] | None = None
    for group in _groups_of(data, rule):
        edited = add_to_group(source, group, term)
        if edited is None:
            continue
        try:
            spec = RulesFile.model_validate(yaml.safe_load(edited))
        except ValueError:
            continue
        ruleset = compile_rules([r for r in spec.rules if r.id == rule], Groups(spec.groups))
        caught = sum(bool(ruleset.match(e.item)) for e in evidence if e.kind == MISSED)
        wrong = sum(bool(ruleset.match(e.item)) for e in evidence if e.kind == FALSE_ALARM)
        words = sum(isinstance(t, str) and not t.startswith("@") for t in data["groups"][group])  # a word list, not a list of lists
        score = (caught, -wrong, words)
        if caught and (best is None or score > best[0]):
            best = (score, group, edited)
    if best is None:
        return None
    _, group, edited = best
    return Change("add", term, group, why, _diff(source, edited), edited)


def _groups_of(data: dict[str, Any], rule: str) -> list[str]:
    """The config's own groups a rule uses, directly or through other groups, in the order first met."""
    own = data.get("groups") or {}
    [spec] = [r for r in data.get("rules") or [] if r.get("id") == rule]
    found: list[str] = []
    todo = [m[1:] for m in _strings(spec.get("match"))]
    while todo:
        name = todo.pop(0)
        if name in own and name not in found:
            found.append(name)
            todo += [m[1:] for m in _strings(own[name])]
    return found


def _strings(node: Any) -> Iterable[str]:
    """Every "@group" string in a YAML value."""
    if isinstance(node, str):
        if node.startswith("@"):
            yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def add_exclusion(source: str, rule: str, term: str) -> str | None:
    """rules.yaml with `term` in the rule's top-level `none:` (made if absent); None if the file's layout is not understood."""
    lines = source.splitlines(keepends=True)
    start = _line(lines, rf"^(\s*)- id:\s*[\"']?{re.escape(rule)}[\"']?\s*(#.*)?$", 0)
    if start is None:
        return None
    indent = len(re.match(r"^(\s*)-", lines[start]).group(1)) + 2  # type: ignore[union-attr]
    at = _line(lines, rf"^ {{{indent}}}match:\s*(#.*)?$", start + 1)
    if at is None or _ends_before(lines, start + 1, at, indent):
        return None
    body = [i for i in range(at + 1, len(lines)) if lines[i].strip() and not lines[i].lstrip().startswith("#")]
    if not body:
        return None
    child = _indent(lines[body[0]])
    if child <= indent:
        return None
    quoted = json.dumps(term, ensure_ascii=False)
    for i in range(at + 1, _block_end(lines, at, indent)):
        if _indent(lines[i]) == child and lines[i].lstrip().startswith("none:"):
            return _append(lines, i, child, quoted)
    lines.insert(at + 1, f"{' ' * child}none: [{quoted}]\n")
    return "".join(lines)


def add_to_group(source: str, group: str, term: str) -> str | None:
    """rules.yaml with `term` appended to the group; None if the group is not in the file or its layout is not understood."""
    lines = source.splitlines(keepends=True)
    top = _line(lines, r"^groups:\s*(#.*)?$", 0)
    if top is None:
        return None
    at = _line(lines, rf"^(\s+){re.escape(group)}:(\s.*)?$", top + 1)
    if at is None or _ends_before(lines, top + 1, at, 1):
        return None
    return _append(lines, at, _indent(lines[at]), json.dumps(term, ensure_ascii=False))


def _append(lines: list[str], at: int, indent: int, quoted: str) -> str | None:
    """Append a quoted item to the list under the key on line `at` (flow `[...]` or a block of `- ` lines)."""
    line = lines[at]
    value = line.split(":", 1)[1]
    code, _, comment = value.partition(" #")
    if code.strip().startswith("["):
        closing = code.rstrip().rfind("]")
        if closing < 0:
            return None
        inside = code[: code.rstrip().rfind("]")]
        separator = "" if inside.strip() == "[" else ", "
        new = line.split(":", 1)[0] + ":" + inside + separator + quoted + code[closing:].rstrip("\n") + (f" #{comment}" if comment else "")
        lines[at] = new.rstrip("\n") + "\n"
        return "".join(lines)
    if code.strip():
        return None
    last, item_indent = None, None
    for i in range(at + 1, _block_end(lines, at, indent)):
        stripped = lines[i].lstrip()
        if stripped.startswith("- ") and (item_indent is None or _indent(lines[i]) == item_indent):
            last, item_indent = i, _indent(lines[i])
    if last is None or item_indent is None:
        return None
    # After the whole last item (a mapping item goes on over several lines); blank lines and comments after it stay after.
    lines.insert(_block_end(lines, last, item_indent), f"{' ' * item_indent}- {quoted}\n")
    return "".join(lines)


def _line(lines: list[str], pattern: str, start: int) -> int | None:
    """The first line from `start` matching `pattern`."""
    compiled = re.compile(pattern)
    return next((i for i in range(start, len(lines)) if compiled.match(lines[i].rstrip("\n"))), None)


def _indent(line: str) -> int:
    """Leading spaces."""
    return len(line) - len(line.lstrip(" "))


def _block_end(lines: list[str], at: int, indent: int) -> int:
    """The line after the block under the key on line `at` (lines more indented than `indent`, blank lines and comments)."""
    end = at + 1
    for i in range(at + 1, len(lines)):
        stripped = lines[i].strip()
        if stripped and not stripped.startswith("#") and _indent(lines[i]) <= indent:
            break
        if stripped and not stripped.startswith("#"):
            end = i + 1
    return end


def _ends_before(lines: list[str], start: int, at: int, indent: int) -> bool:
    """True if a line between `start` and `at` is less indented than `indent`: `at` belongs to something else."""
    return any(lines[i].strip() and not lines[i].lstrip().startswith("#") and _indent(lines[i]) < indent for i in range(start, at))


def _diff(before: str, after: str) -> str:
    """A unified diff of rules.yaml."""
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), "rules.yaml", "rules.yaml", n=2))


# Measuring.


def _measure(
    rule: str,
    config_dir: Path,
    current: Ruleset,
    changes: Sequence[Change],
    evidence: Sequence[Evidence],
    stored: Sequence[tuple[Item, FeedContext]],
    labelled: Sequence[dict[str, Any]],
    matcher: Matcher,
    notes: list[str],
) -> list[Suggestion]:
    """Each change checked as the service would load it, then measured against the current rules."""
    from service.rules import labelled as labelled_set

    now_evidence = [rule in matcher(current, e.item, FeedContext(e.item.feed_id)) for e in evidence]
    now_stored = [rule in matcher(current, item, context) for item, context in stored]
    now_labelled = labelled_set.score(current, rule, list(labelled))
    out = []
    with tempfile.TemporaryDirectory(prefix="newswatch-suggest-") as tmp:
        copy = Path(tmp) / "config"
        shutil.copytree(config_dir, copy)
        for change in changes:
            (copy / RULES_FILE).write_text(change.text, encoding="utf-8")
            try:
                ruleset = load_config(copy).ruleset
            except ConfigError as exc:
                notes.append(f"{change.kind} {change.term}: the edited rules do not load ({exc.problems[0] if exc.problems else exc})")
                continue
            then = [rule in matcher(ruleset, e.item, FeedContext(e.item.feed_id)) for e in evidence]
            counts: Counter[str] = Counter()
            for e, before, after in zip(evidence, now_evidence, then, strict=True):
                if before != after:
                    counts[f"{e.kind}:{'gained' if after else 'dropped'}"] += 1
            after_stored = [rule in matcher(ruleset, item, context) for item, context in stored]
            after_labelled = labelled_set.score(ruleset, rule, list(labelled))
            outcome = Outcome(
                false_alarms_removed=counts[f"{FALSE_ALARM}:dropped"],
                relevant_lost=counts[f"{RELEVANT}:dropped"],
                misses_caught=counts[f"{MISSED}:gained"],
                false_alarms_added=counts[f"{FALSE_ALARM}:gained"],
                replayed=len(stored),
                caught=sum(a and not b for a, b in zip(after_stored, now_stored, strict=True)),
                lost=sum(b and not a for a, b in zip(after_stored, now_stored, strict=True)),
                labelled=len(labelled),
                before=(now_labelled.precision, now_labelled.recall),
                after=(after_labelled.precision, after_labelled.recall),
            )
            out.append(Suggestion(change, outcome))
    return out


def labelled_evidence(ruleset: Ruleset, rule: str, entries: Sequence[dict[str, Any]]) -> list[Evidence]:
    """The labelled items the rule gets wrong (false alarms and misses) and those it gets right, as evidence."""
    from service.rules import labelled as labelled_set

    matched = labelled_set.matched_rules(ruleset, entries)
    out = []
    for entry in entries:
        hit, wanted = rule in matched[entry["id"]], rule in entry["labels"]
        if hit or wanted:
            kind = RELEVANT if hit and wanted else FALSE_ALARM if hit else MISSED
            out.append(Evidence(kind, f"labelled {entry['id']}", labelled_set.item_of(entry)))
    return out
