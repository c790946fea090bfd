"""The appointments' SQL store on SQLite and PostgreSQL: capacity and one-a-day hold under concurrent requests,
cancelling gives the place back, voucher codes are unique per hall and day, and no-shows are read from the time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.orm import Session

from floor.appointments import store
from floor.appointments.rules import Refused, new_booking_id
from floor.sql.db import sync_config
from queue_engine.config import HallConfig
from tests.conftest import SHANGHAI

DAY = date(2027, 3, 2)
NINE = datetime(2027, 3, 2, 9, 0, tzinfo=SHANGHAI).astimezone(UTC)
BOOKED_AT = datetime(2027, 3, 1, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)
RACERS = 8


@pytest.fixture
def sql(sql_engine: SqlEngine, demo_hall: HallConfig) -> SqlEngine:
    sync_config(sql_engine, demo_hall)
    return sql_engine


def new(person: str, *, start: datetime = NINE, service: str = "SOC", day: date = DAY) -> store.NewBooking:
    return store.NewBooking(id=new_booking_id(), hall="demo", service=service, item=None, day=day, slot_start=start,
                            slot_end=start + timedelta(minutes=30), person=person, holder="张*三", phone="f" * 32,
                            booked_at=BOOKED_AT, booked_by="guide@t1")


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released at the same moment; each one's result or the exception it raised."""
    results: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def booker(sql: SqlEngine, person: str, capacity: int, *, start: datetime = NINE) -> Callable[[], store.AppointmentRow]:
    """A call for ``race``: book ``new(person, start=start)`` once the racers are released."""
    return lambda: store.book(sql, new(person, start=start), capacity=capacity)


def codes_of(results: list[Any]) -> list[str]:
    return sorted(r.code if isinstance(r, Refused) else "ok" if isinstance(r, store.AppointmentRow) else repr(r)
                  for r in results)


def stored(sql: SqlEngine) -> list[store.AppointmentRow]:
    with Session(sql) as s:
        return list(s.scalars(sa.select(store.AppointmentRow)))


# -- booking -----------------------------------------------------------------------------------------------
def test_a_booking_is_stored_with_a_voucher_code_and_only_keyed_hashes(sql: SqlEngine) -> None:
    row = store.book(sql, new("p" * 32), capacity=4)
    again = store.get(sql, "demo", row.id)
    assert again is not None
    assert (again.status, again.person, again.holder, again.day) == ("booked", "p" * 32, "张*三", DAY)
    assert again.slot_start == NINE
    assert again.code.isdigit()
    assert len(again.code) == 6
    assert store.get(sql, "other-hall", row.id) is None  # a hall sees only its own bookings
    assert store.places_taken(sql, "demo", "SOC", NINE, NINE) == {NINE: 1}


def test_a_full_slot_refuses_the_next_booking(sql: SqlEngine) -> None:
    store.book(sql, new("a"), capacity=2)
    store.book(sql, new("b"), capacity=2)
    with pytest.raises(Refused) as info:
        store.book(sql, new("c"), capacity=2)
    assert (info.value.status, info.value.code) == (409, "slot_full")
    assert store.places_taken(sql, "demo", "SOC", NINE, NINE) == {NINE: 2}
    store.book(sql, new("c", start=NINE + timedelta(minutes=30)), capacity=2)  # the next slot has room
    store.book(sql, new("c", service="HUK"), capacity=2)  # and so has another service's same slot


def test_concurrent_requests_for_the_last_place_cannot_both_succeed(sql: SqlEngine) -> None:
    store.book(sql, new("first"), capacity=2)  # one place left
    results = race([booker(sql, f"racer-{i}", capacity=2) for i in range(RACERS)])
    assert codes_of(results) == ["ok"] + ["slot_full"] * (RACERS - 1)
    assert store.places_taken(sql, "demo", "SOC", NINE, NINE) == {NINE: 2}
    assert len(stored(sql)) == 2


def test_concurrent_bookings_of_one_person_for_one_service_and_day_leave_one(sql: SqlEngine) -> None:
    starts = [NINE + timedelta(minutes=30 * i) for i in range(RACERS)]  # a different slot each: no shared lock
    results = race([booker(sql, "same-person", capacity=4, start=s) for s in starts])
    assert codes_of(results) == ["already_booked"] * (RACERS - 1) + ["ok"]
    assert len(stored(sql)) == 1
    # The refused ones took no place: every slot but the winner's is empty.
    taken = store.places_taken(sql, "demo", "SOC", starts[0], starts[-1])
    assert sum(taken.values()) == 1


