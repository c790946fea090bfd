"""Per-day summaries of each hall's tickets, kept in SQL, so a region's report over many halls and days reads a few
thousand summed rows instead of every ticket and event (``floor.regions.rollup`` adds them up).

Tables (migration 0010):

- ``report_day_services``: per (hall, day, service the tickets were issued for), the additive figures of a settled
  day (``floor.regions.rollup.Tally``: counts, waits and handling times summed in whole microseconds, 超时件, green
  channel, appointments, ratings per level) and the target wait 超时件 was counted against;
- ``report_days``: per (hall, day) summarised (a day without tickets too), the day's totals and how many ratings
  the record held for it then;
- ``report_cases``: per 差评 case, its ticket's day and the service the ticket was issued for (fixed once the
  ticket is rated); the case's state is never stored.

**Counted as the hall report counts.** Tickets are read for many halls at once (``read_tickets``: one query per
few hundred hall-days, and a thread of its own for today) and counted by ``floor.regions.rollup.count`` under the
rules of ``floor.reports.facts`` / ``floor.reports.rules``: the service a ticket was issued for (its first
transfer's ``from_service``), its wait to its first call in stream order, its handling, its rating. The tests hold
this read to ``floor.reports.facts.load_tickets`` ticket by ticket, and the region to the sum of its hall reports
figure by figure, on SQLite and PostgreSQL.

**Settled.** A day's ticket figures stop changing only once the engine has retired its tickets, which is not
midnight: a hall that has not ended its day still calls yesterday's waiting tickets, and serves yesterday's
no-shows at the window that missed them. It is the ``day.closed`` event (结束营业, ``POST /end-day``) of that day
or a later one. A (hall, day) is summarised, lazily, the first time a report needs it, when:

- it is before the hall's today;
- the record holds a ``day.closed`` of that day or later, stamped at least ``SETTLE_S`` ago (time for an archiver
  to claim what a crashed one left pending), and after the last event of every ticket of the day (a ticket
  issued after the close waits for the next close);
- no ticket of it is waiting, called or being served in the record.

Any other day, today always, is counted live from the record each time; so is every day of a hall that never ends
its days (correct, only slower). A summary, once written, is kept.

**What changes after a day, and how it stays right.**

- Late ratings (a rating may come days later and counts for its ticket's day): a summary stores the ratings it
  counted and how many the record held for its (hall, day) when it was made (read before the tickets, so a rating
  arriving in between makes it stale rather than lost). Each report counts the ratings per (hall, day) with one
  GROUP BY over ``ratings`` (ratings are only ever added, one per ticket, never changed: a count tells); a
  (hall, day) whose count moved is summarised again (deleted and made anew). No write path (the archiver,
  ``floor.ratings``) has to know about summaries.
- 差评 cases (open, closed, overdue "at the time of the report"): never stored; counted live by one GROUP BY over
  ``cases`` joined to ``report_cases``, overdue worked out in the query as of the hall's now, as
  ``floor.ratings.cases`` says it.
- Appointment no-shows (a booking becomes void a while after its slot): never stored; counted live from
  ``appointments`` as the hall report counts them.
- A service's target wait (超时件 compares each wait with the target the hall has now): rows keep the target they
  counted with; a report that reads one whose service's target has changed since summarises those days again and
  reads once more.

The summed rows and the days they cover are read in one statement, so a report never adds both a summary and the
live tickets of one (hall, day), even while another report writes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Engine,
    Integer,
    String,
    and_,
    case,
    cast,
    delete,
    extract,
    func,
    literal,
    null,
    or_,
    select,
    text,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from floor.appointments.rules import status_of
from floor.appointments.store import AppointmentRow
from floor.ratings import cases
from floor.ratings.store import CaseRow, RatingRow
from floor.regions.rollup import AT, FIELDS, GREEN_FIELDS, SCORE_FIELDS, US, Sums, Tally, count, total
from floor.reports.rules import SERVED, UNFINISHED, DateRange, TicketFact
from floor.sql.db import Base, TicketEventRow, TicketRow, UtcDateTime, insert_for
from queue_engine.config import HallConfig
from queue_engine.stream_ids import StreamKey

SETTLE_S = 300  # a day.closed younger than this does not settle its day yet
ANALYZE_AFTER = 1000  # summarised days written at once that make the statistics of the tables worth renewing
E = TicketEventRow


class ReportDayRow(Base):
    """A (hall, day) summarised, with the day's totals over its services (its rows are in ``report_day_services``;
    none for a day without tickets)."""

    __tablename__ = "report_days"

    hall: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[str] = mapped_column(String(8), primary_key=True)  # YYYYMMDD, as tickets.day
    # How many ratings of the day ``ratings`` held when it was summarised: a report that finds more (a late
    # rating) summarises it again. Ratings are only ever added (one per ticket, never changed), so a count tells.
    rated: Mapped[int] = mapped_column(Integer)
    closed_ms: Mapped[int] = mapped_column(BigInteger)  # the day.closed (stream ms) that settled it
    made_at: Mapped[datetime] = mapped_column(UtcDateTime)
    issued: Mapped[int] = mapped_column(Integer)
    served: Mapped[int] = mapped_column(Integer)
    missed: Mapped[int] = mapped_column(Integer)
    cancelled: Mapped[int] = mapped_column(Integer)
    waited: Mapped[int] = mapped_column(Integer)
    wait_us: Mapped[int] = mapped_column(BigInteger)
    handled: Mapped[int] = mapped_column(Integer)
    handling_us: Mapped[int] = mapped_column(BigInteger)
    over_target: Mapped[int] = mapped_column(Integer)
    green_elderly: Mapped[int] = mapped_column(Integer)
    green_disabled: Mapped[int] = mapped_column(Integer)
    green_pregnant: Mapped[int] = mapped_column(Integer)
    green_military: Mapped[int] = mapped_column(Integer)
    green_other: Mapped[int] = mapped_column(Integer)
    appointments: Mapped[int] = mapped_column(Integer)
    rated_5: Mapped[int] = mapped_column(Integer)
    rated_4: Mapped[int] = mapped_column(Integer)
    rated_3: Mapped[int] = mapped_column(Integer)
    rated_2: Mapped[int] = mapped_column(Integer)
    rated_1: Mapped[int] = mapped_column(Integer)


class ReportDayServiceRow(Base):
    """The additive figures of one settled (hall, day, service issued for)."""

    __tablename__ = "report_day_services"

    hall: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    service: Mapped[str] = mapped_column(String(8), primary_key=True)
    target_s: Mapped[int | None] = mapped_column(Integer)  # the target wait 超时件 was counted against
    issued: Mapped[int] = mapped_column(Integer)
    served: Mapped[int] = mapped_column(Integer)
    missed: Mapped[int] = mapped_column(Integer)
    cancelled: Mapped[int] = mapped_column(Integer)
    waited: Mapped[int] = mapped_column(Integer)
    wait_us: Mapped[int] = mapped_column(BigInteger)
    handled: Mapped[int] = mapped_column(Integer)
    handling_us: Mapped[int] = mapped_column(BigInteger)
    over_target: Mapped[int] = mapped_column(Integer)
    green_elderly: Mapped[int] = mapped_column(Integer)
    green_disabled: Mapped[int] = mapped_column(Integer)
    green_pregnant: Mapped[int] = mapped_column(Integer)
    green_military: Mapped[int] = mapped_column(Integer)
    green_other: Mapped[int] = mapped_column(Integer)
    appointments: Mapped[int] = mapped_column(Integer)
    rated_5: Mapped[int] = mapped_column(Integer)
    rated_4: Mapped[int] = mapped_column(Integer)
    rated_3: Mapped[int] = mapped_column(Integer)
    rated_2: Mapped[int] = mapped_column(Integer)
    rated_1: Mapped[int] = mapped_column(Integer)


class ReportCaseRow(Base):
    """The ticket of a 差评 case as a report counts the case: its day, and the service it was issued for (fixed once
    the ticket is rated: it is done). Written the first time a report meets the case; its state stays in
    ``cases``."""

    __tablename__ = "report_cases"

    hall: Mapped[str] = mapped_column(String(40), primary_key=True)
    ticket: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[str] = mapped_column(String(8))
    service: Mapped[str] = mapped_column(String(8))


S = ReportDayServiceRow
# The tally's fields a summary row keeps (a settled day has nothing unfinished; cases and no-shows are live).
SUMMED = ("issued", "served", "missed", "cancelled", "waited", "wait_us", "handled", "handling_us", "over_target",
          *GREEN_FIELDS, "appointments", *SCORE_FIELDS)
_SUMMED_AT = [AT[name] for name in SUMMED]


def _text(day: date) -> str:
    return day.strftime("%Y%m%d")


def _date(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def summed(t: Tally) -> dict[str, int]:
    """The ``SUMMED`` columns of a tally (of a settled day: nothing unfinished; cases and no-shows are live)."""
    return {name: t.counts[i] for name, i in zip(SUMMED, _SUMMED_AT, strict=True)}


def row_of(hall: str, day: date, service: str, target_s: int | None, t: Tally) -> dict[str, Any]:
    """A ``report_day_services`` row of a tally."""
    return {"hall": hall, "day": _text(day), "service": service, "target_s": target_s, **summed(t)}


def tally_of(values: Sequence[Any]) -> Tally:
    """A tally of the ``SUMMED`` columns' values, in that order (None, a sum over no row, is 0)."""
    counts = [0] * len(FIELDS)
    for i, value in zip(_SUMMED_AT, values, strict=True):
        counts[i] = int(value or 0)
    return Tally(counts)


