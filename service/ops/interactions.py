"""What a click on an alert or a `/newswatch` command does, and the answer Slack shows.

A click records feedback, or mutes the alert's rule or source. A mute from Slack is the same
silence as `newswatch mute` (listed by `newswatch mutes`, ended by `unmute`, expiring by
itself); a second click on the same alert moves that silence's end instead of adding another,
so clicking twice, or two people clicking, leaves one silence and the last choice shown.
`slack.admins` in rules.yaml, when set, says who may mute, unmute and test URLs (a test makes
the service fetch a URL from its own network).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from alerts.display import clean
from alerts.slack.blocks import DURATIONS, MUTE_RULE, NOT_RELEVANT, RELEVANT
from alerts.slack.interactive import Answer, Click
from service.config.live import LiveConfig
from service.ingest.guard import Guard
from service.ops.actions import ActionError, Actions, Admins
from service.settings import Settings
from service.storage.db import Database
from service.storage.feedback import FeedbackStore, Subject

log = logging.getLogger("newswatch.slack")
ANSWER_MAX = 3000  # characters of a command's answer
OTHER_WORKSPACE = "This newswatch answers only the Slack workspace it posts to."
USAGE = """\
`/newswatch status` – failing feeds and alerts waiting
`/newswatch mutes` – silences in force
`/newswatch mute RULE|DESTINATION|FEED 2h [reason]` – silence one (also `rule:`, `destination:` or `feed:` before the name)
`/newswatch unmute ID` – end a silence now
`/newswatch test URL` – run the rules on a page or feed, whole article included, and say what matched and why"""


class Interactions:
    """Turns clicks into feedback rows and silences."""

    def __init__(
        self,
        engine: Database,
        config: LiveConfig,
        clock: Callable[[], datetime],
        settings: Settings,
        web: Any = None,
        guard: Guard | None = None,
        offload: Callable[..., Awaitable[Any]] | None = None,
    ) -> None:
        self._guard = guard or Guard()  # `test URL` reaches public addresses only: whoever types it need not be trusted with ours
        self._offload = offload  # where `test URL` reads and extracts pages: never the event loop that acknowledges Slack
        self._feedback = FeedbackStore(engine)
        self._actions = Actions(engine, config, clock)
        self._settings = settings
        self._config = config
        self._clock = clock
        self._web = web  # slack-sdk's AsyncWebClient: our workspace (auth.test)
        self._team: str | None = None  # the workspace our tokens belong to (auth.test), once known
        self._admins = Admins(config, web)  # slack.admins, user groups included

    async def click(self, click: Click) -> Answer:
        """Act on one click; say what was done."""
        if not await self.our_workspace(click.team):
            log.warning("a click from another workspace (%s) was ignored", click.team[:20], extra={"delivery": click.delivery_id})
            return Answer(OTHER_WORKSPACE, public=False)
        subject = await self._feedback.subject(click.delivery_id)
        if subject is None:
            return Answer("newswatch no longer knows this alert (it was pruned, or sent by another database).", public=False)
        if click.choice in (RELEVANT, NOT_RELEVANT):
            await self._feedback.record(subject, click.user, click.choice, self._clock())
            label = "relevant" if click.choice == RELEVANT else "not relevant"
            return Answer(f"Marked {label} by <@{click.user}>")
        if not await self.is_admin(click.user):
            return Answer("Only the admins named in newswatch's rules.yaml (`slack.admins`) may mute.", public=False)
        return await self._mute(subject, click)

    async def _mute(self, subject: Subject, click: Click) -> Answer:
        """Silence the alert's rules, or its source, for the chosen time."""
        seconds = click.seconds or 3600
        span = dict((s, label) for label, s in DURATIONS).get(seconds, f"{seconds} s")
        by, reason = f"slack:{click.user}", f"from Slack, alert {subject.delivery_id}"
        if click.choice == MUTE_RULE:
            targets = [("rule", rule) for rule in subject.rule_ids]
            what = f"{'Rule' if len(subject.rule_ids) == 1 else 'Rules'} {self._rule_names(subject.rule_ids)}"
        elif subject.feed_id is None:
            return Answer("This alert has no source to mute.", public=False)
        else:
            targets, what = [("feed", subject.feed_id)], f"Source {self._feed_name(subject.feed_id)}"
        until = self._clock() + timedelta(seconds=seconds)
        for kind, target in targets:
            until = (await self._actions.mute_for(kind, target, seconds, reason, by)).until
        log.info("%s muted for %s from Slack by %s", what, span, click.user, extra={"delivery": subject.delivery_id})
        return Answer(f"{what} muted for {span} by <@{click.user}>, until {until:%Y-%m-%d %H:%M} UTC")

    async def command(self, user: str, text: str, team: str = "") -> str:
        """`/newswatch status | mutes | mute TARGET 2h [reason] | unmute ID | test URL`; anything else: the usage."""
        if not await self.our_workspace(team):
            log.warning("a command from another workspace (%s) was refused", team[:20])
            return OTHER_WORKSPACE
        words = text.split()
        verb, rest = (words[0].lower(), words[1:]) if words else ("help", [])
        if verb == "status":
            return await self._status(await self.is_admin(user))
        if verb == "mutes":
            return await self._mutes()
        if verb in ("mute", "unmute", "test") and not await self.is_admin(user):
            return "Only the admins named in newswatch's rules.yaml (`slack.admins`) may do that."
        if verb == "mute" and len(rest) >= 2:
            return await self._mute_command(user, rest[0], rest[1], " ".join(rest[2:]))
        if verb == "unmute" and len(rest) == 1 and rest[0].isdigit():
            try:
                await self._actions.unmute(int(rest[0]))
            except ActionError:
                return f"No silence {rest[0]} is in force."
            return f"Silence {rest[0]} ended."
        if verb == "test" and len(rest) == 1:
            return await self._test(_unwrap(rest[0]))
        return USAGE

    async def _status(self, admin: bool) -> str:
        """Failing feeds and the outbox, in a few lines; a feed's errors only for admins, when admins are named."""
        status = await self._actions.status(10)
        failing = status.failing
        lines = [f"*{len(failing)}{'+' if status.more else ''} feeds failing*" if failing else "No feed is failing."]
        for feed_id, name, error in failing:
            said = _plain((error or "")[:150]) if admin else "_its errors are shown to the admins_"
            lines.append(f"• {_plain(name)} (`{feed_id}`): {said}")
        waiting = ", ".join(f"{n} {state}" for state, n in sorted(status.deliveries.items()) if state in ("pending", "dead"))
        lines.append(f"Alerts: {waiting or 'none pending'}.")
        return "\n".join(lines)

    async def _mutes(self) -> str:
        """The silences in force."""
        rows = await self._actions.silences()
        if not rows:
            return "No silences in force."
        return "\n".join(
            f"`{r.id}` {r.kind} *{_plain(r.target)}* until {r.until:%Y-%m-%d %H:%M} UTC"
            + (f" – {_plain(r.reason)}" if r.reason else "")
            + (f" (by <@{r.created_by.removeprefix('slack:')}>)" if r.created_by.startswith("slack:") else "")
            for r in rows
        )

    async def _mute_command(self, user: str, name: str, duration: str, reason: str) -> str:
        """`mute TARGET 2h [reason]`."""
        try:
            muted = await self._actions.mute(name, duration, reason or "from Slack", by=f"slack:{user}")
        except ActionError as exc:
            return _plain(str(exc))
        return f"Muted {muted.kind} *{_plain(muted.target)}* until {muted.until:%Y-%m-%d %H:%M} UTC (silence `{muted.id}`)."

    async def _test(self, url: str) -> str:
        """Run the rules on a page or feed, as the service would; say what matched."""
        from service.ops import actions

        if not url.startswith(("http://", "https://")):
            return "Give an http(s) URL of a page or a feed."
        lines: list[str] = []
        async for _, result in actions.test([url], self._config(), self._settings, self._clock(), guard=self._guard, offload=self._offload):
            if isinstance(result, str):
                return f"Could not read {_plain(url)}: {_plain(result)}"
            item, found = result.prepared.item, result.prepared.matches
            matched = ", ".join(f"*{_plain(m.rule_name)}* ({', '.join(f'`{_plain(t)}`' for t in m.term_labels[:6])})" for m in found)
            where = " (whole article)" if item.article else ""
            lines.append(f"• {_plain(item.title[:120] or '(untitled)')}{where}: {matched or 'no rule matches'}")
        text = "\n".join(lines) or "No items found there."
        return text if len(text) <= ANSWER_MAX else text[: ANSWER_MAX - 20].rsplit("\n", 1)[0] + "\n…and more."

    def _rule_names(self, rule_ids: Sequence[str]) -> str:
        """Rule names as the config gives them (their ids if gone)."""
        names = {r.id: r.name for r in self._config().ruleset.rules}
        return ", ".join(f"*{_plain(names.get(r, r))}*" for r in rule_ids)

    def _feed_name(self, feed_id: str) -> str:
        """A feed's name as the config gives it (its id if gone)."""
        names = {f.id: f.name or f.id for f in self._config().feeds}
        return f"*{_plain(names.get(feed_id, feed_id))}*"

    async def our_workspace(self, team: str) -> bool:
        """Whether `team` is the workspace our tokens belong to (auth.test, asked once it is needed; unknown means no)."""
        if self._web is None:
            return True  # no Slack client here: nothing came from Slack
        if self._team is None:
            try:
                self._team = str((await self._web.auth_test()).get("team_id") or "") or None
            except Exception as exc:  # Slack unreachable: refuse for now, ask again next time
                log.warning("could not ask Slack which workspace this is: %s", exc)
        return self._team is not None and team == self._team

    async def is_admin(self, user: str) -> bool:
        """True if `slack.admins` is unset, names the user, or names a user group the user is in."""
        return await self._admins.allows(user)


def _plain(text: str) -> str:
    """Config or stored text made safe for mrkdwn (`alerts.display.clean` first)."""
    return clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*", "")


def _unwrap(word: str) -> str:
    """A URL as Slack may escape it in a command's text: `<https://…>` or `<https://…|label>`."""
    return word.strip("<>").split("|", 1)[0]
