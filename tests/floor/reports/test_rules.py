"""Reports from the SQL record: a day built through the real engine and archiver, every figure checked against
numbers worked out by hand, on SQLite and on PostgreSQL (the same expected numbers for both).

The day (Monday 2026-11-23, T = 09:00 + seconds; S01/S02 are the staff named by the tokens that acted):

    window 1 opened by S01, window 2 by S02, window 5 by a manager
    a1 SOC  +0    called @1 +300 (S01)   start +360  finished done +660 (S01)            rated 5
    a2 SOC  +60   green, elderly; called @2 +1060  start +1100  finished +1700 by a token naming nobody (-> S02,
                  who opened window 2)                                                  rated 2: a 差评, its case open
    a3 SOC  +120  called @1 +700 (S01)   recalled +730, no-show +760 (S01)
    b1 HUK  +180  called @2 +1800 (S02)  start +1830  transferred to TAX +1900; called @5 +2000 (manager)
                  start +2010  finished +2310 (manager: no staff named, window 5 opened by a manager)
                  rated 3 the next day (a late rating counts for the ticket's day)
    c1 HUK  +240  green, disabled; cancelled +400
    d1 TAX  +300  a checked-in booking (channel appointment); called @5 +500  start +520  finished consult +1120
                  rated 1: a 差评, its case taken through callback, fix and feedback: closed
    d2 TAX  +310  still waiting
    bookings of the day: TAX 09:30 never checked in (a no-show), SOC 10:00 checked in, HUK 10:30 cancelled

    Tuesday 2026-11-24: e1 SOC 09:00, called @1 +120 and finished +450 by a token naming nobody: S01, who opened
    window 1 on Monday and never closed it.

The report is made on Thursday 2026-11-26 at noon, when a2's case is past its callback deadline (end of the
next working day, Tuesday).
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine as SqlEngine

from floor.appointments.store import NewBooking, book, cancel, mark_checked_in
from floor.audit.store import Actor
from floor.ratings.store import record_step
from floor.reports.facts import load_facts
from floor.reports.rules import (
    DateRange,
    Facts,
    TicketFact,
    counts,
    figures,
    hourly,
    p90,
    report,
    satisfaction,
    share,
    star_count,
    stars,
)
from queue_engine.actor import ACTOR
from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from tests.conftest import MONDAY_9AM, SHANGHAI
from tests.floor.conftest import fast_archiver

MONDAY, TUESDAY = date(2026, 11, 23), date(2026, 11, 24)
REPORTED_AT = datetime(2026, 11, 26, 12, 0, tzinfo=SHANGHAI)
S01, S02, NOBODY_1, NOBODY_2 = "staff:1/S01@t1", "staff:2/S02@t2", "staff:1@t1b", "staff:2@t2x"
MANAGER, GUIDE = "manager@tm", "guide@g"


async def act(actor: str, step: Awaitable[Any]) -> Any:
    """Run an engine call as this token's actor (the server sets it per request)."""
    token = ACTOR.set(actor)
    try:
        return await step
    finally:
        ACTOR.reset(token)


