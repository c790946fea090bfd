"""The facts a report counts, read from the SQL record: one ``TicketFact`` per ticket of a date range.

A handful of queries per report, whatever its length: the tickets of the range (with their green-channel reason,
none on tickets issued before issue 8: they count as "other"); their calls, ends and transfers from
``ticket_events``; who opened each window; their ratings and 差评 cases
(``floor.ratings.store``, joined on the ticket, so a late rating given days later counts for the ticket's day);
the bookings of the range never checked in (``floor.appointments.store``). Durations are differences of the
record's own times, and every figure is computed in Python (``floor.reports.rules``), so SQLite and PostgreSQL give
the same report.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, Row, and_, func, select
from sqlalchemy.orm import Session

from floor.accounts import store as accounts
from floor.appointments.rules import status_of
from floor.appointments.store import AppointmentRow
from floor.audit.store import parse_actor
from floor.ratings import cases
from floor.ratings.store import CaseRow, RatingRow
from floor.reports.rules import CaseFact, DateRange, Facts, NoShowFact, TicketFact
from floor.sql.db import TicketEventRow, TicketRow
from queue_engine.config import HallConfig
from queue_engine.stream_ids import StreamKey

E = TicketEventRow
# The events that place a ticket at a window and end it there; their payloads are not needed.
_MARKS = ("ticket.called", "ticket.finished", "ticket.missed")
# The one event whose payload a report reads: a transfer's from_service, the service the ticket was issued for.
_TRANSFERS = ("ticket.transferred",)


@dataclass(slots=True)
class _Trail:
    """What the events say of one ticket."""

    first_called: datetime | None = None
    last_called: StreamKey | None = None
    end: StreamKey | None = None  # the ticket.finished / ticket.missed that ended it last
    end_actor: str | None = None
    issued_for: str | None = None  # the service it left on its first transfer


def local_span(hall: HallConfig, rng: DateRange) -> tuple[datetime, datetime]:
    """The range as UTC instants: local midnight of its first day to local midnight after its last."""
    start = datetime.combine(rng.first, time(0), tzinfo=hall.zone)
    end = datetime.combine(rng.last + timedelta(days=1), time(0), tzinfo=hall.zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _day_text(day: date) -> str:
    return day.strftime("%Y%m%d")


def load_facts(sql: Engine, hall: HallConfig, rng: DateRange, now: datetime) -> Facts:
    """Every ticket of the range as a fact, and the bookings of the range never checked in."""
    with Session(sql) as session:
        tickets = _facts(session, hall, rng, _cases(session, hall.id, rng, now))
        no_shows = _no_shows(session, hall, rng, now)
    # Members of staff who sign in with an account are named by it (the hall file's [[staff]] name the rest).
    people = {a.username: a.display_name for a in accounts.of_hall(sql, hall.id) if a.role == "staff"}
    return Facts(tickets, no_shows, people)


def load_tickets(sql: Engine, hall: HallConfig, rng: DateRange) -> list[TicketFact]:
    """The range's tickets as facts, without their 差评 cases: what the dashboard's today and a window's own counts
    read, so they count from the same facts as the reports."""
    with Session(sql) as session:
        return _facts(session, hall, rng, {})


def _facts(session: Session, hall: HallConfig, rng: DateRange, case_of: dict[str, CaseFact]) -> list[TicketFact]:
    rows = _tickets(session, hall.id, rng)
    trails = _trails(session, hall.id, rng)
    openers = _openers(session, hall, rng)
    scores = _ratings(session, hall.id, rng)
    targets = {s.code: s.target_wait_s for s in hall.services}
    days: dict[str, date] = {}  # parsed once per day, not once per ticket
    return [_fact(row, trails.get(row.id, _Trail()), openers, targets, days, scores.get(row.id), case_of.get(row.id))
            for row in rows]


def _in_range(rng: DateRange) -> Any:
    return TicketRow.day.between(_day_text(rng.first), _day_text(rng.last))


def _tickets(session: Session, hall: str, rng: DateRange) -> Sequence[Row[Any]]:
    columns: list[Any] = [TicketRow.id, TicketRow.day, TicketRow.service, TicketRow.status, TicketRow.channel,
               TicketRow.priority, TicketRow.window, TicketRow.issued_at, TicketRow.called_at, TicketRow.serving_at,
               TicketRow.finished_at, TicketRow.handling_ms, TicketRow.green_reason, TicketRow.outcome]
    stmt = select(*columns).where(TicketRow.hall == hall, _in_range(rng)).order_by(TicketRow.issued_at)
    rows: Sequence[Row[Any]] = session.execute(stmt).all()
    return rows


def _joined(hall: str, rng: DateRange, types: tuple[str, ...]) -> Any:
    """Events of these types of the range's tickets (the query joins ``tickets`` on the event's ticket)."""
    return and_(E.hall == hall, E.type.in_(types), _in_range(rng))


def _trails(session: Session, hall: str, rng: DateRange) -> dict[str, _Trail]:
    trails: dict[str, _Trail] = {}
    marks = (select(E.ticket, E.type, E.at, E.actor, E.stream_ms, E.stream_seq).select_from(E)
             .join(TicketRow, and_(TicketRow.hall == E.hall, TicketRow.id == E.ticket))
             .where(_joined(hall, rng, _MARKS)).order_by(E.stream_ms, E.stream_seq))
    for ticket, kind, at, actor, ms, seq in session.execute(marks):
        trail = trails.setdefault(str(ticket), _Trail())
        if kind == "ticket.called":
            if trail.first_called is None:
                trail.first_called = at
            trail.last_called = (ms, seq)
        else:
            trail.end, trail.end_actor = (ms, seq), actor
    transfers = (select(E.ticket, E.payload).select_from(E)
                 .join(TicketRow, and_(TicketRow.hall == E.hall, TicketRow.id == E.ticket))
                 .where(_joined(hall, rng, _TRANSFERS)).order_by(E.stream_ms, E.stream_seq))
    for ticket, payload in session.execute(transfers):
        trail = trails.setdefault(str(ticket), _Trail())
        if trail.issued_for is None:
            trail.issued_for = payload.get("from_service")
    return trails


@dataclass(slots=True)
class _Openings:
    """A window's openings in stream order: when (stream key) and by which member of staff."""

    keys: list[StreamKey] = field(default_factory=list)
    staff: list[str | None] = field(default_factory=list)

    def before(self, at: StreamKey) -> str | None:
        """Who opened the window last at or before ``at`` (a bisection: a year has hundreds of openings)."""
        i = bisect_right(self.keys, at)
        return self.staff[i - 1] if i else None