@dataclass(frozen=True, slots=True)
class HallNow:
    """A hall and its local now (``HallConfig.local`` of its engine's clock)."""

    config: HallConfig
    now: datetime

    @property
    def today(self) -> date:
        return self.now.date()


@dataclass
class Sources:
    """Where a report's hall-days came from: summaries read, and of them made for this report (new or refreshed
    after a late rating or a changed target); counted live (today, and days not settled)."""

    summarised: int = 0
    made: int = 0
    refreshed: int = 0
    live: int = 0


@dataclass
class _Plan:
    stale: set[tuple[str, str]] = field(default_factory=set)  # summaries to delete (and make again if settled)
    missing: dict[str, list[date]] = field(default_factory=dict)  # hall -> settled days to summarise
    closes: dict[str, tuple[date, StreamKey]] = field(default_factory=dict)  # hall -> (day closed last, stream id)
    ratings: dict[tuple[str, str], int] = field(default_factory=dict)  # (hall, day) -> ratings in the record


def region_sums(sql: Engine, halls: Sequence[HallNow], rng: DateRange) -> tuple[Sums, Sources]:
    """The tallies of the halls over the range: settled days from their summaries (made first where missing or
    stale), the rest from the live facts, 差评 cases and appointment no-shows always live. Today's tickets, the cases
    and the no-shows are read in threads of their own while the summaries are read and made (each its own
    connection): the database works on one while this process counts another."""
    sums, sources = Sums(), Sources()
    if not halls:
        return sums, sources
    by_id = {h.config.id: h for h in halls}
    configs = {hall: h.config for hall, h in by_id.items()}
    targets = {hall: {s.code: s.target_wait_s for s in config.services} for hall, config in configs.items()}
    today = {h.config.id: [h.today] for h in halls if rng.first <= h.today <= rng.last}  # never summarised
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="region-report") as pool:
        todays = pool.submit(lambda: list(tickets_by_day(sql, configs, today)))
        cases = pool.submit(_case_sums, sql, by_id, rng)
        no_shows = pool.submit(_no_show_sums, sql, by_id, rng)
        retargeted: set[tuple[str, str]] = set()
        for _ in range(3):  # a target changed since some summaries were made: those days again (twice is plenty)
            plan = _plan(sql, halls, rng, retargeted)
            loaded = _fill(sql, by_id, plan, sources)
            sums = Sums()
            stored, moved = _read_stored(sql, targets, rng, sums)
            if not moved:
                break
            retargeted = _days_of(sql, moved, rng)
        sources.summarised = len(stored)
        wanted: dict[str, list[date]] = {}
        for h in halls:
            hall = h.config.id
            for d in rng.days:
                if (hall, _text(d)) in stored:
                    continue
                sources.live += 1
                if (hall, d) in loaded:
                    _add_live(sums, h.config, loaded[(hall, d)])
                elif d != h.today:
                    wanted.setdefault(hall, []).append(d)
        for hall, _, tickets in [*tickets_by_day(sql, configs, wanted), *todays.result()]:
            _add_live(sums, configs[hall], tickets)
        sums.merge(cases.result())
        sums.merge(no_shows.result())
    return sums, sources