async def build_monday(engine: Engine, clock: ManualClock) -> dict[str, str]:
    ids: dict[str, str] = {}

    def at(offset: int) -> None:
        clock.set(MONDAY_9AM + timedelta(seconds=offset))

    async def issue(name: str, service: str, **options: Any) -> None:
        ids[name] = (await act(GUIDE, engine.issue(service, **options))).ticket.id

    at(0)
    await act(S01, engine.open_window("1"))
    await act(S02, engine.open_window("2"))
    await act(MANAGER, engine.open_window("5"))
    await issue("a1", "SOC")
    at(60)
    await issue("a2", "SOC", priority="green", green_reason="elderly")
    at(120)
    await issue("a3", "SOC")
    at(180)
    await issue("b1", "HUK")
    at(240)
    await issue("c1", "HUK", priority="green", green_reason="disabled")
    at(300)
    slot = int((MONDAY_9AM + timedelta(minutes=30)).timestamp() * 1000)
    await issue("d1", "TAX", channel="appointment", appointment_ms=slot)
    await act(S01, engine.call_ticket("1", ids["a1"], "按号"))
    at(310)
    await issue("d2", "TAX")
    at(360)
    await act(S01, engine.start("1"))
    at(400)
    await act(GUIDE, engine.cancel(ids["c1"]))
    at(500)
    await act(MANAGER, engine.call_ticket("5", ids["d1"], "预约"))
    at(520)
    await act(MANAGER, engine.start("5"))
    at(660)
    await act(S01, engine.finish("1", "done"))
    at(700)
    await act(S01, engine.call_ticket("1", ids["a3"], "按号"))
    at(730)
    await act(S01, engine.recall("1"))  # a no-show after a recall and a minute, as a hall's rule may ask
    at(760)
    await act(S01, engine.no_show("1"))
    at(1060)
    await act(S02, engine.call_ticket("2", ids["a2"], "绿色通道"))
    at(1100)
    await act(S02, engine.start("2"))
    at(1120)
    await act(MANAGER, engine.finish("5", "consult"))
    at(1700)
    await act(NOBODY_2, engine.finish("2", "done"))
    at(1800)
    await act(S02, engine.call_ticket("2", ids["b1"], "按号"))
    at(1830)
    await act(S02, engine.start("2"))
    at(1900)
    await act(S02, engine.transfer("2", to_service="TAX", reason="税务"))
    at(2000)
    await act(MANAGER, engine.call_ticket("5", ids["b1"], "转办"))
    at(2010)
    await act(MANAGER, engine.start("5"))
    at(2310)
    await act(MANAGER, engine.finish("5", "done"))
    at(2400)
    for name, score in (("a1", 5), ("a2", 2), ("d1", 1)):
        await engine.rate(ids[name], score, "pad")
    return ids


async def build_tuesday(engine: Engine, clock: ManualClock, ids: dict[str, str]) -> None:
    tuesday_9am = MONDAY_9AM + timedelta(days=1)
    clock.set(tuesday_9am)
    ids["e1"] = (await act(GUIDE, engine.issue("SOC"))).ticket.id
    clock.set(tuesday_9am + timedelta(seconds=120))
    await act(NOBODY_1, engine.call_ticket("1", ids["e1"], "按号"))
    clock.set(tuesday_9am + timedelta(seconds=150))
    await act(NOBODY_1, engine.start("1"))
    clock.set(tuesday_9am + timedelta(seconds=450))
    await act(NOBODY_1, engine.finish("1", "done"))
    clock.set(tuesday_9am + timedelta(seconds=600))
    await engine.rate(ids["b1"], 3, "qr")  # Monday's ticket, rated on Tuesday


def add_bookings(sql: SqlEngine, ids: dict[str, str]) -> None:
    def booking(name: str, service: str, minutes: int) -> NewBooking:
        start = MONDAY_9AM + timedelta(minutes=minutes)
        return NewBooking(id=f"bk-{name}", hall="demo", service=service, item=None, day=MONDAY, slot_start=start,
                          slot_end=start + timedelta(minutes=30), person=f"k:{name}", holder="张*三", phone=None,
                          booked_at=MONDAY_9AM - timedelta(days=2), booked_by=GUIDE)

    book(sql, booking("never-came", "TAX", 30), 4)
    came = book(sql, booking("came", "SOC", 60), 4)
    assert mark_checked_in(sql, came, ids["a1"], MONDAY_9AM + timedelta(minutes=61))
    called_off = book(sql, booking("called-off", "HUK", 90), 4)
    assert cancel(sql, called_off, MONDAY_9AM - timedelta(days=1))


def close_case(sql: SqlEngine, ticket: str) -> None:
    manager = Actor("manager", "tm", None)
    when = MONDAY_9AM + timedelta(hours=3)
    for step, fields in (("callback", {"note": "已回访", "reached": True}), ("fix", {"note": "已整改"}),
                         ("feedback", {"note": "已反馈", "satisfied": True})):
        record_step(sql, "demo", ticket, step, fields, manager, MANAGER, when)


