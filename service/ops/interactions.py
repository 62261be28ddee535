"""What a click on an alert does: feedback recorded, or a rule or source muted; the answer Slack shows.

A mute from Slack is the same silence as `newswatch mute` (listed by `newswatch mutes`,
ended by `unmute`, expiring by itself); a second click on the same alert moves that silence's
end instead of adding another, so clicking twice, or two people clicking, leaves one silence
and the last choice shown. `slack.admins` in rules.yaml, when set, says who may mute.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from alerts.slack.blocks import DURATIONS, MUTE_RULE, NOT_RELEVANT, RELEVANT
from alerts.slack.interactive import Answer, Click
from service.config.live import LiveConfig
from service.storage.db import Database
from service.storage.feedback import FeedbackStore, Subject
from service.storage.silences import Silences

log = logging.getLogger("newswatch.slack")
GROUP_TTL = 300.0  # seconds a user group's members are cached


class Interactions:
    """Turns clicks into feedback rows and silences."""

    def __init__(self, engine: Database, config: LiveConfig, clock: Callable[[], datetime], web: Any = None) -> None:
        self._feedback = FeedbackStore(engine)
        self._silences = Silences(engine)
        self._config = config
        self._clock = clock
        self._web = web  # slack-sdk's AsyncWebClient, to read user groups named in slack.admins
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}

    async def handle(self, click: Click) -> Answer:
        """Act on one click; say what was done."""
        subject = await self._feedback.subject(click.delivery_id)
        if subject is None:
            return Answer("newswatch no longer knows this alert (it was pruned, or sent by another database).", public=False)
        if click.choice in (RELEVANT, NOT_RELEVANT):
            await self._feedback.record(subject, click.user, click.choice, self._clock())
            label = "relevant" if click.choice == RELEVANT else "not relevant"
            return Answer(f"Marked {label} by <@{click.user}>")
        if not await self.may_mute(click.user):
            return Answer("Only the admins named in newswatch's rules.yaml (`slack.admins`) may mute.", public=False)
        return await self._mute(subject, click)

    async def _mute(self, subject: Subject, click: Click) -> Answer:
        """Silence the alert's rules, or its source, for the chosen time."""
        now = self._clock()
        seconds = click.seconds or 3600
        until = now + timedelta(seconds=seconds)
        span = dict((s, label) for label, s in DURATIONS).get(seconds, f"{seconds} s")
        by = f"slack:{click.user}"
        if click.choice == MUTE_RULE:
            for rule in subject.rule_ids:
                await self._silences.set_by("rule", rule, until, f"from Slack, alert {subject.delivery_id}", by, now)
            what = f"{'Rule' if len(subject.rule_ids) == 1 else 'Rules'} {self._rule_names(subject.rule_ids)}"
        else:
            if subject.feed_id is None:
                return Answer("This alert has no source to mute.", public=False)
            await self._silences.set_by("feed", subject.feed_id, until, f"from Slack, alert {subject.delivery_id}", by, now)
            what = f"Source {self._feed_name(subject.feed_id)}"
        log.info("%s muted for %s from Slack by %s", what, span, click.user, extra={"delivery": subject.delivery_id})
        return Answer(f"{what} muted for {span} by <@{click.user}>, until {until:%Y-%m-%d %H:%M} UTC")

    def _rule_names(self, rule_ids: Sequence[str]) -> str:
        """Rule names as the config gives them (their ids if gone)."""
        names = {r.id: r.name for r in self._config().ruleset.rules}
        return ", ".join(f"*{_plain(names.get(r, r))}*" for r in rule_ids)

    def _feed_name(self, feed_id: str) -> str:
        """A feed's name as the config gives it (its id if gone)."""
        names = {f.id: f.name or f.id for f in self._config().feeds}
        return f"*{_plain(names.get(feed_id, feed_id))}*"

    async def may_mute(self, user: str) -> bool:
        """True if `slack.admins` is unset, names the user, or names a user group the user is in."""
        admins = self._config().rules_file.slack.admins
        if admins is None or user in admins:
            return True
        for group in (a for a in admins if a.startswith("S")):
            if user in await self._members(group):
                return True
        return False

    async def _members(self, group: str) -> frozenset[str]:
        """A user group's members (usergroups.users.list), cached for a few minutes; none if Slack will not say."""
        cached = self._groups.get(group)
        if cached is not None and time.monotonic() - cached[0] < GROUP_TTL:
            return cached[1]
        members: frozenset[str] = frozenset()
        if self._web is not None:
            try:
                response = await self._web.usergroups_users_list(usergroup=group)
                members = frozenset(response.get("users") or [])
            except Exception as exc:  # no scope, unknown group, Slack down: nobody gains rights by it
                log.warning("could not read the members of user group %s: %s", group, exc)
                return members
        self._groups[group] = (time.monotonic(), members)
        return members


def _plain(text: str) -> str:
    """Config text made safe for mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*", "")
