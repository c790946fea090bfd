"""Ticket details from the catalog and the green channel: sub-item, green-channel reason, masked holder name.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

The archiver fills them from ``ticket.issued`` (``floor/record/projection.py``); rows archived before stay NULL.
The holder is the masked name (张*三) the engine was given: the full name is never stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("item", "green_reason", "holder")


def upgrade() -> None:
    # Batch mode: SQLite alters a table by rebuilding it; on PostgreSQL these are plain ADD COLUMNs.
    with op.batch_alter_table("tickets") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
