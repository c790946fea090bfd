"""A region's report read from per-day summaries (``floor.regions.summaries``), on SQLite and PostgreSQL: whatever it
reads from a summary and whatever it counts live, it equals the sum of the hall reports of the same range, figure
by figure (p90 aside), before and after a late rating, a changed target, a day closed late, and on a day the engine
played and ended itself."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.orm import Session

from floor.appointments.store import AppointmentRow
from floor.ratings.store import CaseRow, RatingRow
from floor.regions.rollup import REGION_GROUPINGS
from floor.regions.summaries import HallNow, ReportDayRow, load_many, region_sums
from floor.regions.warming import DAYS, warm
from floor.reports.facts import load_facts, load_tickets
from floor.reports.rules import DateRange, figures
from floor.sql.db import TicketEventRow, TicketRow
from loadtest.region_reports import (
    Rows,
    add_halls,
    bench_halls,
    comparable,
    differences,
    history,
    insert,
    naive,
    region_history,
    region_report,
)
from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from tests.conftest import MONDAY_9AM
from tests.floor.conftest import busy_morning, fast_archiver

ZONE = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 16, 0, tzinfo=ZONE)  # today half done
RNG = DateRange(TODAY - timedelta(days=4), TODAY)  # four closed days and today


def seeded(sql: SqlEngine, n: int = 3, prefix: str = "t") -> list[HallConfig]:
    halls = bench_halls(n, prefix=prefix)
    add_halls(sql, halls)
    for rows in region_history(halls, RNG.days, 15, 30, NOW, seed=11):
        insert(sql, rows)
    return halls


def assert_the_sum_of_the_hall_reports(sql: SqlEngine, halls: list[HallConfig], rng: DateRange = RNG,
                                       now: datetime = NOW) -> dict[str, Any]:
    """The region's report by hall has each hall's own report totals; by level and by service the same totals;
    and its days are the days of one report of every hall's tickets together."""
    region = region_report(sql, halls, rng, now)
    assert differences(region, naive(sql, halls, rng, now)) == []
    everything = [load_facts(sql, h, rng, now.astimezone(h.zone)) for h in halls]
    tickets = [t for facts in everything for t in facts.tickets]
    no_shows = [n for facts in everything for n in facts.no_shows]
    assert comparable(region["totals"]) == comparable(figures(tickets, len(no_shows)))
    for by in REGION_GROUPINGS[1:]:
        assert comparable(region_report(sql, halls, rng, now, by)["totals"]) == comparable(region["totals"]), by
    for day in region["days"]:
        of_day = [t for t in tickets if t.day.isoformat() == day["day"]]
        missed_bookings = sum(n.day.isoformat() == day["day"] for n in no_shows)
        assert comparable(day) == comparable(figures(of_day, missed_bookings)), day["day"]
    return region


def test_the_region_is_the_sum_of_its_hall_reports_summarised_or_live(sql_engine: SqlEngine) -> None:
    halls = seeded(sql_engine)
    book(sql_engine, halls[1], TODAY - timedelta(days=3), "SOC", 2)  # two bookings never checked in
    first = assert_the_sum_of_the_hall_reports(sql_engine, halls)
    assert first["sources"] == {"summarised": 12, "made": 12, "refreshed": 0, "live": 3}
    assert first["totals"]["unfinished"] > 0  # today, half done
    assert first["totals"]["appointment_no_shows"] == 2
    assert first["totals"]["cases"]["open"] + first["totals"]["cases"]["closed"] > 0
    again = assert_the_sum_of_the_hall_reports(sql_engine, halls)
    assert again["sources"] == {"summarised": 12, "made": 0, "refreshed": 0, "live": 3}
    assert again["totals"] == first["totals"]
    # A range of closed days only, and one of today only.
    past = assert_the_sum_of_the_hall_reports(sql_engine, halls, DateRange(RNG.first, TODAY - timedelta(days=2)))
    assert past["sources"] == {"summarised": 9, "made": 0, "refreshed": 0, "live": 0}
    today = assert_the_sum_of_the_hall_reports(sql_engine, halls, DateRange(TODAY, TODAY))
    assert today["sources"] == {"summarised": 0, "made": 0, "refreshed": 0, "live": 3}


