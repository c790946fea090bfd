"""The archiver writes each rating once and opens a case for each 差评, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.orm import Session

from floor.ratings.store import CaseRow, RatingRow
from floor.record.projection import StreamEvent, store_events
from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from tests.conftest import SHANGHAI
from tests.floor.conftest import fast_archiver


async def served(engine: Engine, clock: ManualClock, count: int, window: str = "1") -> list[str]:
    """``count`` SOC tickets issued, called, served and finished at ``window``; their ids."""
    await engine.open_window(window)
    ids = []
    for _ in range(count):
        clock.advance(30)
        ids.append((await engine.issue("SOC")).ticket.id)
    for _ in ids:
        clock.advance(60)
        await engine.call_next(window)
        await engine.start(window)
        clock.advance(300)
        await engine.finish(window, "done")
    return ids


def ratings(sql: SqlEngine) -> dict[str, RatingRow]:
    with Session(sql) as s:
        return {r.ticket: r for r in s.scalars(sa.select(RatingRow))}


def case_rows(sql: SqlEngine) -> dict[str, CaseRow]:
    with Session(sql) as s:
        return {c.ticket: c for c in s.scalars(sa.select(CaseRow))}


async def test_each_rating_is_written_once_and_each_bad_one_opens_a_case(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock,
) -> None:
    very_bad, good, bad = await served(engine, clock, 3)
    clock.advance(20)
    await engine.rate(very_bad, 1, "pad")
    await engine.rate(good, 4, "qr", "办得很快")
    await engine.rate(bad, 2, "qr", "等太久")
    await fast_archiver(engine, sql_engine, batch_size=5).drain()

    rows = ratings(sql_engine)
    assert {t: (r.score, r.bad, r.source, r.comment, r.late) for t, r in rows.items()} == {
        very_bad: (1, True, "pad", None, False), good: (4, False, "qr", "办得很快", False),
        bad: (2, True, "qr", "等太久", False)}
    row = rows[good]
    assert (row.day, row.number, row.service, row.window) == ("20261123", "A002", "SOC", "1")
    opened = case_rows(sql_engine)
    assert set(opened) == {very_bad, bad}
    case = opened[very_bad]
    assert (case.status, case.number, case.window, case.score) == ("awaiting_callback", "A001", "1", 1)
    assert case.opened_at == rows[very_bad].rated_at
    # Rated on Monday 23 November: called back by the end of Tuesday, fixed by the end of Monday 30th.
    assert case.callback_due == datetime(2026, 11, 25, tzinfo=SHANGHAI)
    assert case.fix_due == datetime(2026, 12, 1, tzinfo=SHANGHAI)
    assert (case.callback_at, case.fix_at) == (None, None)


async def test_a_batch_delivered_twice_adds_no_rating_and_no_case(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock, demo_hall: HallConfig,
) -> None:
    (ticket,) = await served(engine, clock, 1)
    await engine.rate(ticket, 1, "pad")
    events = [StreamEvent.from_stream(e.id, e.data) for e in await engine.events()]
    assert store_events(sql_engine, demo_hall, events) == len(events)
    first = (ratings(sql_engine), case_rows(sql_engine))
    assert store_events(sql_engine, demo_hall, events) == 0  # a crash after commit, before XACK
    assert store_events(sql_engine, demo_hall, events[-1:]) == 0
    again = (ratings(sql_engine), case_rows(sql_engine))
    assert [set(m) for m in again] == [set(m) for m in first] == [{ticket}, {ticket}]
    with Session(sql_engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(RatingRow)) == 1
        assert s.scalar(sa.select(sa.func.count()).select_from(CaseRow)) == 1


async def test_a_late_rating_counts_for_the_ticket_s_own_day(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock,
) -> None:
    (ticket,) = await served(engine, clock, 1)
    archiver = fast_archiver(engine, sql_engine)
    await archiver.drain()
    # Three days later, from the record only (as the API does for a ticket Redis no longer holds).
    clock.advance(3 * 86400)
    await engine.rate_archived(f"{ticket[:9]}feedfacecafe", number="A099", service="SOC", window="1", day="20261123",
                               score=2, source="qr")
    await archiver.drain()
    late = ratings(sql_engine)[f"{ticket[:9]}feedfacecafe"]
    assert (late.day, late.number, late.late, late.bad) == ("20261123", "A099", True, True)
    case = case_rows(sql_engine)[late.ticket]
    # The deadlines run from the day it was rated (Thursday 26th), not the ticket's day.
    assert late.rated_at.astimezone(SHANGHAI).date() == (datetime(2026, 11, 23, tzinfo=SHANGHAI)
                                                         + timedelta(days=3)).date()
    assert case.callback_due == datetime(2026, 11, 28, tzinfo=SHANGHAI)
