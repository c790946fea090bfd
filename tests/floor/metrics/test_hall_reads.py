"""The scrape's read of a hall against a real Redis: waiting and longest wait per hall, the record's backlog."""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy import Engine as SqlEngine

from floor.metrics.hall_reads import HallReads
from floor.record.archiver import GROUP
from floor.runtime import HallRuntime
from queue_engine.clock import ManualClock
from queue_engine.engine import Engine
from tests.floor.conftest import fast_archiver


async def test_waiting_and_the_longest_wait_on_the_halls_clock(engine: Engine, clock: ManualClock) -> None:
    reads = HallReads()
    halls = {"demo": HallRuntime(engine)}
    await engine.open_window("1")
    for service in ("SOC", "SOC", "HUK"):
        await engine.issue(service)
        clock.advance(60)
    (first,) = await reads.read(halls)
    assert (first.hall, first.waiting, first.longest_wait_s) == ("demo", 3, 180)
    clock.advance(1000)
    await engine.call_next("1")  # the oldest SOC goes to the window: the next SOC issued 60 s after it is now longest
    (later,) = await reads.read(halls)
    assert (later.waiting, later.longest_wait_s) == (2, 1120)
    soc = engine.hall.service("SOC")
    assert soc is not None
    assert later.target_ratio == 1120 / soc.target_wait_s


async def test_the_backlog_is_what_the_archive_group_has_not_committed(engine: Engine, redis: Redis,
                                                                       sql_engine: SqlEngine) -> None:
    reads = HallReads()
    halls = {"demo": HallRuntime(engine)}
    await engine.open_window("1")
    await engine.issue("SOC")
    await engine.issue("HUK")
    (before,) = await reads.read(halls)  # no archiver ever started: the whole stream is missing from SQL
    assert before.backlog == await redis.xlen(engine.keys.events) == 3
    assert 0 <= before.archive_lag_s < 60

    await fast_archiver(engine, sql_engine).drain()
    (archived,) = await reads.read(halls)
    assert (archived.backlog, archived.archive_lag_s) == (0, 0.0)

    await engine.issue("SOC")  # not read by the group yet
    await engine.issue("TAX")
    await redis.xreadgroup(GROUP, "someone", {engine.keys.events: ">"}, count=1)  # read, never acknowledged
    (behind,) = await reads.read(halls)
    assert behind.backlog == 2  # one pending, one unread
    assert 0 <= behind.archive_lag_s < 60


async def test_a_hall_whose_set_up_changed_is_read_with_its_new_services(engine: Engine) -> None:
    reads = HallReads()
    before = reads.call(engine)
    assert reads.call(engine) is before  # packed once
    engine.adopt(engine.hall.model_copy(update={"services": engine.hall.services[:2]}))
    after = reads.call(engine)
    assert after is not before
    assert after[0] is engine.hall
    (reading,) = await reads.read({"demo": HallRuntime(engine)})
    assert reading.waiting == 0
