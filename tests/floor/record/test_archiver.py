"""The archiver copies the event stream into SQL exactly once, keeps a tickets projection, and outlasts SQL outages."""

from __future__ import annotations

import asyncio
import os
import random
import socket
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine as SqlEngine

import floor.record.archiver
from floor.record.archiver import Archiver, unrecorded
from floor.record.projection import StreamEvent, store_batches, store_events
from floor.sql.db import TicketRow, to_ms
from queue_engine.actor import ACTOR
from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from queue_engine.records import Ticket
from tests.floor.conftest import busy_morning, eventually, fast_archiver, stored_events, stored_tickets


class Crash(Exception):
    """The process dies here."""


async def stream_ids(engine: Engine) -> list[str]:
    return [e.id for e in await engine.events()]


async def pending(engine: Engine) -> int:
    info = await engine.redis.xpending(engine.keys.events, "archiver")
    return int(info["pending"])


async def die_before_acknowledging(archiver: Archiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """The archiver's process dies after its first batch is committed, before Redis hears of it."""

    async def die(*_args: Any) -> None:
        raise Crash

    monkeypatch.setattr(archiver.engine.redis, "xack", die)
    with pytest.raises(Crash):
        await archiver.drain()
    monkeypatch.undo()


def assert_archived_once(sql_engine: SqlEngine, ids: list[str]) -> None:
    assert [e.stream_id for e in stored_events(sql_engine)] == ids


def assert_row_is(row: TicketRow, t: Ticket) -> None:
    assert (row.day, row.number, row.service, row.status, row.tier, row.channel, row.priority, row.window,
            row.outcome, row.recalls, row.pinned) == (
        t.day, t.number, t.service, t.status, t.tier, t.channel, t.priority, t.window, t.outcome, t.recalls or 0,
        t.pinned)
    assert [to_ms(x) for x in (row.issued_at, row.called_at, row.serving_at, row.finished_at, row.appointment_at)] == [
        t.issued_at, t.called_at, t.serving_at, t.finished_at, t.appointment_ms]


async def test_every_event_is_archived_once(engine: Engine, sql_engine: SqlEngine, clock: ManualClock) -> None:
    await busy_morning(engine, clock)
    archiver = fast_archiver(engine, sql_engine, batch_size=7)
    handled = await archiver.drain()
    ids = await stream_ids(engine)
    assert handled == archiver.archived == len(ids)
    assert_archived_once(sql_engine, ids)
    assert await pending(engine) == 0
    assert await archiver.drain() == 0
    event = stored_events(sql_engine)[-1]
    assert (event.type, event.window, event.payload["reason"]) == ("window.paused", "3", "lunch")


async def test_the_tickets_projection_matches_the_engine(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock
) -> None:
    ids = await busy_morning(engine, clock)
    await fast_archiver(engine, sql_engine).drain()
    rows = stored_tickets(sql_engine)
    assert set(rows) == set(ids.values())
    for ticket_id, row in rows.items():
        assert_row_is(row, (await engine.ticket(ticket_id)).ticket)
    statuses = {name: rows[i].status for name, i in ids.items()}
    assert statuses == {"a1": "waiting", "a2": "waiting", "a3": "done", "a4": "cancelled", "a5": "done",
                        "b1": "waiting", "c1": "serving", "d1": "called"}
    assert {name: rows[i].transfers for name, i in ids.items() if rows[i].transfers} == {"b1": 1, "c1": 1}
    assert rows[ids["a3"]].recalls == 1
    assert rows[ids["a3"]].handling_ms is not None


async def test_a_batch_committed_but_not_acknowledged_is_not_archived_twice(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await busy_morning(engine, clock)
    ids = await stream_ids(engine)

    await die_before_acknowledging(fast_archiver(engine, sql_engine, consumer="worker-1", batch_size=10), monkeypatch)
    assert len(stored_events(sql_engine)) == 10  # committed; still pending in Redis
    assert await pending(engine) == 10

    # The same consumer restarts: its pending entries come first, and are recognised as stored.
    restarted = fast_archiver(engine, sql_engine, consumer="worker-1", batch_size=10, claim_idle_ms=60_000)
    await restarted.drain()
    assert_archived_once(sql_engine, ids)
    assert restarted.archived == len(ids) - 10
    assert await pending(engine) == 0


async def test_the_count_of_events_not_yet_recorded_falls_to_zero_only_once_they_are_committed(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await unrecorded(engine) == 0  # not an event yet: no stream
    await busy_morning(engine, clock)
    total = len(await stream_ids(engine))
    assert await unrecorded(engine) == total  # no archiver has read the stream yet

    await die_before_acknowledging(fast_archiver(engine, sql_engine, consumer="worker-1", batch_size=10), monkeypatch)
    assert await unrecorded(engine) == total  # 10 read and pending, the rest unread

    await fast_archiver(engine, sql_engine, consumer="worker-1", batch_size=10).drain()
    assert await unrecorded(engine) == 0
    await engine.issue("SOC")
    assert await unrecorded(engine) == 1

    # After an entry is deleted Redis no longer counts the lag; the count still says whether any is unread.
    first = (await stream_ids(engine))[0]
    await engine.redis.xdel(engine.keys.events, first)
    assert await unrecorded(engine) == 1
    await fast_archiver(engine, sql_engine, consumer="worker-1").drain()
    assert await unrecorded(engine) == 0


async def test_another_process_claims_what_a_dead_one_left_pending(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await busy_morning(engine, clock)
    ids = await stream_ids(engine)

    await die_before_acknowledging(fast_archiver(engine, sql_engine, consumer="dead", batch_size=5), monkeypatch)

    survivor = fast_archiver(engine, sql_engine, consumer="alive", batch_size=5)
    await survivor.drain()
    assert_archived_once(sql_engine, ids)
    assert await pending(engine) == 0


async def test_two_archivers_in_one_group_share_the_stream(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock
) -> None:
    first = fast_archiver(engine, sql_engine, batch_size=3, claim_idle_ms=60_000)
    second = fast_archiver(engine, sql_engine, batch_size=3, claim_idle_ms=60_000)
    tasks = [asyncio.create_task(a.run()) for a in (first, second)]
    try:
        ids = await busy_morning(engine, clock)
        total = len(await stream_ids(engine))
        await eventually(lambda: first.archived + second.archived == total)
        assert await pending(engine) == 0
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert_archived_once(sql_engine, await stream_ids(engine))
    for ticket_id in ids.values():
        assert_row_is(stored_tickets(sql_engine)[ticket_id], (await engine.ticket(ticket_id)).ticket)


async def test_archivers_racing_for_the_same_entries_still_write_each_once(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock
) -> None:
    await busy_morning(engine, clock)
    # With no idle time required, each claims what the other is working on: every batch is written twice.
    archivers = [fast_archiver(engine, sql_engine, batch_size=4) for _ in range(3)]
    await asyncio.gather(*(a.drain() for a in archivers))
    ids = await stream_ids(engine)
    assert_archived_once(sql_engine, ids)
    assert sum(a.archived for a in archivers) == len(ids)


async def test_while_sql_is_down_the_hall_works_and_the_archiver_catches_up(
    engine: Engine, sql_engine: SqlEngine, unreachable_sql: SqlEngine, clock: ManualClock
) -> None:
    archiver = fast_archiver(engine, unreachable_sql)
    task = asyncio.create_task(archiver.run())
    try:
        ids = await busy_morning(engine, clock)  # the live hall does not wait for SQL
        await eventually(lambda: archiver.failures >= 3)
        assert "OperationalError" in (archiver.last_error or "")
        assert stored_events(sql_engine) == []
        assert await pending(engine) > 0
        archiver.writer.sql_engine = sql_engine  # SQL is back
        total = len(await stream_ids(engine))
        await eventually(lambda: archiver.archived == total)
        assert archiver.failures == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert_archived_once(sql_engine, await stream_ids(engine))
    assert set(stored_tickets(sql_engine)) == set(ids.values())


async def test_a_write_that_fails_after_commit_is_retried_harmlessly(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await busy_morning(engine, clock)
    calls = 0

    def commit_then_lose_the_connection(*args: Any) -> list[int]:
        nonlocal calls
        calls += 1
        written = store_batches(*args)
        if calls <= 2:
            raise sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))
        return written

    monkeypatch.setattr(floor.record.archiver, "store_batches", commit_then_lose_the_connection)
    archiver = fast_archiver(engine, sql_engine)
    await archiver.drain()
    assert calls == 3
    assert_archived_once(sql_engine, await stream_ids(engine))
    assert archiver.archived == 0  # every event was in by the first attempt; the retries found them there


async def test_the_projection_does_not_depend_on_the_order_batches_commit_in(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock, demo_hall: HallConfig
) -> None:
    ids = await busy_morning(engine, clock)
    events = [StreamEvent.from_stream(e.id, e.data) for e in await engine.events()]
    batches = [events[i:i + 4] for i in range(0, len(events), 4)]
    random.Random(7).shuffle(batches)
    other = demo_hall.model_copy(update={"id": "demo-shuffled"})
    for batch in [*batches, batches[0], batches[-1]]:  # and two of them delivered again
        store_events(sql_engine, other, batch)
    rows = stored_tickets(sql_engine, "demo-shuffled")
    assert set(rows) == set(ids.values())
    for ticket_id, row in rows.items():
        assert_row_is(row, (await engine.ticket(ticket_id)).ticket)
        assert row.last_event == max(e.key for e in events if e.payload.get("ticket") == ticket_id)
    assert len(stored_events(sql_engine, "demo-shuffled")) == len(events)


async def consumers(engine: Engine) -> set[str]:
    return {c["name"].decode() for c in await engine.redis.xinfo_consumers(engine.keys.events, "archiver")}


async def test_a_clean_shutdown_leaves_the_group_unless_entries_are_pending(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await busy_morning(engine, clock)

    stuck = fast_archiver(engine, sql_engine, batch_size=5)
    await die_before_acknowledging(stuck, monkeypatch)
    await stuck.close()  # its 5 pending entries would be lost with it: it stays
    assert stuck.consumer in await consumers(engine)

    clean = fast_archiver(engine, sql_engine)
    await clean.drain()
    assert clean.consumer in await consumers(engine)
    await clean.close()
    assert clean.consumer not in await consumers(engine)


async def test_who_acted_is_kept_with_each_event(engine: Engine, sql_engine: SqlEngine) -> None:
    await engine.open_window("1")
    token = ACTOR.set("staff:1:tok-9")
    try:
        await engine.issue("SOC")
    finally:
        ACTOR.reset(token)
    await fast_archiver(engine, sql_engine).drain()
    assert [(e.type, e.actor) for e in stored_events(sql_engine)] == [
        ("window.opened", None), ("ticket.issued", "staff:1:tok-9")]


async def test_the_archiver_stops_even_if_redis_swallows_the_cancellation(
    engine: Engine, sql_engine: SqlEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What redis-py does on Python 3.11 when a cancel lands as a command is sent (asyncio.wait_for, gh-86296).
    real = engine.redis.xreadgroup

    async def swallowing(*args: Any, **kwargs: Any) -> Any:
        read = asyncio.ensure_future(real(*args, **kwargs))
        try:
            return await asyncio.shield(read)
        except asyncio.CancelledError:
            return await read  # the cancel is dropped and the read completes, as wait_for does

    monkeypatch.setattr(engine.redis, "xreadgroup", swallowing)
    task = asyncio.create_task(fast_archiver(engine, sql_engine, block_ms=500).run())
    await asyncio.sleep(0.2)  # blocked in a read by now
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=3)
    assert done, "the archiver ran on after it was cancelled"


async def test_halls_handed_in_together_share_one_transaction(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock, demo_hall: HallConfig
) -> None:
    ids = await busy_morning(engine, clock)
    events = [StreamEvent.from_stream(e.id, e.data) for e in await engine.events()]
    halls = [demo_hall.model_copy(update={"id": f"demo-{n}"}) for n in range(3)]
    commits = 0

    def count(_: Any) -> None:
        nonlocal commits
        commits += 1

    sa.event.listen(sql_engine, "commit", count)
    try:
        writer = floor.record.archiver.SqlWriter(sql_engine, linger_s=0.05)
        written = await asyncio.gather(*(writer.store(hall, events) for hall in halls))
    finally:
        sa.event.remove(sql_engine, "commit", count)
    assert commits == 1
    assert written == [len(events)] * 3
    for hall in halls:
        assert [e.stream_id for e in stored_events(sql_engine, hall.id)] == [e.id for e in events]
        rows = stored_tickets(sql_engine, hall.id)
        assert set(rows) == set(ids.values())
        for ticket_id, row in rows.items():
            assert_row_is(row, (await engine.ticket(ticket_id)).ticket)


async def test_one_halls_bad_batch_does_not_hold_back_the_others(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock, demo_hall: HallConfig
) -> None:
    await busy_morning(engine, clock)
    events = [StreamEvent.from_stream(e.id, e.data) for e in await engine.events()]
    broken = [StreamEvent(events[0].key, {k: v for k, v in events[0].payload.items() if k != "at"})]
    good, bad = (demo_hall.model_copy(update={"id": name}) for name in ("demo-good", "demo-bad"))
    writer = floor.record.archiver.SqlWriter(sql_engine, linger_s=0.05)
    results = await asyncio.gather(writer.store(good, events), writer.store(bad, broken), return_exceptions=True)
    assert results[0] == len(events)
    assert isinstance(results[1], KeyError)
    assert len(stored_events(sql_engine, "demo-good")) == len(events)
    assert stored_events(sql_engine, "demo-bad") == []


async def test_a_restarted_archive_process_adopts_at_once_what_a_dead_process_of_its_host_left_pending(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock
) -> None:
    await busy_morning(engine, clock)
    ids = await stream_ids(engine)
    gone = await asyncio.create_subprocess_exec("true")  # a pid that no longer runs
    await gone.wait()
    dead = f"{socket.gethostname()}-{gone.pid}-abc123"
    living = f"{socket.gethostname()}-{os.getpid()}-def456"  # this very process: alive
    elsewhere = f"another-host-{gone.pid}-0a0a0a"  # another host's process may well be alive
    await engine.redis.xgroup_create(engine.keys.events, "archiver", id="0", mkstream=True)
    for consumer, count in ((dead, 4), (living, 3), (elsewhere, 2)):
        await engine.redis.xreadgroup("archiver", consumer, {engine.keys.events: ">"}, count=count)

    restarted = fast_archiver(engine, sql_engine, batch_size=50, claim_idle_ms=60_000)
    await restarted.drain()
    # The dead process' 4 are archived now, not a minute later; the others wait for their owners or the idle claim.
    assert [e.stream_id for e in stored_events(sql_engine)] == ids[:4] + ids[9:]
    names = {c["name"].decode() for c in await engine.redis.xinfo_consumers(engine.keys.events, "archiver")}
    assert dead not in names
    assert {living, elsewhere} <= names
    assert await pending(engine) == 5
