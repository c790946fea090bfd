"""Per-day summaries of each hall's tickets, for a region's roll-up reports.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08

``report_days``: per (hall, day), that the day is summarised, with the ratings it counted then (a report that finds
others summarises it again) and its totals. ``report_day_services``: per (hall, day, service issued for), the
additive figures of that settled day. ``report_cases``: the day and the service-issued-for of each 差评 case's
ticket (``floor.regions.summaries``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTS = ("issued", "served", "missed", "cancelled", "waited")
LATER = ("over_target", "green_elderly", "green_disabled", "green_pregnant", "green_military", "green_other",
         "appointments", "rated_5", "rated_4", "rated_3", "rated_2", "rated_1")


def summed() -> list[sa.Column[int]]:
    """The additive figures both summary tables keep (``floor.regions.summaries.SUMMED``)."""
    return [*(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
            sa.Column("wait_us", sa.BigInteger(), nullable=False),
            sa.Column("handled", sa.Integer(), nullable=False),
            sa.Column("handling_us", sa.BigInteger(), nullable=False),
            *(sa.Column(name, sa.Integer(), nullable=False) for name in LATER)]


def upgrade() -> None:
    op.create_table(
        "report_days",
        sa.Column("hall", sa.String(40), nullable=False),
        sa.Column("day", sa.String(8), nullable=False),
        sa.Column("rated", sa.Integer(), nullable=False),
        sa.Column("closed_ms", sa.BigInteger(), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        *summed(),
        sa.PrimaryKeyConstraint("hall", "day", name="pk_report_days"),
    )
    op.create_table(
        "report_day_services",
        sa.Column("hall", sa.String(40), nullable=False),
        sa.Column("day", sa.String(8), nullable=False),
        sa.Column("service", sa.String(8), nullable=False),
        sa.Column("target_s", sa.Integer(), nullable=True),
        *summed(),
        sa.PrimaryKeyConstraint("hall", "day", "service", name="pk_report_day_services"),
    )
    op.create_table(
        "report_cases",
        sa.Column("hall", sa.String(40), nullable=False),
        sa.Column("ticket", sa.String(40), nullable=False),
        sa.Column("day", sa.String(8), nullable=False),
        sa.Column("service", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("hall", "ticket", name="pk_report_cases"),
    )


def downgrade() -> None:
    op.drop_table("report_cases")
    op.drop_table("report_day_services")
    op.drop_table("report_days")
