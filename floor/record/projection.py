"""Writing a batch of stream events into SQL: the events themselves, and the tickets they describe.

One batch is one transaction. Events are inserted with ON CONFLICT DO NOTHING on their stream id,
so a batch delivered twice (a crash after commit, before XACK) changes nothing the second time.
Each new event that names who acted also becomes an ``audit_log`` row (``floor.audit.store``), in the same
transaction.
The ``tickets`` projection follows ``queue_engine.model`` field by field and only ever moves
forward: an event is applied to a row only if its stream id is greater than the row's last one.

Several archivers of one hall may commit batches out of stream order. Each batch starts by
updating the hall's row, which serialises them (a row lock on PostgreSQL, the write lock on
SQLite), so a batch sees every event committed before it. A ticket whose batch comes late (an
older event than its row has, or no row yet for a non-issue event) is re-folded from all of its
stored events instead, which gives the same row whatever order the batches landed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, select, tuple_, update
from sqlalchemy.orm import Session

from floor.audit.store import audit_rows, store_audit
from floor.ratings.store import store_ratings
from floor.setup.store import store_setups
from floor.sql.db import (
    HallRow,
    Json,
    TicketEventRow,
    TicketRow,
    bounded,
    from_ms,
    insert_for,
    sync_hall,
)
from queue_engine import policy
from queue_engine.config import HallConfig
from queue_engine.stream_ids import StreamKey, parse_stream_id


@dataclass(frozen=True, slots=True)
class StreamEvent:
    key: StreamKey
    payload: Json

    @classmethod
    def from_stream(cls, stream_id: str | bytes, payload: Json) -> StreamEvent:
        return cls(parse_stream_id(stream_id), payload)

    @property
    def id(self) -> str:
        return f"{self.key[0]}-{self.key[1]}"

    @property
    def type(self) -> str:
        return str(self.payload["type"])


Batch = tuple[HallConfig, Sequence[StreamEvent]]  # one hall's events


def store_events(sql_engine: Engine, hall: HallConfig, events: Sequence[StreamEvent]) -> int:
    """Insert the events and bring their tickets up to date, in one transaction; how many were new."""
    return store_batches(sql_engine, [(hall, events)])[0]


def store_batches(sql_engine: Engine, batches: Sequence[Batch]) -> list[int]:
    """``store_events`` for several halls in one transaction, a handful of statements whatever the number of
    halls (a city platform's 200 halls each bring an event or two at a time); how many were new, per batch."""
    events = [(hall.id, e) for hall, batch in batches for e in batch]
    if not events:
        return [0] * len(batches)
    halls = {hall.id: hall for hall, batch in batches if batch}
    with Session(sql_engine) as session, session.begin():
        _lock_halls(session, list(halls.values()))
        new = _insert_events(session, events)
        fresh = [(hall_id, e) for hall_id, e in events if (hall_id, e.key) in new]
        _project(session, halls, fresh)
        store_audit(session, audit_rows((hall_id, e.key, e.payload) for hall_id, e in fresh))
        store_ratings(session, halls, ((hall_id, e.key, e.payload) for hall_id, e in fresh))  # 好差评 and 差评 cases
        store_setups(session, ((hall_id, e.key, e.payload) for hall_id, e in fresh))  # the set-up changed live
    return [sum((hall.id, e.key) in new for e in batch) for hall, batch in batches]


def _lock_halls(session: Session, halls: list[HallConfig]) -> None:
    """Take the halls' rows for this transaction, creating the configuration of any hall that has none yet."""
    ids = sorted(hall.id for hall in halls)
    stmt = update(HallRow).where(HallRow.id.in_(ids)).values(archived_at=datetime.now(UTC))
    result = cast(CursorResult[Any], session.execute(stmt))
    if result.rowcount < len(ids):
        known = set(session.scalars(select(HallRow.id).where(HallRow.id.in_(ids))))
        for hall in halls:
            if hall.id not in known:
                sync_hall(session, hall)


def _insert_events(session: Session, events: Sequence[tuple[str, StreamEvent]]) -> set[tuple[str, StreamKey]]:
    rows = [
        {"hall": hall_id, "stream_ms": e.key[0], "stream_seq": e.key[1], "type": e.type,
         "at": from_ms(e.payload["at"]), "ticket": e.payload.get("ticket"),
         # A transfer names the window it leaves as from_window; index it under that window too.
         "window": e.payload.get("window") or e.payload.get("from_window"),
         "actor": bounded(e.payload.get("by"), 200), "payload": e.payload}
        for hall_id, e in events
    ]
    table = TicketEventRow.__table__
    stmt = insert_for(session, table).on_conflict_do_nothing(index_elements=["hall", "stream_ms", "stream_seq"])
    # RETURNING gives only the rows really inserted: duplicates of an earlier delivery are left out.
    result = session.connection().execute(stmt.returning(table.c.hall, table.c.stream_ms, table.c.stream_seq), rows)
    return {(hall, (ms, seq)) for hall, ms, seq in result}


# -- the tickets projection ----------------------------------------------------------------------
# Rows are plain dicts of the ``tickets`` columns: ORM objects (identity map, change tracking, a flush per row)
# cost the archive process more than the rest of its work together under a city platform's load.
TicketFields = dict[str, Any]
_TICKETS = TicketRow.__table__
_KEY = ("hall", "id")


def _project(session: Session, halls: dict[str, HallConfig], events: Iterable[tuple[str, StreamEvent]]) -> None:
    by_ticket: dict[tuple[str, str], list[StreamEvent]] = {}
    for hall_id, e in sorted(events, key=lambda he: he[1].key):
        if e.type in _HANDLERS and "ticket" in e.payload:
            by_ticket.setdefault((hall_id, e.payload["ticket"]), []).append(e)
    if not by_ticket:
        return
    found = session.execute(select(_TICKETS).where(tuple_(_TICKETS.c.hall, _TICKETS.c.id).in_(list(by_ticket))))
    rows: dict[tuple[str, str], TicketFields] = {(row.hall, row.id): dict(row._mapping) for row in found}
    # A new row, or one that has seen later events than this batch brings, is folded from everything stored:
    # an earlier-committed batch may hold later events of a ticket whose issue only arrives now.
    refold = {t for t, evs in by_ticket.items() if t not in rows or evs[0].key <= _last_event(rows[t])}
    stored = _stored_events(session, sorted(refold)) if refold else {}
    changed: list[TicketFields] = []
    for (hall_id, ticket_id), evs in by_ticket.items():
        if (hall_id, ticket_id) in refold:
            evs = stored.get((hall_id, ticket_id), [])
            if not evs or evs[0].type != "ticket.issued":
                continue  # its issue is in a batch not committed yet, which will fold this event in
        row = rows.get((hall_id, ticket_id)) or {"hall": hall_id, "id": ticket_id}
        for e in evs:
            apply_event(row, e, halls[hall_id])
        changed.append(row)
    if changed:
        upsert = insert_for(session, _TICKETS)
        columns = {c.name: upsert.excluded[c.name] for c in _TICKETS.columns if c.name not in _KEY}
        session.connection().execute(upsert.on_conflict_do_update(index_elements=list(_KEY), set_=columns), changed)


def _last_event(row: TicketFields) -> StreamKey:
    return row["last_event_ms"], row["last_event_seq"]


def _stored_events(session: Session, tickets: list[tuple[str, str]]) -> dict[tuple[str, str], list[StreamEvent]]:
    """Every stored event of these (hall, ticket) pairs, in stream order."""
    stmt = (select(TicketEventRow.hall, TicketEventRow.stream_ms, TicketEventRow.stream_seq, TicketEventRow.payload)
            .where(tuple_(TicketEventRow.hall, TicketEventRow.ticket).in_(tickets))
            .order_by(TicketEventRow.stream_ms, TicketEventRow.stream_seq))
    stored: dict[tuple[str, str], list[StreamEvent]] = {}
    for hall_id, ms, seq, payload in session.execute(stmt):
        if payload["type"] in _HANDLERS:
            stored.setdefault((hall_id, payload["ticket"]), []).append(StreamEvent((ms, seq), payload))
    return stored


def apply_event(row: TicketFields, event: StreamEvent, hall: HallConfig) -> None:
    """Change a ticket row as ``queue_engine.model.HallModel`` changes its ticket for this event."""
    _HANDLERS[event.type](row, event.payload, _at(event.payload), hall)
    row["last_event_ms"], row["last_event_seq"] = event.key


def _at(payload: Json) -> datetime:
    at = from_ms(payload["at"])
    assert at is not None
    return at


def _issued(row: TicketFields, e: Json, at: datetime, _hall: HallConfig) -> None:
    # Sets every field: a re-fold starts again from here.
    row.update(day=e["day"], number=e["number"], service=e["service"], status="waiting", tier=e["tier"],
               channel=e["channel"], priority=e.get("priority"), appointment_at=from_ms(e.get("appointment_ms")),
               issued_at=at, called_at=None, serving_at=None, finished_at=None, window=None, outcome=None,
               pinned=None, handling_ms=None, recalls=0, transfers=0, item=bounded(e.get("item"), 16),
               green_reason=bounded(e.get("green_reason"), 16), holder=bounded(e.get("holder"), 16))


def _called(row: TicketFields, e: Json, at: datetime, _hall: HallConfig) -> None:
    # finished_at cleared: a late arrival served straight from the window's misses
    row.update(status="called", window=e["window"], called_at=at, recalls=0, finished_at=None)


def _recalled(row: TicketFields, e: Json, _at: datetime, _hall: HallConfig) -> None:
    row["recalls"] = e["recalls"]


def _serving(row: TicketFields, _e: Json, at: datetime, _hall: HallConfig) -> None:
    row.update(status="serving", serving_at=at)


def _finished(row: TicketFields, e: Json, at: datetime, _hall: HallConfig) -> None:
    row.update(status="done", outcome=e["outcome"], finished_at=at, handling_ms=e.get("handling_ms"))


def _missed(row: TicketFields, _e: Json, at: datetime, _hall: HallConfig) -> None:
    row.update(status="missed", finished_at=at)


def _transferred(row: TicketFields, e: Json, _at: datetime, _hall: HallConfig) -> None:
    if e["service"] != e.get("from_service", e["service"]):
        row["item"] = None  # a sub-item of the service it left, as in the model
    row.update(status="waiting", service=e["service"], tier=policy.TIER_TRANSFERRED, window=None,
               transfers=row["transfers"] + 1)


def _cancelled(row: TicketFields, _e: Json, at: datetime, _hall: HallConfig) -> None:
    row.update(status="cancelled", finished_at=at)


def _pinned(row: TicketFields, e: Json, _at: datetime, _hall: HallConfig) -> None:
    # VIP and green-channel tickets already come first; pinning leaves their tier alone, as in the model.
    row.update(tier=min(row["tier"], policy.TIER_PINNED), pinned=e["reason"])


def _requeued(row: TicketFields, _e: Json, _at: datetime, hall: HallConfig) -> None:
    if hall.policy.requeue == "end":
        row["tier"] = policy.TIER_WALK_IN
    row.update(status="waiting", window=None, finished_at=None)


_HANDLERS: dict[str, Callable[[TicketFields, Json, datetime, HallConfig], None]] = {
    "ticket.issued": _issued,
    "ticket.called": _called,
    "ticket.recalled": _recalled,
    "ticket.serving": _serving,
    "ticket.finished": _finished,
    "ticket.missed": _missed,
    "ticket.transferred": _transferred,
    "ticket.cancelled": _cancelled,
    "ticket.pinned": _pinned,
    "ticket.requeued": _requeued,
}