Openers = dict[str, _Openings]


def _openers(session: Session, hall: HallConfig, rng: DateRange) -> Openers:
    """Who opened each window during the range, and the last opening before it (a window left open overnight)."""
    start, end = local_span(hall, rng)
    opened = and_(E.hall == hall.id, E.type == "window.opened")
    before = (select(E.window, func.max(E.stream_ms).label("ms")).where(opened, E.at < start)
              .group_by(E.window).subquery())
    last_before = (select(E.window, E.stream_ms, E.stream_seq, E.actor)
                   .join(before, and_(E.window == before.c.window, E.stream_ms == before.c.ms)).where(opened))
    during = select(E.window, E.stream_ms, E.stream_seq, E.actor).where(opened, E.at >= start, E.at < end)
    found: dict[str, list[tuple[StreamKey, str | None]]] = {}
    for window, ms, seq, actor in [*session.execute(last_before), *session.execute(during)]:
        found.setdefault(window, []).append(((ms, seq), parse_actor(actor).staff if actor else None))
    openers: Openers = {}
    for window, entries in found.items():
        entries.sort(key=lambda entry: entry[0])
        openers[window] = _Openings([key for key, _ in entries], [who for _, who in entries])
    return openers


def _fact(row: Row[Any], trail: _Trail, openers: Openers, targets: dict[str, int], days: dict[str, date],
          score: int | None, case: CaseFact | None) -> TicketFact:
    service = trail.issued_for or row.service
    # The row keeps the last call only; a row with no call event (written without its events, as an import or a
    # screenshot's dressing is) falls back to it.
    first_called = trail.first_called or row.called_at
    wait = None if first_called is None else (first_called - row.issued_at).total_seconds()
    handling = None
    if row.status == "done":
        if row.handling_ms is not None:
            handling = row.handling_ms / 1000
        elif row.finished_at is not None and (row.serving_at or row.called_at) is not None:
            handling = (row.finished_at - (row.serving_at or row.called_at)).total_seconds()
    staff = parse_actor(trail.end_actor).staff if trail.end_actor else None
    at = trail.end or trail.last_called
    if staff is None and row.window in openers and at is not None:
        staff = openers[row.window].before(at)
    day = days.get(row.day)
    if day is None:
        day = days[row.day] = datetime.strptime(row.day, "%Y%m%d").date()
    return TicketFact(
        id=row.id, day=day, service=service, status=row.status, channel=row.channel, priority=row.priority,
        green_reason=row.green_reason, window=row.window, staff=staff, issued_at=row.issued_at, wait_s=wait,
        handling_s=handling, target_s=targets.get(service), score=score, case=case,
        outcome=row.outcome if row.status == "done" else None)


# -- the rooms of ratings and appointments --------------------------------------------------------------
def _ratings(session: Session, hall: str, rng: DateRange) -> dict[str, int]:
    """Each rated ticket's score (``floor.ratings.store``: one per ticket, kept under the ticket's own day)."""
    stmt = (select(RatingRow.ticket, RatingRow.score)
            .join(TicketRow, and_(TicketRow.hall == RatingRow.hall, TicketRow.id == RatingRow.ticket))
            .where(RatingRow.hall == hall, _in_range(rng)))
    return {str(ticket): int(score) for ticket, score in session.execute(stmt)}


def _cases(session: Session, hall: str, rng: DateRange, now: datetime) -> dict[str, CaseFact]:
    """The 差评 case of each ticket of the range: open or not, and overdue as the cases page says it (a callback
    or fix past its deadline and not done yet, as of ``now``)."""
    stmt = (select(CaseRow).join(TicketRow, and_(TicketRow.hall == CaseRow.hall, TicketRow.id == CaseRow.ticket))
            .where(CaseRow.hall == hall, _in_range(rng)))
    return {row.ticket: CaseFact(open=cases.is_open(row.status),
                                 overdue=bool(cases.overdue_steps(row.deadlines(), row.done(), now)))
            for row in session.scalars(stmt)}


def _no_shows(session: Session, hall: HallConfig, rng: DateRange, now: datetime) -> list[NoShowFact]:
    """Bookings of the range never checked in: void once ``void_after_s`` has passed since their slot began."""
    stmt = select(AppointmentRow.day, AppointmentRow.service, AppointmentRow.slot_start).where(
        AppointmentRow.hall == hall.id, AppointmentRow.day.between(rng.first, rng.last),
        AppointmentRow.status == "booked")
    return [NoShowFact(day, service) for day, service, start in session.execute(stmt)
            if status_of(hall.appointments, "booked", start, now) == "void"]
