"""Appointments (预约办): free slots, booking, a booking by id, cancelling, check-in, the day's list, lifting a block.

The rules are ``floor.appointments.rules``, the record ``floor.appointments.store`` (SQL, run in a thread). Bookings are
real-name: the ID number is checked and kept only as its keyed hash (the engine's person key), the phone number as
its keyed hash, the name masked. A booking's id is 96 random bits: like a ticket's, it is the capability to read the
booking (``GET /appointments/{id}`` needs no token), so the citizen's page can show it again.

Check-in turns a booking into a Y-class ticket through the engine with ``idempotency_key="appt:<id>"``: a check-in
retried after a lost answer, or two at once, make one ticket.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Literal, ParamSpec, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Engine as SqlEngine
from starlette.responses import Response

from floor.appointments import store
from floor.appointments.rules import (
    STATUSES,
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
    local,
    new_booking_id,
    phone_key,
    slot_at,
    slots_of,
    status_of,
    void_at,
)
from floor.hall.schemas import TicketOut, _In
from floor.http.auth import ticket_key
from floor.http.kit import ApiError, Ctx, Endpoints, Param, actor, query_limit
from floor.identity import InvalidIdentity, mask_name, normalize_id_number, normalize_phone, person_key
from queue_engine.config import HallConfig
from queue_engine.errors import UnknownTicket
from queue_engine.policy import HOLDER_MAX

ENDPOINTS = Endpoints()

MAX_LIST = 500
_BOOKING_ID = re.compile(r"^[0-9a-f]{24}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FIELD_NAMES_ZH = {"id_number": "身份证号", "phone": "手机号"}


# -- bodies ---------------------------------------------------------------------------------------------
class BookIn(_In):
    service: str = Field(min_length=1, max_length=8)
    item: str | None = Field(None, min_length=1, max_length=16, description="A sub-item (事项) of the service.")
    # Strict: a number is not taken for seconds since 1970, only an ISO 8601 time.
    slot: datetime = Field(strict=True, description="The slot's start, ISO 8601; without an offset it is read as "
                                                    "the hall's local time.")
    name: str = Field(min_length=1, max_length=40, description="The citizen's name; only its masked form is kept.")
    id_number: str = Field(min_length=1, max_length=32, description="Resident ID number; kept only as a keyed hash.")
    phone: str = Field(min_length=1, max_length=32, description="Mobile number; kept only as a keyed hash.")


class CheckInIn(_In):
    id_number: str | None = Field(None, min_length=1, max_length=32)
    code: str | None = Field(None, pattern=r"^[0-9]{6}$", description="The booking's 6-digit voucher code.")
    service: str | None = Field(None, min_length=1, max_length=8,
                                description="Which booking, when the person booked several services today.")

    @model_validator(mode="after")
    def _one_key(self) -> CheckInIn:
        if (self.id_number is None) == (self.code is None):
            raise ValueError("send either id_number or code")
        return self


class LiftIn(_In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"id_number": "110105198001011238", "reason": "误约"}]})

    id_number: str | None = Field(None, min_length=1, max_length=32)
    appointment: str | None = Field(None, min_length=1, max_length=40, description="Any booking of the person.")
    reason: str = Field("", max_length=200)

    @model_validator(mode="after")
    def _one_key(self) -> LiftIn:
        if (self.id_number is None) == (self.appointment is None):
            raise ValueError("send either id_number or appointment")
        return self


# -- answers ---------------------------------------------------------------------------------------------
class AppointmentOut(BaseModel):
    id: str
    service: str
    service_name: str
    service_name_en: str
    item: str | None
    item_name: str | None
    item_name_en: str | None
    day: date
    slot_start: datetime
    slot_end: datetime
    code: str
    holder: str  # the masked name
    status: Literal["booked", "checked_in", "cancelled", "void"]
    ticket: str | None
    booked_at: datetime
    cancel_until: datetime
    void_at: datetime
    cancelled_at: datetime | None
    checked_in_at: datetime | None

    @classmethod
    def of(cls, hall: HallConfig, row: store.AppointmentRow, now: datetime) -> AppointmentOut:
        rules, zone = hall.appointments, hall.zone
        svc = hall.service(row.service)
        item = svc.item(row.item) if svc and row.item else None

        def hall_time(at: datetime | None) -> datetime | None:
            return None if at is None else at.astimezone(zone)

        return cls(
            id=row.id, service=row.service, service_name=svc.name_zh if svc else row.service,
            service_name_en=svc.name_en if svc else row.service, item=row.item,
            item_name=item.name_zh if item else None, item_name_en=(item.name_en or item.name_zh) if item else None,
            day=row.day, slot_start=row.slot_start.astimezone(zone), slot_end=row.slot_end.astimezone(zone),
            code=row.code, holder=row.holder, status=status_of(rules, row.status, row.slot_start, now),
            ticket=row.ticket, booked_at=row.booked_at.astimezone(zone),
            cancel_until=cancel_until(rules, row.slot_start).astimezone(zone),
            void_at=void_at(rules, row.slot_start).astimezone(zone), cancelled_at=hall_time(row.cancelled_at),
            checked_in_at=hall_time(row.checked_in_at))


class AppointmentsOut(BaseModel):
    appointments: list[AppointmentOut]


class SlotLine(BaseModel):
    start: datetime
    end: datetime
    capacity: int
    booked: int
    left: int


class SlotsOut(BaseModel):
    service: str
    service_name: str
    service_name_en: str
    day: date
    days: list[date]  # every day bookable now, for a page to offer
    slot_minutes: int
    slots: list[SlotLine]


class CheckInOut(BaseModel):
    appointment: AppointmentOut
    ticket: TicketOut


class LiftOut(BaseModel):
    was_blocked: bool
    blocked_until: date | None  # the day the block would have ended
    lifted_at: datetime


# -- plumbing ---------------------------------------------------------------------------------------------
P = ParamSpec("P")
R = TypeVar("R")


async def _sql(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run a store call in a thread (SQL unreachable is answered 503 by the route kit, as for every endpoint)."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def _answered(handler: Callable[[Ctx, Any], Any]) -> Callable[[Ctx, Any], Any]:
    """A booking rule's refusal in the API's error shape."""

    @functools.wraps(handler)
    async def run(ctx: Ctx, body: Any) -> Any:
        try:
            return await handler(ctx, body)
        except Refused as refusal:
            raise ApiError(refusal.status, refusal.code, refusal.message, refusal.message_zh,
                           **refusal.extra) from None

    return run


def _clock(ctx: Ctx) -> tuple[datetime, date]:
    """Now (UTC) and today in the hall, from the engine's clock (tests set it)."""
    now = datetime.fromtimestamp(ctx.hall.engine.clock(), UTC)
    return now, now.astimezone(ctx.hall.config.zone).date()


