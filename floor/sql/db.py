"""The SQL record: hall configuration, every event, a projection of tickets, and the audit log.

Redis holds the live day; SQL holds the history (design section 3). The archiver fills
``ticket_events``, ``tickets`` and ``audit_log`` from the event stream; the server syncs the
configuration tables at start-up. One schema, one code path, SQLite or PostgreSQL.

Times are timezone-aware UTC datetimes in Python whatever the database keeps. Stream ids
("<ms>-<seq>") are stored as two BIGINTs so they sort and compare as numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator

from queue_engine.config import HallConfig
from queue_engine.stream_ids import StreamKey, format_stream_id

DEFAULT_URL = "sqlite:///var/hallq.db"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"  # beside the stores whose tables they make

Json = dict[str, Any]
def from_ms(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def bounded(value: Any, length: int) -> str | None:
    """A value for a length-limited column: PostgreSQL refuses an over-long one, and one refused row would hold
    back the whole archive (the event's payload keeps the value whole)."""
    return None if value is None else str(value)[:length]


def to_ms(at: datetime | None) -> int | None:
    return None if at is None else round(at.timestamp() * 1000)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out. SQLite keeps no zone, so the value is stored as naive UTC there."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a naive datetime has no place in the record; give it a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on PostgreSQL so reports can index and query payloads; plain JSON text elsewhere.
JsonType = JSON().with_variant(postgresql.JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY, not a BIGINT one.
BigId = BigInteger().with_variant(Integer(), "sqlite")

# Stable constraint names, so later migrations can refer to them on both databases.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class HallRow(Base):
    __tablename__ = "halls"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    policy: Mapped[Json] = mapped_column(JsonType)
    synced_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Touched by every archiver batch: the update also serialises the hall's archivers (see projection.py).
    archived_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ServiceRow(Base):
    __tablename__ = "services"

    hall: Mapped[str] = mapped_column(ForeignKey("halls.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    letter: Mapped[str] = mapped_column(String(1))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    target_wait_s: Mapped[int] = mapped_column(Integer)
    handling_s: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    # Services dropped from the configuration stay (history refers to them) but are no longer active.
    active: Mapped[bool] = mapped_column(Boolean)


class WindowRow(Base):
    __tablename__ = "windows"

    hall: Mapped[str] = mapped_column(ForeignKey("halls.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    services: Mapped[list[str]] = mapped_column(JsonType)
    primary_services: Mapped[list[str]] = mapped_column(JsonType)  # "primary" is a reserved word in SQL
    position: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)


class TicketRow(Base):
    """One row per ticket, as its latest archived event left it. No idempotency key, no person key."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_hall_day", "hall", "day", "service"),
        Index("ix_tickets_hall_service_last", "hall", "service", "last_event_ms", "last_event_seq"),
    )

    hall: Mapped[str] = mapped_column(ForeignKey("halls.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[str] = mapped_column(String(8))
    number: Mapped[str] = mapped_column(String(16))
    service: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    tier: Mapped[int] = mapped_column(SmallInteger)
    channel: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str | None] = mapped_column(String(16))
    appointment_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    window: Mapped[str | None] = mapped_column(String(8))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    called_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    serving_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    handling_ms: Mapped[int | None] = mapped_column(BigInteger)
    recalls: Mapped[int] = mapped_column(Integer)
    transfers: Mapped[int] = mapped_column(Integer)
    pinned: Mapped[str | None] = mapped_column(Text)  # the manager's reason
    item: Mapped[str | None] = mapped_column(String(16))  # the sub-item (事项) of its service
    green_reason: Mapped[str | None] = mapped_column(String(16))  # elderly | disabled | pregnant | military
    holder: Mapped[str | None] = mapped_column(String(16))  # the citizen's name, masked (张*三); never the full name
    last_event_ms: Mapped[int] = mapped_column(BigInteger)
    last_event_seq: Mapped[int] = mapped_column(BigInteger)

    @property
    def last_event(self) -> StreamKey:
        return self.last_event_ms, self.last_event_seq


class TicketEventRow(Base):
    """Every event of the stream, once: (hall, stream id) is the key that makes archiving idempotent."""

    __tablename__ = "ticket_events"
    __table_args__ = (
        Index("ix_ticket_events_hall_ticket", "hall", "ticket"),
        Index("ix_ticket_events_hall_type", "hall", "type", "stream_ms"),
    )

    hall: Mapped[str] = mapped_column(ForeignKey("halls.id"), primary_key=True)
    stream_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    stream_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    ticket: Mapped[str | None] = mapped_column(String(40))
    window: Mapped[str | None] = mapped_column(String(8))
    actor: Mapped[str | None] = mapped_column(String(200))  # the event's "by": who acted (the audit trail)
    payload: Mapped[Json] = mapped_column(JsonType)

    @property
    def stream_id(self) -> str:
        return format_stream_id((self.stream_ms, self.stream_seq))


class AuditRow(Base):
    """Who did what, when: one row per event that names who acted (written by the archiver, see floor.audit.store)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_hall_at", "hall", "at"),
        # The event a row came from, once: a batch archived twice adds no row. NULL for rows written directly.
        UniqueConstraint("hall", "stream_ms", "stream_seq", name="uq_audit_log_stream"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    hall: Mapped[str] = mapped_column(ForeignKey("halls.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_token: Mapped[str] = mapped_column(String(64))
    window: Mapped[str | None] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(64))
    ticket: Mapped[str | None] = mapped_column(String(40))
    details: Mapped[Json | None] = mapped_column(JsonType)
    stream_ms: Mapped[int | None] = mapped_column(BigInteger)
    stream_seq: Mapped[int | None] = mapped_column(BigInteger)


# -- engine and migrations ----------------------------------------------------------------------
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (reports, a restore) run while the archiver writes; foreign keys are off by default.
    # synchronous stays FULL: an event is acknowledged in Redis once committed here, so a commit must last.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_sql_engine(url: str | URL = DEFAULT_URL) -> Engine:
    """A sync engine for ``url``: a SQLite file (its directory made if missing) or PostgreSQL."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # Pre-ping: after a database restart, pooled connections are dead; find out before using one.
    return create_engine(url, pool_pre_ping=True)


def alembic_config() -> Config:
    """Alembic's configuration, built in code so no alembic.ini is needed (``command.revision`` works with it)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(url: str | URL | Engine = DEFAULT_URL) -> None:
    """Upgrade the database to the latest schema (creating every table on a fresh one)."""
    engine = url if isinstance(url, Engine) else make_sql_engine(url)
    try:
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection  # env.py runs on this connection
            command.upgrade(config, "head")
    finally:
        if engine is not url:
            engine.dispose()


def insert_for(session: Session, table: Any) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT, which knows ON CONFLICT; both dialects spell it the same way."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# -- configuration --------------------------------------------------------------------------------
def sync_hall(session: Session, hall: HallConfig) -> None:
    """Upsert the hall, its services and windows; retire the ones the configuration no longer names."""
    now = datetime.now(UTC)
    policy = hall.policy.model_dump(mode="json")
    stmt = insert_for(session, HallRow).values(id=hall.id, name=hall.name, timezone=hall.timezone, policy=policy,
                                               synced_at=now)
    session.execute(stmt.on_conflict_do_update(
        index_elements=["id"], set_={"name": hall.name, "timezone": hall.timezone, "policy": policy, "synced_at": now}))
    services = [{"hall": hall.id, "code": s.code, "letter": s.letter, "name_zh": s.name_zh, "name_en": s.name_en,
                 "target_wait_s": s.target_wait_s, "handling_s": s.handling_s, "position": i, "active": True}
                for i, s in enumerate(hall.services)]
    windows = [{"hall": hall.id, "id": w.id, "name": w.name, "kind": w.kind, "services": list(w.services),
                "primary_services": list(w.primary), "position": i, "active": True}
               for i, w in enumerate(hall.windows)]
    for row_type, rows, keys in ((ServiceRow, services, ["hall", "code"]), (WindowRow, windows, ["hall", "id"])):
        if not rows:
            continue
        stmt = insert_for(session, row_type)
        changed = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
        session.execute(stmt.on_conflict_do_update(index_elements=keys, set_=changed), rows)
    session.execute(update(ServiceRow).where(ServiceRow.hall == hall.id, ServiceRow.code.not_in(
        [s.code for s in hall.services])).values(active=False))
    session.execute(update(WindowRow).where(WindowRow.hall == hall.id, WindowRow.id.not_in(
        [w.id for w in hall.windows])).values(active=False))


def sync_config(sql_engine: Engine, hall: HallConfig) -> None:
    """Write a hall's configuration to SQL; running it again with the same hall changes nothing."""
    with Session(sql_engine) as session, session.begin():
        sync_hall(session, hall)
