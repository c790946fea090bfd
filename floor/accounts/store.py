"""Accounts and credentials in the SQL record: the source of truth for who may sign in, and for which credentials
(sessions, paired devices, integration keys) have been revoked. Synchronous; the API calls it in a thread."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, String, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from floor.sql.db import Base, JsonType, UtcDateTime


class AccountRow(Base):
    __tablename__ = "accounts"

    username: Mapped[str] = mapped_column(String(32), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    halls: Mapped[list[str]] = mapped_column(JsonType)  # the halls the person works in
    # A region manager or admin: every hall in this region or below it, besides ``halls``.
    region: Mapped[str | None] = mapped_column(String(40), nullable=True)
    skills: Mapped[list[str]] = mapped_column(JsonType)  # staff: service and sub-item codes they are trained for
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change: Mapped[bool] = mapped_column(Boolean)  # a reset password: changed at the next sign-in
    disabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    signed_in_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CredentialRow(Base):
    """One signed credential the server issued: a session (a person signed in), a device (a paired screen, kiosk
    or pad) or a key (for another system, or a person's own scripts). The credential itself is never stored."""

    __tablename__ = "credentials"
    __table_args__ = (
        Index("ix_credentials_account", "account"),
        Index("ix_credentials_hall_kind", "hall", "kind"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the token's "j"
    kind: Mapped[str] = mapped_column(String(16))  # session | device | key
    hall: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(16))
    account: Mapped[str | None] = mapped_column(String(32))
    window: Mapped[str | None] = mapped_column(String(8))
    name: Mapped[str | None] = mapped_column(String(64))  # a device's or key's name, as the admin gave it
    address: Mapped[str | None] = mapped_column(String(64))  # where it was signed in or paired from
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    display_name: str
    role: str
    halls: tuple[str, ...]
    skills: tuple[str, ...]
    must_change: bool
    disabled: bool
    password_hash: str
    region: str | None = None

    @classmethod
    def of(cls, row: AccountRow) -> Account:
        return cls(row.username, row.display_name, row.role, tuple(row.halls), tuple(row.skills), row.must_change,
                   row.disabled, row.password_hash, row.region)

    def public(self) -> dict[str, Any]:
        return {"username": self.username, "display_name": self.display_name, "role": self.role,
                "halls": list(self.halls), "region": self.region, "skills": list(self.skills),
                "must_change": self.must_change, "disabled": self.disabled}

    def works_in(self, hall: str, hall_regions: tuple[str, ...]) -> bool:
        """The hall is one of the person's, or lies in the region they answer for."""
        return hall in self.halls or (self.region is not None and self.region in hall_regions)


def find(sql: Engine, username: str) -> Account | None:
    with Session(sql) as session:
        row = session.get(AccountRow, username)
        return Account.of(row) if row else None


def of_hall(sql: Engine, hall: str) -> list[Account]:
    with Session(sql) as session:
        rows = session.scalars(select(AccountRow).order_by(AccountRow.username)).all()
        return [Account.of(r) for r in rows if hall in r.halls]


def of_regions(sql: Engine, regions: Sequence[str]) -> list[Account]:
    """The accounts scoped to any of these regions."""
    with Session(sql) as session:
        rows = session.scalars(select(AccountRow).where(AccountRow.region.in_(list(regions)))
                               .order_by(AccountRow.username)).all()
        return [Account.of(r) for r in rows]


def count(sql: Engine) -> int:
    with Session(sql) as session:
        return len(session.scalars(select(AccountRow.username)).all())


def create(sql: Engine, account: Account, now: datetime) -> bool:
    """Add the account; False if the username is taken."""
    with Session(sql) as session, session.begin():
        if session.get(AccountRow, account.username) is not None:
            return False
        session.add(AccountRow(username=account.username, display_name=account.display_name, role=account.role,
                               halls=list(account.halls), region=account.region, skills=list(account.skills),
                               password_hash=account.password_hash, must_change=account.must_change,
                               disabled=account.disabled, created_at=now, updated_at=now))
        return True


def change(sql: Engine, username: str, now: datetime, **fields: Any) -> Account | None:
    """Set these fields of the account; None if there is no such account."""
    with Session(sql) as session, session.begin():
        row = session.get(AccountRow, username)
        if row is None:
            return None
        for name, value in fields.items():
            setattr(row, name, list(value) if isinstance(value, tuple) else value)
        row.updated_at = now
        return Account.of(row)


def signed_in(sql: Engine, username: str, now: datetime) -> None:
    with Session(sql) as session, session.begin():
        session.execute(update(AccountRow).where(AccountRow.username == username).values(signed_in_at=now))


# -- credentials ---------------------------------------------------------------------------------------
def issued(sql: Engine, row: CredentialRow) -> None:
    with Session(sql, expire_on_commit=False) as session, session.begin():  # the caller reads the row after
        session.add(row)


def revoke(sql: Engine, now: datetime, *, ids: Sequence[str] = (), account: str | None = None,
           kind: str | None = None) -> list[str]:
    """Revoke the credentials named, or every live one of ``account`` (of ``kind``, if given); their ids."""
    with Session(sql) as session, session.begin():
        live = CredentialRow.revoked_at.is_(None)
        stmt = select(CredentialRow.id).where(live)
        if ids:
            stmt = stmt.where(CredentialRow.id.in_(list(ids)))
        elif account is not None:
            stmt = stmt.where(CredentialRow.account == account)
        else:
            return []
        if kind is not None:
            stmt = stmt.where(CredentialRow.kind == kind)
        found = list(session.scalars(stmt).all())
        if found:
            session.execute(update(CredentialRow).where(CredentialRow.id.in_(found)).values(revoked_at=now))
        return found


def revoked_since(sql: Engine, now: datetime) -> set[str]:
    """Ids of revoked credentials that would otherwise still be good: what a starting worker must refuse."""
    with Session(sql) as session:
        stmt = select(CredentialRow.id).where(CredentialRow.revoked_at.is_not(None),
                                              (CredentialRow.expires_at.is_(None)) | (CredentialRow.expires_at > now))
        return set(session.scalars(stmt).all())


def credentials(sql: Engine, hall: str, kinds: Sequence[str]) -> list[CredentialRow]:
    with Session(sql) as session:
        stmt = (select(CredentialRow).where(CredentialRow.hall == hall, CredentialRow.kind.in_(list(kinds)))
                .order_by(CredentialRow.created_at.desc()))
        rows = list(session.scalars(stmt).all())
        session.expunge_all()
        return rows


def seen(sql: Engine, last: dict[str, datetime]) -> None:
    """When each key or device was last used (a minute's worth at a time: a handful of rows)."""
    with Session(sql) as session, session.begin():
        for jid, at in last.items():
            session.execute(update(CredentialRow).where(CredentialRow.id == jid).values(last_seen_at=at))