@pytest.fixture
async def record(engine: Engine, sql_engine: SqlEngine, clock: ManualClock) -> dict[str, str]:
    """Monday and Tuesday in the SQL record; the ticket ids by name."""
    ids = await build_monday(engine, clock)
    await build_tuesday(engine, clock, ids)
    await fast_archiver(engine, sql_engine).drain()
    add_bookings(sql_engine, ids)
    close_case(sql_engine, ids["d1"])
    return ids


def facts_of(sql: SqlEngine, hall: HallConfig, first: date, last: date | None = None) -> Facts:
    return load_facts(sql, hall, DateRange(first, last or first), REPORTED_AT)


def row(data: dict[str, Any], key: str | None) -> dict[str, Any]:
    found: list[dict[str, Any]] = [r for r in data["rows"] if r["key"] == key]
    assert len(found) == 1, (key, [r["key"] for r in data["rows"]])
    return found[0]


def pick(figures: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: figures[name] for name in names}


COUNTS = ("issued", "served", "missed", "cancelled", "unfinished")
TIMES = ("avg_wait_s", "p90_wait_s", "avg_handling_s", "p90_handling_s")
NONE_RATED = {"5": 0, "4": 0, "3": 0, "2": 0, "1": 0}


# -- the whole day ------------------------------------------------------------------------------------
async def test_the_days_totals_match_the_figures_worked_out_by_hand(
    record: dict[str, str], sql_engine: SqlEngine, demo_hall: HallConfig
) -> None:
    data = report(demo_hall, DateRange(MONDAY, MONDAY), "service", facts_of(sql_engine, demo_hall, MONDAY))
    totals = data["totals"]
    assert pick(totals, *COUNTS) == {"issued": 7, "served": 4, "missed": 1, "cancelled": 1, "unfinished": 1}
    # waits 300, 1000, 580, 1620, 200: mean 740, nearest-rank p90 the 5th of 5; handling 300, 600, 300, 600
    assert pick(totals, *TIMES) == {"avg_wait_s": 740, "p90_wait_s": 1620, "avg_handling_s": 450,
                                    "p90_handling_s": 600}
    assert totals["no_show_rate"] == 0.2  # 1 missed / (4 served + 1 missed)
    assert totals["over_target"] == 2  # a2 (1000 s) and b1 (1620 s) past their 900 s target
    assert totals["green"] == {"elderly": 1, "disabled": 1, "pregnant": 0, "military": 0, "other": 0}
    assert totals["green_total"] == 2
    assert (totals["appointments"], totals["appointment_no_shows"]) == (1, 1)
    assert totals["ratings"] == {"5": 1, "4": 0, "3": 1, "2": 1, "1": 1}  # b1's late rating counts for Monday
    assert (totals["rated"], totals["satisfaction"], totals["bad"]) == (4, 4.75, 2)  # (10 + 6 + 3 + 0) / 4
    # Beside it, 好评率 (5 and 3 are not 差评) and each level's share of the four ratings.
    assert (totals["good"], totals["good_rate"]) == (2, 0.5)
    assert totals["rating_shares"] == {"5": 0.25, "4": 0.0, "3": 0.25, "2": 0.25, "1": 0.25}
    assert totals["cases"] == {"open": 1, "closed": 1, "overdue": 1}
    assert data["days"] == [{"day": "2026-11-23", **totals}]


