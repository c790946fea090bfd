"""Accounts and the credentials issued to people, devices and other systems.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

``accounts``: who may sign in (``floor.accounts.store.AccountRow``); ``credentials``: every session, paired device
and key the server issued, by id, so each can be listed and revoked (the credential itself is never stored).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    op.create_table(
        "accounts",
        sa.Column("username", sa.String(32), nullable=False),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("halls", json, nullable=False),
        sa.Column("skills", json, nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("must_change", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("signed_in_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("username", name="pk_accounts"),
    )
    op.create_table(
        "credentials",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("hall", sa.String(40), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("account", sa.String(32), nullable=True),
        sa.Column("window", sa.String(8), nullable=True),
        sa.Column("name", sa.String(64), nullable=True),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=True),
        sa.Column("last_seen_at", _utc(), nullable=True),
        sa.Column("revoked_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_credentials"),
    )
    op.create_index("ix_credentials_account", "credentials", ["account"])
    op.create_index("ix_credentials_hall_kind", "credentials", ["hall", "kind"])


def downgrade() -> None:
    op.drop_index("ix_credentials_hall_kind", table_name="credentials")
    op.drop_index("ix_credentials_account", table_name="credentials")
    op.drop_table("credentials")
    op.drop_table("accounts")
