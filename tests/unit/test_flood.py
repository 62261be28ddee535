"""Flood control plans: threads, digests for bursts and busy windows, per-rule throttles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.flood import Pending, Plan, Policy, Reply, Sent, Throttle, plan

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def same(a: bytes | None, b: bytes | None) -> bool:
    """Two fingerprints are one story when they are equal (the real test lives in service.ingest.story)."""
    return a is not None and a == b


def due(n: int, start: int = 1, rules: tuple[str, ...] = ("r",), signature: bytes | None = None) -> list[Pending]:
    return [Pending(i, rules, signature or f"story-{i}".encode()) for i in range(start, start + n)]


def sent(n: int, ago: timedelta = timedelta(minutes=1), rules: tuple[str, ...] = ("r",)) -> list[Sent]:
    return [Sent(100 + i, f"ts-{i}", rules, NOW - ago, f"old-{i}".encode()) for i in range(n)]


def run(pending: list[Pending], history: list[Sent] | None = None, **policy: object) -> Plan:
    return plan(pending, history or [], Policy(**policy), NOW, same)  # type: ignore[arg-type]


def test_without_limits_every_delivery_is_an_alert() -> None:
    result = run(due(30))
    assert result.alerts == list(range(1, 31)) and not (result.digest or result.hold or result.replies)


def test_a_burst_over_the_limit_is_one_digest_now() -> None:
    result = run(due(11), max_alerts=10)
    assert result.digest == list(range(1, 12)) and result.alerts == [] and result.hold == []


def test_up_to_the_limit_goes_out_alone() -> None:
    assert run(due(10), max_alerts=10).alerts == list(range(1, 11))


def test_a_busy_window_sends_what_fits_and_holds_the_rest() -> None:
    result = run(due(4), sent(8), max_alerts=10, window=timedelta(minutes=10))
    assert result.alerts == [1, 2] and result.hold == [3, 4]


def test_alerts_older_than_the_window_do_not_count() -> None:
    result = run(due(4), sent(8, ago=timedelta(minutes=11)), max_alerts=10, window=timedelta(minutes=10))
    assert result.alerts == [1, 2, 3, 4]


def test_held_deliveries_that_come_due_go_out_as_a_digest() -> None:
    held = [Pending(i, ("r",), None, mode="digest") for i in (1, 2)]
    result = run([*held, *due(1, start=3)], sent(10), max_alerts=10)
    assert result.digest == [1, 2] and result.hold == [3]


def test_a_near_duplicate_of_a_sent_story_is_a_reply_in_its_thread() -> None:
    history = [Sent(50, "1700000000.000100", ("r",), NOW - timedelta(hours=5), b"same")]
    result = run([Pending(1, ("r",), b"same"), Pending(2, ("r",), b"other")], history, threads=True)
    assert result.replies == {1: Reply(50, "1700000000.000100")} and result.alerts == [2]


def test_threads_close_after_the_thread_window() -> None:
    history = [Sent(50, "ts", ("r",), NOW - timedelta(hours=73), b"same")]
    assert run([Pending(1, ("r",), b"same")], history, threads=True).alerts == [1]


def test_no_thread_for_a_message_without_remote_id_or_when_threads_are_off() -> None:
    webhook = [Sent(50, None, ("r",), NOW - timedelta(hours=1), b"same")]
    assert run([Pending(1, ("r",), b"same")], webhook, threads=True).alerts == [1]
    slack = [Sent(50, "ts", ("r",), NOW - timedelta(hours=1), b"same")]
    assert run([Pending(1, ("r",), b"same")], slack, threads=False).alerts == [1]


def test_same_story_twice_in_one_batch_replies_to_the_first() -> None:
    result = run([Pending(1, ("r",), b"s"), Pending(2, ("r",), b"s"), Pending(3, ("r",), b"t")], threads=True)
    assert result.alerts == [1, 3] and result.replies == {2: Reply(1, None)}


def test_replies_do_not_count_against_the_flood_limit() -> None:
    history = [Sent(50, "ts", ("r",), NOW - timedelta(minutes=1), b"s")]
    result = run([Pending(i, ("r",), b"s") for i in range(1, 15)], history, threads=True, max_alerts=3)
    assert len(result.replies) == 14 and not result.digest


def test_same_story_in_a_burst_digest_joins_the_digest() -> None:
    burst = [*due(4), Pending(9, ("r",), b"story-1")]
    result = run(burst, threads=True, max_alerts=3)
    assert result.digest == [1, 2, 3, 4, 9] and not result.replies


def test_a_throttled_rule_holds_the_rest_for_the_next_digest() -> None:
    result = run(due(5), sent(3, rules=("r",)), throttles={"r": Throttle(4, timedelta(hours=1))})
    assert result.alerts == [1] and result.hold == [2, 3, 4, 5] and result.throttled == {2, 3, 4, 5}


def test_throttle_counts_only_its_own_window_and_rule() -> None:
    old = sent(3, ago=timedelta(hours=2))
    other = sent(3, rules=("other",))
    result = run(due(2), [*old, *other], throttles={"r": Throttle(1, timedelta(hours=1))})
    assert result.alerts == [1] and result.hold == [2]


def test_an_item_another_unthrottled_rule_wants_still_goes_out() -> None:
    throttles = {"r": Throttle(1, timedelta(hours=1))}
    result = run(due(2, rules=("r", "s")), sent(5, rules=("r",)), throttles=throttles)
    assert result.alerts == [1, 2]


def test_throttled_deliveries_join_a_digest_that_goes_out_now() -> None:
    throttles = {"t": Throttle(1, timedelta(hours=1))}
    pending = [*due(4, rules=("r",)), *due(2, start=10, rules=("t",))]
    result = run(pending, sent(1, rules=("t",)), max_alerts=3, throttles=throttles)
    assert sorted(result.digest) == [1, 2, 3, 4, 10, 11] and result.hold == []


def test_a_retry_keeps_its_plan() -> None:
    pending = [
        Pending(1, ("r",), b"x", mode="alert"),
        Pending(2, ("r",), b"x", mode="reply", thread_ts="ts-9", parent_id=9),
        Pending(3, ("r",), b"y", mode="reply", parent_id=100),
    ]
    result = run(pending, sent(1), threads=True, max_alerts=1)
    assert result.alerts == [1] and result.replies == {2: Reply(9, "ts-9"), 3: Reply(100, "ts-0")}


def test_a_reply_whose_first_alert_was_never_sent_is_planned_afresh() -> None:
    result = run([Pending(3, ("r",), b"y", mode="reply", parent_id=77)], threads=True)
    assert result.alerts == [3]
