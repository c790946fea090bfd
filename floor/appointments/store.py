"""Appointments in SQL: bookings, the places taken in each slot, and blocks lifted by managers.

Bookings live only in SQL (not in Redis, which holds the live day): they are made days ahead, and a check-in turns
one into an ordinary ticket of the engine. The rules are ``floor.appointments.rules``; this module keeps what they
decide.

Capacity is safe under concurrent requests on SQLite and PostgreSQL alike: a slot's places are a counter row, and a
booking takes one with ``UPDATE ... SET booked = booked + 1 WHERE booked < capacity`` in the transaction that inserts
it. The update locks the row (PostgreSQL re-checks the condition once the lock is free; SQLite runs one writer at a
time), so two requests for the last place cannot both see it free. One booking per person, service and day is a
unique index over the bookings not cancelled, so two requests of the same person cannot both pass either.

Functions are synchronous (the API runs them in a thread); every time is an aware UTC datetime in and out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import (
    Date,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from floor.appointments.rules import Refused, new_code
from floor.sql.db import Base, BigId, UtcDateTime, insert_for

CODE_TRIES = 8  # a drawn voucher code is taken that day with odds of bookings / 10**6; eight misses never happen
ACTIVE = "status <> 'cancelled'"


class AppointmentRow(Base):
    """One booking. Real-name, yet holding no personal number: the ID number's keyed hash (``person``, the key the
    engine uses for duplicates), the masked name, and the phone number's keyed hash."""

    __tablename__ = "appointments"
    __table_args__ = (
        UniqueConstraint("hall", "day", "code", name="uq_appointments_code"),
        Index("ix_appointments_hall_day", "hall", "day", "service"),
        Index("ix_appointments_hall_person", "hall", "person"),
        # One booking per person, service and day; a cancelled booking frees the day.
        Index("uq_appointments_person_day", "hall", "person", "service", "day", unique=True,
              sqlite_where=text(ACTIVE), postgresql_where=text(ACTIVE)),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    hall: Mapped[str] = mapped_column(ForeignKey("halls.id"))
    service: Mapped[str] = mapped_column(String(8))
    item: Mapped[str | None] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)  # the hall's local date of the slot
    slot_start: Mapped[datetime] = mapped_column(UtcDateTime)
    slot_end: Mapped[datetime] = mapped_column(UtcDateTime)
    code: Mapped[str] = mapped_column(String(8))  # the voucher code shown at check-in
    person: Mapped[str] = mapped_column(String(64))
    holder: Mapped[str] = mapped_column(String(40))  # the masked name (张*三)
    phone: Mapped[str | None] = mapped_column(String(64))  # the phone number's keyed hash
    status: Mapped[str] = mapped_column(String(16))  # booked, checked_in, cancelled ("void" is derived)
    ticket: Mapped[str | None] = mapped_column(String(40))  # the ticket a check-in made
    booked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    booked_by: Mapped[str | None] = mapped_column(String(200))  # who made it (role and token id), for the audit
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AppointmentSlotRow(Base):
    """Places taken in one slot of one service: the row a booking locks to take the last place safely."""

    __tablename__ = "appointment_slots"

    hall: Mapped[str] = mapped_column(ForeignKey("halls.id"), primary_key=True)
    service: Mapped[str] = mapped_column(String(8), primary_key=True)
    start: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    booked: Mapped[int] = mapped_column(Integer)