def test_a_late_rating_and_its_case_make_their_day_summarised_again(sql_engine: SqlEngine) -> None:
    halls = seeded(sql_engine)
    assert_the_sum_of_the_hall_reports(sql_engine, halls)
    day = TODAY - timedelta(days=2)
    # A transferred ticket rated 非常不满意 days later: its case counts under the service it was issued for.
    rated = rate_late(sql_engine, halls[0], day, score=1, transferred=True)
    region = assert_the_sum_of_the_hall_reports(sql_engine, halls)
    assert region["sources"]["refreshed"] == 1
    row = next(r for r in region_report(sql_engine, halls, RNG, NOW, "service")["rows"] if r["key"] == rated)
    assert row["cases"]["open"] >= 1
    # The case is worked and closed: counted live, at once.
    with Session(sql_engine) as session, session.begin():
        session.execute(sa.update(CaseRow).where(CaseRow.hall == halls[0].id).values(
            status="closed", callback_at=NOW, fix_at=NOW, feedback_at=NOW))
    closed = assert_the_sum_of_the_hall_reports(sql_engine, halls)
    assert closed["sources"]["refreshed"] == 0
    assert closed["totals"]["cases"]["open"] < region["totals"]["cases"]["open"]


def test_a_changed_target_makes_the_days_of_its_service_summarised_again(sql_engine: SqlEngine) -> None:
    halls = seeded(sql_engine)
    before = assert_the_sum_of_the_hall_reports(sql_engine, halls)
    soc = next(s for s in halls[2].services if s.code == "SOC")
    faster = halls[2].model_copy(update={"services": tuple(
        s.model_copy(update={"target_wait_s": 60}) if s is soc else s for s in halls[2].services)})
    halls = [halls[0], halls[1], faster]
    after = assert_the_sum_of_the_hall_reports(sql_engine, halls)
    assert after["sources"]["refreshed"] == 4
    assert after["totals"]["over_target"] > before["totals"]["over_target"]


def test_a_day_not_ended_or_with_a_ticket_left_is_counted_live_until_it_settles(sql_engine: SqlEngine) -> None:
    halls = bench_halls(2, prefix="open")
    add_halls(sql_engine, halls)
    days = RNG.days
    for i, h in enumerate(halls):
        rows = Rows()
        for j, day in enumerate(days):
            ended = day < TODAY - timedelta(days=2) or i == 1  # hall 0 has not ended its last two days
            rows.extend(history(h, day, 20, _rand(i, j), now=NOW if day == TODAY else None,
                                closed=ended and day != TODAY, seq_start=j * 1000))
        insert(sql_engine, rows)
    left = left_waiting(sql_engine, halls[1], TODAY - timedelta(days=3))  # after its day was ended
    region = assert_the_sum_of_the_hall_reports(sql_engine, halls)
    assert region["sources"] == {"summarised": 5, "made": 5, "refreshed": 0, "live": 5}
    with Session(sql_engine) as session:
        marked = set(session.execute(sa.select(ReportDayRow.hall, ReportDayRow.day)).all())
    assert (halls[0].id, _text(TODAY - timedelta(days=1))) not in marked
    assert (halls[1].id, _text(TODAY - timedelta(days=3))) not in marked
    # Hall 0 ends its day at last, and the ticket left waiting is missed when its hall ends the next day.
    end_day(sql_engine, halls[0], TODAY - timedelta(days=1))
    with Session(sql_engine) as session, session.begin():
        session.execute(sa.update(TicketRow).where(TicketRow.hall == halls[1].id, TicketRow.id == left).values(
            status="missed", last_event_ms=0))
    settled = assert_the_sum_of_the_hall_reports(sql_engine, halls)
    assert settled["sources"] == {"summarised": 8, "made": 3, "refreshed": 0, "live": 2}


def test_the_facts_of_many_halls_read_at_once_are_each_halls_facts(sql_engine: SqlEngine) -> None:
    halls = seeded(sql_engine, 2, "many")
    imported = import_ticket(sql_engine, halls[0], TODAY - timedelta(days=1))  # an id that is not day first
    many = load_many(sql_engine, halls, RNG)
    for h in halls:
        one = [replace(t, staff=None) for t in load_tickets(sql_engine, h, RNG)]
        assert sorted(many[h.id], key=lambda t: t.id) == sorted(one, key=lambda t: t.id)
    moved = next(t for t in many[halls[0].id] if t.id == imported)
    assert (moved.service, moved.wait_s, moved.score) == ("SOC", 600.0, 5)
    assert_the_sum_of_the_hall_reports(sql_engine, halls)


