"""Flood control: decide how each due delivery of one destination goes out.

Three ways, decided here and nowhere else:
- in the thread of an earlier alert of the same story (a near-duplicate from another outlet,
  or an updated version), when the destination threads;
- on its own, while the destination has had at most `max_alerts` alerts within `window`;
- in a digest: at once when more than `max_alerts` are due together (a burst), otherwise held
  until the window has passed, then sent together. A rule over its throttle also goes into
  the next digest.
The plan is a pure function of what is due and what was sent, so it is tested without a database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alerts.messages import Mode

SameStory = Callable[[bytes | None, bytes | None], bool]


@dataclass(frozen=True)
class Pending:
    """A due delivery, as flood control sees it."""

    id: int
    rule_ids: tuple[str, ...]
    signature: bytes | None = None
    mode: str | None = None  # None: never planned; "digest"/"throttled": held for a digest; "alert"/"reply": planned before
    thread_ts: str | None = None
    parent_id: int | None = None


@dataclass(frozen=True)
class Sent:
    """An alert sent on its own to this destination recently (replies and digests are not listed)."""

    id: int
    remote_id: str | None
    rule_ids: tuple[str, ...]
    sent_at: datetime
    signature: bytes | None = None


@dataclass(frozen=True)
class Throttle:
    """At most `max_alerts` alerts from one rule per `per`."""

    max_alerts: int
    per: timedelta


@dataclass(frozen=True)
class Policy:
    """One destination's flood settings."""

    max_alerts: int | None = None  # None: no digests for bursts
    window: timedelta = timedelta(minutes=10)
    threads: bool = False
    thread_window: timedelta = timedelta(hours=72)
    throttles: Mapping[str, Throttle] = field(default_factory=dict)

    @property
    def horizon(self) -> timedelta:
        """How far back planning looks at what was sent: the longest window, thread window or throttle period."""
        return max([self.window, self.thread_window if self.threads else timedelta(0), *(t.per for t in self.throttles.values())])


@dataclass(frozen=True)
class Reply:
    """Where a reply goes: a sent message's thread, or that of a delivery in the same batch."""

    parent_id: int
    thread_ts: str | None


@dataclass
class Plan:
    """How each due delivery goes out."""

    alerts: list[int] = field(default_factory=list)
    replies: dict[int, Reply] = field(default_factory=dict)
    digest: list[int] = field(default_factory=list)  # in one digest now
    hold: list[int] = field(default_factory=list)  # in the next digest
    throttled: set[int] = field(default_factory=set)  # those of digest and hold that a throttle kept back


def plan(due: Sequence[Pending], sent: Sequence[Sent], policy: Policy, now: datetime, same_story: SameStory) -> Plan:
    """Plan one destination's due deliveries (in id order) against what it was sent recently."""
    result = Plan()
    roots: list[Pending] = []
    children: dict[int, list[int]] = {}
    by_id = {s.id: s for s in sent}
    for d in due:
        if not _replanned(d, by_id, result):
            parent = _parent(d, sent, roots, policy, now, same_story) if policy.threads else None
            if isinstance(parent, Sent):
                result.replies[d.id] = Reply(parent.id, parent.remote_id)
            elif isinstance(parent, Pending):
                children.setdefault(parent.id, []).append(d.id)
            else:
                roots.append(d)
    kept = _throttle(roots, sent, policy, now, result)
    _flood(kept, sent, policy, now, result)
    if result.digest:  # a digest goes out now: what a throttle held joins it
        result.digest += [i for i in result.hold if i in result.throttled]
        result.hold = [i for i in result.hold if i not in result.throttled]
    _place_children(children, result)
    return result


def _replanned(d: Pending, sent: Mapping[int, Sent], result: Plan) -> bool:
    """Keep the plan of a delivery planned before (a retry); False if it must be planned afresh."""
    if d.mode in (Mode.DIGEST, Mode.THROTTLED):
        result.digest.append(d.id)
        if d.mode == Mode.THROTTLED:
            result.throttled.add(d.id)
    elif d.mode == Mode.ALERT:
        result.alerts.append(d.id)
    elif d.mode == Mode.REPLY and d.parent_id is not None and (thread := d.thread_ts or _remote_id(sent.get(d.parent_id))):
        result.replies[d.id] = Reply(d.parent_id, thread)
    else:
        return False
    return True


def _remote_id(sent: Sent | None) -> str | None:
    """The remote id of a sent alert, if there is one."""
    return sent.remote_id if sent else None


def _parent(
    d: Pending, sent: Sequence[Sent], roots: Sequence[Pending], policy: Policy, now: datetime, same: SameStory
) -> Sent | Pending | None:
    """The first alert of the same story: sent within the thread window (and threadable), or earlier in this batch."""
    if d.signature is None:
        return None
    since = now - policy.thread_window
    for s in sent:
        if s.remote_id and s.sent_at >= since and same(d.signature, s.signature):
            return s
    return next((r for r in roots if same(d.signature, r.signature)), None)


def _throttle(roots: list[Pending], sent: Sequence[Sent], policy: Policy, now: datetime, result: Plan) -> list[Pending]:
    """Hold back deliveries whose every rule is over its throttle; return the rest."""
    if not policy.throttles:
        return roots
    counts: Counter[str] = Counter()
    for rule, throttle in policy.throttles.items():
        counts[rule] = sum(1 for s in sent if rule in s.rule_ids and s.sent_at >= now - throttle.per)
    kept = []
    for r in roots:
        limits = [policy.throttles.get(rule) for rule in r.rule_ids]
        if limits and all(t is not None and counts[rule] >= t.max_alerts for rule, t in zip(r.rule_ids, limits, strict=True)):
            result.hold.append(r.id)
            result.throttled.add(r.id)
            continue
        counts.update(r.rule_ids)
        kept.append(r)
    return kept


def _flood(kept: list[Pending], sent: Sequence[Sent], policy: Policy, now: datetime, result: Plan) -> None:
    """Send on their own while the window allows; a burst over the limit becomes one digest now."""
    ids = [k.id for k in kept]
    if policy.max_alerts is None:
        result.alerts += ids
        return
    if len(ids) > policy.max_alerts:
        result.digest += ids
        return
    recent = sum(1 for s in sent if s.sent_at >= now - policy.window)
    room = max(0, policy.max_alerts - recent)
    result.alerts += ids[:room]
    result.hold += ids[room:]


def _place_children(children: Mapping[int, list[int]], result: Plan) -> None:
    """Same-story deliveries of one batch follow their first: into its thread, digest or hold."""
    alerts, digest = set(result.alerts), set(result.digest)
    for root, kids in children.items():
        if root in alerts:
            result.replies.update({k: Reply(root, None) for k in kids})
        elif root in digest:
            result.digest += kids
        else:
            result.hold += kids
