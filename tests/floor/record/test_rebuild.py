"""Redis loses the hall; the SQL record gives it back as it was, numbering carrying on."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine as SqlEngine

from floor.record.rebuild import restore_if_lost
from queue_engine import errors
from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from queue_engine.records import TicketStatus
from queue_engine.shards import Shards
from queue_engine.stream_ids import parse_stream_id
from tests.conftest import SHANGHAI, delete_prefix, open_shards
from tests.floor.conftest import busy_morning, eventually, fast_archiver, stored_events, stored_tickets


async def live_view(engine: Engine, ticket_ids: list[str]) -> tuple[dict[str, Any], dict[str, TicketStatus]]:
    snapshot = await engine.snapshot() | {"event_id": None}
    return snapshot, {i: await engine.ticket(i) for i in ticket_ids}


async def lose_redis(engine: Engine, key_prefix: str) -> None:
    await delete_prefix(engine.redis, key_prefix)
    assert not await engine.has_state()


async def test_nothing_to_restore_from_an_empty_record(
    shards: Shards, demo_hall: HallConfig, clock: ManualClock, key_prefix: str, sql_engine: SqlEngine
) -> None:
    engine = Engine(shards, demo_hall, prefix=key_prefix, clock=clock)
    assert not await restore_if_lost(engine, sql_engine)
    await engine.setup()
    assert not await restore_if_lost(engine, sql_engine)  # Redis has the hall: nothing to do


async def test_a_lost_day_comes_back_the_same_and_numbering_goes_on(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock, key_prefix: str
) -> None:
    ids = await busy_morning(engine, clock)
    await fast_archiver(engine, sql_engine).drain()
    before = await live_view(engine, list(ids.values()))
    last_id = (await engine.events())[-1].id

    await lose_redis(engine, key_prefix)
    assert await restore_if_lost(engine, sql_engine)

    assert await live_view(engine, list(ids.values())) == before
    (marker,) = await engine.events(last_id)
    assert marker.type == "hall.restored"
    assert parse_stream_id(marker.id) > parse_stream_id(last_id)
    issued = await engine.issue("SOC")
    assert issued.ticket.number == "A006"  # A001-A005 were issued before the loss
    again = await engine.issue("SOC", idempotency_key="req-1")  # the key a4 was issued with
    assert (again.replay, again.ticket.id) == (True, ids["a4"])
    with pytest.raises(errors.DuplicateTicket):
        await engine.issue("SOC", person="k:5f1e")  # a2 still waits for this person


async def test_the_archiver_follows_the_hall_through_a_restore(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock, key_prefix: str
) -> None:
    archiver = fast_archiver(engine, sql_engine)
    task = asyncio.create_task(archiver.run())
    try:
        await busy_morning(engine, clock)
        total = len(await engine.events())
        await eventually(lambda: archiver.archived == total)
        await lose_redis(engine, key_prefix)  # the stream and the consumer group go with it
        assert await restore_if_lost(engine, sql_engine)
        clock.advance(60)
        issued = await engine.issue("SOC")
        await eventually(lambda: archiver.archived == total + 2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [e.type for e in stored_events(sql_engine)[-2:]] == ["hall.restored", "ticket.issued"]
    assert stored_tickets(sql_engine)[issued.ticket.id].number == "A006"


async def test_only_one_process_restores(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock, key_prefix: str, demo_hall: HallConfig
) -> None:
    await busy_morning(engine, clock)
    await fast_archiver(engine, sql_engine).drain()
    await lose_redis(engine, key_prefix)
    connections = [await open_shards() for _ in range(3)]  # three processes, each with clients of its own
    processes = [Engine(shards, demo_hall, prefix=key_prefix, clock=clock) for shards in connections]
    try:
        results = await asyncio.gather(*(restore_if_lost(p, sql_engine) for p in processes))
    finally:
        for shards in connections:
            await shards.aclose()
    assert sorted(results) == [False, False, True]
    assert [e.type for e in await engine.events()] == ["hall.restored"]


async def test_a_failed_restore_raises_and_frees_the_lock(
    engine: Engine, sql_engine: SqlEngine, unreachable_sql: SqlEngine, clock: ManualClock, key_prefix: str
) -> None:
    await busy_morning(engine, clock)
    await fast_archiver(engine, sql_engine).drain()
    await lose_redis(engine, key_prefix)
    with pytest.raises(sa.exc.OperationalError):
        await restore_if_lost(engine, unreachable_sql)
    assert not await engine.has_state()  # no fresh day started over the record
    assert await restore_if_lost(engine, sql_engine)


async def test_what_outlives_a_day_close_is_restored_too(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock, key_prefix: str
) -> None:
    # Monday: a changed window, handling times, calls; one ticket left waiting.
    for window in ("1", "5"):
        await engine.open_window(window)
    await engine.set_services("5", ["TAX", "SOC"], ["TAX"])
    monday = []
    for service in ("SOC", "SOC", "TAX", "SOC"):
        clock.advance(30)
        monday.append((await engine.issue(service)).ticket.id)
    for window, minutes in (("1", 7), ("5", 13), ("1", 4)):
        await engine.call_next(window)
        await engine.start(window)
        clock.advance(minutes * 60)
        await engine.finish(window)
    # Tuesday 00:30, before the night job closed Monday: a ticket taken early for Tuesday.
    clock.set(datetime(2026, 11, 24, 0, 30, tzinfo=SHANGHAI))
    early = (await engine.issue("SOC", channel="api")).ticket
    await engine.end_day("20261123")
    clock.set(datetime(2026, 11, 24, 9, 0, tzinfo=SHANGHAI))
    await engine.open_window("1")
    second = (await engine.issue("SOC")).ticket
    called = await engine.call_next("1")
    assert (early.number, second.number, called and called.id) == ("A001", "A002", early.id)
    await fast_archiver(engine, sql_engine).drain()
    tuesday = [early.id, second.id]
    before = await live_view(engine, tuesday)

    await lose_redis(engine, key_prefix)
    assert await restore_if_lost(engine, sql_engine)

    assert await live_view(engine, tuesday) == before
    assert (await engine.window("5")).services == ["TAX", "SOC"]
    assert (await engine.issue("SOC")).ticket.number == "A003"
    # Closed days stay in SQL only.
    with pytest.raises(errors.UnknownTicket):
        await engine.ticket(monday[0])
    assert stored_tickets(sql_engine)[monday[0]].status == "done"


async def test_numbers_of_a_closed_day_never_come_round_again(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock, key_prefix: str
) -> None:
    await engine.open_window("1")
    for _ in range(3):
        clock.advance(30)
        await engine.issue("SOC")
    clock.advance(8 * 3600)  # 17:00: closed for the day, a little early
    await engine.end_day()
    await fast_archiver(engine, sql_engine).drain()

    await lose_redis(engine, key_prefix)
    assert await restore_if_lost(engine, sql_engine)
    clock.advance(10 * 60)
    await engine.open_window("1")  # reopened for one more citizen, the same day
    assert (await engine.issue("SOC")).ticket.number == "A004"
