"""The checks after a fault. Each returns its violations, one sentence each; an empty list means it held.

``Evidence.collect`` gathers what they judge, once the load has stopped: the live tickets in Redis (the engine's
state), the Redis stream, and the SQL record (``ticket_events``, ``tickets``) after the archiver has caught up
with the stream. A Redis restarted without persistence keeps only the events since its restore, so the whole
day's record is SQL's; where both hold an event they must hold the same one.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, cast

import orjson
import redis as redis_sync
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import select
from sqlalchemy.orm import Session

from floor.sql.db import TicketEventRow, TicketRow
from queue_engine.keys import HallKeys
from queue_engine.shards import ClusterUrl, is_cluster_url
from queue_engine.stream_ids import format_stream_id, parse_stream_id

from .load import STATUS_RANK, LoadRecord

Event = tuple[str, dict[str, Any]]  # (stream id, payload)
ARCHIVE_WAIT_S = 60.0  # the archiver retries SQL with a back-off capped at 10 s: a minute covers two rounds


@dataclass
class Evidence:
    live: dict[str, dict[str, Any]]  # ticket id -> the ticket's JSON in Redis
    stream: list[Event]
    sql_events: list[Event]
    sql_tickets: dict[str, str]  # ticket id -> status
    archive_lag_s: float  # from the load's end until SQL held the whole stream

    @classmethod
    def collect(cls, redis_url: str, sql: SqlEngine, hall: str, key_prefix: str,
                wait_s: float = ARCHIVE_WAIT_S) -> Evidence:
        keys = HallKeys(hall, key_prefix)
        client = (cast(redis_sync.Redis, redis_sync.RedisCluster.from_url(ClusterUrl.parse(redis_url).node(
            *ClusterUrl.parse(redis_url).seeds[0]), socket_timeout=10)) if is_cluster_url(redis_url)
            else redis_sync.Redis.from_url(redis_url, socket_timeout=10))
        try:
            started = time.monotonic()
            while True:
                stream = _stream(client, keys.events)
                sql_events = _sql_events(sql, hall)
                held = {eid for eid, _ in sql_events}
                if all(eid in held for eid, _ in stream) or time.monotonic() - started > wait_s:
                    break
                time.sleep(0.2)
            lag = time.monotonic() - started
            raw = cast(dict[bytes, bytes], client.hgetall(keys.tickets))
        finally:
            client.close()
        live = {k.decode(): orjson.loads(v) for k, v in raw.items()}
        with Session(sql) as s:
            rows = s.execute(select(TicketRow.id, TicketRow.status).where(TicketRow.hall == hall)).all()
        return cls(live, stream, sql_events, {r.id: r.status for r in rows}, lag)

    def record(self) -> list[Event]:
        """The whole day, oldest first: SQL's events, and any of the stream SQL does not hold."""
        merged = dict(self.sql_events)
        for eid, payload in self.stream:
            merged.setdefault(eid, payload)
        return sorted(merged.items(), key=lambda e: parse_stream_id(e[0]))


def _stream(client: redis_sync.Redis, key: str) -> list[Event]:
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(key))
    return [(eid.decode(), orjson.loads(fields[b"e"])) for eid, fields in entries]


def _sql_events(sql: SqlEngine, hall: str) -> list[Event]:
    ev = TicketEventRow
    with Session(sql) as s:
        rows = s.execute(select(ev.stream_ms, ev.stream_seq, ev.payload).where(ev.hall == hall)
                         .order_by(ev.stream_ms, ev.stream_seq)).all()
    return [(format_stream_id((r.stream_ms, r.stream_seq)), r.payload) for r in rows]