async def test_a_day_the_engine_played_and_ended_is_summarised_the_same(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock, demo_hall: HallConfig
) -> None:
    await busy_morning(engine, clock)  # every kind of ticket event, on Monday
    clock.advance(600)
    await engine.end_day()
    clock.set(MONDAY_9AM + timedelta(days=1))  # Tuesday
    await engine.open_window("1")
    issued = await engine.issue("SOC")
    clock.advance(120)
    await engine.call_next("1")
    clock.advance(30)
    await engine.start("1")
    clock.advance(300)
    await engine.finish("1", "done")
    await engine.issue("HUK")  # still waiting
    await fast_archiver(engine, sql_engine).drain()
    now = MONDAY_9AM + timedelta(days=1, hours=1)
    rng = DateRange(MONDAY_9AM.date(), now.date())
    region = assert_the_sum_of_the_hall_reports(sql_engine, [demo_hall], rng, now)
    assert region["sources"] == {"summarised": 1, "made": 1, "refreshed": 0, "live": 1}
    monday, tuesday = region["days"]
    assert (monday["issued"], monday["unfinished"], tuesday["issued"], tuesday["unfinished"]) == (8, 0, 2, 1)
    many = load_many(sql_engine, [demo_hall], rng)[demo_hall.id]
    one = load_tickets(sql_engine, demo_hall, rng)
    assert {t.id: (t.service, t.wait_s, t.handling_s) for t in many} == {
        t.id: (t.service, t.wait_s, t.handling_s) for t in one}
    assert issued.ticket.id in {t.id for t in many}
    assert_the_sum_of_the_hall_reports(sql_engine, [demo_hall], rng, now)  # read from the summary this time
    _, sources = region_sums(sql_engine, [HallNow(demo_hall, now)], rng)
    assert (sources.summarised, sources.made) == (1, 0)


# -- writing the record as the archiver would ------------------------------------------------------------
def _text(day: date) -> str:
    return day.strftime("%Y%m%d")


def _rand(hall: int, day: int) -> random.Random:
    return random.Random(hall * 100 + day)


def _ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


