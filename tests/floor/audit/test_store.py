"""The archiver writes the audit log from the events' ``by``: who, when, what, once; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.orm import Session

from floor.audit.store import Actor, AuditQuery, parse_actor, read_audit
from floor.record.projection import StreamEvent, store_events
from floor.sql.db import AuditRow
from queue_engine.actor import ACTOR
from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from tests.floor.conftest import fast_archiver, stored_events


async def as_actor(actor: str, step: Awaitable[object]) -> None:
    """Run an engine call as this actor (the server sets ACTOR per request); the coroutine starts in here."""
    token = ACTOR.set(actor)
    try:
        await step
    finally:
        ACTOR.reset(token)


def audit_rows(sql_engine: SqlEngine, hall: str = "demo") -> list[AuditRow]:
    with Session(sql_engine) as s:
        return list(s.scalars(sa.select(AuditRow).where(AuditRow.hall == hall).order_by(AuditRow.id)))


async def test_every_action_with_an_actor_is_audited_with_who_and_when(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock
) -> None:
    await engine.open_window("5")  # the system's own event (no actor): not an action of anyone
    issued_at = datetime.fromtimestamp(clock(), UTC)
    await as_actor("staff:5@tok5", engine.issue("SOC", person="k:secret-hash", idempotency_key="req-1"))
    clock.advance(30)
    await as_actor("staff:5@tok5", engine.call_next("5"))
    clock.advance(30)
    ticket = await engine.issue("SOC")
    await as_actor("manager@tokm", engine.pin(ticket.ticket.id, "陪同老人"))
    await fast_archiver(engine, sql_engine).drain()

    events = {e.stream_id: e for e in stored_events(sql_engine)}
    rows = audit_rows(sql_engine)
    assert [(r.action, r.actor_role, r.actor_token, r.window) for r in rows] == [
        ("ticket.issued", "staff", "tok5", "5"), ("ticket.called", "staff", "tok5", "5"),
        ("ticket.pinned", "manager", "tokm", None)]
    for row in rows:
        event = events[f"{row.stream_ms}-{row.stream_seq}"]
        assert row.at == event.at  # when: the event's own time, not when the archiver ran
        assert row.ticket == event.ticket
        assert event.actor is not None
    issued, called, pinned = rows
    assert issued.at == issued_at
    assert pinned.details is not None
    assert pinned.details["reason"] == "陪同老人"
    assert called.details is not None
    assert called.details["number"] == "A001"
    assert issued.details is not None
    assert not {"person", "idempotency_key", "by"} & set(issued.details)  # nothing personal, nothing twice


async def test_a_batch_delivered_twice_adds_no_audit_row(
    engine: Engine, sql_engine: SqlEngine, demo_hall: HallConfig
) -> None:
    await as_actor("guide@tokg", engine.open_window("1"))
    await as_actor("guide@tokg", engine.issue("SOC"))
    batch = [StreamEvent.from_stream(e.id, e.data) for e in await engine.events()]
    assert store_events(sql_engine, demo_hall, batch) == 2
    assert store_events(sql_engine, demo_hall, batch) == 0
    assert store_events(sql_engine, demo_hall, batch[1:]) == 0
    assert [r.action for r in audit_rows(sql_engine)] == ["window.opened", "ticket.issued"]


async def test_the_audit_is_read_newest_first_with_filters(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock
) -> None:
    await as_actor("manager@tokm", engine.open_window("3"))
    await as_actor("staff:5@tok5", engine.open_window("5"))
    clock.advance(60)
    await as_actor("guide@tokg", engine.issue("SOC"))
    clock.advance(60)
    await as_actor("staff:5@tok5", engine.call_next("5"))
    await fast_archiver(engine, sql_engine).drain()

    def read(**options: Any) -> list[tuple[str, str]]:
        return [(r.action, r.actor_role) for r in read_audit(sql_engine, "demo", AuditQuery(**options))]

    everything = read()
    assert everything == [("ticket.called", "staff"), ("ticket.issued", "guide"), ("window.opened", "staff"),
                          ("window.opened", "manager")]
    assert read(limit=2) == everything[:2]
    assert read(actor="staff") == [("ticket.called", "staff"), ("window.opened", "staff")]
    assert read(actor="tokg") == [("ticket.issued", "guide")]
    assert read(window="3") == [("window.opened", "manager")]
    rows = read_audit(sql_engine, "demo", AuditQuery())
    called_at = rows[0].at
    assert read(since=called_at) == [("ticket.called", "staff")]
    assert read(until=called_at) == everything[1:]
    assert read(since=called_at - timedelta(seconds=61), until=called_at) == [("ticket.issued", "guide")]
    assert read_audit(sql_engine, "another-hall", AuditQuery()) == []


def test_actors_are_read_back_into_role_window_and_token() -> None:
    assert parse_actor("staff:5@a1b2c3") == Actor("staff", "a1b2c3", "5")
    assert parse_actor("manager@ffee00") == Actor("manager", "ffee00", None)
    assert parse_actor("kiosk") == Actor("kiosk", "", None)


def test_actors_naming_a_member_of_staff_are_read_back_with_the_staff_id() -> None:
    assert parse_actor("staff:5/S05@a1b2c3") == Actor("staff", "a1b2c3", "5", "S05")
    assert parse_actor("staff:5@a1b2c3").staff is None  # recorded before tokens named staff: read as before
    assert parse_actor("staff:12/S-ab@ff") == Actor("staff", "ff", "12", "S-ab")


async def test_the_audit_names_the_member_of_staff_who_acted(
    engine: Engine, sql_engine: SqlEngine, clock: ManualClock
) -> None:
    await as_actor("staff:5/S05@tok5", engine.open_window("5"))
    await as_actor("guide@tokg", engine.issue("SOC"))
    clock.advance(30)
    await as_actor("staff:5/S05@tok5", engine.call_next("5"))
    await fast_archiver(engine, sql_engine).drain()
    rows = audit_rows(sql_engine)
    assert [(r.action, r.actor_role, r.actor_token, r.window) for r in rows] == [
        ("window.opened", "staff", "tok5", "5"), ("ticket.issued", "guide", "tokg", None),
        ("ticket.called", "staff", "tok5", "5")]
    assert [(r.details or {}).get("staff") for r in rows] == ["S05", None, "S05"]
    assert [e.actor for e in stored_events(sql_engine)] == ["staff:5/S05@tok5", "guide@tokg", "staff:5/S05@tok5"]