# -- the checks -----------------------------------------------------------------------------------
def lost_tickets(load: LoadRecord, evidence: Evidence) -> list[str]:
    """Every acknowledged ticket exists, at least as far along as the last response said (the load may have
    moved it on by a request whose reply it never got), and exactly done if it was acknowledged done."""
    violations = []
    for t in load.tickets.values():
        live = evidence.live.get(t.id)
        if live is None:
            violations.append(f"ticket {t.number} ({t.id}) was acknowledged but the hall no longer has it")
            continue
        if live["number"] != t.number:
            violations.append(f"ticket {t.id} was acknowledged as {t.number} but the hall has it as {live['number']}")
        if STATUS_RANK.get(live["status"], -1) < STATUS_RANK[t.status] or (
                t.status == "done" and live["status"] != "done"):
            violations.append(f"ticket {t.number} ({t.id}) was acknowledged {t.status} but is {live['status']}")
    return violations


def duplicate_numbers(load: LoadRecord, evidence: Evidence) -> list[str]:
    """No (day, service, number) was given to two tickets, counting the record, the hall and the acknowledgements."""
    holders: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for _, e in evidence.record():
        if e["type"] == "ticket.issued":
            holders[(e["day"], e["service"], e["number"])].add(e["ticket"])
    for tid, t in evidence.live.items():
        holders[(t["day"], t["service"], t["number"])].add(tid)
    for acked in load.tickets.values():  # a ticket id starts with its business day (queue_engine.engine)
        holders[(acked.id.split("-", 1)[0], acked.service, acked.number)].add(acked.id)
    return [f"number {number} of {service} on {day} was given to {len(ids)} tickets: {sorted(ids)}"
            for (day, service, number), ids in holders.items() if len(ids) > 1]


def double_calls(load: LoadRecord, evidence: Evidence) -> list[str]:
    """No ticket was called by two windows (the load never transfers, so one window per ticket)."""
    windows: dict[str, set[str]] = defaultdict(set)
    recorded: dict[str, list[str]] = defaultdict(list)
    for eid, e in evidence.record():
        if e["type"] == "ticket.called":
            windows[e["ticket"]].add(e["window"])
            recorded[e["ticket"]].append(f"{e['window']} at {eid}")
    acked: dict[str, list[str]] = defaultdict(list)
    for ticket, window in load.calls:
        windows[ticket].add(window)
        acked[ticket].append(window)
    return [f"ticket {ticket} was called by windows {sorted(ws)} (recorded calls: {recorded[ticket]}; "
            f"acknowledged calls: {acked[ticket]})" for ticket, ws in windows.items() if len(ws) > 1]


def missed_calls(load: LoadRecord, evidence: Evidence) -> list[str]:
    """Every display (connected from the start, resuming after each drop) received every ``ticket.called``."""
    calls = [(eid, e["ticket"]) for eid, e in evidence.record() if e["type"] == "ticket.called"]
    violations = []
    for display in load.displays:
        missing = [(eid, ticket) for eid, ticket in calls if eid not in display.called]
        if missing:
            violations.append(f"{display.name} missed {len(missing)} of {len(calls)} calls, first {missing[0]}")
    return violations


def record_differs(load: LoadRecord, evidence: Evidence) -> list[str]:
    """SQL holds every event of the stream, the same event under the same id, and each ticket's status in SQL is
    the hall's."""
    del load  # the record is judged against itself
    sql = dict(evidence.sql_events)
    violations = []
    for eid, payload in evidence.stream:
        stored = sql.get(eid)
        if stored is None:
            violations.append(f"event {eid} ({payload['type']}) is in the stream but not in SQL "
                              f"(waited {evidence.archive_lag_s:.1f} s)")
        elif stored != payload:
            violations.append(f"event {eid} differs: stream {payload} vs SQL {stored}")
    for tid, t in evidence.live.items():
        status = evidence.sql_tickets.get(tid)
        if status != t["status"]:
            violations.append(f"ticket {t['number']} ({tid}) is {t['status']} in the hall but {status} in SQL")
    return violations[:20] + ([f"... and {len(violations) - 20} more"] if len(violations) > 20 else [])


CHECKS = {
    "tickets lost": lost_tickets,
    "duplicate numbers": duplicate_numbers,
    "double calls": double_calls,
    "calls a display missed": missed_calls,
    "SQL differs from the stream": record_differs,
}


def check_all(load: LoadRecord, evidence: Evidence) -> dict[str, list[str]]:
    return {name: check(load, evidence) for name, check in CHECKS.items()}
