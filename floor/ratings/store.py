"""好差评 in the SQL record: one ``ratings`` row per rated ticket, and a ``cases`` row for each 差评.

The archiver writes both from ``ticket.rated`` events, in the transaction that stores the events
(``floor.record.projection.store_batches`` calls ``store_ratings``). Only events new to the record arrive here, and
both tables are keyed by (hall, ticket) with ON CONFLICT DO NOTHING, so a batch delivered twice adds nothing.
A case's steps (``floor.ratings.cases``) are recorded by managers through the API: each one is a compare-and-set on
the case's status, with its ``audit_log`` row in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    CursorResult,
    Engine,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    SmallInteger,
    String,
    Text,
    and_,
    case,
    func,
    not_,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from floor.audit.store import Actor
from floor.ratings import cases
from floor.ratings.rules import is_bad
from floor.sql.db import AuditRow, Base, Json, TicketRow, UtcDateTime, bounded, from_ms, insert_for
from queue_engine.config import HallConfig
from queue_engine.stream_ids import StreamKey

RATED = "ticket.rated"
MAX_LIMIT = 1000


class RatingRow(Base):
    """One rating per ticket (一次一评), as the ``ticket.rated`` event gave it."""

    __tablename__ = "ratings"
    __table_args__ = (
        Index("ix_ratings_hall_day", "hall", "day", "window"),
        Index("ix_ratings_hall_rated_at", "hall", "rated_at"),
    )

    hall: Mapped[str] = mapped_column(ForeignKey("halls.id"), primary_key=True)
    ticket: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[str] = mapped_column(String(8))  # the ticket's business day, not the day it was rated
    number: Mapped[str] = mapped_column(String(16))
    service: Mapped[str] = mapped_column(String(8))
    window: Mapped[str | None] = mapped_column(String(8))
    score: Mapped[int] = mapped_column(SmallInteger)  # 5 = 非常满意 … 1 = 非常不满意
    bad: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(8))  # pad | qr
    comment: Mapped[str | None] = mapped_column(Text)
    late: Mapped[bool] = mapped_column(Boolean)  # rated after the ticket left the live day
    rated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    stream_ms: Mapped[int] = mapped_column(BigInteger)  # the event it came from
    stream_seq: Mapped[int] = mapped_column(BigInteger)


class CaseRow(Base):
    """The closed loop of one 差评: deadlines fixed when it opens, each step with when, who and what."""

    __tablename__ = "cases"
    __table_args__ = (
        ForeignKeyConstraint(["hall", "ticket"], ["ratings.hall", "ratings.ticket"], name="fk_cases_hall_ratings"),
        Index("ix_cases_hall_status", "hall", "status"),
        Index("ix_cases_hall_day", "hall", "day"),
    )

    hall: Mapped[str] = mapped_column(String(40), primary_key=True)
    ticket: Mapped[str] = mapped_column(String(40), primary_key=True)  # a case is known by its ticket's id
    day: Mapped[str] = mapped_column(String(8))
    number: Mapped[str] = mapped_column(String(16))
    service: Mapped[str] = mapped_column(String(8))
    window: Mapped[str | None] = mapped_column(String(8))
    score: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(20))  # floor.ratings.cases.STATUSES
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    callback_due: Mapped[datetime] = mapped_column(UtcDateTime)
    fix_due: Mapped[datetime] = mapped_column(UtcDateTime)
    callback_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    callback_by: Mapped[str | None] = mapped_column(String(200))
    callback_note: Mapped[str | None] = mapped_column(Text)
    callback_reached: Mapped[bool | None] = mapped_column(Boolean)  # was the citizen reached
    fix_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    fix_by: Mapped[str | None] = mapped_column(String(200))
    fix_note: Mapped[str | None] = mapped_column(Text)
    feedback_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    feedback_by: Mapped[str | None] = mapped_column(String(200))
    feedback_note: Mapped[str | None] = mapped_column(Text)
    feedback_satisfied: Mapped[bool | None] = mapped_column(Boolean)
    review_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    review_by: Mapped[str | None] = mapped_column(String(200))
    review_note: Mapped[str | None] = mapped_column(Text)
    review_kind: Mapped[str | None] = mapped_column(String(16))  # rerating | appeal
    review_score: Mapped[int | None] = mapped_column(SmallInteger)  # a re-rating's score
    review_outcome: Mapped[str | None] = mapped_column(String(16))  # an appeal's: upheld | dismissed

    def done(self) -> dict[str, datetime | None]:
        return {"callback": self.callback_at, "fix": self.fix_at, "feedback": self.feedback_at,
                "review": self.review_at}

    def deadlines(self) -> cases.Deadlines:
        return cases.Deadlines(self.callback_due, self.fix_due)


# -- the archiver's hook -----------------------------------------------------------------------------
def store_ratings(session: Session, halls: Mapping[str, HallConfig],
                  events: Iterable[tuple[str, StreamKey, Json]]) -> None:
    """Rating rows for the new ``ticket.rated`` events among (hall, stream id, payload), and a case for each
    new 差评, in the caller's transaction."""
    rated = [(hall, key, payload) for hall, key, payload in events if payload.get("type") == RATED]
    if not rated:
        return
    days = _ticket_days(session, [(hall, str(p["ticket"])) for hall, _, p in rated if not p.get("day")])
    rows = [_rating_row(halls[hall], key, p, days.get((hall, str(p["ticket"])))) for hall, key, p in rated]
    table = RatingRow.__table__
    stmt = insert_for(session, table).on_conflict_do_nothing(index_elements=["hall", "ticket"])
    new = {(h, t) for h, t in session.connection().execute(stmt.returning(table.c.hall, table.c.ticket), rows)}
    opened = [_case_row(halls[row["hall"]], row) for row in rows if row["bad"] and (row["hall"], row["ticket"]) in new]
    if opened:
        cases_stmt = insert_for(session, CaseRow.__table__).on_conflict_do_nothing(index_elements=["hall", "ticket"])
        session.connection().execute(cases_stmt, opened)


