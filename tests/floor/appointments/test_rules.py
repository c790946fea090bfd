"""The booking rules (floor.appointments.rules), one test per rule, on the demo hall (08:30-12:00, 14:00-17:30,
30-minute slots, 4 places a slot and 6 for PROP, 1 calendar day to 5 working days ahead, cancel until 2 h before,
void 30 min after the slot starts, 2 no-shows block for 90 days)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from floor.appointments.rules import (
    Refused,
    block_end,
    bookable_service,
    booking_days,
    cancel_until,
    check_cancel,
    check_check_in,
    check_day,
    check_item,
    check_not_blocked,
    check_slot_ahead,
    new_booking_id,
    new_code,
    phone_key,
    slot_at,
    slots_of,
    status_of,
    void_at,
)
from queue_engine.config import HallConfig
from tests.conftest import SHANGHAI

MONDAY = date(2027, 3, 1)
SATURDAY = date(2027, 3, 6)


def at(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), tzinfo=SHANGHAI)


def hall_with(hall: HallConfig, *, appointments: dict[str, Any] | None = None, **fields: Any) -> HallConfig:
    data = hall.model_dump()
    if appointments:
        data["appointments"] = {**data["appointments"], **appointments}
    return HallConfig.model_validate({**data, **fields})


@contextmanager
def refused(code: str, status: int) -> Iterator[None]:
    """The block must raise Refused with this code and status, with a sentence in each language."""
    with pytest.raises(Refused) as info:
        yield
    assert (info.value.code, info.value.status) == (code, status)
    assert info.value.message
    assert info.value.message_zh


# -- slots ---------------------------------------------------------------------------------------------
def test_slots_cut_each_opening_session_from_its_start(demo_hall: HallConfig) -> None:
    slots = slots_of(demo_hall, MONDAY)
    starts = [f"{s.start:%H:%M}" for s in slots]
    assert starts == ["08:30", "09:00", "09:30", "10:00", "10:30", "11:00", "11:30",
                      "14:00", "14:30", "15:00", "15:30", "16:00", "16:30", "17:00"]
    assert all(s.end - s.start == timedelta(minutes=30) for s in slots)
    assert slots[-1].end == at(MONDAY, 17, 30)
    assert all(s.start.tzinfo is not None and s.start.utcoffset() == timedelta(hours=8) for s in slots)


def test_a_slot_ends_within_its_session(demo_hall: HallConfig) -> None:
    hall = hall_with(demo_hall, appointments={"slot_minutes": 45})
    starts = [f"{s.start:%H:%M}" for s in slots_of(hall, MONDAY)]
    # 11:30-12:15 and 17:00-17:45 would run past closing: not offered.
    assert starts == ["08:30", "09:15", "10:00", "10:45", "14:00", "14:45", "15:30", "16:15"]


def test_days_the_hall_does_not_work_have_no_slots(demo_hall: HallConfig) -> None:
    assert slots_of(demo_hall, SATURDAY) == []
    assert slots_of(demo_hall, date(2027, 1, 1)) == []  # a public holiday in the demo file
    worked = hall_with(demo_hall, workdays=[SATURDAY])  # 调休: a Saturday worked
    assert len(slots_of(worked, SATURDAY)) == 14


def test_a_slot_is_named_by_its_exact_start_within_opening_hours(demo_hall: HallConfig) -> None:
    assert slot_at(demo_hall, at(MONDAY, 9)).end == at(MONDAY, 9, 30)
    assert slot_at(demo_hall, datetime(2027, 3, 1, 9, 0)).start == at(MONDAY, 9)  # no zone: the hall's clock
    assert slot_at(demo_hall, datetime(2027, 3, 1, 1, 0, tzinfo=UTC)).start == at(MONDAY, 9)  # same instant
    for wrong in (at(MONDAY, 9, 10), at(MONDAY, 12, 30), at(MONDAY, 7, 30), at(MONDAY, 17, 30), at(SATURDAY, 9)):
        with refused("not_a_slot", 422):
            slot_at(demo_hall, wrong)


# -- the booking window -------------------------------------------------------------------------------
def test_booking_opens_min_days_ahead_in_calendar_days(demo_hall: HallConfig) -> None:
    with refused("outside_booking_window", 422):
        check_day(demo_hall, MONDAY, MONDAY)  # min_days_ahead = 1: not today
    check_day(demo_hall, MONDAY + timedelta(days=1), MONDAY)
    # Friday: tomorrow is Saturday, a day the hall does not work; Monday is the first bookable day.
    friday = date(2027, 3, 5)
    with refused("outside_booking_window", 422):
        check_day(demo_hall, SATURDAY, friday)
    assert booking_days(demo_hall, friday)[0] == date(2027, 3, 8)


def test_booking_closes_after_max_working_days_ahead(demo_hall: HallConfig) -> None:
    # From Monday, five working days ahead is the next Monday; the weekend between is never bookable.
    check_day(demo_hall, date(2027, 3, 8), MONDAY)
    with refused("outside_booking_window", 422):
        check_day(demo_hall, date(2027, 3, 9), MONDAY)
    with refused("outside_booking_window", 422):
        check_day(demo_hall, SATURDAY, MONDAY)
    assert booking_days(demo_hall, MONDAY) == [date(2027, 3, d) for d in (2, 3, 4, 5, 8)]


def test_the_booking_window_counts_holidays_and_worked_weekends(demo_hall: HallConfig) -> None:
    hall = hall_with(demo_hall, holidays=[date(2027, 3, 3)], workdays=[SATURDAY])
    # Wednesday is a holiday (not bookable, not counted); Saturday is worked (bookable, counted).
    assert booking_days(hall, MONDAY) == [date(2027, 3, d) for d in (2, 4, 5, 6, 8)]
    with refused("outside_booking_window", 422):
        check_day(hall, date(2027, 3, 3), MONDAY)


def test_the_refusal_lists_the_days_that_can_be_booked(demo_hall: HallConfig) -> None:
    with pytest.raises(Refused) as info:
        check_day(demo_hall, date(2027, 4, 1), MONDAY)
    assert info.value.extra["bookable_days"] == ["2027-03-02", "2027-03-03", "2027-03-04", "2027-03-05", "2027-03-08"]
    assert "2027-03-02" in info.value.message
    assert "2027-03-08" in info.value.message_zh


def test_a_slot_that_has_begun_cannot_be_booked(demo_hall: HallConfig) -> None:
    hall = hall_with(demo_hall, appointments={"min_days_ahead": 0})
    check_day(hall, MONDAY, MONDAY)
    check_slot_ahead(slot_at(hall, at(MONDAY, 10)), at(MONDAY, 9, 59, 59))
    with refused("outside_booking_window", 422):
        check_slot_ahead(slot_at(hall, at(MONDAY, 10)), at(MONDAY, 10))


# -- what can be booked ------------------------------------------------------------------------------------
def test_only_bookable_services_take_bookings(demo_hall: HallConfig) -> None:
    assert bookable_service(demo_hall, "SOC").code == "SOC"
    with refused("not_bookable", 422):
        bookable_service(demo_hall, "RESTO")  # a theme bundle is served as one walk-in ticket
    with refused("unknown_service", 404):
        bookable_service(demo_hall, "NOPE")
    only_prop = hall_with(demo_hall, appointments={"services": ["PROP"]})
    bookable_service(only_prop, "PROP")
    with refused("not_bookable", 422):
        bookable_service(only_prop, "SOC")
    with refused("not_bookable", 422):
        bookable_service(hall_with(demo_hall, appointments={"enabled": False}), "SOC")
    with refused("not_bookable", 422):
        bookable_service(hall_with(demo_hall, appointments={"capacities": {"SOC": 0}}), "SOC")


def test_capacity_is_per_service_with_overrides(demo_hall: HallConfig) -> None:
    assert demo_hall.appointments.capacity_of("SOC") == 4
    assert demo_hall.appointments.capacity_of("PROP") == 6


def test_a_sub_item_must_belong_to_the_service(demo_hall: HallConfig) -> None:
    soc = bookable_service(demo_hall, "SOC")
    check_item(soc, None)
    check_item(soc, "SOC-RETIRE")
    with refused("unknown_item", 422):
        check_item(soc, "PROP-MORTGAGE")


# -- cancelling, lapsing, checking in ------------------------------------------------------------------------
def test_cancel_is_allowed_until_cancel_before_s_ahead_of_the_slot(demo_hall: HallConfig) -> None:
    rules, slot = demo_hall.appointments, at(MONDAY, 10)
    assert cancel_until(rules, slot) == at(MONDAY, 8)
    check_cancel(rules, "booked", slot, at(MONDAY, 8))
    with refused("too_late_to_cancel", 409):
        check_cancel(rules, "booked", slot, at(MONDAY, 8, 0, 1))


def test_only_an_open_booking_can_be_cancelled(demo_hall: HallConfig) -> None:
    rules, slot, early = demo_hall.appointments, at(MONDAY, 10), at(MONDAY, 7)
    with refused("appointment_cancelled", 409):
        check_cancel(rules, "cancelled", slot, early)
    with refused("already_checked_in", 409):
        check_cancel(rules, "checked_in", slot, early)


def test_a_booking_not_checked_in_is_void_void_after_s_after_its_slot_starts(demo_hall: HallConfig) -> None:
    rules, slot = demo_hall.appointments, at(MONDAY, 10)
    assert void_at(rules, slot) == at(MONDAY, 10, 30)
    assert status_of(rules, "booked", slot, at(MONDAY, 10, 29, 59)) == "booked"
    assert status_of(rules, "booked", slot, at(MONDAY, 10, 30)) == "void"
    assert status_of(rules, "checked_in", slot, at(MONDAY, 18)) == "checked_in"  # never void once checked in
    assert status_of(rules, "cancelled", slot, at(MONDAY, 18)) == "cancelled"


def test_check_in_is_open_from_early_arrival_until_the_booking_is_void(demo_hall: HallConfig) -> None:
    rules, slot = demo_hall.appointments, at(MONDAY, 10)
    check_check_in(rules, "booked", slot, at(MONDAY, 8, 30))  # early: the ticket waits for its slot
    check_check_in(rules, "booked", slot, at(MONDAY, 10, 29, 59))
    check_check_in(rules, "checked_in", slot, at(MONDAY, 11))  # again: the same ticket is handed back
    with refused("appointment_void", 410):
        check_check_in(rules, "booked", slot, at(MONDAY, 10, 30))
    with refused("appointment_cancelled", 409):
        check_check_in(rules, "cancelled", slot, at(MONDAY, 9))


# -- blocks ----------------------------------------------------------------------------------------------
def test_no_show_limit_no_shows_block_booking_for_block_days_after_the_last(demo_hall: HallConfig) -> None:
    rules = demo_hall.appointments
    first, second = at(date(2027, 3, 2), 10, 30), at(date(2027, 3, 9), 15, 0)
    assert block_end(rules, [first], None, SHANGHAI) is None
    end = block_end(rules, [second, first], None, SHANGHAI)  # in any order
    assert end == date(2027, 3, 9) + timedelta(days=90)
    with pytest.raises(Refused) as info:
        check_not_blocked(rules, end, date(2027, 3, 10))
    assert (info.value.status, info.value.code) == (403, "booking_blocked")
    assert info.value.extra == {"blocked_until": str(end)}
    assert str(end) in info.value.message
    assert str(end) in info.value.message_zh


def test_a_block_ends_on_its_end_day(demo_hall: HallConfig) -> None:
    rules, end = demo_hall.appointments, date(2027, 6, 7)
    with refused("booking_blocked", 403):
        check_not_blocked(rules, end, end - timedelta(days=1))
    check_not_blocked(rules, end, end)
    check_not_blocked(rules, None, end)


def test_no_shows_count_until_they_have_led_to_a_block(demo_hall: HallConfig) -> None:
    rules = demo_hall.appointments
    days = [at(date(2027, 1, d), 10, 30) for d in (4, 5, 6, 7)]
    assert block_end(rules, days[:2], None, SHANGHAI) == date(2027, 1, 5) + timedelta(days=90)
    # The third starts a new count: alone it blocks no longer than the first two did.
    assert block_end(rules, days[:3], None, SHANGHAI) == date(2027, 1, 5) + timedelta(days=90)
    assert block_end(rules, days, None, SHANGHAI) == date(2027, 1, 7) + timedelta(days=90)


def test_a_lifted_block_forgives_the_no_shows_before_it(demo_hall: HallConfig) -> None:
    rules = demo_hall.appointments
    first, second, later = at(date(2027, 3, 2), 10, 30), at(date(2027, 3, 3), 10, 30), at(date(2027, 4, 1), 10, 30)
    lifted = at(date(2027, 3, 4), 9)
    assert block_end(rules, [first, second], lifted, SHANGHAI) is None
    assert block_end(rules, [first, second, later], lifted, SHANGHAI) is None  # one since the lift
    limit_one = hall_with(demo_hall, appointments={"no_show_limit": 1, "block_days": 30}).appointments
    assert block_end(limit_one, [first, second, later], lifted, SHANGHAI) == date(2027, 5, 1)


# -- identifiers --------------------------------------------------------------------------------------------
def test_booking_ids_are_unguessable_and_voucher_codes_six_digits() -> None:
    ids = {new_booking_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 24 and int(i, 16) >= 0 for i in ids)  # 96 random bits
    codes = [new_code() for _ in range(1000)]
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(set(codes)) > 990


def test_a_phone_number_is_kept_as_a_keyed_hash() -> None:
    key = phone_key(b"secret-one", "13912345678")
    assert key == phone_key(b"secret-one", "13912345678")
    assert key != phone_key(b"secret-two", "13912345678")
    assert "13912345678" not in key
    assert len(key) == 32
