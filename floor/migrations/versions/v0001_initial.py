"""The first schema: configuration, tickets, events and the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-05-01

Written out in full rather than imported from ``floor.sql.db`` so that it keeps describing this
revision after the models move on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _hall() -> sa.Column[str]:
    return sa.Column("hall", sa.String(40), nullable=False)


def _hall_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["hall"], ["halls.id"], name=f"fk_{table}_hall_halls")


def upgrade() -> None:
    op.create_table(
        "halls",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("policy", _json(), nullable=False),
        sa.Column("synced_at", _time(), nullable=False),
        sa.Column("archived_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_halls"),
    )
    op.create_table(
        "services",
        _hall(),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("letter", sa.String(1), nullable=False),
        sa.Column("name_zh", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(100), nullable=False),
        sa.Column("target_wait_s", sa.Integer(), nullable=False),
        sa.Column("handling_s", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _hall_fk("services"),
        sa.PrimaryKeyConstraint("hall", "code", name="pk_services"),
    )
    op.create_table(
        "windows",
        _hall(),
        sa.Column("id", sa.String(8), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("services", _json(), nullable=False),
        sa.Column("primary_services", _json(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _hall_fk("windows"),
        sa.PrimaryKeyConstraint("hall", "id", name="pk_windows"),
    )
    op.create_table(
        "tickets",
        _hall(),
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("day", sa.String(8), nullable=False),
        sa.Column("number", sa.String(16), nullable=False),
        sa.Column("service", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tier", sa.SmallInteger(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(16), nullable=True),
        sa.Column("appointment_at", _time(), nullable=True),
        sa.Column("window", sa.String(8), nullable=True),
        sa.Column("issued_at", _time(), nullable=False),
        sa.Column("called_at", _time(), nullable=True),
        sa.Column("serving_at", _time(), nullable=True),
        sa.Column("finished_at", _time(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("handling_ms", sa.BigInteger(), nullable=True),
        sa.Column("recalls", sa.Integer(), nullable=False),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.Column("pinned", sa.Text(), nullable=True),
        sa.Column("last_event_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_event_seq", sa.BigInteger(), nullable=False),
        _hall_fk("tickets"),
        sa.PrimaryKeyConstraint("hall", "id", name="pk_tickets"),
    )
    op.create_index("ix_tickets_hall_day", "tickets", ["hall", "day", "service"])
    op.create_index("ix_tickets_hall_service_last", "tickets", ["hall", "service", "last_event_ms", "last_event_seq"])
    op.create_table(
        "ticket_events",
        _hall(),
        sa.Column("stream_ms", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("stream_seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("ticket", sa.String(40), nullable=True),
        sa.Column("window", sa.String(8), nullable=True),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("payload", _json(), nullable=False),
        _hall_fk("ticket_events"),
        sa.PrimaryKeyConstraint("hall", "stream_ms", "stream_seq", name="pk_ticket_events"),
    )
    op.create_index("ix_ticket_events_hall_ticket", "ticket_events", ["hall", "ticket"])
    op.create_index("ix_ticket_events_hall_type", "ticket_events", ["hall", "type", "stream_ms"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        _hall(),
        sa.Column("at", _time(), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("actor_token", sa.String(64), nullable=False),
        sa.Column("window", sa.String(8), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("ticket", sa.String(40), nullable=True),
        sa.Column("details", _json(), nullable=True),
        _hall_fk("audit_log"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_hall_at", "audit_log", ["hall", "at"])


def downgrade() -> None:
    for index, table in (("ix_audit_log_hall_at", "audit_log"), ("ix_ticket_events_hall_type", "ticket_events"),
                         ("ix_ticket_events_hall_ticket", "ticket_events"),
                         ("ix_tickets_hall_service_last", "tickets"), ("ix_tickets_hall_day", "tickets")):
        op.drop_index(index, table_name=table)
    for table in ("audit_log", "ticket_events", "tickets", "windows", "services", "halls"):
        op.drop_table(table)
