"""Accounts scoped to a region: a county's managers answer for every hall below it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

``accounts.region``: the region a manager or admin answers for (null: only the halls the account lists).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("region", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("region")
