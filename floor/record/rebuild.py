"""Rebuilding a hall's live day in Redis from the SQL record, after Redis lost it (design section 3).

Replaying every event ever stored would grow without end, so the replay starts after the last
``day.closed``: that event closes every window and retires every ticket of the days it closes,
so what the live day holds is made by the events after it. Four things outlive a day's close,
and are carried over from the record so the rebuilt hall is the one Redis lost:

- tickets of a later day issued before the close (taken early, after midnight): their events are
  replayed too, before the rest;
- numbers already issued on days still current, so no number is ever issued twice;
- the wait estimate per service, folded from the latest handling times before the close;
- the last calls shown in the lobby, and each window's services as last set.

Tickets of closed days are not put back in Redis; they stay in SQL.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.orm import Session

from floor.cancellation import raise_if_cancelled
from floor.sql.db import Json, TicketEventRow, TicketRow
from queue_engine import policy
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from queue_engine.library import standalone_script
from queue_engine.model import HallModel
from queue_engine.stream_ids import StreamKey, format_stream_id

log = logging.getLogger("hallq")

# A handling-time estimate forgets geometrically (by 1 - alpha per ticket): after this many
# finished tickets the starting value no longer shows, so folding these gives the live value.
EWMA_HISTORY = 200
RECENT_CALLS = 10  # as many as the engine keeps (model.calls)

_RELEASE = standalone_script("release_lock")


@dataclass
class HallRecord:
    """What SQL holds of a hall's live day: the events to replay and what a day's close carries over."""

    events: list[Json]
    last_id: str
    ewma: dict[str, int] = field(default_factory=dict)
    calls: list[Json] = field(default_factory=list)
    sequences: dict[tuple[str, str], int] = field(default_factory=dict)

    def rebuild(self, hall: HallConfig) -> HallModel:
        """The live state: ``HallModel.replay`` of the events, started from what was carried over."""
        model = HallModel.replay(hall, [])
        model.ewma.update(self.ewma)
        model.calls = [dict(c) for c in self.calls]
        for event in self.events:
            model.apply(event)
            model.events.append(event)
        for key, seq in self.sequences.items():
            model.sequences[key] = max(seq, model.sequences.get(key, 0))
        return model


async def restore_if_lost(engine: Engine, sql_engine: SqlEngine, *, lock_ttl_s: float = 60.0) -> bool:
    """If Redis has lost this hall and SQL has its events, put the live day back; True if it did.

    False means there was nothing to do (Redis has the hall, perhaps restored by another process just
    now) or nothing to restore from: the caller then runs ``engine.setup()``. SQL errors propagate: a
    hall must not start a fresh day, numbering from 1 again, because its record was unreachable.
    """
    if await engine.has_state():
        return False
    async with _restore_lock(engine, lock_ttl_s):
        if await engine.has_state():  # another process restored it while we waited
            return False
        record = await asyncio.to_thread(load_record, sql_engine, engine.hall)
        if record is None:
            return False
        # Replaying a busy day takes a second or more of Python: in the event loop it would stall every request
        # of this process meanwhile (a server rebuilding while it serves, after Redis restarted under it).
        model = await asyncio.to_thread(record.rebuild, engine.hall)
        await engine.load_state(model, record.last_id)
        return True


async def bring_back(engine: Engine, sql_engine: SqlEngine) -> None:
    """A hall Redis may have lost is live again: its day rebuilt from the record if there is one, then seeded
    with what a hall new to Redis lacks (``engine.setup`` changes nothing that is there)."""
    if await restore_if_lost(engine, sql_engine):
        log.warning("hall %s: Redis had lost the live day; restored it from the SQL record", engine.hall.id)
    await engine.setup()


@asynccontextmanager
async def _restore_lock(engine: Engine, ttl_s: float) -> AsyncIterator[None]:
    """One restorer per hall across processes: a second restore would wipe what was done since the first."""
    key = engine.keys.restoring
    token = secrets.token_hex(8)
    while True:  # polled: the holder may be another process; its TTL frees the lock if it dies
        raise_if_cancelled()
        if await engine.redis.set(key, token, nx=True, px=int(ttl_s * 1000)):
            break
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        await engine.redis.register_script(_RELEASE)(keys=[key], args=[token])


# -- reading the record -------------------------------------------------------------------------
def _key(row: Any) -> StreamKey:
    return int(row.stream_ms), int(row.stream_seq)


def _before(key: StreamKey) -> ColumnElement[bool]:
    ms, seq = TicketEventRow.stream_ms, TicketEventRow.stream_seq
    return or_(ms < key[0], and_(ms == key[0], seq < key[1]))


def _between(after: StreamKey, upto: StreamKey) -> ColumnElement[bool]:
    ms, seq = TicketEventRow.stream_ms, TicketEventRow.stream_seq
    return and_(or_(ms > after[0], and_(ms == after[0], seq > after[1])),
                or_(ms < upto[0], and_(ms == upto[0], seq <= upto[1])))


def load_record(sql_engine: SqlEngine, hall: HallConfig) -> HallRecord | None:
    """The record a restore replays, or None if SQL has no event of this hall (blocking)."""
    ev = TicketEventRow
    newest = (ev.stream_ms.desc(), ev.stream_seq.desc())
    oldest = (ev.stream_ms, ev.stream_seq)
    with Session(sql_engine) as s:
        last_row = s.execute(select(ev.stream_ms, ev.stream_seq).where(ev.hall == hall.id).order_by(*newest)
                             .limit(1)).first()
        if last_row is None:
            return None
        last = _key(last_row)
        closed = s.execute(select(ev.stream_ms, ev.stream_seq, ev.payload).where(
            ev.hall == hall.id, ev.type == "day.closed").order_by(*newest).limit(1)).first()
        if closed is None:
            events = list(s.scalars(select(ev.payload).where(ev.hall == hall.id, _between((0, -1), last))
                                    .order_by(*oldest)))
            return HallRecord(events, format_stream_id(last))
        boundary, day = _key(closed), str(closed.payload["day"])
        later_tickets = select(TicketRow.id).where(TicketRow.hall == hall.id, TicketRow.day > day)
        carried = s.scalars(select(ev.payload).where(ev.hall == hall.id, _before(boundary),
                                                     ev.ticket.in_(later_tickets)).order_by(*oldest))
        services = s.scalars(select(ev.payload).where(ev.hall == hall.id, _before(boundary),
                                                      ev.type == "window.services_changed").order_by(*oldest))
        after = s.scalars(select(ev.payload).where(ev.hall == hall.id, _between(boundary, last)).order_by(*oldest))
        calls = s.scalars(select(ev.payload).where(ev.hall == hall.id, _before(boundary),
                                                   ev.type == "ticket.called").order_by(*newest).limit(RECENT_CALLS))
        return HallRecord(
            events=[*_latest_per_window(hall, services), *carried, *after],
            last_id=format_stream_id(last),
            ewma=_estimates(s, hall, boundary),
            calls=[{"ticket": c["ticket"], "number": c["number"], "window": c["window"], "at": c["at"]}
                   for c in calls],
            sequences=_sequences(s, hall, day),
        )


def _latest_per_window(hall: HallConfig, events: Any) -> list[Json]:
    """Each window's last change of services: replayed on a closed window it sets them, nothing else."""
    latest = {e["window"]: e for e in events if hall.window(e["window"]) is not None}
    return sorted(latest.values(), key=lambda e: e["window"])


