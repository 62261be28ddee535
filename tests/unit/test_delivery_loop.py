"""The delivery loop on strict fakes: retries, dead letters, Retry-After, pacing, thread fallback, leases, silences, floods."""

from __future__ import annotations

from datetime import timedelta

from alerts import flood
from alerts.base import DeliveryCode, DeliveryError
from alerts.delivery import Deliverer, RetryPolicy
from alerts.messages import Digest, Notice
from alerts.queue import Claimed, Kind, Mutes
from tests.support.fakes import FakeMuter, FakePacer, FakeQueue, FakeSink, FakeTime


def setup(
    *deliveries: Claimed,
    policy: flood.Policy | None = None,
    lose_leases: tuple[int, ...] = (),
    muter: FakeMuter | None = None,
    lease: timedelta = timedelta(seconds=120),
    takes: float = 0.0,
) -> tuple[Deliverer, FakeQueue, FakePacer, FakeSink, FakeTime]:
    time = FakeTime()
    queue, pacer, sink = FakeQueue(time, deliveries, lose_leases, lease), FakePacer(time), FakeSink(time=time, takes=takes)
    loop = Deliverer(
        queue,
        pacer,
        muter or FakeMuter(),
        lambda: {"desk": sink},
        time,
        policy_of=lambda destination: policy or flood.Policy(),
        same_story=lambda a, b: a is not None and a == b,
        retry=RetryPolicy(base=5, cap=600, max_attempts=3),
        sleep=time.sleep,
    )
    return loop, queue, pacer, sink, time


def due(delivery_id: int, **fields: object) -> Claimed:
    return Claimed(delivery_id, "desk", ("r",), **fields)  # type: ignore[arg-type]


async def test_a_sent_alert_is_recorded_with_its_remote_id_and_the_next_waits_its_slot() -> None:
    loop, queue, _, sink, time = setup(due(1), due(2))
    stats = await loop.run_once()
    assert stats.sent == 2 and [m.delivery_id for m in sink.sent] == [1, 2]
    assert [(queue.rows[i].status, queue.rows[i].remote_id) for i in (1, 2)] == [("sent", "ts-1"), ("sent", "ts-2")]
    assert time.slept == [1.0]  # one message per second per channel, on the pacer's clock


async def test_a_slow_send_keeps_the_next_one_a_full_interval_after_it_ended() -> None:
    loop, _, _, sink, time = setup(due(1), due(2), takes=0.8)
    start = time()
    await loop.run_once()
    assert sink.sent_at == [start, start + timedelta(seconds=1.8)]  # not at its slot a second after the first began


async def test_a_send_leaves_only_after_another_process_s_send_has_ended_and_an_interval_more() -> None:
    """Two replicas booked slots a second apart, but the first send left late: the second waits for its end."""
    loop, queue, pacer, sink, time = setup(due(1))
    start = time()
    pacer.next_at["slack:#desk"] = start + timedelta(seconds=1)  # the other replica booked the first slot
    pacer.elsewhere("slack:#desk", ends=start + timedelta(seconds=2.5))  # and its send is in flight until then
    stats = await loop.run_once()
    assert stats.sent == 1 and queue.rows[1].status == "sent"
    assert sink.sent_at[0] >= start + timedelta(seconds=3.5)


async def test_a_send_in_flight_elsewhere_for_long_sends_the_message_back_to_wait_without_counting_an_attempt() -> None:
    loop, queue, pacer, sink, time = setup(due(1))
    pacer.elsewhere("slack:#desk", ends=time() + timedelta(seconds=60))
    stats = await loop.run_once()
    assert sink.sent == [] and stats.retried == 1
    row = queue.rows[1]
    assert (row.status, row.attempts, row.leased) == ("pending", 0, False)


async def test_a_retryable_error_comes_back_with_backoff_and_a_permanent_one_is_dead_lettered_once() -> None:
    loop, queue, _, sink, time = setup(due(1), due(2), due(3))
    start = time()
    sink.failures = [
        DeliveryError("slack: internal_error", retryable=True),
        DeliveryError("slack: channel_not_found", retryable=False, remote="channel_not_found"),
        DeliveryError("slack: channel_not_found", retryable=False, remote="channel_not_found"),
    ]
    stats = await loop.run_once()
    assert (stats.retried, stats.dead, stats.sent) == (1, 2, 0)
    first = queue.rows[1]
    assert first.status == "pending" and first.attempts == 1 and first.error == "slack: internal_error"
    assert first.due is not None and timedelta(seconds=4) <= first.due - start <= timedelta(seconds=6)  # 5 s, ±20 % jitter
    assert [queue.rows[i].status for i in (2, 3)] == ["dead", "dead"]
    assert loop.failing == {"desk": "slack: channel_not_found"}


async def test_after_max_attempts_a_retryable_error_is_dead_lettered_too() -> None:
    loop, queue, _, sink, _ = setup(due(1, attempts=2))
    sink.failures = [DeliveryError("network error", retryable=True)]
    await loop.run_once()
    assert queue.rows[1].status == "dead" and "gave up after 3 attempts" in str(queue.rows[1].error)