async def test_a_ticket_counts_for_the_service_it_was_issued_for(
    record: dict[str, str], sql_engine: SqlEngine, demo_hall: HallConfig
) -> None:
    data = report(demo_hall, DateRange(MONDAY, MONDAY), "service", facts_of(sql_engine, demo_hall, MONDAY))
    soc, huk, tax = row(data, "SOC"), row(data, "HUK"), row(data, "TAX")
    assert pick(soc, *COUNTS) == {"issued": 3, "served": 2, "missed": 1, "cancelled": 0, "unfinished": 0}
    assert pick(soc, *TIMES) == {"avg_wait_s": 627, "p90_wait_s": 1000, "avg_handling_s": 450, "p90_handling_s": 600}
    assert (soc["no_show_rate"], soc["over_target"], soc["green_total"]) == (0.3333, 1, 1)
    assert (soc["ratings"]["5"], soc["ratings"]["2"], soc["satisfaction"], soc["bad"]) == (1, 1, 6.5, 1)
    assert soc["cases"] == {"open": 1, "closed": 0, "overdue": 1}
    # b1 was transferred to TAX and finished there: it stays HUK's
    assert pick(huk, *COUNTS) == {"issued": 2, "served": 1, "missed": 0, "cancelled": 1, "unfinished": 0}
    assert pick(huk, *TIMES) == {"avg_wait_s": 1620, "p90_wait_s": 1620, "avg_handling_s": 300,
                                 "p90_handling_s": 300}
    assert (huk["no_show_rate"], huk["over_target"], huk["green"]["disabled"], huk["satisfaction"]) == (0.0, 1, 1, 6.0)
    assert pick(tax, *COUNTS) == {"issued": 2, "served": 1, "missed": 0, "cancelled": 0, "unfinished": 1}
    assert (tax["avg_wait_s"], tax["avg_handling_s"], tax["appointments"], tax["appointment_no_shows"]) == (
        200, 600, 1, 1)
    assert (tax["satisfaction"], tax["bad"], tax["cases"]) == (0.0, 1, {"open": 0, "closed": 1, "overdue": 0})
    assert row(data, "SOC")["appointment_no_shows"] == 0  # its booking was checked in; HUK's was cancelled
    assert row(data, "HUK")["appointment_no_shows"] == 0
    quiet = row(data, "FUND")
    assert (quiet["issued"], quiet["avg_wait_s"], quiet["no_show_rate"], quiet["satisfaction"]) == (0, None, None, None)
    assert [r["key"] for r in data["rows"]] == [s.code for s in demo_hall.services]


async def test_a_ticket_counts_for_the_window_it_was_last_called_to(
    record: dict[str, str], sql_engine: SqlEngine, demo_hall: HallConfig
) -> None:
    data = report(demo_hall, DateRange(MONDAY, MONDAY), "window", facts_of(sql_engine, demo_hall, MONDAY))
    one, two, five, never = row(data, "1"), row(data, "2"), row(data, "5"), row(data, None)
    assert pick(one, "issued", "served", "missed", "avg_wait_s", "p90_wait_s", "avg_handling_s") == {
        "issued": 2, "served": 1, "missed": 1, "avg_wait_s": 440, "p90_wait_s": 580, "avg_handling_s": 300}
    assert (one["no_show_rate"], one["satisfaction"]) == (0.5, 10.0)
    assert pick(two, "issued", "served", "avg_wait_s", "avg_handling_s", "over_target") == {
        "issued": 1, "served": 1, "avg_wait_s": 1000, "avg_handling_s": 600, "over_target": 1}
    assert two["cases"] == {"open": 1, "closed": 0, "overdue": 1}
    assert pick(five, "issued", "served", "avg_wait_s", "p90_wait_s", "avg_handling_s", "p90_handling_s") == {
        "issued": 2, "served": 2, "avg_wait_s": 910, "p90_wait_s": 1620, "avg_handling_s": 450, "p90_handling_s": 600}
    assert (five["appointments"], five["satisfaction"], five["bad"]) == (1, 3.0, 1)
    assert five["appointment_no_shows"] is None  # a booking never reached a window
    assert (never["name"], never["issued"], never["cancelled"], never["unfinished"]) == ("未到窗口", 2, 1, 1)
    assert sum(r["issued"] for r in data["rows"]) == data["totals"]["issued"]