def _add_live(sums: Sums, hall: HallConfig, tickets: list[Ticket]) -> None:
    for (service, day), t in tallies(hall, tickets).items():
        sums.add(hall.id, service, _date(day), t)


def runs(days: Iterable[date]) -> list[DateRange]:
    """Consecutive days as ranges: 1, 2, 3, 7 -> [1..3], [7..7]."""
    found: list[DateRange] = []
    first = last = None
    for d in sorted(days):
        if last is not None and d == last + timedelta(days=1):
            last = d
            continue
        if first is not None and last is not None:
            found.append(DateRange(first, last))
        first = last = d
    if first is not None and last is not None:
        found.append(DateRange(first, last))
    return found


# -- what to summarise ------------------------------------------------------------------------------
def _plan(sql: Engine, halls: Sequence[HallNow], rng: DateRange, retargeted: set[tuple[str, str]]) -> _Plan:
    ids = [h.config.id for h in halls]
    first, last = _text(rng.first), _text(rng.last)
    plan = _Plan(stale=set(retargeted))
    with Session(sql) as session:
        plan.closes = _closes(session, ids, min(h.now for h in halls).astimezone(UTC) - timedelta(seconds=SETTLE_S))
        marks = {(hall, day): rated for hall, day, rated in session.execute(
            select(ReportDayRow.hall, ReportDayRow.day, ReportDayRow.rated)
            .where(ReportDayRow.hall.in_(ids), ReportDayRow.day.between(first, last)))}
        # Read before any ticket: a rating stored after this read makes the summary stale, never lost.
        plan.ratings = {(hall, day): int(n) for hall, day, n in session.execute(
            select(RatingRow.hall, RatingRow.day, func.count())
            .where(RatingRow.hall.in_(ids), RatingRow.day.between(first, last))
            .group_by(RatingRow.hall, RatingRow.day))}
    settled = {(h.config.id, _text(d)) for h in halls for d in rng.days if _settles(plan, h, d)}
    plan.stale |= {key for key, rated in marks.items() if rated != plan.ratings.get(key, 0)}
    plan.stale |= set(marks) - settled  # the clock went back: not settled after all
    plan.stale &= set(marks)
    kept = set(marks) - plan.stale
    for hall, day in sorted(settled - kept):
        plan.missing.setdefault(hall, []).append(_date(day))
    return plan


