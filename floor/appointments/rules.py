"""Appointments (预约办): the rules of booking, as plain functions of the hall's configuration and the time.

No I/O here: ``floor.appointments.store`` keeps the bookings in SQL and ``floor.appointments.api`` applies these
rules to requests. The rules, each with the function that states it:

- **Slots** (``slots_of``): each opening session of a working day is cut into slots of ``slot_minutes`` from its
  start; a slot ends within its session (08:30-12:00 in 30-minute slots: 08:30 ... 11:30).
- **Booking window** (``check_day``, ``booking_days``): from ``min_days_ahead`` calendar days ahead up to
  ``max_working_days_ahead`` working days ahead (``HallConfig.add_working_days``), on working days only
  (``HallConfig.is_working_day``: weekends and public holidays are out, 调休 weekend days are in).
- **Capacity** (``Appointments.capacity_of``): so many bookings per service per slot; the store enforces it.
- **One a day** (the store's unique index): one booking per person per service per day; a cancelled one frees it.
- **Cancel** (``check_cancel``): until ``cancel_before_s`` before the slot starts.
- **Void, no-show** (``status_of``): a booking not checked in ``void_after_s`` after its slot starts is void and
  counts as a no-show. Derived from the time whenever it is read, so no job has to sweep bookings.
- **Check-in** (``check_check_in``): on the booking's day, until it is void; it becomes a Y-class ticket ordered
  by its slot.
- **Block** (``block_end``): ``no_show_limit`` no-shows block booking for ``block_days`` after the day of the last
  of them. No-shows count until they have led to a block, and not at all from before a manager lifted one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from queue_engine.config import Appointments, HallConfig, Service

Status = Literal["booked", "checked_in", "cancelled", "void"]
STORED_STATUSES = ("booked", "checked_in", "cancelled")  # "void" is never stored: it is "booked" past its time
STATUSES: tuple[Status, ...] = ("booked", "checked_in", "cancelled", "void")
CODE_DIGITS = 6


class Refused(Exception):
    """A booking rule said no: an HTTP status, a stable code and a sentence in each language that says what to do.
    ``extra`` travels in the error body (e.g. ``blocked_until``)."""

    def __init__(self, status: int, code: str, message: str, message_zh: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.message_zh, self.extra = status, code, message, message_zh, extra


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime  # aware, in the hall's time zone
    end: datetime

    @property
    def label(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M}"


# -- slots and the booking window -------------------------------------------------------------------
def slots_of(hall: HallConfig, day: date) -> list[Slot]:
    """The day's slots: every opening session cut into ``slot_minutes`` from its start, each within its session.
    A day the hall does not work has none."""
    if not hall.is_working_day(day):
        return []
    step = timedelta(minutes=hall.appointments.slot_minutes)
    slots: list[Slot] = []
    for session in hall.hours:
        start = datetime.combine(day, session.start, tzinfo=hall.zone)
        end_of_session = datetime.combine(day, session.end, tzinfo=hall.zone)
        while start + step <= end_of_session:
            slots.append(Slot(start, start + step))
            start += step
    return slots


def local(hall: HallConfig, when: datetime) -> datetime:
    """``when`` in the hall's time zone; a time given without a zone is read as the hall's own clock time."""
    return when.replace(tzinfo=hall.zone) if when.tzinfo is None else when.astimezone(hall.zone)


def slot_at(hall: HallConfig, start: datetime) -> Slot:
    """The slot starting at ``start``, or a refusal naming when slots do start."""
    start = local(hall, start)
    for slot in slots_of(hall, start.date()):
        if slot.start == start:
            return slot
    hours = ", ".join(f"{s.start:%H:%M}-{s.end:%H:%M}" for s in hall.hours)
    minutes = hall.appointments.slot_minutes
    raise Refused(422, "not_a_slot",
                  f"{start:%Y-%m-%d %H:%M} is not the start of a slot: slots start every {minutes} minutes from the "
                  f"start of each opening session ({hours}) on working days; choose one of the listed slots.",
                  f"{start:%Y-%m-%d %H:%M} 不是预约时段的开始时间：工作日营业时间（{hours}）内"
                  f"每 {minutes} 分钟一个时段，请从可选时段中选择。")


def window_bounds(hall: HallConfig, today: date) -> tuple[date, date]:
    """The first and last day bookable today (the last counted in working days)."""
    rules = hall.appointments
    return today + timedelta(days=rules.min_days_ahead), hall.add_working_days(today, rules.max_working_days_ahead)


def booking_days(hall: HallConfig, today: date) -> list[date]:
    """Every day that can be booked today, in order."""
    first, last = window_bounds(hall, today)
    days, day = [], first
    while day <= last:
        if hall.is_working_day(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def check_day(hall: HallConfig, day: date, today: date) -> None:
    """Refuse a day outside the booking window, or one the hall does not work."""
    first, last = window_bounds(hall, today)
    if first <= day <= last and hall.is_working_day(day):
        return
    days = booking_days(hall, today)
    span_en = f"{days[0]} to {days[-1]}" if days else "no day at present"
    span_zh = f"{days[0]} 至 {days[-1]}" if days else "暂无可预约日期"
    raise Refused(422, "outside_booking_window",
                  f"{day} cannot be booked: bookings are taken for working days from {span_en}; choose another day.",
                  f"{day} 不可预约：可预约 {span_zh} 期间的工作日，请另选日期。", bookable_days=[str(d) for d in days])


def check_slot_ahead(slot: Slot, now: datetime) -> None:
    """A slot that has begun cannot be booked (only possible when the hall books for the same day)."""
    if slot.start <= now:
        raise Refused(422, "outside_booking_window",
                      f"The {slot.label} slot has begun; choose a later one.",
                      f"{slot.label} 时段已开始，请选择之后的时段。")


# -- what may be booked -------------------------------------------------------------------------------
def bookable_service(hall: HallConfig, code: str) -> Service:
    """The service, if the hall takes bookings for it (and has places for it in a slot)."""
    svc = hall.service(code)
    if svc is None:
        raise Refused(404, "unknown_service",
                      f"There is no service {code[:40]!r} in this hall; check the service code.",
                      f"本大厅没有业务 {code[:40]!r}，请核对业务代码。")
    if not hall.bookable(code) or hall.appointments.capacity_of(code) <= 0:
        raise Refused(422, "not_bookable", f"{svc.name_en} cannot be booked ahead; take a number on the day.",
                      f"{svc.name_zh}业务暂不支持预约，请在办理当天到大厅取号。")
    return svc


def check_item(svc: Service, item: str | None) -> None:
    if item is not None and svc.item(item) is None:
        raise Refused(422, "unknown_item",
                      f"There is no sub-item {item[:40]!r} of {svc.name_en}; choose one of its sub-items, or none.",
                      f"{svc.name_zh}业务下没有事项 {item[:40]!r}，请从该业务的事项中选择，或不选。")


# -- the life of a booking -------------------------------------------------------------------------------
def void_at(rules: Appointments, slot_start: datetime) -> datetime:
    """When a booking not checked in lapses (and counts as a no-show)."""
    return slot_start + timedelta(seconds=rules.void_after_s)


def cancel_until(rules: Appointments, slot_start: datetime) -> datetime:
    """The last moment a booking may be cancelled."""
    return slot_start - timedelta(seconds=rules.cancel_before_s)


def status_of(rules: Appointments, stored_status: str, slot_start: datetime, now: datetime) -> Status:
    """The status as people see it: a booking still open once its void time has come is void (a no-show)."""
    if stored_status == "booked":
        return "void" if now >= void_at(rules, slot_start) else "booked"
    if stored_status in ("checked_in", "cancelled"):
        return "checked_in" if stored_status == "checked_in" else "cancelled"
    raise ValueError(f"unknown stored status {stored_status!r}")


def check_cancel(rules: Appointments, stored_status: str, slot_start: datetime, now: datetime) -> None:
    """A booking may be cancelled while open, until ``cancel_before_s`` before its slot."""
    status = status_of(rules, stored_status, slot_start, now)
    if status == "cancelled":
        raise Refused(409, "appointment_cancelled", "This booking is cancelled already.", "该预约已取消。")
    if status == "checked_in":
        raise Refused(409, "already_checked_in",
                      "This booking has been checked in already; it cannot be cancelled. Cancel its ticket at the "
                      "guide desk instead.", "该预约已签到取号，不能取消；如不办理，请到导办台取消号票。")
    deadline = cancel_until(rules, slot_start)
    if now > deadline:
        hours = rules.cancel_before_s / 3600
        raise Refused(409, "too_late_to_cancel",
                      f"A booking can be cancelled until {hours:g} hours before its slot ({deadline:%Y-%m-%d %H:%M}); "
                      "it is too late now. If you cannot come, simply do not check in.",
                      f"预约须在时段开始前 {hours:g} 小时（{deadline:%Y-%m-%d %H:%M}）之前取消，现已不能取消；"
                      "如不能前来，请勿签到。")


def check_check_in(rules: Appointments, stored_status: str, slot_start: datetime, now: datetime) -> None:
    """Check-in is refused once a booking is cancelled or void; one already checked in is not refused (the same
    ticket is handed back)."""
    status = status_of(rules, stored_status, slot_start, now)
    if status == "cancelled":
        raise Refused(409, "appointment_cancelled", "This booking was cancelled; please take a number instead.",
                      "该预约已取消，请直接取号办理。")
    if status == "void":
        lapsed = void_at(rules, slot_start)
        minutes = rules.void_after_s // 60
        raise Refused(410, "appointment_void",
                      f"This booking lapsed at {lapsed:%H:%M}, {minutes} minutes after its slot began, and counts as "
                      "a missed appointment; please take a number instead.",
                      f"该预约已于 {lapsed:%H:%M}（时段开始 {minutes} 分钟后）失效，记为爽约一次；请直接取号办理。")


# -- blocks after no-shows ------------------------------------------------------------------------------
def block_end(rules: Appointments, no_shows: Iterable[datetime], lifted_at: datetime | None,
              zone: Any) -> date | None:
    """The first day a person may book again after their no-shows (each given by its void time), or None when they
    never reached the limit. Reaching ``no_show_limit`` blocks booking for ``block_days`` from the day of the last
    of them, and starts the count again; no-shows before a manager lifted a block (``lifted_at``) do not count."""
    count, end = 0, None
    for at in sorted(t for t in no_shows if lifted_at is None or t > lifted_at):
        count += 1
        if count >= rules.no_show_limit:
            end = at.astimezone(zone).date() + timedelta(days=rules.block_days)
            count = 0
    return end


def check_not_blocked(rules: Appointments, end: date | None, today: date) -> None:
    if end is not None and today < end:
        raise Refused(403, "booking_blocked",
                      f"Booking is closed to this person until {end} after {rules.no_show_limit} missed appointments; "
                      "please take a number on the day, or ask the hall's manager.",
                      f"因爽约 {rules.no_show_limit} 次，该办事人在 {end} 之前不能预约；请在办理当天到大厅取号，"
                      "或联系大厅管理人员。", blocked_until=str(end))


# -- identifiers ----------------------------------------------------------------------------------------
def new_booking_id() -> str:
    """96 random bits: the booking's link (and its page) cannot be guessed, like a ticket's."""
    return secrets.token_hex(12)


def new_code() -> str:
    """A 6-digit voucher code (兑换码) for check-in; unique per hall and day (the store retries a taken one)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def phone_key(secret: bytes, phone: str) -> str:
    """A keyed hash of a (normalized) mobile number: the booking remembers whose it was, never the number."""
    return hmac.new(secret, b"phone:" + phone.encode(), hashlib.sha256).hexdigest()[:32]


def day_start(hall: HallConfig, day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=hall.zone)
