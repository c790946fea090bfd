"""考勤: who worked in the hall on a day, from the record alone: when each person signed in and out, which windows
they sat at and for how long, and every pause with its reason.

Nothing is recorded for it on purpose. A session is a credential row (``floor.accounts.store.CredentialRow``) and
taking or leaving a window issues a new one naming the window, so a person's sessions of the day are their stints;
a pause and its end are events of the stream, signed by who acted (``floor.audit.store.parse_actor``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from floor.accounts.store import AccountRow, CredentialRow
from floor.audit.store import parse_actor
from floor.sql.db import TicketEventRow
from queue_engine.config import HallConfig

PAUSE_ENDS = ("window.resumed", "window.closed")


class StintOut(BaseModel):
    window: str
    start: datetime
    end: datetime | None  # None: still there


class PauseOut(BaseModel):
    window: str
    reason: str
    start: datetime
    end: datetime | None
    seconds: int


class PersonDayOut(BaseModel):
    username: str
    display_name: str
    role: str
    signed_in: datetime
    signed_out: datetime | None  # None: still signed in
    windows: list[StintOut]
    pauses: list[PauseOut]
    at_windows_s: int
    paused_s: int


class AttendanceOut(BaseModel):
    hall: str
    day: date
    people: list[PersonDayOut]


@dataclass
class _Person:
    sessions: list[tuple[datetime, datetime | None, str | None]] = field(default_factory=list)
    pauses: list[PauseOut] = field(default_factory=list)


def attendance(sql: Engine, hall: HallConfig, day: date, now: datetime) -> AttendanceOut:
    start = datetime.combine(day, time(0), hall.zone).astimezone(UTC)
    end = start + timedelta(days=1)
    now = min(now, end)  # a past day: what was still open at its end is counted to its end
    people: dict[str, _Person] = {}
    with Session(sql) as session:
        rows = session.scalars(select(CredentialRow).where(
            CredentialRow.hall == hall.id, CredentialRow.kind == "session", CredentialRow.account.is_not(None),
            CredentialRow.created_at < end,
            or_(CredentialRow.revoked_at.is_(None), CredentialRow.revoked_at >= start)).order_by(
            CredentialRow.created_at)).all()
        for row in rows:
            stop = row.revoked_at or (row.expires_at if row.expires_at and row.expires_at < now else None)
            if stop is not None and stop < start:
                continue
            assert row.account is not None
            people.setdefault(row.account, _Person()).sessions.append((row.created_at, stop, row.window))
        events = session.execute(select(TicketEventRow.type, TicketEventRow.at, TicketEventRow.window,
                                        TicketEventRow.actor, TicketEventRow.payload).where(
            TicketEventRow.hall == hall.id, TicketEventRow.type.in_(("window.paused", *PAUSE_ENDS)),
            TicketEventRow.stream_ms >= int(start.timestamp() * 1000),
            TicketEventRow.stream_ms < int(end.timestamp() * 1000)).order_by(
            TicketEventRow.stream_ms, TicketEventRow.stream_seq)).all()
        names = {a.username: a for a in session.scalars(select(AccountRow).where(
            AccountRow.username.in_(list(people) + [_who(e.actor) or "" for e in events]))).all()}
    _pauses(people, events, now)
    out = []
    for username, person in people.items():
        if not person.sessions:
            continue
        account = names.get(username)
        out.append(_day_of(username, account, person, now))
    out.sort(key=lambda p: p.signed_in)
    return AttendanceOut(hall=hall.id, day=day, people=out)


def _who(actor: str | None) -> str | None:
    return parse_actor(actor).staff if actor else None


def _pauses(people: dict[str, _Person], events: Any, now: datetime) -> None:
    open_pauses: dict[str, tuple[str, datetime, str]] = {}  # window -> (who, since, reason)
    for type_, at, window, actor, payload in events:
        if window is None:
            continue
        if type_ == "window.paused":
            who = _who(actor)
            if who:
                open_pauses[window] = (who, at, str(payload.get("reason") or ""))
        elif window in open_pauses:
            who, since, reason = open_pauses.pop(window)
            people.setdefault(who, _Person()).pauses.append(
                PauseOut(window=window, reason=reason, start=since, end=at, seconds=int((at - since).total_seconds())))
    for window, (who, since, reason) in open_pauses.items():
        people.setdefault(who, _Person()).pauses.append(
            PauseOut(window=window, reason=reason, start=since, end=None, seconds=int((now - since).total_seconds())))


def _day_of(username: str, account: AccountRow | None, person: _Person, now: datetime) -> PersonDayOut:
    sessions = person.sessions
    stints: list[StintOut] = []
    last: StintOut | None = None  # the stint the previous session was part of
    for start, stop, window in sessions:
        if window is None:  # signed in at no window (a new sign-in, before taking one): a stint ended before
            last = None
            continue
        if last is not None and last.window == window and last.end is not None and \
                (start - last.end).total_seconds() < 5:  # taking the window renews the session: one stint
            last.end = stop
        else:
            last = StintOut(window=window, start=start, end=stop)
            stints.append(last)
    ends = [stop for _, stop, _ in sessions]
    signed_out = None if any(stop is None for stop in ends) else max(e for e in ends if e is not None)
    at_windows = sum(int(((s.end or now) - s.start).total_seconds()) for s in stints)
    return PersonDayOut(
        username=username, display_name=account.display_name if account else username,
        role=account.role if account else "staff", signed_in=sessions[0][0], signed_out=signed_out, windows=stints,
        pauses=sorted(person.pauses, key=lambda p: p.start), at_windows_s=at_windows,
        paused_s=sum(p.seconds for p in person.pauses))