def book(sql: SqlEngine, hall: HallConfig, day: date, service: str, n: int) -> None:
    """``n`` bookings of ``day`` never checked in: appointment no-shows once their time has passed."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=hall.zone) + timedelta(hours=9)
    with Session(sql) as session, session.begin():
        for i in range(n):
            session.add(AppointmentRow(
                id=uuid.uuid4().hex, hall=hall.id, service=service, item=None, day=day, slot_start=start,
                slot_end=start + timedelta(minutes=30), code=f"B{i:05d}", person=f"p{i}", holder="张*三", phone=None,
                status="booked", ticket=None, booked_at=start - timedelta(days=2), booked_by=None))


def rate_late(sql: SqlEngine, hall: HallConfig, day: date, *, score: int, transferred: bool) -> str:
    """A rating (and a case, if 差评) for a served ticket of ``day`` that had none, given now; the ticket first
    transferred to another service if ``transferred``. The service it was issued for."""
    text = day.strftime("%Y%m%d")
    with Session(sql) as session, session.begin():
        rated = sa.select(RatingRow.ticket).where(RatingRow.hall == hall.id)
        ticket = session.execute(sa.select(TicketRow).where(
            TicketRow.hall == hall.id, TicketRow.day == text, TicketRow.status == "done", TicketRow.transfers == 0,
            TicketRow.id.not_in(rated)).order_by(TicketRow.id).limit(1)).scalar_one()
        issued_for = ticket.service
        if transferred:
            to = next(s.code for s in hall.services if s.code != issued_for)
            at = ticket.issued_at + timedelta(seconds=1)
            session.add(TicketEventRow(hall=hall.id, stream_ms=_ms(at), stream_seq=900_000, type="ticket.transferred",
                                       at=at, ticket=ticket.id, window=None, actor=None,
                                       payload={"type": "ticket.transferred", "from_service": issued_for,
                                                "service": to}))
            ticket.service, ticket.transfers = to, 1
        session.add(RatingRow(hall=hall.id, ticket=ticket.id, day=text, number=ticket.number, service=ticket.service,
                              window=ticket.window, score=score, bad=score <= 2, source="qr", comment=None, late=True,
                              rated_at=NOW - timedelta(hours=1), stream_ms=_ms(NOW), stream_seq=1))
        session.flush()
        if score <= 2:
            session.add(CaseRow(hall=hall.id, ticket=ticket.id, day=text, number=ticket.number,
                                service=ticket.service, window=ticket.window, score=score, status="awaiting_callback",
                                opened_at=NOW - timedelta(hours=1), callback_due=NOW + timedelta(days=1),
                                fix_due=NOW + timedelta(days=5)))
    return issued_for


def left_waiting(sql: SqlEngine, hall: HallConfig, day: date) -> str:
    """A ticket of ``day`` issued after its day was ended, still waiting: the day is not settled."""
    at = datetime.combine(day, datetime.min.time(), tzinfo=hall.zone) + timedelta(hours=19)
    tid = f"{_text(day)}-late00000001"
    with Session(sql) as session, session.begin():
        session.add(TicketRow(hall=hall.id, id=tid, day=_text(day), number="Z001", service="SOC", status="waiting",
                              tier=0, channel="guide", priority=None, window=None, issued_at=at, recalls=0,
                              transfers=0, last_event_ms=_ms(at), last_event_seq=999_999))
        session.add(TicketEventRow(hall=hall.id, stream_ms=_ms(at), stream_seq=999_999, type="ticket.issued", at=at,
                                   ticket=tid, window=None, actor=None, payload={"type": "ticket.issued"}))
    return tid


def end_day(sql: SqlEngine, hall: HallConfig, day: date) -> None:
    at = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=hall.zone) + timedelta(hours=8)
    with Session(sql) as session, session.begin():
        session.add(TicketEventRow(hall=hall.id, stream_ms=_ms(at), stream_seq=0, type="day.closed", at=at,
                                   ticket=None, window=None, actor=None,
                                   payload={"type": "day.closed", "day": _text(day), "missed": 0, "finished": 0}))


def import_ticket(sql: SqlEngine, hall: HallConfig, day: date) -> str:
    """A served ticket whose id does not begin with its day (as an import may write it), transferred from SOC,
    with its events and a rating."""
    issued = datetime.combine(day, datetime.min.time(), tzinfo=hall.zone) + timedelta(hours=10)
    tid = "imported-0001"
    events = [("ticket.issued", 0, {}), ("ticket.called", 600, {"window": "1"}),
              ("ticket.transferred", 700, {"from_service": "SOC", "service": "TAX"}),
              ("ticket.called", 900, {"window": "2"}), ("ticket.finished", 1500, {"outcome": "done"})]
    with Session(sql) as session, session.begin():
        session.add(TicketRow(hall=hall.id, id=tid, day=_text(day), number="X001", service="TAX", status="done",
                              tier=1, channel="guide", priority=None, window="2", issued_at=issued,
                              called_at=issued + timedelta(seconds=900), finished_at=issued + timedelta(seconds=1500),
                              outcome="done", recalls=0, transfers=1, last_event_ms=_ms(issued) + 1_500_000,
                              last_event_seq=5))
        for seq, (kind, after, extra) in enumerate(events, start=1):
            at = issued + timedelta(seconds=after)
            session.add(TicketEventRow(hall=hall.id, stream_ms=_ms(at), stream_seq=seq, type=kind, at=at, ticket=tid,
                                       window=extra.get("window"), actor=None, payload={"type": kind, **extra}))
        session.add(RatingRow(hall=hall.id, ticket=tid, day=_text(day), number="X001", service="TAX", window="2",
                              score=5, bad=False, source="pad", comment=None, late=False,
                              rated_at=issued + timedelta(seconds=1600), stream_ms=_ms(issued) + 1_600_000,
                              stream_seq=6))
    return tid


def test_the_seeded_rows_are_what_a_hall_report_reads(sql_engine: SqlEngine) -> None:
    """The benchmark's history is read as the record's own (guards the seeding the other tests rely on)."""
    halls = seeded(sql_engine, 1, "seed")
    facts = load_facts(sql_engine, halls[0], RNG, NOW)
    statuses = {t.status for t in facts.tickets}
    assert {"done", "missed", "cancelled"} <= statuses
    assert statuses & {"waiting", "called", "serving"}  # today, at 16:00
    assert any(t.score is not None for t in facts.tickets)


def test_the_archive_process_summarises_settled_days_ahead_of_the_reports(sql_engine: SqlEngine) -> None:
    halls = seeded(sql_engine)
    now = [HallNow(h, NOW.astimezone(h.zone)) for h in halls]
    # The month before today of three halls: four closed days with tickets, the rest closed empty (today never).
    assert warm(sql_engine, now) == DAYS * len(halls)
    assert warm(sql_engine, now) == 0
    report = region_report(sql_engine, halls, RNG, NOW)
    assert report["sources"] == {"summarised": 12, "made": 0, "refreshed": 0, "live": 3}