async def test_retry_after_pauses_the_rate_key_for_every_process_and_comes_back_then() -> None:
    loop, queue, pacer, sink, time = setup(due(1))
    sink.failures = [DeliveryError("slack: ratelimited", retryable=True, retry_after=30, code=DeliveryCode.RATE_LIMITED)]
    await loop.run_once()
    assert ("slack:#desk", 30) in pacer.paused
    assert queue.rows[1].due == time() + timedelta(seconds=30)


async def test_a_paused_key_sends_the_message_back_to_wait_without_counting_an_attempt() -> None:
    loop, queue, pacer, sink, time = setup(due(1))
    await pacer.pause("slack:#desk", 60)
    stats = await loop.run_once()
    assert stats.retried == 1 and not sink.sent
    row = queue.rows[1]
    assert row.attempts == 0 and row.error == "waiting: destination rate-limited" and row.due == time() + timedelta(seconds=60)


async def test_a_reply_whose_thread_is_gone_goes_out_on_its_own() -> None:
    loop, queue, _, sink, _ = setup(due(1, mode="reply", thread_ts="111.222", parent_id=9))
    sink.failures = [DeliveryError("slack: invalid_thread_ts", retryable=False, code=DeliveryCode.THREAD_GONE)]
    await loop.run_once()
    [message] = sink.sent
    assert message.mode == "alert" and getattr(message, "thread_ts", None) is None
    assert queue.rows[1].status == "sent" and queue.rows[1].mode == "alert"


async def test_a_reply_to_an_alert_of_the_same_batch_joins_its_thread() -> None:
    loop, _, _, sink, _ = setup(due(1, signature=b"story"), due(2, signature=b"story"), policy=flood.Policy(threads=True))
    await loop.run_once()
    first, second = sink.sent
    assert first.mode == "alert" and second.mode == "reply" and getattr(second, "thread_ts", None) == "ts-1"


async def test_a_message_whose_lease_was_lost_is_left_to_the_process_that_took_it() -> None:
    loop, queue, _, sink, _ = setup(due(1), due(2), lose_leases=(1,))
    stats = await loop.run_once()
    assert [m.delivery_id for m in sink.sent] == [2] and stats.sent == 1
    assert queue.rows[1].status == "pending"


async def test_a_message_taken_over_by_another_process_uses_no_send_slot() -> None:
    loop, _, pacer, sink, time = setup(due(1), due(2), due(3), lose_leases=(1, 2))
    await loop.run_once()
    assert [m.delivery_id for m in sink.sent] == [3]
    assert time.slept == []  # 1 and 2 booked no slots, so 3 went out at once
    assert pacer.next_at["slack:#desk"] == time() + timedelta(seconds=1)


async def test_the_lease_covers_the_wait_for_a_slot_longer_than_the_lease() -> None:
    loop, queue, pacer, sink, time = setup(due(1), due(2), lease=timedelta(seconds=2))
    pacer.next_at["slack:#desk"] = time() + timedelta(seconds=4)  # another replica booked the next slots
    stats = await loop.run_once()  # the strict queue refuses a send whose lease ran out while it waited
    assert stats.sent == 2 and [m.delivery_id for m in sink.sent] == [1, 2]
    assert time.slept == [4.0, 1.0]
    assert (1, 4.0) in queue.holds and (2, 1.0) in queue.holds


async def test_every_message_of_a_long_batch_is_sent_inside_its_lease() -> None:
    loop, queue, _, _, _ = setup(*(due(i) for i in range(1, 13)), lease=timedelta(seconds=5))
    stats = await loop.run_once()  # 12 messages a second apart: the last waits 11 s in the batch
    assert stats.sent == 12 and all(queue.rows[i].status == "sent" for i in range(1, 13))


async def test_muted_deliveries_are_marked_and_never_sent_and_the_muter_is_asked_fresh() -> None:
    muter = FakeMuter(Mutes(rules=frozenset({"r"})))
    loop, queue, _, sink, _ = setup(due(1), Claimed(2, "desk", ("r", "other")), muter=muter)
    stats = await loop.run_once()
    assert queue.rows[1].status == "muted" and stats.muted == 1
    assert [m.delivery_id for m in sink.sent] == [2]  # another rule still wants it
    assert muter.asked_fresh == 1


async def test_a_burst_over_the_digest_limit_goes_out_as_one_digest_and_notices_on_their_own() -> None:
    deliveries = [due(i) for i in range(1, 6)] + [Claimed(6, "desk", (), Kind.NOTICE, notice="Feed X failing since 08:00")]
    loop, queue, _, sink, _ = setup(*deliveries, policy=flood.Policy(max_alerts=3))
    await loop.run_once()
    kinds = [type(m) for m in sink.sent]
    assert kinds == [Digest, Notice]
    assert [a.delivery_id for a in sink.sent[0].alerts] == [1, 2, 3, 4, 5]  # type: ignore[union-attr]
    assert all(queue.rows[i].status == "sent" for i in range(1, 7))


async def test_an_unknown_destination_is_dead_lettered_and_a_sink_bug_is_retried() -> None:
    loop, queue, _, sink, _ = setup(due(1), Claimed(2, "gone", ("r",)))
    sink.failures = [RuntimeError("bug in a sink")]
    stats = await loop.run_once()
    assert queue.rows[2].status == "dead" and "'gone' is not configured" in str(queue.rows[2].error)
    assert queue.rows[1].status == "pending" and "RuntimeError: bug in a sink" in str(queue.rows[1].error)
    assert stats.dead == 1 and stats.retried == 1
