"""Appointments (预约办): bookings, the places taken in each slot, and lifted blocks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

Written out in full rather than imported from ``floor.appointments.store`` so that it keeps describing this
revision after the models move on. One booking per person, service and day is a partial unique index (bookings
not cancelled), which SQLite and PostgreSQL both have.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status <> 'cancelled'"


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _hall() -> sa.Column[str]:
    return sa.Column("hall", sa.String(40), nullable=False)


def _hall_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["hall"], ["halls.id"], name=f"fk_{table}_hall_halls")


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("id", sa.String(40), nullable=False),
        _hall(),
        sa.Column("service", sa.String(8), nullable=False),
        sa.Column("item", sa.String(16), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("slot_start", _time(), nullable=False),
        sa.Column("slot_end", _time(), nullable=False),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(40), nullable=False),
        sa.Column("phone", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ticket", sa.String(40), nullable=True),
        sa.Column("booked_at", _time(), nullable=False),
        sa.Column("booked_by", sa.String(200), nullable=True),
        sa.Column("cancelled_at", _time(), nullable=True),
        sa.Column("checked_in_at", _time(), nullable=True),
        _hall_fk("appointments"),
        sa.PrimaryKeyConstraint("id", name="pk_appointments"),
        sa.UniqueConstraint("hall", "day", "code", name="uq_appointments_code"),
    )
    op.create_index("ix_appointments_hall_day", "appointments", ["hall", "day", "service"])
    op.create_index("ix_appointments_hall_person", "appointments", ["hall", "person"])
    op.create_index("uq_appointments_person_day", "appointments", ["hall", "person", "service", "day"], unique=True,
                    sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))
    op.create_table(
        "appointment_slots",
        _hall(),
        sa.Column("service", sa.String(8), nullable=False),
        sa.Column("start", _time(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        _hall_fk("appointment_slots"),
        sa.PrimaryKeyConstraint("hall", "service", "start", name="pk_appointment_slots"),
    )
    op.create_table(
        "appointment_lifts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        _hall(),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("lifted_at", _time(), nullable=False),
        sa.Column("lifted_by", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        _hall_fk("appointment_lifts"),
        sa.PrimaryKeyConstraint("id", name="pk_appointment_lifts"),
    )
    op.create_index("ix_appointment_lifts_hall_person", "appointment_lifts", ["hall", "person"])


def downgrade() -> None:
    op.drop_index("ix_appointment_lifts_hall_person", table_name="appointment_lifts")
    op.drop_table("appointment_lifts")
    op.drop_table("appointment_slots")
    for index in ("uq_appointments_person_day", "ix_appointments_hall_person", "ix_appointments_hall_day"):
        op.drop_index(index, table_name="appointments")
    op.drop_table("appointments")