async def test_a_ticket_counts_for_the_staff_named_by_its_finish_or_else_the_windows_opener(
    record: dict[str, str], sql_engine: SqlEngine, demo_hall: HallConfig
) -> None:
    monday = report(demo_hall, DateRange(MONDAY, MONDAY), "staff", facts_of(sql_engine, demo_hall, MONDAY))
    s01, s02, nobody = row(monday, "S01"), row(monday, "S02"), row(monday, None)
    # The manager's own staff by their full names (masking is for citizens): a1, and a3's no-show.
    assert (s01["name"], s01["name_en"], s01["issued"], s01["served"], s01["missed"]) == ("王芳", "王芳", 2, 1, 1)
    assert (s02["issued"], s02["served"], s02["avg_wait_s"]) == (1, 1, 1000)  # a2: finished by nobody, S02 opened 2
    # b1 and d1 ended at window 5, opened and finished by a manager; c1 and d2 never reached a window
    assert (nobody["name"], nobody["issued"], nobody["served"]) == ("未登记", 4, 2)
    assert row(monday, "S03")["issued"] == 0  # every member of staff has a row
    tuesday = report(demo_hall, DateRange(TUESDAY, TUESDAY), "staff", facts_of(sql_engine, demo_hall, TUESDAY))
    # e1 was finished by a token naming nobody at window 1, which S01 opened on Monday and left open
    assert pick(row(tuesday, "S01"), "issued", "served", "avg_wait_s", "avg_handling_s") == {
        "issued": 1, "served": 1, "avg_wait_s": 120, "avg_handling_s": 300}
    assert all(r["key"] is not None for r in tuesday["rows"])


async def test_a_range_adds_its_days_and_lists_each_one(
    record: dict[str, str], sql_engine: SqlEngine, demo_hall: HallConfig
) -> None:
    rng = DateRange(MONDAY, date(2026, 11, 25))
    data = report(demo_hall, rng, "service", load_facts(sql_engine, demo_hall, rng, REPORTED_AT))
    assert (data["from"], data["to"], data["by"]) == ("2026-11-23", "2026-11-25", "service")
    assert [d["day"] for d in data["days"]] == ["2026-11-23", "2026-11-24", "2026-11-25"]
    assert [d["issued"] for d in data["days"]] == [7, 1, 0]
    totals = data["totals"]
    assert pick(totals, "issued", "served", "avg_wait_s", "p90_wait_s") == {
        "issued": 8, "served": 5, "avg_wait_s": 637, "p90_wait_s": 1620}  # waits: Monday's five and 120
    assert row(data, "SOC")["issued"] == 4
    assert data["days"][2]["appointment_no_shows"] == 0


async def test_hours_of_the_day_count_tickets_and_average_their_waits_by_issue_time(
    record: dict[str, str], sql_engine: SqlEngine, demo_hall: HallConfig
) -> None:
    hours = hourly(demo_hall, facts_of(sql_engine, demo_hall, MONDAY).tickets)
    assert [h["hour"] for h in hours] == [f"{h:02d}:00" for h in range(8, 18)]  # 08:30 to 17:30
    nine = next(h for h in hours if h["hour"] == "09:00")
    assert (nine["issued"], nine["avg_wait_s"]) == (7, 740)
    assert sum(h["issued"] for h in hours) == 7
    assert all(h["avg_wait_s"] is None for h in hours if h["hour"] != "09:00")


async def test_stars_of_the_month_come_from_each_windows_satisfaction_and_cases(
    record: dict[str, str], sql_engine: SqlEngine, demo_hall: HallConfig
) -> None:
    month = DateRange.month(2026, 11)
    data = stars(demo_hall, month, load_facts(sql_engine, demo_hall, month, REPORTED_AT))
    assert data["month"] == "2026-11"
    windows = {w["window"]: w for w in data["windows"]}
    assert pick(windows["1"], "rated", "satisfaction", "good_rate", "stars") == {
        "rated": 1, "satisfaction": 10.0, "good_rate": 1.0, "stars": 5}
    assert (windows["5"]["ratings"], windows["5"]["good_rate"]) == ({"5": 0, "4": 0, "3": 1, "2": 0, "1": 1}, 0.5)
    assert pick(windows["2"], "rated", "satisfaction", "bad", "open_cases", "overdue_cases", "stars") == {
        "rated": 1, "satisfaction": 3.0, "bad": 1, "open_cases": 1, "overdue_cases": 1, "stars": 1}
    assert pick(windows["5"], "rated", "satisfaction", "stars") == {"rated": 2, "satisfaction": 3.0, "stars": 1}
    assert windows["3"]["stars"] is None  # no rating this month
    assert set(windows) == {w.id for w in demo_hall.windows}