def test_cancelling_frees_the_place_and_the_day(sql: SqlEngine) -> None:
    row = store.book(sql, new("a"), capacity=1)
    assert store.cancel(sql, row, BOOKED_AT)
    assert not store.cancel(sql, row, BOOKED_AT)  # once
    assert store.places_taken(sql, "demo", "SOC", NINE, NINE) == {NINE: 0}
    assert not store.holds_booking(sql, "demo", "a", "SOC", DAY)
    store.book(sql, new("a"), capacity=1)  # the same person, the same slot, again
    cancelled = store.get(sql, "demo", row.id)
    assert cancelled is not None
    assert (cancelled.status, cancelled.cancelled_at) == ("cancelled", BOOKED_AT)


def test_voucher_codes_are_unique_per_hall_and_day(sql: SqlEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = iter(["123456", "123456", "654321", "123456"])
    monkeypatch.setattr(store, "new_code", lambda: next(drawn))
    first = store.book(sql, new("a"), capacity=4)
    second = store.book(sql, new("b"), capacity=4)  # drew 123456 again, then 654321
    other_day = store.book(sql, new("c", day=date(2027, 3, 3), start=NINE + timedelta(days=1)), capacity=4)
    assert (first.code, second.code, other_day.code) == ("123456", "654321", "123456")
    assert store.places_taken(sql, "demo", "SOC", NINE, NINE) == {NINE: 2}  # the redrawn try took no extra place


def test_a_check_in_is_recorded_once_and_ends_cancelling(sql: SqlEngine) -> None:
    row = store.book(sql, new("a"), capacity=4)
    assert store.mark_checked_in(sql, row, "20270302-abc", NINE)
    assert not store.mark_checked_in(sql, row, "20270302-def", NINE)
    assert not store.cancel(sql, row, NINE)
    after = store.get(sql, "demo", row.id)
    assert after is not None
    assert (after.status, after.ticket) == ("checked_in", "20270302-abc")


# -- reading -----------------------------------------------------------------------------------------------
def test_a_day_is_read_by_person_by_code_and_by_service(sql: SqlEngine) -> None:
    soc = store.book(sql, new("a"), capacity=4)
    huk = store.book(sql, new("a", service="HUK", start=NINE + timedelta(hours=1)), capacity=4)
    store.book(sql, new("b"), capacity=4)
    assert [r.id for r in store.of_day(sql, "demo", DAY, person="a")] == [soc.id, huk.id]  # by slot
    assert [r.id for r in store.of_day(sql, "demo", DAY, person="a", service="HUK")] == [huk.id]
    assert [r.id for r in store.of_day(sql, "demo", DAY, code=soc.code)] == [soc.id]
    assert store.of_day(sql, "demo", DAY + timedelta(days=1), person="a") == []


@pytest.fixture
def morning(sql: SqlEngine) -> dict[str, store.AppointmentRow]:
    """Four bookings of 09:00: one checked in, one cancelled, two left open (void from 09:30)."""
    rows = {name: store.book(sql, new(name), capacity=4) for name in ("in", "gone", "late1", "late2")}
    store.mark_checked_in(sql, rows["in"], "t1", NINE)
    store.cancel(sql, rows["gone"], BOOKED_AT)
    return rows


def test_void_and_no_shows_are_read_from_the_time(sql: SqlEngine, morning: dict[str, store.AppointmentRow]) -> None:
    before, after = NINE + timedelta(minutes=29), NINE + timedelta(minutes=30)
    listed = store.listing(sql, "demo", DAY, service=None, status="void", now=before, void_after_s=1800, limit=100)
    assert listed == []
    listed = store.listing(sql, "demo", DAY, service=None, status="void", now=after, void_after_s=1800, limit=100)
    assert sorted(r.id for r in listed) == sorted([morning["late1"].id, morning["late2"].id])
    still = store.listing(sql, "demo", DAY, service="SOC", status="booked", now=after, void_after_s=1800, limit=100)
    assert still == []
    assert store.no_shows(sql, "demo", "late1", after, 1800) == [after]
    assert store.no_shows(sql, "demo", "late1", before, 1800) == []
    assert store.no_shows(sql, "demo", "in", after, 1800) == []
    counts = store.status_counts(sql, "demo", DAY, DAY, after, 1800)
    assert counts == {(DAY, "SOC"): {"checked_in": 1, "cancelled": 1, "void": 2}}


def test_a_lift_is_recorded_with_its_time(sql: SqlEngine) -> None:
    assert store.last_lift(sql, "demo", "a") is None
    store.lift(sql, "demo", "a", NINE, "manager@t9", "公安机关证明系误约")
    store.lift(sql, "demo", "a", NINE + timedelta(days=1), "manager@t9", None)
    assert store.last_lift(sql, "demo", "a") == NINE + timedelta(days=1)
    assert store.last_lift(sql, "demo", "b") is None
