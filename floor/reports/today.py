"""Today's figures from the SQL record: arrivals and waits per half hour, per service and per window.

The record trails the live day by the archiver's lag (milliseconds); the dashboard's live numbers come
from the snapshot, these feed its charts and the window's own counts. ``summarize`` is pure: rows in,
figures out; ``load_day`` is the one query.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from floor.sql.db import TicketRow
from queue_engine.config import HallConfig

BIN = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class DayTicket:
    service: str
    status: str
    priority: str | None
    window: str | None
    issued_at: datetime
    called_at: datetime | None
    finished_at: datetime | None
    outcome: str | None
    handling_ms: int | None

    @property
    def wait_s(self) -> float | None:
        return None if self.called_at is None else (self.called_at - self.issued_at).total_seconds()


def load_day(sql: Engine, hall: str, day: str, window: str | None = None) -> list[DayTicket]:
    query = select(TicketRow).where(TicketRow.hall == hall, TicketRow.day == day)
    if window is not None:
        query = query.where(TicketRow.window == window)
    with Session(sql) as session:
        return [DayTicket(r.service, r.status, r.priority, r.window, r.issued_at, r.called_at, r.finished_at,
                          r.outcome, r.handling_ms) for r in session.scalars(query)]


def _mean(values: Sequence[float]) -> int | None:
    return round(sum(values) / len(values)) if values else None


def _p90(values: Sequence[float]) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)])


def _bin_start(at: datetime) -> datetime:
    return at.replace(minute=0 if at.minute < 30 else 30, second=0, microsecond=0)


def half_hours(tickets: Iterable[DayTicket], hall: HallConfig, day: str) -> list[dict[str, Any]]:
    """Arrivals (by issue time) and waits (of tickets called in the bin) per half hour of the local day,
    from opening to closing, widened to cover any ticket outside the opening hours."""
    tickets = list(tickets)
    midnight = datetime.strptime(day, "%Y%m%d").replace(tzinfo=hall.zone)
    first = min(s.start for s in hall.hours)
    last = max(s.end for s in hall.hours)
    start = midnight.replace(hour=first.hour, minute=first.minute)
    end = midnight.replace(hour=last.hour, minute=last.minute)
    for t in tickets:
        for at in (t.issued_at, t.called_at):
            if at is not None:
                local = at.astimezone(hall.zone)
                start, end = min(start, _bin_start(local)), max(end, _bin_start(local) + BIN)
    start = _bin_start(start)
    bins: list[dict[str, Any]] = []
    arrivals: dict[datetime, int] = {}
    waits: dict[datetime, list[float]] = {}
    for t in tickets:
        arrivals[_bin_start(t.issued_at.astimezone(hall.zone))] = \
            arrivals.get(_bin_start(t.issued_at.astimezone(hall.zone)), 0) + 1
        if t.called_at is not None and t.wait_s is not None:
            waits.setdefault(_bin_start(t.called_at.astimezone(hall.zone)), []).append(t.wait_s)
    at = start
    while at < end:
        w = waits.get(at, [])
        bins.append({"start": at.strftime("%H:%M"), "arrivals": arrivals.get(at, 0), "called": len(w),
                     "avg_wait_s": _mean(w), "max_wait_s": round(max(w)) if w else None})
        at += BIN
    return bins


def figures(tickets: Sequence[DayTicket], target_s: int | None = None) -> dict[str, Any]:
    waits = [t.wait_s for t in tickets if t.wait_s is not None]
    handling = [t.handling_ms / 1000 for t in tickets if t.handling_ms is not None]
    outcomes: dict[str, int] = {}
    for t in tickets:
        if t.status == "done" and t.outcome:
            outcomes[t.outcome] = outcomes.get(t.outcome, 0) + 1
    figures: dict[str, Any] = {
        "issued": len(tickets),
        "waiting": sum(t.status == "waiting" for t in tickets),
        "served": sum(t.status == "done" for t in tickets),
        "missed": sum(t.status == "missed" for t in tickets),
        "cancelled": sum(t.status == "cancelled" for t in tickets),
        "green": sum(t.priority == "green" for t in tickets),
        "vip": sum(t.priority == "vip" for t in tickets),
        "outcomes": outcomes,
        "avg_wait_s": _mean(waits),
        "p90_wait_s": _p90(waits),
        "avg_handling_s": _mean(handling),
    }
    if target_s is not None:
        figures["over_target"] = sum(w > target_s for w in waits)
    return figures


def summarize(tickets: Sequence[DayTicket], hall: HallConfig, day: str) -> dict[str, Any]:
    """Everything the dashboard charts: totals, half hours, each service and each window."""
    services = [{"code": s.code, "name": s.name_zh, "name_en": s.name_en,
                 **figures([t for t in tickets if t.service == s.code], s.target_wait_s)} for s in hall.services]
    windows = [{"id": w.id, "name": w.name, **figures([t for t in tickets if t.window == w.id])}
               for w in hall.windows]
    return {"day": day, "totals": figures(tickets), "half_hours": half_hours(tickets, hall, day),
            "services": services, "windows": windows}