class AppointmentLiftRow(Base):
    """A manager lifted a person's block: their no-shows until then no longer count."""

    __tablename__ = "appointment_lifts"
    __table_args__ = (Index("ix_appointment_lifts_hall_person", "hall", "person"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    hall: Mapped[str] = mapped_column(ForeignKey("halls.id"))
    person: Mapped[str] = mapped_column(String(64))
    lifted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lifted_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)


BY_SLOT = (AppointmentRow.slot_start, AppointmentRow.booked_at, AppointmentRow.id)  # lists: by slot, then booking


@dataclass(frozen=True)
class NewBooking:
    id: str
    hall: str
    service: str
    item: str | None
    day: date
    slot_start: datetime
    slot_end: datetime
    person: str
    holder: str
    phone: str | None
    booked_at: datetime
    booked_by: str | None


def _session(sql: Engine) -> Session:
    return Session(sql, expire_on_commit=False)  # rows are read after the commit, outside the session


# -- booking -----------------------------------------------------------------------------------------
def book(sql: Engine, new: NewBooking, capacity: int) -> AppointmentRow:
    """Store a booking if its slot has a place left, with a fresh voucher code; refusals: slot full (409), this
    person already holds a booking of the service that day (409)."""
    for _ in range(CODE_TRIES):
        try:
            with _session(sql) as s, s.begin():
                _take_place(s, new.hall, new.service, new.slot_start, capacity)
                row = AppointmentRow(
                    id=new.id, hall=new.hall, service=new.service, item=new.item, day=new.day,
                    slot_start=new.slot_start, slot_end=new.slot_end, code=new_code(), person=new.person,
                    holder=new.holder, phone=new.phone, status="booked", booked_at=new.booked_at,
                    booked_by=new.booked_by)
                s.add(row)
            return row
        except IntegrityError:
            # Either this person booked the service that day meanwhile, or the code was drawn twice: the transaction
            # was rolled back whole (the place too), so ask which, then refuse or draw again.
            if holds_booking(sql, new.hall, new.person, new.service, new.day):
                raise already_booked(new.day) from None
    raise RuntimeError(f"no free voucher code found in {CODE_TRIES} draws")


def _take_place(s: Session, hall: str, service: str, start: datetime, capacity: int) -> None:
    s.execute(insert_for(s, AppointmentSlotRow).values(hall=hall, service=service, start=start, booked=0)
              .on_conflict_do_nothing(index_elements=["hall", "service", "start"]))
    taken = s.execute(update(AppointmentSlotRow)
                      .where(AppointmentSlotRow.hall == hall, AppointmentSlotRow.service == service,
                             AppointmentSlotRow.start == start, AppointmentSlotRow.booked < capacity)
                      .values(booked=AppointmentSlotRow.booked + 1))
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise Refused(409, "slot_full", "This slot is fully booked; choose another slot or day.",
                      "该时段已约满，请选择其他时段或日期。")


def _free_place(s: Session, row: AppointmentRow) -> None:
    s.execute(update(AppointmentSlotRow)
              .where(AppointmentSlotRow.hall == row.hall, AppointmentSlotRow.service == row.service,
                     AppointmentSlotRow.start == row.slot_start, AppointmentSlotRow.booked > 0)
              .values(booked=AppointmentSlotRow.booked - 1))


def already_booked(day: date) -> Refused:
    return Refused(409, "already_booked",
                   f"This person already has a booking for this service on {day}; one booking per service a day. "
                   "Cancel it first to choose another slot.",
                   f"该办事人 {day} 已预约过此业务，每项业务每天限约一次；如需改约，请先取消原预约。")


def holds_booking(sql: Engine, hall: str, person: str, service: str, day: date) -> bool:
    with _session(sql) as s:
        found = s.scalar(select(AppointmentRow.id).where(
            AppointmentRow.hall == hall, AppointmentRow.person == person, AppointmentRow.service == service,
            AppointmentRow.day == day, AppointmentRow.status != "cancelled").limit(1))
    return found is not None


def places_taken(sql: Engine, hall: str, service: str, first: datetime, last: datetime) -> dict[datetime, int]:
    """Places taken per slot start, for slots starting from ``first`` to ``last``."""
    with _session(sql) as s:
        rows = s.execute(select(AppointmentSlotRow.start, AppointmentSlotRow.booked).where(
            AppointmentSlotRow.hall == hall, AppointmentSlotRow.service == service,
            AppointmentSlotRow.start >= first, AppointmentSlotRow.start <= last))
        return {start: booked for start, booked in rows}


# -- reading ---------------------------------------------------------------------------------------------
def get(sql: Engine, hall: str, booking_id: str) -> AppointmentRow | None:
    with _session(sql) as s:
        row = s.get(AppointmentRow, booking_id)
    return row if row is not None and row.hall == hall else None


def of_day(sql: Engine, hall: str, day: date, *, person: str | None = None, code: str | None = None,
           service: str | None = None) -> list[AppointmentRow]:
    """A day's bookings, by slot: all of them, or a person's, or the one with a voucher code."""
    query = select(AppointmentRow).where(AppointmentRow.hall == hall, AppointmentRow.day == day)
    if person is not None:
        query = query.where(AppointmentRow.person == person)
    if code is not None:
        query = query.where(AppointmentRow.code == code)
    if service is not None:
        query = query.where(AppointmentRow.service == service)
    with _session(sql) as s:
        return list(s.scalars(query.order_by(*BY_SLOT)))


def listing(sql: Engine, hall: str, day: date, *, service: str | None, status: str | None, now: datetime,
            void_after_s: int, limit: int) -> list[AppointmentRow]:
    """A day's bookings by slot, filtered by service and by status as people see it (``void`` included)."""
    query = select(AppointmentRow).where(AppointmentRow.hall == hall, AppointmentRow.day == day)
    if service is not None:
        query = query.where(AppointmentRow.service == service)
    lapsed_before = now - timedelta(seconds=void_after_s)  # a booking still open whose slot began before is void
    if status == "void":
        query = query.where(AppointmentRow.status == "booked", AppointmentRow.slot_start <= lapsed_before)
    elif status == "booked":
        query = query.where(AppointmentRow.status == "booked", AppointmentRow.slot_start > lapsed_before)
    elif status is not None:
        query = query.where(AppointmentRow.status == status)
    with _session(sql) as s:
        return list(s.scalars(query.order_by(*BY_SLOT).limit(limit)))


def no_shows(sql: Engine, hall: str, person: str, now: datetime, void_after_s: int) -> list[datetime]:
    """When each of a person's no-shows happened (the void time of each booking never checked in)."""
    after = timedelta(seconds=void_after_s)
    with _session(sql) as s:
        starts = s.scalars(select(AppointmentRow.slot_start).where(
            AppointmentRow.hall == hall, AppointmentRow.person == person, AppointmentRow.status == "booked",
            AppointmentRow.slot_start <= now - after))
        return [start + after for start in starts]


def last_lift(sql: Engine, hall: str, person: str) -> datetime | None:
    with _session(sql) as s:
        lifted: datetime | None = s.scalar(select(func.max(AppointmentLiftRow.lifted_at)).where(
            AppointmentLiftRow.hall == hall, AppointmentLiftRow.person == person))
    # func.max loses the column's type on some dialects: give the value its zone back if it came without one.
    return None if lifted is None else UtcDateTime().process_result_value(lifted, sql.dialect)


def status_counts(sql: Engine, hall: str, first: date, last: date, now: datetime,
                  void_after_s: int) -> dict[tuple[date, str], Counter[str]]:
    """Bookings per (day, service) by status as people see it, no-shows (``void``) included: for reports."""
    lapsed_before = now - timedelta(seconds=void_after_s)
    counts: dict[tuple[date, str], Counter[str]] = {}
    with _session(sql) as s:
        rows = s.execute(select(AppointmentRow.day, AppointmentRow.service, AppointmentRow.status,
                                AppointmentRow.slot_start).where(
            AppointmentRow.hall == hall, AppointmentRow.day >= first, AppointmentRow.day <= last))
        for day, service, status, start in rows:
            seen = "void" if status == "booked" and start <= lapsed_before else status
            counts.setdefault((day, service), Counter())[seen] += 1
    return counts


# -- changes -----------------------------------------------------------------------------------------------
def cancel(sql: Engine, row: AppointmentRow, now: datetime) -> bool:
    """Cancel an open booking and give its place back; False if it was no longer open (checked in meanwhile)."""
    with _session(sql) as s, s.begin():
        done = s.execute(update(AppointmentRow).where(AppointmentRow.id == row.id, AppointmentRow.status == "booked")
                         .values(status="cancelled", cancelled_at=now))
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return False
        _free_place(s, row)
    return True


def mark_checked_in(sql: Engine, row: AppointmentRow, ticket: str, now: datetime) -> bool:
    """Record the ticket a check-in made; False if the booking was no longer open (cancelled meanwhile)."""
    with _session(sql) as s, s.begin():
        done = s.execute(update(AppointmentRow).where(AppointmentRow.id == row.id, AppointmentRow.status == "booked")
                         .values(status="checked_in", ticket=ticket, checked_in_at=now))
        return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def lift(sql: Engine, hall: str, person: str, now: datetime, by: str | None, reason: str | None) -> None:
    with _session(sql) as s, s.begin():
        s.add(AppointmentLiftRow(hall=hall, person=person, lifted_at=now, lifted_by=by, reason=reason))