def _days_of(sql: Engine, moved: list[tuple[str, str, int | None]], rng: DateRange) -> set[tuple[str, str]]:
    """The summarised days of services whose target has changed since (rare: one query each)."""
    found: set[tuple[str, str]] = set()
    with Session(sql) as session:
        for hall, service, target in moved:
            target_is = S.target_s.is_(None) if target is None else S.target_s == target
            found |= {(hall, day) for (day,) in session.execute(select(S.day).where(
                S.hall == hall, S.service == service, target_is, S.day.between(_text(rng.first), _text(rng.last))))}
    return found


def _settles(plan: _Plan, h: HallNow, day: date) -> bool:
    close = plan.closes.get(h.config.id)
    return day < h.today and close is not None and day <= close[0]


def _closes(session: Session, ids: list[str], before: datetime) -> dict[str, tuple[date, StreamKey]]:
    """Each hall's latest ``day.closed`` stamped before ``before``: the day it closed and its stream id."""
    latest = (select(E.hall, func.max(E.stream_ms).label("ms"))
              .where(E.hall.in_(ids), E.type == "day.closed", E.at < before).group_by(E.hall).subquery())
    rows = session.execute(select(E.hall, E.stream_ms, E.stream_seq, E.payload).join(
        latest, and_(E.hall == latest.c.hall, E.stream_ms == latest.c.ms)).where(E.type == "day.closed"))
    closes: dict[str, tuple[date, StreamKey]] = {}
    for hall, ms, seq, payload in rows:
        found = (_date(str(payload["day"])), (int(ms), int(seq)))
        if hall not in closes or found > closes[hall]:
            closes[hall] = found
    return closes


# -- summarising ----------------------------------------------------------------------------------
def _fill(sql: Engine, halls: dict[str, HallNow], plan: _Plan, sources: Sources) -> dict[tuple[str, date],
                                                                                         list[Ticket]]:
    """Summarise the missing settled days (deleting stale summaries first); the tickets of the days found not
    settled after all (a ticket unfinished or touched after the close), for the live count to use."""
    unsettled: dict[tuple[str, date], list[Ticket]] = {}
    marks: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    last_events = _last_events(sql, plan) if plan.missing else {}
    made_at = datetime.now(UTC)
    configs = {hall: halls[hall].config for hall in plan.missing}
    for hall, day, tickets in tickets_by_day(sql, configs, plan.missing):
        text, (close_ms, close_seq) = _text(day), plan.closes[hall][1]
        if last_events.get((hall, text), (0, -1)) >= (close_ms, close_seq) or any(
                t[4] in UNFINISHED for t in tickets):
            unsettled[(hall, day)] = tickets
            continue
        targets = {s.code: s.target_wait_s for s in configs[hall].services}
        per_service = tallies(configs[hall], tickets)
        rows += [row_of(hall, day, service, targets.get(service), t) for (service, _), t in per_service.items()]
        marks.append({"hall": hall, "day": text, "rated": plan.ratings.get((hall, text), 0), "closed_ms": close_ms,
                      "made_at": made_at, **summed(total(per_service.values()))})
        if (hall, text) in plan.stale:
            sources.refreshed += 1
        else:
            sources.made += 1
    if plan.stale or marks:
        _write(sql, plan.stale, marks, rows)
    return unsettled


def _last_events(sql: Engine, plan: _Plan) -> dict[tuple[str, str], StreamKey]:
    """The stream id of the last event of any ticket of each (hall, day) to summarise (its seq only where its ms is
    the close's own: the engine closes a day in the same instant as it retires the day's last tickets)."""
    first = _text(min(d for days in plan.missing.values() for d in days))
    last = _text(max(d for days in plan.missing.values() for d in days))
    with Session(sql) as session:
        found = {(hall, day): (int(ms), -1) for hall, day, ms in session.execute(
            select(TicketRow.hall, TicketRow.day, func.max(TicketRow.last_event_ms))
            .where(TicketRow.hall.in_(list(plan.missing)), TicketRow.day.between(first, last))
            .group_by(TicketRow.hall, TicketRow.day))}
        for (hall, day), (ms, _) in found.items():
            if ms == plan.closes[hall][1][0]:
                seq = session.scalar(select(func.max(TicketRow.last_event_seq)).where(
                    TicketRow.hall == hall, TicketRow.day == day, TicketRow.last_event_ms == ms))
                found[(hall, day)] = (ms, int(seq or 0))
    return found


