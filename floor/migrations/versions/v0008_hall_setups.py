"""The hall's set-up as it runs, changed live by its own people.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

``hall_setups``: per hall, the configuration it runs on now, its version, where it came from (a file, or live edits)
and who changed it last (``floor.setup.store.HallSetupRow``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hall_setups",
        sa.Column("hall", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("source", sa.String(80), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("hall", name="pk_hall_setups"),
    )


def downgrade() -> None:
    op.drop_table("hall_setups")
