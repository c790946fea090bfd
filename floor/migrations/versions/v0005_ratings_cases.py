"""好差评: ratings, and the closed-loop cases a 差评 opens.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

One rating per ticket ((hall, ticket) is the key, so a batch archived twice adds none) and one case per
差评, keyed by the same (hall, ticket) and tied to its rating. Written out in full rather than imported from
``floor.ratings.store`` so that it keeps describing this revision after the models move on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, length: int | None = None, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.String(length) if length else sa.Text(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "ratings",
        _text("hall", 40, nullable=False),
        _text("ticket", 40, nullable=False),
        _text("day", 8, nullable=False),
        _text("number", 16, nullable=False),
        _text("service", 8, nullable=False),
        _text("window", 8),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("bad", sa.Boolean(), nullable=False),
        _text("source", 8, nullable=False),
        _text("comment"),
        sa.Column("late", sa.Boolean(), nullable=False),
        _time("rated_at", nullable=False),
        sa.Column("stream_ms", sa.BigInteger(), nullable=False),
        sa.Column("stream_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["hall"], ["halls.id"], name="fk_ratings_hall_halls"),
        sa.PrimaryKeyConstraint("hall", "ticket", name="pk_ratings"),
    )
    op.create_index("ix_ratings_hall_day", "ratings", ["hall", "day", "window"])
    op.create_index("ix_ratings_hall_rated_at", "ratings", ["hall", "rated_at"])
    op.create_table(
        "cases",
        _text("hall", 40, nullable=False),
        _text("ticket", 40, nullable=False),
        _text("day", 8, nullable=False),
        _text("number", 16, nullable=False),
        _text("service", 8, nullable=False),
        _text("window", 8),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        _text("status", 20, nullable=False),
        _time("opened_at", nullable=False),
        _time("callback_due", nullable=False),
        _time("fix_due", nullable=False),
        _time("callback_at"),
        _text("callback_by", 200),
        _text("callback_note"),
        sa.Column("callback_reached", sa.Boolean(), nullable=True),
        _time("fix_at"),
        _text("fix_by", 200),
        _text("fix_note"),
        _time("feedback_at"),
        _text("feedback_by", 200),
        _text("feedback_note"),
        sa.Column("feedback_satisfied", sa.Boolean(), nullable=True),
        _time("review_at"),
        _text("review_by", 200),
        _text("review_note"),
        _text("review_kind", 16),
        sa.Column("review_score", sa.SmallInteger(), nullable=True),
        _text("review_outcome", 16),
        sa.ForeignKeyConstraint(["hall", "ticket"], ["ratings.hall", "ratings.ticket"], name="fk_cases_hall_ratings"),
        sa.PrimaryKeyConstraint("hall", "ticket", name="pk_cases"),
    )
    op.create_index("ix_cases_hall_status", "cases", ["hall", "status"])
    op.create_index("ix_cases_hall_day", "cases", ["hall", "day"])


def downgrade() -> None:
    op.drop_index("ix_cases_hall_day", table_name="cases")
    op.drop_index("ix_cases_hall_status", table_name="cases")
    op.drop_table("cases")
    op.drop_index("ix_ratings_hall_rated_at", table_name="ratings")
    op.drop_index("ix_ratings_hall_day", table_name="ratings")
    op.drop_table("ratings")