def _ticket_days(session: Session, tickets: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    if not tickets:
        return {}
    stmt = select(TicketRow.hall, TicketRow.id, TicketRow.day).where(
        tuple_(TicketRow.hall, TicketRow.id).in_(tickets))
    return {(hall, ticket): day for hall, ticket, day in session.execute(stmt)}


def _rating_row(hall: HallConfig, key: StreamKey, p: Json, stored_day: str | None) -> Json:
    score = int(p["score"])
    rated_at = from_ms(p["at"])
    assert rated_at is not None
    # The ticket's own day: a late rating of yesterday's ticket counts for yesterday.
    day = p.get("day") or stored_day or hall.business_day(p["at"] / 1000)
    comment = p.get("comment")
    return {"hall": hall.id, "ticket": bounded(p["ticket"], 40), "day": bounded(day, 8),
            "number": bounded(p.get("number") or "", 16), "service": bounded(p.get("service") or "", 8),
            "window": bounded(p.get("window"), 8), "score": score, "bad": bool(p.get("bad", is_bad(score))),
            "source": bounded(p.get("source") or "", 8), "comment": str(comment) if comment else None,
            "late": bool(p.get("late")), "rated_at": rated_at, "stream_ms": key[0], "stream_seq": key[1]}


def _case_row(hall: HallConfig, rating: Json) -> Json:
    due = cases.deadlines(hall, rating["rated_at"])
    return {"hall": rating["hall"], "ticket": rating["ticket"], "day": rating["day"], "number": rating["number"],
            "service": rating["service"], "window": rating["window"], "score": rating["score"],
            "status": cases.FIRST_STATUS, "opened_at": rating["rated_at"], "callback_due": due.callback_due,
            "fix_due": due.fix_due}


# -- reading ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RatingQuery:
    """Ratings of tickets whose day is in [since, until] (YYYYMMDD), newest first, at most ``limit``."""

    limit: int = 100
    since: str | None = None
    until: str | None = None
    window: str | None = None
    service: str | None = None
    bad: bool | None = None


def read_ratings(sql: Engine, hall: str, query: RatingQuery) -> tuple[list[RatingRow], dict[int, int]]:
    """The matching ratings (up to the limit) and how many of each score match in all."""
    conditions = [RatingRow.hall == hall]
    if query.since is not None:
        conditions.append(RatingRow.day >= query.since)
    if query.until is not None:
        conditions.append(RatingRow.day <= query.until)
    if query.window is not None:
        conditions.append(RatingRow.window == query.window)
    if query.service is not None:
        conditions.append(RatingRow.service == query.service)
    if query.bad is not None:
        conditions.append(RatingRow.bad.is_(query.bad))
    with Session(sql, expire_on_commit=False) as session:
        rows = list(session.scalars(select(RatingRow).where(*conditions)
                                    .order_by(RatingRow.rated_at.desc(), RatingRow.ticket).limit(query.limit)))
        counts = {int(score): int(n) for score, n in session.execute(
            select(RatingRow.score, func.count()).where(*conditions).group_by(RatingRow.score))}
    return rows, counts


def read_rating(sql: Engine, hall: str, ticket: str) -> RatingRow | None:
    with Session(sql, expire_on_commit=False) as session:
        return session.get(RatingRow, (hall, ticket))


def read_ticket(sql: Engine, hall: str, ticket: str) -> TicketRow | None:
    """The record's row of a ticket (for a late rating of a ticket no longer in Redis)."""
    with Session(sql, expire_on_commit=False) as session:
        return session.get(TicketRow, (hall, ticket))


def last_unrated_at_window(sql: Engine, hall: str, window: str, day: str) -> TicketRow | None:
    """The window's most recent finished ticket of ``day`` that has no rating in the record."""
    rated = select(RatingRow.ticket).where(RatingRow.hall == hall, RatingRow.ticket == TicketRow.id)
    stmt = (select(TicketRow).where(TicketRow.hall == hall, TicketRow.day == day, TicketRow.window == window,
                                    TicketRow.status == "done", ~rated.exists())
            .order_by(TicketRow.finished_at.desc()).limit(1))
    with Session(sql, expire_on_commit=False) as session:
        return session.scalars(stmt).first()


@dataclass(frozen=True, slots=True)
class CaseQuery:
    """Cases newest first; ``status`` is one of floor.ratings.cases.STATUSES or "open" (not closed yet)."""

    limit: int = 100
    status: str | None = None
    overdue: bool | None = None
    window: str | None = None
    since: str | None = None  # the rated ticket's day, YYYYMMDD, inclusive
    until: str | None = None


def _overdue(now: datetime) -> Any:
    return or_(and_(CaseRow.callback_at.is_(None), CaseRow.callback_due <= now),
               and_(CaseRow.fix_at.is_(None), CaseRow.fix_due <= now))


def open_cases_by_hall(sql: Engine, halls: Sequence[str], now: datetime) -> dict[str, tuple[int, int]]:
    """Per hall, its 差评 cases not closed yet and how many of them are overdue, in one query over many halls (a
    region's overview); halls without an open case are left out."""
    overdue = func.sum(case((_overdue(now), 1), else_=0))
    stmt = (select(CaseRow.hall, func.count(), overdue).where(CaseRow.hall.in_(list(halls)),
                                                              CaseRow.status.in_(cases.OPEN_STATUSES))
            .group_by(CaseRow.hall))
    with Session(sql) as session:
        return {hall: (int(n), int(late or 0)) for hall, n, late in session.execute(stmt).tuples()}


def read_cases(sql: Engine, hall: str, query: CaseQuery, now: datetime) -> list[tuple[CaseRow, RatingRow]]:
    conditions = [CaseRow.hall == hall]
    if query.status == "open":
        conditions.append(CaseRow.status.in_(cases.OPEN_STATUSES))
    elif query.status is not None:
        conditions.append(CaseRow.status == query.status)
    if query.overdue is not None:
        conditions.append(_overdue(now) if query.overdue else not_(_overdue(now)))
    if query.window is not None:
        conditions.append(CaseRow.window == query.window)
    if query.since is not None:
        conditions.append(CaseRow.day >= query.since)
    if query.until is not None:
        conditions.append(CaseRow.day <= query.until)
    stmt = (select(CaseRow, RatingRow).join(RatingRow, and_(RatingRow.hall == CaseRow.hall,
                                                            RatingRow.ticket == CaseRow.ticket))
            .where(*conditions).order_by(CaseRow.opened_at.desc(), CaseRow.ticket).limit(query.limit))
    with Session(sql, expire_on_commit=False) as session:
        return [(case, rating) for case, rating in session.execute(stmt).tuples()]


def read_case(sql: Engine, hall: str, ticket: str) -> tuple[CaseRow, RatingRow] | None:
    with Session(sql, expire_on_commit=False) as session:
        case = session.get(CaseRow, (hall, ticket))
        if case is None:
            return None
        rating = session.get(RatingRow, (hall, ticket))
        assert rating is not None  # a case's foreign key names its rating
        return case, rating


# -- recording a step ---------------------------------------------------------------------------------
class NoSuchCase(LookupError):
    pass


class _Raced(Exception):
    """Another manager changed the case between our read and our update."""


def record_step(sql: Engine, hall: str, ticket: str, step: str, fields: Json, actor: Actor, by: str,
                now: datetime) -> tuple[CaseRow, RatingRow]:
    """Record ``step`` (callback, fix, feedback, review) with its ``fields`` (column suffix -> value) on a case,
    and its audit row, in one transaction. NoSuchCase, or cases.StepRefused when the step is not next (also
    when another manager recorded it a moment before: the update only applies to the status it read)."""
    status = ""
    try:
        with Session(sql, expire_on_commit=False) as session, session.begin():
            case = session.get(CaseRow, (hall, ticket))
            if case is None:
                raise NoSuchCase(ticket)
            status = case.status
            after = cases.advance(status, step)
            values = {f"{step}_{name}": value for name, value in fields.items()}
            values |= {f"{step}_at": now, f"{step}_by": bounded(by, 200), "status": after}
            stmt = (update(CaseRow).where(CaseRow.hall == hall, CaseRow.ticket == ticket, CaseRow.status == status)
                    .values(**values).execution_options(synchronize_session=False))
            if cast(CursorResult[Any], session.execute(stmt)).rowcount != 1:
                raise _Raced
            session.add(AuditRow(hall=hall, at=now, actor_role=actor.role[:16], actor_token=actor.token[:64],
                                 window=case.window, action=f"case.{step}", ticket=ticket,
                                 details={"status": after, **{k: v for k, v in fields.items() if v is not None}}))
    except _Raced:
        current = read_case(sql, hall, ticket)
        raise cases.StepRefused(current[0].status if current else status, step) from None
    found = read_case(sql, hall, ticket)
    assert found is not None
    return found