def _estimates(s: Session, hall: HallConfig, boundary: StreamKey) -> dict[str, int]:
    """Per service, the handling-time estimate as it stood at the day's close."""
    t = TicketRow
    estimates = {}
    for svc in hall.services:
        rows = s.scalars(select(t.handling_ms).where(
            t.hall == hall.id, t.service == svc.code, t.handling_ms.is_not(None),
            or_(t.last_event_ms < boundary[0], and_(t.last_event_ms == boundary[0], t.last_event_seq < boundary[1])))
            .order_by(t.last_event_ms.desc(), t.last_event_seq.desc()).limit(EWMA_HISTORY))
        value = svc.handling_s * 1000
        for handling_ms in reversed(list(rows)):
            value = policy.next_ewma(value, int(handling_ms or 0), hall.policy.ewma_alpha)
        estimates[svc.code] = value
    return estimates


def _sequences(s: Session, hall: HallConfig, day: str) -> dict[tuple[str, str], int]:
    """The last number issued per service on the closed day and after: a day's close may come before
    its last tickets (a window reopened), and those numbers must not come round again."""
    by_letter = {svc.letter: svc.code for svc in hall.services}
    sequences: dict[tuple[str, str], int] = {}
    rows = s.execute(select(TicketRow.day, TicketRow.number).where(TicketRow.hall == hall.id, TicketRow.day >= day))
    for ticket_day, number in rows:
        letter = number.rstrip("0123456789")[-1:]
        if letter in by_letter:
            key = (ticket_day, by_letter[letter])
            sequences[key] = max(policy.sequence_of(number), sequences.get(key, 0))
    return sequences

