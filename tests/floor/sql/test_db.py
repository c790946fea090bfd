"""The SQL schema and its plain functions: migrations, engines, configuration sync, audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.orm import Session

from floor.audit.store import AuditQuery, audit_rows, read_audit, store_audit
from floor.sql.db import (
    Base,
    HallRow,
    ServiceRow,
    WindowRow,
    alembic_config,
    from_ms,
    make_sql_engine,
    migrate,
    sync_config,
    to_ms,
)
from queue_engine.config import HallConfig
from queue_engine.stream_ids import format_stream_id, parse_stream_id

TABLES = {"halls", "services", "windows", "tickets", "ticket_events", "audit_log"}
TABLES |= {"appointments", "appointment_slots", "appointment_lifts"}  # floor.appointments.store
TABLES |= {"webhook_deliveries"}  # floor.notify.webhooks
TABLES |= {"ratings", "cases"}  # floor.ratings.store
TABLES |= {"accounts", "credentials"}  # floor.accounts.store
TABLES |= {"hall_setups"}  # floor.setup.store
TABLES |= {"report_days", "report_day_services", "report_cases"}  # floor.regions.summaries


def test_migrations_create_every_table_and_run_again_harmlessly(sql_url: str) -> None:
    migrate(sql_url)
    migrate(sql_url)
    engine = make_sql_engine(sql_url)
    try:
        assert set(sa.inspect(engine).get_table_names()) == TABLES | {"alembic_version"}
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        assert current == ScriptDirectory.from_config(alembic_config()).get_current_head()
    finally:
        engine.dispose()


def test_models_and_migrations_describe_the_same_schema(sql_engine: SqlEngine) -> None:
    with sql_engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_a_sqlite_file_gets_its_directory_wal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "hallq.db"
    engine = make_sql_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert path.exists()
    finally:
        engine.dispose()


def test_stream_ids_compare_as_numbers() -> None:
    assert parse_stream_id(b"1700000000000-10") > parse_stream_id("1700000000000-9")
    assert parse_stream_id("1700000000001-0") > parse_stream_id("1700000000000-99")
    assert format_stream_id(parse_stream_id("1700000000000-7")) == "1700000000000-7"


def test_times_come_back_aware_in_utc(sql_engine: SqlEngine, demo_hall: HallConfig) -> None:
    sync_config(sql_engine, demo_hall)
    shanghai = timezone(timedelta(hours=8))
    at = datetime(2026, 11, 23, 9, 30, 15, 123000, tzinfo=shanghai)
    with Session(sql_engine) as session, session.begin():
        store_audit(session, audit_rows([("demo", (to_ms(at) or 0, 0), {"type": "ticket.pinned", "at": to_ms(at),
                                                                       "by": "manager@t1"})]))
    (row,) = read_audit(sql_engine, "demo", AuditQuery())
    assert row.at == at
    assert row.at.tzinfo == UTC
    assert from_ms(to_ms(at)) == at


def _config_rows(sql_engine: SqlEngine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with Session(sql_engine) as s:
        halls = [(h.id, h.name, h.timezone, h.policy) for h in s.scalars(sa.select(HallRow))]
        services = [(x.hall, x.code, x.letter, x.name_zh, x.target_wait_s, x.handling_s, x.position, x.active)
                    for x in s.scalars(sa.select(ServiceRow).order_by(ServiceRow.position))]
        windows = [(w.hall, w.id, w.name, w.kind, w.services, w.primary_services, w.position, w.active)
                   for w in s.scalars(sa.select(WindowRow).order_by(WindowRow.position))]
    return halls, services, windows


def test_sync_config_is_idempotent_and_retires_what_the_file_dropped(
    sql_engine: SqlEngine, demo_hall: HallConfig
) -> None:
    sync_config(sql_engine, demo_hall)
    first = _config_rows(sql_engine)
    sync_config(sql_engine, demo_hall)
    assert _config_rows(sql_engine) == first
    halls, services, windows = first
    assert halls == [("demo", demo_hall.name, "Asia/Shanghai", demo_hall.policy.model_dump(mode="json"))]
    assert [s[1] for s in services] == [s.code for s in demo_hall.services]
    assert windows[0][4:6] == (["SOC", "HUK", "TAX", "FUND", "BIZ", "INFO"], ["SOC"])

    smaller = demo_hall.model_copy(update={"name": "新名称", "windows": demo_hall.windows[:-1]})
    sync_config(sql_engine, smaller)
    halls, _, windows = _config_rows(sql_engine)
    assert halls[0][1] == "新名称"
    assert [(w[1], w[7]) for w in windows][-2:] == [("11", True), ("12", False)]


def test_audit_refuses_a_hall_it_does_not_know(sql_engine: SqlEngine) -> None:
    rows = audit_rows([("nowhere", (1, 0), {"type": "window.opened", "at": 1, "by": "admin@t"})])
    with pytest.raises(sa.exc.IntegrityError), Session(sql_engine) as session, session.begin():
        store_audit(session, rows)