def _write(sql: Engine, stale: set[tuple[str, str]], marks: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """One transaction: stale summaries out, new ones in. Two reports making the same day at once both write the
    same figures; whichever comes second inserts nothing."""
    with Session(sql) as session, session.begin():
        keys = sorted(stale)
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            for table in (ReportDayServiceRow, ReportDayRow):
                session.execute(delete(table).where(tuple_(table.hall, table.day).in_(chunk)))
        if marks:
            stmt = insert_for(session, ReportDayRow.__table__).on_conflict_do_nothing(index_elements=["hall", "day"])
            new = {(hall, day) for hall, day in session.execute(
                stmt.returning(ReportDayRow.__table__.c.hall, ReportDayRow.__table__.c.day), marks)}
            # Only the rows of the days this transaction marked: a day another report made meanwhile has its own.
            rows = [r for r in rows if (r["hall"], r["day"]) in new]
            if rows:
                session.execute(insert_for(session, S.__table__).on_conflict_do_nothing(
                    index_elements=["hall", "day", "service"]), rows)
    if len(marks) >= ANALYZE_AFTER and sql.dialect.name == "postgresql":
        # A county's first month doubles the tables at once: their statistics are brought up at once too, not at
        # autovacuum's next pass, so the next report is planned for the rows there are.
        with sql.connect() as conn:
            conn.execute(text("ANALYZE report_days, report_day_services"))
            conn.commit()


# -- the tickets of many halls at once ------------------------------------------------------------------------
BATCH_HALL_DAYS = 300  # hall-days read per query: a cold month of a county never sits in memory at once
ONE_US = timedelta(microseconds=1)
# One ticket as a region counts it, from the record: (hall, id, day, service issued for, status, channel, priority,
# green reason, window, issued at, wait and handling in whole microseconds, score, outcome).
Ticket = tuple[str, str, str, str, str, str, str | None, str | None, str | None, datetime, int | None, int | None,
               int | None, str | None]


def tickets_by_day(sql: Engine, halls: dict[str, HallConfig], wanted: dict[str, list[date]]
                   ) -> Iterator[tuple[str, date, list[Ticket]]]:
    """(hall, day, its tickets) for every wanted day of each hall (no ticket: an empty list), a few hundred
    hall-days per query: the halls that want the same days are read together, the next batch read (by the
    database, in a thread) while this one is counted."""
    by_run: dict[DateRange, list[str]] = {}
    for hall, days in wanted.items():
        for run in runs(days):
            by_run.setdefault(run, []).append(hall)
    batches = [(ids[i:i + max(1, BATCH_HALL_DAYS // len(run.days))], run) for run, ids in by_run.items()
               for i in range(0, len(ids), max(1, BATCH_HALL_DAYS // len(run.days)))]
    if not batches:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="region-tickets") as reader:
        ahead = reader.submit(read_tickets, sql, [halls[h] for h in batches[0][0]], batches[0][1])
        for i, (chunk, run) in enumerate(batches):
            found = ahead.result()
            if i + 1 < len(batches):
                following, later = batches[i + 1]
                ahead = reader.submit(read_tickets, sql, [halls[h] for h in following], later)
            per_day: dict[tuple[str, str], list[Ticket]] = {(h, _text(d)): [] for h in chunk for d in run.days}
            for t in found:
                per_day[(t[0], t[2])].append(t)
            for (hall, day), tickets in per_day.items():
                yield hall, _date(day), tickets


def tallies(hall: HallConfig, tickets: Iterable[Ticket]) -> dict[tuple[str, str], Tally]:
    """(service, day) -> the tally of those tickets (``floor.regions.rollup.count``: the hall report's rules)."""
    targets = {s.code: s.target_wait_s for s in hall.services}
    found: dict[tuple[str, str], list[int]] = {}
    for _, _, day, service, status, channel, priority, green, _, _, wait_us, handling_us, score, _ in tickets:
        c = found.get((service, day))
        if c is None:
            c = found[(service, day)] = [0] * len(FIELDS)
        count(c, status, wait_us, handling_us, targets.get(service), priority, green, channel, score)
    return {key: Tally(c) for key, c in found.items()}


def _raw(column: Any) -> Any:
    """A time column as the driver gives it (aware from PostgreSQL, naive UTC from SQLite), without the per-value
    conversion of ``UtcDateTime``: a county's day has a hundred thousand of them, and a difference needs none."""
    return type_coerce(column, DateTime(timezone=True))


def _covered(ticket: str, first: str, last: str) -> bool:
    """A ticket id that begins with a day of the range (``queue_engine.engine.random_ticket_id`` puts the day
    first): its events and rating lie in the range's stretch of the (hall, ticket) indexes."""
    return ticket[8:9] == "-" and ticket[:8].isdigit() and first <= ticket[:8] <= last


_MOVED_FROM = E.payload["from_service"].as_string()
_TRAIL = or_(E.type == "ticket.called", and_(E.type == "ticket.transferred", _MOVED_FROM.is_not(None)))


def read_tickets(sql: Engine, halls: Sequence[HallConfig], rng: DateRange) -> list[Ticket]:
    """The range's tickets of these halls in one query, each counted as ``floor.reports.facts`` reads it: the
    service it was issued for is the ``from_service`` of its first transfer that names one; its wait runs from its
    issue to its first ``ticket.called`` in stream order (the row's ``called_at`` when it has none); handling is
    the recorded ``handling_ms``, else serving (or called) -> finished, of a served ticket; its rating is joined on
    the ticket. Who served it is not read (a region groups by hall, level and service, never by person).

    Ticket ids begin with their day, so the events and ratings of the range's tickets are one stretch of the
    (hall, ticket) indexes, read whole (bounded by days, which compare alike in any collation); a ticket whose id
    does not (an import) has its own read."""
    ids = [h.id for h in halls]
    first, last, after = _text(rng.first), _text(rng.last), _text(rng.last + timedelta(days=1))
    order = (E.stream_ms, E.stream_seq)
    trail = (select(E.hall, E.ticket, E.type, _raw(E.at).label("at"), _MOVED_FROM.label("moved_from"),
                    func.row_number().over(partition_by=(E.hall, E.ticket, E.type), order_by=order).label("n"))
             .where(E.hall.in_(ids), E.ticket >= first, E.ticket < after, _TRAIL).cte("trail"))
    call, move = trail.alias("call"), trail.alias("move")
    T = TicketRow
    # PostgreSQL works out the durations (exactly: EXTRACT gives whole microseconds), so a county's day comes back
    # as a few numbers per ticket rather than five times; SQLite's come back as times, subtracted here.
    computed = sql.dialect.name == "postgresql"
    if computed:
        waited = func.coalesce(call.c.at, _raw(T.called_at)) - _raw(T.issued_at)
        handled = _raw(T.finished_at) - func.coalesce(_raw(T.serving_at), _raw(T.called_at))
        times: tuple[Any, ...] = (_micros(waited), case((T.status == SERVED, func.coalesce(
            T.handling_ms * 1000, _micros(handled))), else_=null()))
    else:
        times = (T.handling_ms, _raw(T.called_at), _raw(T.serving_at), _raw(T.finished_at), call.c.at)
    stmt = (select(T.hall, T.id, T.day, T.service, T.status, T.channel, T.priority, T.green_reason, T.window,
                   T.outcome, _raw(T.issued_at), move.c.moved_from, RatingRow.score, *times)
            .select_from(T)
            .outerjoin(call, and_(call.c.hall == T.hall, call.c.ticket == T.id, call.c.type == "ticket.called",
                                  call.c.n == 1))
            .outerjoin(move, and_(move.c.hall == T.hall, move.c.ticket == T.id, move.c.type == "ticket.transferred",
                                  move.c.n == 1))
            .outerjoin(RatingRow, and_(RatingRow.hall == T.hall, RatingRow.ticket == T.id, RatingRow.hall.in_(ids),
                                       RatingRow.ticket >= first, RatingRow.ticket < after))
            .where(T.hall.in_(ids), T.day.between(first, last)))
    with sql.connect() as conn:  # plain rows: a county's day is tens of thousands of them
        rows = conn.execute(stmt).all()
        others = [(row[0], row[1]) for row in rows if not _covered(row[1], first, last)]
        own = _read_own(conn, others) if others else {}
    found: list[Ticket] = []
    for hall, tid, day, service, status, channel, priority, green, window, outcome, issued_at, moved_from, score, \
            *rest in rows:
        first_called = None
        if own and (hall, tid) in own:
            first_called, moved_from, score = own[(hall, tid)]
        if computed:
            wait_us, handling_us = rest
            if first_called is not None:
                wait_us = (first_called - issued_at) // ONE_US
        else:
            handling_ms, called_at, serving_at, finished_at, trail_call = rest
            first_called = first_called or trail_call or called_at
            wait_us = None if first_called is None else (first_called - issued_at) // ONE_US
            handling_us = None
            if status == SERVED:
                if handling_ms is not None:
                    handling_us = handling_ms * 1000
                elif finished_at is not None and (serving_at or called_at) is not None:
                    handling_us = (finished_at - (serving_at or called_at)) // ONE_US
        found.append((hall, tid, day, moved_from or service, status, channel, priority, green, window, issued_at,
                      wait_us, handling_us, score, outcome if status == SERVED else None))
    return found


def _micros(interval: Any) -> Any:
    """Whole microseconds of a PostgreSQL interval (EXTRACT(EPOCH ...) is exact to the microsecond)."""
    return cast(extract("epoch", interval) * 1_000_000, BigInteger)


def _read_own(conn: Connection, tickets: list[tuple[str, str]]
              ) -> dict[tuple[str, str], tuple[datetime | None, str | None, int | None]]:
    """First call, first transfer's ``from_service`` and score of tickets read one by one (ids not day first)."""
    found: dict[tuple[str, str], tuple[datetime | None, str | None, int | None]] = {}
    for i in range(0, len(tickets), 500):
        chunk = tickets[i:i + 500]
        calls: dict[tuple[str, str], datetime] = {}
        moves: dict[tuple[str, str], str] = {}
        for hall, ticket, kind, at, moved_from in conn.execute(
                select(E.hall, E.ticket, E.type, _raw(E.at), _MOVED_FROM)
                .where(tuple_(E.hall, E.ticket).in_(chunk), _TRAIL).order_by(E.stream_ms, E.stream_seq)):
            target = calls if kind == "ticket.called" else moves
            target.setdefault((hall, str(ticket)), at if kind == "ticket.called" else moved_from)
        scores = {(hall, ticket): score for hall, ticket, score in conn.execute(
            select(RatingRow.hall, RatingRow.ticket, RatingRow.score)
            .where(tuple_(RatingRow.hall, RatingRow.ticket).in_(chunk)))}
        for key in chunk:
            found[key] = (calls.get(key), moves.get(key), scores.get(key))
    return found


def load_many(sql: Engine, halls: Sequence[HallConfig], rng: DateRange) -> dict[str, list[TicketFact]]:
    """``read_tickets`` as facts, each as ``floor.reports.facts.load_tickets`` makes it but for ``staff`` (None):
    what the tests hold the fast read to."""
    targets = {h.id: {s.code: s.target_wait_s for s in h.services} for h in halls}
    facts: dict[str, list[TicketFact]] = {}
    for (hall, tid, day, service, status, channel, priority, green, window, issued_at, wait_us, handling_us, score,
         outcome) in read_tickets(sql, halls, rng):
        issued_at = issued_at if issued_at.tzinfo is not None else issued_at.replace(tzinfo=UTC)
        facts.setdefault(hall, []).append(TicketFact(
            tid, _date(day), service, status, channel, priority, green, window, None, issued_at,
            None if wait_us is None else wait_us / US, None if handling_us is None else handling_us / US,
            targets[hall].get(service), score, None, outcome))
    return facts


# -- reading ----------------------------------------------------------------------------------------
def _read_stored(sql: Engine, targets: dict[str, dict[str, int]], rng: DateRange, sums: Sums
                 ) -> tuple[set[tuple[str, str]], list[tuple[str, str, int | None]]]:
    """Add the summaries of the range to ``sums``: per (hall, service) summed over the days, and each day's
    totals. One statement, so the days read and the sums read are the same ones even while another report writes.
    The (hall, day)s read, and the (hall, service, target) of rows counted against a target the hall no longer
    has (then the caller summarises those days again and reads once more)."""
    ids = list(targets)
    first, last = _text(rng.first), _text(rng.last)
    cells = (select(literal("c").label("kind"), S.hall, S.service, cast(null(), String).label("day"), S.target_s,
                    *(func.sum(getattr(S, name)) for name in SUMMED))
             .where(S.hall.in_(ids), S.day.between(first, last)).group_by(S.hall, S.service, S.target_s))
    days = select(literal("d").label("kind"), ReportDayRow.hall, cast(null(), String).label("service"),
                  ReportDayRow.day, cast(null(), Integer).label("target_s"),
                  *(getattr(ReportDayRow, name) for name in SUMMED)).where(
        ReportDayRow.hall.in_(ids), ReportDayRow.day.between(first, last))
    stored: set[tuple[str, str]] = set()
    moved: list[tuple[str, str, int | None]] = []
    with Session(sql) as session:
        for kind, hall, service, day, target, *values in session.execute(union_all(cells, days)):
            if kind == "c":
                sums.add_cell(hall, service, tally_of(values))
                if targets[hall].get(service) != target:
                    moved.append((hall, service, target))
            else:
                stored.add((hall, day))
                if values[0]:  # a day with tickets
                    sums.add_day(_date(day), tally_of(values))
    return stored, moved


def _case_sums(sql: Engine, halls: dict[str, HallNow], rng: DateRange) -> Sums:
    """The 差评 cases of the range's tickets, open/closed/overdue as of each hall's now (as ``floor.ratings.cases``
    says them: a callback or fix past its deadline and not done yet), counted in the query under the day and the
    service their ticket was issued for, which ``report_cases`` keeps (a case is found by its own day, which is its
    ticket's: ``floor.ratings.store`` writes it so)."""
    first, last = _text(rng.first), _text(rng.last)
    ids = list(halls)
    cached = and_(ReportCaseRow.hall == CaseRow.hall, ReportCaseRow.ticket == CaseRow.ticket)
    in_range = and_(CaseRow.hall.in_(ids), CaseRow.day.between(first, last))
    by_now: dict[datetime, list[str]] = {}
    for hall, h in halls.items():  # one query per clock: every hall of a server reads the same one
        by_now.setdefault(h.now, []).append(hall)
    with Session(sql) as session:
        new = [(hall, ticket) for hall, ticket in session.execute(
            select(CaseRow.hall, CaseRow.ticket).outerjoin(ReportCaseRow, cached)
            .where(in_range, ReportCaseRow.ticket.is_(None)))]
    if new:
        _cache_cases(sql, new)
    counted: list[Any] = []
    with Session(sql) as session:
        for now, among in by_now.items():
            overdue = or_(*(and_(_STEP_COLUMNS[step][0].is_(None), _STEP_COLUMNS[step][1] <= now)
                            for step in cases.DEADLINE_STEPS))
            each = (select(ReportCaseRow.hall, ReportCaseRow.day, ReportCaseRow.service,
                           CaseRow.status.in_(cases.OPEN_STATUSES).label("open"), overdue.label("late"))
                    .join(ReportCaseRow, cached)
                    .where(CaseRow.hall.in_(among), CaseRow.day.between(first, last),
                           ReportCaseRow.day.between(first, last)).subquery())
            counted += session.execute(select(each.c.hall, each.c.day, each.c.service, each.c.open, each.c.late,
                                              func.count()).group_by(each.c.hall, each.c.day, each.c.service,
                                                                     each.c.open, each.c.late)).all()
    sums = Sums()
    cells: dict[tuple[str, str], list[int]] = {}
    per_day: dict[str, list[int]] = {}
    for hall, day, service, is_open, late, n in counted:
        for c in (cells.setdefault((hall, service), [0, 0, 0]), per_day.setdefault(day, [0, 0, 0])):
            c[0 if is_open else 1] += n
            c[2] += n if late else 0
    for (hall, service), (opened, closed, past_due) in cells.items():
        sums.add_cell(hall, service, Tally(cases_open=opened, cases_closed=closed, cases_overdue=past_due))
    for day, (opened, closed, past_due) in per_day.items():
        sums.add_day(_date(day), Tally(cases_open=opened, cases_closed=closed, cases_overdue=past_due))
    return sums


def _cache_cases(sql: Engine, new: list[tuple[str, str]]) -> None:
    """The day and the service-issued-for of the tickets of cases not seen before (a ticket not in the record yet
    waits for a later report). Two reports caching the same case write the same row; the second inserts nothing."""
    with Session(sql) as session, session.begin():
        rows = _case_tickets(session, new)
        if rows:
            session.execute(insert_for(session, ReportCaseRow.__table__).on_conflict_do_nothing(
                index_elements=["hall", "ticket"]), rows)


def _case_tickets(session: Session, new: list[tuple[str, str]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(0, len(new), 500):
        chunk = new[i:i + 500]
        moved: dict[tuple[str, str], str] = {}
        for hall, ticket, moved_from in session.execute(
                select(E.hall, E.ticket, _MOVED_FROM).where(tuple_(E.hall, E.ticket).in_(chunk),
                                                            E.type == "ticket.transferred", _MOVED_FROM.is_not(None))
                .order_by(E.stream_ms, E.stream_seq)):
            moved.setdefault((hall, str(ticket)), moved_from)
        rows += [{"hall": hall, "ticket": ticket, "day": day, "service": moved.get((hall, ticket)) or service}
                 for hall, ticket, day, service in session.execute(
                     select(TicketRow.hall, TicketRow.id, TicketRow.day, TicketRow.service)
                     .where(tuple_(TicketRow.hall, TicketRow.id).in_(chunk)))]
    return rows


_STEP_COLUMNS = {"callback": (CaseRow.callback_at, CaseRow.callback_due), "fix": (CaseRow.fix_at, CaseRow.fix_due)}


def _no_show_sums(sql: Engine, halls: dict[str, HallNow], rng: DateRange) -> Sums:
    """Bookings of the range never checked in, void once their time has passed (``status_of``), per service."""
    with Session(sql) as session:
        found = session.execute(select(AppointmentRow.hall, AppointmentRow.day, AppointmentRow.service,
                                       AppointmentRow.slot_start).where(
            AppointmentRow.hall.in_(list(halls)), AppointmentRow.day.between(rng.first, rng.last),
            AppointmentRow.status == "booked")).all()
    counted: Counter[tuple[str, str, date]] = Counter()
    for hall, day, service, start in found:
        h = halls[hall]
        if status_of(h.config.appointments, "booked", start, h.now) == "void":
            counted[(hall, service, day)] += 1
    sums = Sums()
    for (hall, service, day), n in counted.items():
        sums.add(hall, service, day, Tally(appointment_no_shows=n))
    return sums
