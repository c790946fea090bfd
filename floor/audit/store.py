"""The audit trail: who did what, when, read from the events that already say so.

Every request that changes a hall's state runs as its token (``floor.http.kit.actor``), and the Lua
script that makes the change records that actor as ``by`` on its event, in the same atomic step.
The archive process turns each such event into an ``audit_log`` row in the transaction that stores
the event (``floor.record.projection.store_batches``), so the request itself pays nothing for its audit,
and a batch archived twice adds no row (the event's stream id is unique in ``audit_log``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from floor.http.auth import ROLES
from floor.sql.db import AuditRow, Json, bounded, from_ms, insert_for
from queue_engine.stream_ids import StreamKey

MAX_LIMIT = 1000
# Not the audit's business: a person's keyed hash and a client's retry key say nothing about who acted, and the
# row's own columns already hold the rest. A set-up change is audited by what it changed (``changes``, before and
# after), not by the whole configuration it leaves.
_NOT_DETAILS = frozenset({"type", "at", "by", "ticket", "window", "person", "idempotency_key", "config", "change"})


@dataclass(frozen=True, slots=True)
class Actor:
    role: str
    token: str
    window: str | None
    staff: str | None = None  # the member of staff a staff token names (issue 8); None on older events


def parse_actor(by: str) -> Actor:
    """``role:window/staff@token``, ``role:window@token`` or ``role@token`` (floor.http.kit.actor) back into its parts.
    Events recorded before tokens named staff have no ``/staff`` and read as before."""
    who, _, token = by.rpartition("@") if "@" in by else (by, "", "")
    role, _, at = who.partition(":")
    window, _, staff = at.partition("/")
    return Actor(role, token, window or None, staff or None)


def audit_rows(events: Iterable[tuple[str, StreamKey, Json]]) -> list[Json]:
    """The ``audit_log`` rows for (hall, stream id, payload) events: one per event that names who acted, none for
    the system's."""
    rows = []
    for hall, key, payload in events:
        by = payload.get("by")
        if not by:
            continue
        actor = parse_actor(str(by))
        details = {k: v for k, v in payload.items() if k not in _NOT_DETAILS}
        if actor.staff:  # who served, by staff id: the audit log has no column of its own for it
            details["staff"] = actor.staff
        rows.append({
            "hall": hall, "stream_ms": key[0], "stream_seq": key[1], "at": from_ms(payload["at"]),
            "actor_role": actor.role[:16], "actor_token": actor.token[:64],
            # Staff act only at their own window; a manager's window is the one acted on (a transfer leaves it).
            "window": bounded(actor.window or payload.get("window") or payload.get("from_window"), 8),
            "action": str(payload["type"])[:64], "ticket": bounded(payload.get("ticket"), 40),
            "details": details or None,
        })
    return rows


def store_audit(session: Session, rows: list[Json]) -> None:
    """Insert audit rows in the caller's transaction; a row whose event is already audited is skipped."""
    if rows:
        stmt = insert_for(session, AuditRow.__table__)
        session.connection().execute(
            stmt.on_conflict_do_nothing(index_elements=["hall", "stream_ms", "stream_seq"]), rows)


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which rows to read: newest first, at most ``limit``; ``actor`` is a role or a token id."""

    limit: int = 100
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    actor: str | None = None
    window: str | None = None


def read_audit(sql_engine: Engine, hall: str, query: AuditQuery) -> list[AuditRow]:
    stmt = select(AuditRow).where(AuditRow.hall == hall)
    if query.since is not None:
        stmt = stmt.where(AuditRow.at >= query.since)
    if query.until is not None:
        stmt = stmt.where(AuditRow.at < query.until)
    if query.actor is not None:
        stmt = stmt.where((AuditRow.actor_role if query.actor in ROLES else AuditRow.actor_token) == query.actor)
    if query.window is not None:
        stmt = stmt.where(AuditRow.window == query.window)
    with Session(sql_engine, expire_on_commit=False) as session:
        return list(session.scalars(stmt.order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(query.limit)))