# -- the rules, without a database --------------------------------------------------------------------
def test_stars_step_with_the_score_and_are_capped_by_open_and_overdue_cases() -> None:
    assert [star_count(s, 0, 0) for s in (10.0, 9.5, 9.49, 9.0, 8.0, 7.99, 6.0, 5.99, 0.0)] == [
        5, 5, 4, 4, 3, 2, 2, 1, 1]
    assert star_count(9.8, open_cases=1, overdue_cases=0) == 4
    assert star_count(9.8, open_cases=1, overdue_cases=1) == 3
    assert star_count(8.5, open_cases=1, overdue_cases=0) == 3  # a cap never raises
    assert star_count(None, 0, 0) is None


def test_p90_is_the_nearest_rank_value() -> None:
    assert p90([]) is None
    assert p90([5]) == 5
    assert p90(list(range(1, 11))) == 9  # rank ceil(9.0) = 9
    assert p90(list(range(1, 12))) == 10  # rank ceil(9.9) = 10
    assert p90([3, 1, 2]) == 3


def fact(status: str = "done", score: int | None = None, **fields: Any) -> TicketFact:
    values: dict[str, Any] = {"id": "x", "day": MONDAY, "service": "SOC", "status": status, "channel": "guide",
                              "priority": None, "green_reason": None, "window": "1", "staff": None,
                              "issued_at": MONDAY_9AM, "wait_s": 10, "handling_s": 5, "target_s": 900,
                              "score": score}
    return TicketFact(**{**values, **fields})


def test_green_tickets_without_a_reason_count_as_other() -> None:
    assert figures([fact(priority="green")])["green"]["other"] == 1


def test_one_very_satisfied_and_one_very_dissatisfied_read_as_half_good_not_as_a_perfect_five() -> None:
    shown = figures([fact(score=5), fact(score=1)])
    # 5.00 is (10 + 0) / 2 points out of 10; 好评率 and the distribution say what happened.
    assert (shown["satisfaction"], shown["good_rate"], shown["good"], shown["bad"]) == (5.0, 0.5, 1, 1)
    assert shown["ratings"] == {"5": 1, "4": 0, "3": 0, "2": 0, "1": 1}
    assert shown["rating_shares"] == {"5": 0.5, "4": 0.0, "3": 0.0, "2": 0.0, "1": 0.5}
    # 基本满意 is not a 差评; 不满意 is.
    assert figures([fact(score=3), fact(score=2), fact(score=4)])["good_rate"] == 0.6667
    nobody = figures([fact()])
    assert (nobody["good_rate"], nobody["satisfaction"], nobody["rated"]) == (None, None, 0)
    assert nobody["rating_shares"] == {"5": None, "4": None, "3": None, "2": None, "1": None}


def test_figures_round_half_up_as_people_do() -> None:
    assert satisfaction([5] * 7 + [2]) == 9.13  # 73 / 8 = 9.125: half up, not to even (9.12)
    assert satisfaction([5, 4, 4, 4]) == 8.5
    assert share(1, 32) == 0.0313  # 0.03125
    assert share(2, 3) == 0.6667
    assert share(0, 0) is None


def test_a_no_show_served_after_counts_as_served_and_once() -> None:
    """过号 counts tickets marked no-show and not served (nor called back or requeued) since: a ticket's status."""
    tickets = [fact("done"), fact("missed", handling_s=None), fact("waiting", wait_s=None, handling_s=None),
               fact("called", handling_s=None), fact("cancelled", wait_s=None, handling_s=None)]
    got = counts(tickets)
    assert (got["issued"], got["served"], got["missed"], got["unfinished"], got["cancelled"]) == (5, 1, 1, 2, 1)
    assert got["no_show_rate"] == 0.5


def test_a_range_must_not_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match="ends on or after"):
        DateRange(TUESDAY, MONDAY)
    assert DateRange.month(2026, 12).last == date(2026, 12, 31)
    assert DateRange.month(2028, 2).last == date(2028, 2, 29)
