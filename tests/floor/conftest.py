"""Fixtures for the SQL record: each test gets a fresh database, on SQLite and on PostgreSQL.

PostgreSQL tests run in a schema of their own, dropped afterwards, so they never collide and leave
nothing behind. A PostgreSQL that cannot be reached fails the test: it is a broken machine, not a skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from floor.record.archiver import Archiver
from floor.sql.db import TicketEventRow, TicketRow, make_sql_engine, migrate
from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig
from queue_engine.engine import Engine

POSTGRES_URL = os.environ.get("HALLQ_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def demo_hall(demo_hall: HallConfig) -> HallConfig:
    """The demo hall, but a late no-show is put back in line (returning = requeue): the record's tests play every
    kind of event, a requeue among them, which the demo's own rule (serve directly) refuses."""
    return demo_hall.model_copy(update={"policy": demo_hall.policy.model_copy(update={"returning": "requeue"})})


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL of the test PostgreSQL whose tables go into a schema of their own, dropped afterwards."""
    admin = sa.create_engine(POSTGRES_URL, poolclass=NullPool)
    schema = f"hq_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}; start it (scripts/test expects it) "
                    "or point HALLQ_TEST_POSTGRES_URL at one")
    url = sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'hallq.db'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def sql_engine(sql_url: str) -> Iterator[SqlEngine]:
    migrate(sql_url)
    engine = make_sql_engine(sql_url)
    yield engine
    engine.dispose()


@pytest.fixture
def unreachable_sql(sql_url: str, tmp_path: Any) -> Iterator[SqlEngine]:
    """A database of the same kind that refuses every connection: SQL is down."""
    if sql_url.startswith("sqlite"):
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'hallq.db'}")
    else:
        engine = sa.create_engine(sa.make_url(POSTGRES_URL).set(port=1), connect_args={"connect_timeout": 2})
    yield engine
    engine.dispose()


def fast_archiver(engine: Engine, sql_engine: SqlEngine, **options: Any) -> Archiver:
    """An archiver with test-sized waits: short blocking reads and back-off, claims without idling."""
    settings: dict[str, Any] = {"block_ms": 50, "backoff_s": (0.01, 0.05), "claim_idle_ms": 0}
    return Archiver(engine, sql_engine, **(settings | options))


def stored_events(sql_engine: SqlEngine, hall: str = "demo") -> list[TicketEventRow]:
    with Session(sql_engine) as s:
        return list(s.scalars(sa.select(TicketEventRow).where(TicketEventRow.hall == hall)
                              .order_by(TicketEventRow.stream_ms, TicketEventRow.stream_seq)))


def stored_tickets(sql_engine: SqlEngine, hall: str = "demo") -> dict[str, TicketRow]:
    with Session(sql_engine) as s:
        return {t.id: t for t in s.scalars(sa.select(TicketRow).where(TicketRow.hall == hall))}


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout_s: float = 10.0) -> None:
    """Wait until ``check`` holds; fail after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            pytest.fail(f"condition not met within {timeout_s} s")
        await asyncio.sleep(0.02)


async def busy_morning(engine: Engine, clock: ManualClock) -> dict[str, str]:
    """A morning touching every kind of ticket event; the ticket ids by name.

    Five SOC tickets are issued (A001-A005), so the next SOC number is A006.
    """
    ids: dict[str, str] = {}

    async def issue(name: str, service: str, **options: Any) -> None:
        clock.advance(20)
        ids[name] = (await engine.issue(service, **options)).ticket.id

    for window in ("1", "2", "3", "9"):
        await engine.open_window(window)
    await issue("a1", "SOC")
    await issue("a2", "SOC", person="k:5f1e", channel="kiosk")
    await issue("a3", "SOC", priority="green")
    await issue("b1", "HUK")
    await issue("c1", "PROP")
    await issue("a4", "SOC", idempotency_key="req-1")
    await issue("a5", "SOC")
    await issue("d1", "TAX")
    steps: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ("call_next", ("1",), {}), ("recall", ("1",), {}), ("start", ("1",), {}), ("finish", ("1", "done"), {}),
        ("call_next", ("2",), {}), ("recall", ("2",), {}), ("no_show", ("2",), {}),  # the hall's rule: a recall, 60 s
        ("call_next", ("3",), {}), ("start", ("3",), {}), ("transfer", ("3",), {"to_service": "TAX", "reason": "税"}),
        ("open_window", ("11",), {}),
        ("call_next", ("9",), {}), ("start", ("9",), {}), ("transfer", ("9",), {"to_window": "11", "reason": ""}),
        ("pin", (ids["a5"], "陪同老人"), {}), ("cancel", (ids["a4"],), {}), ("requeue", (ids["a1"],), {}),
        ("call_next", ("2",), {}), ("start", ("2",), {}), ("finish", ("2", "consult"), {}),
        ("call_next", ("11",), {}), ("start", ("11",), {}),
        ("call_ticket", ("1", ids["d1"], "税务加急"), {}), ("pause", ("3", "lunch"), {}),
    ]
    for name, args, kwargs in steps:
        clock.advance(45)
        await getattr(engine, name)(*args, **kwargs)
    return ids
