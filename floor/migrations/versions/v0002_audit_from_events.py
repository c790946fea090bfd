"""The audit log is written from the event stream: each row names the event it came from, once.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

The archiver writes an audit row for every event that records who acted, in the same transaction
as the event; (hall, stream id) is unique so a batch delivered twice adds no row. Rows written
written before this revision have no stream id: NULLs never collide in a unique constraint.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite cannot add a constraint in place, so alembic rebuilds the table there.
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("stream_ms", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("stream_seq", sa.BigInteger(), nullable=True))
        batch.create_unique_constraint("uq_audit_log_stream", ["hall", "stream_ms", "stream_seq"])


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint("uq_audit_log_stream", type_="unique")
        batch.drop_column("stream_seq")
        batch.drop_column("stream_ms")