def _sql_engine(ctx: Ctx) -> SqlEngine:
    sql: SqlEngine = ctx.runtime.sql
    return sql


def _invalid(field: str, exc: InvalidIdentity) -> ApiError:
    return ApiError(422, "invalid_request", f"Please correct {field}: {exc}.",
                    f"请修正{FIELD_NAMES_ZH[field]}：{exc.message_zh}。",
                    fields=[{"field": field, "problem": str(exc)}])


def _person(ctx: Ctx, raw: str) -> str:
    try:
        return person_key(ctx.runtime.settings.secret, normalize_id_number(raw))
    except InvalidIdentity as exc:
        raise _invalid("id_number", exc) from None


def _day_param(raw: str | None, default: date) -> date:
    if raw is None:
        return default
    try:
        if not _DAY.match(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(422, "invalid_request", "day must be a date written as YYYY-MM-DD, e.g. 2027-03-02.",
                       "day 须为 YYYY-MM-DD 格式的日期，例如 2027-03-02。",
                       fields=[{"field": "day", "problem": "not a date (YYYY-MM-DD)"}]) from None


def _unknown_appointment() -> ApiError:
    # Not echoed: what was sent as an id may be a citizen's number typed in the wrong box.
    return ApiError(404, "unknown_appointment", "There is no such booking in this hall; check the booking's link.",
                    "本大厅没有这条预约，请核对预约链接。")


async def _booking(ctx: Ctx, booking_id: str) -> store.AppointmentRow:
    if not _BOOKING_ID.match(booking_id):
        raise _unknown_appointment()
    row = await _sql(store.get, _sql_engine(ctx), ctx.hall.config.id, booking_id)
    if row is None:
        raise _unknown_appointment()
    return row


SERVICE_PARAM = Param("service", "query", "A service code, e.g. SOC.",
                      {"type": "string", "minLength": 1, "maxLength": 8, "examples": ["SOC"]})
DAY_PARAM = Param("day", "query", "A day as YYYY-MM-DD.", {"type": "string", "format": "date"})


# -- the endpoints ------------------------------------------------------------------------------------------
@ENDPOINTS.add("GET", "/appointments/slots", roles=("guide", "kiosk", "manager"), response=SlotsOut,
          params=(SERVICE_PARAM, DAY_PARAM))
@_answered
async def appointment_slots(ctx: Ctx, _: Any) -> SlotsOut:
    """A service's slots on a bookable day (the first one if no day is given): capacity, booked and left."""
    hall = ctx.hall.config
    code = ctx.request.query_params.get("service")
    if not code:
        raise ApiError(422, "invalid_request", "Name the service: ?service=<code>.",
                       "请指定业务：?service=<业务代码>。", fields=[{"field": "service", "problem": "required"}])
    svc = bookable_service(hall, code)
    now, today = _clock(ctx)
    days = booking_days(hall, today)
    day = _day_param(ctx.request.query_params.get("day"), days[0] if days else today)
    check_day(hall, day, today)
    slots = [s for s in slots_of(hall, day) if s.start > now]
    taken = await _sql(store.places_taken, _sql_engine(ctx), hall.id, svc.code, slots[0].start,
                       slots[-1].start) if slots else {}
    capacity = hall.appointments.capacity_of(svc.code)
    lines = []
    for s in slots:
        booked = taken.get(s.start.astimezone(UTC), 0)
        lines.append(SlotLine(start=s.start, end=s.end, capacity=capacity, booked=booked,
                              left=max(0, capacity - booked)))
    return SlotsOut(service=svc.code, service_name=svc.name_zh, service_name_en=svc.name_en, day=day, days=days,
                    slot_minutes=hall.appointments.slot_minutes, slots=lines)


@ENDPOINTS.add("POST", "/appointments", roles=("guide", "kiosk", "manager"), body=BookIn, response=AppointmentOut,
          status=201)
@_answered
async def book_appointment(ctx: Ctx, body: BookIn) -> AppointmentOut:
    """Book a slot (预约) for a named citizen: name, ID number and phone; answers with the voucher code."""
    assert ctx.principal is not None
    hall, sql = ctx.hall.config, _sql_engine(ctx)
    svc = bookable_service(hall, body.service)
    check_item(svc, body.item)
    person = _person(ctx, body.id_number)
    try:
        phone = phone_key(ctx.runtime.settings.secret, normalize_phone(body.phone))
    except InvalidIdentity as exc:
        raise _invalid("phone", exc) from None
    now, today = _clock(ctx)
    try:
        start = local(hall, body.slot)
    except OverflowError:  # a time in year 1 or 9999 has no local time here
        raise ApiError(422, "invalid_request", "slot is not a time of the booking window; choose a listed slot.",
                       "slot 不是可预约期间的时间，请选择列出的时段。",
                       fields=[{"field": "slot", "problem": "out of range"}]) from None
    check_day(hall, start.date(), today)  # the day first: "not bookable then" says more than "not a slot"
    slot = slot_at(hall, start)
    check_slot_ahead(slot, now)
    rules = hall.appointments
    missed = await _sql(store.no_shows, sql, hall.id, person, now, rules.void_after_s)
    lifted = await _sql(store.last_lift, sql, hall.id, person)
    check_not_blocked(rules, block_end(rules, missed, lifted, hall.zone), today)
    if await _sql(store.holds_booking, sql, hall.id, person, svc.code, slot.start.date()):
        raise store.already_booked(slot.start.date())
    new = store.NewBooking(
        id=new_booking_id(), hall=hall.id, service=svc.code, item=body.item, day=slot.start.date(),
        slot_start=slot.start.astimezone(UTC), slot_end=slot.end.astimezone(UTC), person=person,
        holder=mask_name(body.name), phone=phone, booked_at=now, booked_by=actor(ctx.principal))
    row = await _sql(store.book, sql, new, rules.capacity_of(svc.code))
    return AppointmentOut.of(hall, row, now)


@ENDPOINTS.add("GET", "/appointments/{appointment}", roles=(), response=AppointmentOut)
@_answered
async def get_appointment(ctx: Ctx, _: Any) -> AppointmentOut:
    """A booking by its id. Needs no token: the unguessable id is the key, as for a ticket."""
    return AppointmentOut.of(ctx.hall.config, await _booking(ctx, ctx.path("appointment")), _clock(ctx)[0])


@ENDPOINTS.add("POST", "/appointments/{appointment}/cancel", roles=("guide", "kiosk", "manager"),
               response=AppointmentOut)
@_answered
async def cancel_appointment(ctx: Ctx, _: Any) -> AppointmentOut:
    """Cancel a booking, until the hall's deadline before its slot (2 hours by default); its place is freed."""
    hall, sql = ctx.hall.config, _sql_engine(ctx)
    row = await _booking(ctx, ctx.path("appointment"))
    now = _clock(ctx)[0]
    check_cancel(hall.appointments, row.status, row.slot_start.astimezone(hall.zone), now)
    if not await _sql(store.cancel, sql, row, now):  # checked in meanwhile: say so
        row = await _booking(ctx, row.id)
        check_cancel(hall.appointments, row.status, row.slot_start.astimezone(hall.zone), now)
    return AppointmentOut.of(hall, await _booking(ctx, row.id), now)


def _pick(rows: list[store.AppointmentRow], hall: HallConfig, now: datetime) -> store.AppointmentRow:
    """Of a person's bookings today, the one a check-in is about: the earliest still open, else the one already
    checked in (its ticket is handed back), else a void one, else a cancelled one (each refused with its reason)."""
    order = {"booked": 0, "checked_in": 1, "void": 2, "cancelled": 3}
    return min(rows, key=lambda r: (order[status_of(hall.appointments, r.status, r.slot_start, now)], r.slot_start))


@ENDPOINTS.add("POST", "/appointments/check-in", roles=("guide", "kiosk", "manager"), body=CheckInIn,
               response=CheckInOut,
          status=201, refusals=((200, "Checked in already: the ticket it was given"),
                                (410, "the booking lapsed: not checked in within the time after its slot began")))
@_answered
async def check_in_appointment(ctx: Ctx, body: CheckInIn) -> Response:
    """Check in a booking of today by ID number or voucher code: it becomes a Y-class ticket, called by its slot."""
    hall, sql, engine = ctx.hall.config, _sql_engine(ctx), ctx.hall.engine
    now, today = _clock(ctx)
    service = body.service
    if body.id_number is not None:
        rows = await _sql(store.of_day, sql, hall.id, today, person=_person(ctx, body.id_number), service=service)
    else:
        rows = await _sql(store.of_day, sql, hall.id, today, code=body.code, service=service)
    if not rows:
        raise ApiError(404, "no_appointment_today",
                       "No booking for today matches this ID number or voucher code; check it, or take a number.",
                       "没有与该身份证号或预约码对应的今日预约，请核对后重试，或直接取号。")
    row = _pick(rows, hall, now)
    check_check_in(hall.appointments, row.status, row.slot_start.astimezone(hall.zone), now)
    if row.status == "checked_in" and row.ticket:
        try:
            held = await engine.ticket(row.ticket)
        except UnknownTicket:
            pass  # the ticket is gone from the live day (the day was ended): issuing again hands it back or anew
        else:
            return _checked_in(ctx, row, TicketOut.of(hall, held.ticket, held.ahead, held.estimated_wait_s), now, 200)
    issued = await engine.issue(
        row.service, channel="appointment", appointment_ms=round(row.slot_start.timestamp() * 1000),
        person=row.person, holder=row.holder[:HOLDER_MAX], item=row.item, idempotency_key=f"appt:{row.id}")
    ticket = TicketOut.of(hall, issued.ticket, issued.ahead, issued.estimated_wait_s)
    if not await _sql(store.mark_checked_in, sql, row, issued.ticket.id, now):
        row = await _booking(ctx, row.id)
        if row.status == "cancelled":  # cancelled between our read and now: the ticket must not stand
            await engine.cancel(issued.ticket.id)
            check_check_in(hall.appointments, row.status, row.slot_start.astimezone(hall.zone), now)
    row = await _booking(ctx, row.id)
    return _checked_in(ctx, row, ticket, now, 200 if issued.replay else 201)


def _checked_in(ctx: Ctx, row: store.AppointmentRow, ticket: TicketOut, now: datetime, status: int) -> Response:
    hall = ctx.hall.config
    ticket.key = ticket_key(ctx.runtime.settings.secret, hall.id, ticket.id)  # printed in its QR code
    out = CheckInOut(appointment=AppointmentOut.of(hall, row, now), ticket=ticket)
    return Response(out.model_dump_json(), status_code=status, media_type="application/json")


STATUS_PARAM = Param("status", "query", "Only bookings in this status (void: not checked in in time, a no-show).",
                     {"type": "string", "enum": list(STATUSES)})
LIMIT_PARAM = Param("limit", "query", f"At most this many (default 100, up to {MAX_LIST}).",
                    {"type": "integer", "minimum": 1, "maximum": MAX_LIST})


@ENDPOINTS.add("GET", "/appointments", roles=("guide", "manager"), response=AppointmentsOut,
          params=(DAY_PARAM, SERVICE_PARAM, STATUS_PARAM, LIMIT_PARAM))
@_answered
async def list_appointments(ctx: Ctx, _: Any) -> AppointmentsOut:
    """A day's bookings by slot (today unless ?day=), filtered by ?service= and ?status=."""
    hall, params = ctx.hall.config, ctx.request.query_params
    now, today = _clock(ctx)
    day = _day_param(params.get("day"), today)
    service = params.get("service")
    if service is not None and hall.service(service) is None:
        bookable_service(hall, service)  # refuses it, naming the unknown code
    status = params.get("status")
    if status is not None and status not in STATUSES:
        raise ApiError(422, "invalid_request", f"status must be one of {', '.join(STATUSES)}.",
                       f"status 须为以下之一：{'、'.join(STATUSES)}。",
                       fields=[{"field": "status", "problem": "unknown"}])
    limit = query_limit(params.get("limit"), MAX_LIST)
    rows = await _sql(store.listing, _sql_engine(ctx), hall.id, day, service=service, status=status, now=now,
                      void_after_s=hall.appointments.void_after_s, limit=limit)
    return AppointmentsOut(appointments=[AppointmentOut.of(hall, row, now) for row in rows])


@ENDPOINTS.add("POST", "/appointment-blocks/lift", roles=("manager",), body=LiftIn, response=LiftOut)
@_answered
async def lift_appointment_block(ctx: Ctx, body: LiftIn) -> LiftOut:
    """Lift a person's booking block (by ID number, or by any booking of theirs): their no-shows so far no longer
    count."""
    assert ctx.principal is not None
    hall, sql, rules = ctx.hall.config, _sql_engine(ctx), ctx.hall.config.appointments
    if body.id_number is not None:
        person = _person(ctx, body.id_number)
    else:
        person = (await _booking(ctx, body.appointment or "")).person
    now, today = _clock(ctx)
    missed = await _sql(store.no_shows, sql, hall.id, person, now, rules.void_after_s)
    lifted = await _sql(store.last_lift, sql, hall.id, person)
    end = block_end(rules, missed, lifted, hall.zone)
    await _sql(store.lift, sql, hall.id, person, now, actor(ctx.principal), body.reason or None)
    blocked = end is not None and today < end
    return LiftOut(was_blocked=blocked, blocked_until=end if blocked else None, lifted_at=now.astimezone(hall.zone))

