"""Today's figures from the SQL record: arrivals and waits per half hour, per service and per window.

The record trails the live day by the archiver's lag (milliseconds); the dashboard's live numbers come
from the snapshot, these feed its charts and totals and each window's own counts. The tickets are the reports'
facts (``floor.reports.facts.load_tickets``) and their counts the reports' (``floor.reports.rules.counts``), so
过号, served, issued and the waits read the same on the console, the dashboard and the report of the day.
``summarize`` is pure: facts in, figures out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from floor.reports.facts import load_tickets
from floor.reports.rules import DateRange, TicketFact, counts, mean
from queue_engine.config import HallConfig

BIN = timedelta(minutes=30)


def load_day(sql: Engine, hall: HallConfig, day: str, window: str | None = None) -> list[TicketFact]:
    """The tickets of business day ``day`` (YYYYMMDD), or those last called to ``window``, as the reports see them."""
    local = datetime.strptime(day, "%Y%m%d").date()
    tickets = load_tickets(sql, hall, DateRange(local, local))
    return tickets if window is None else [t for t in tickets if t.window == window]


def _bin_start(at: datetime) -> datetime:
    return at.replace(minute=0 if at.minute < 30 else 30, second=0, microsecond=0)


def half_hours(tickets: Iterable[TicketFact], hall: HallConfig, day: str) -> list[dict[str, Any]]:
    """Arrivals (by issue time) and waits (of tickets first called in the bin) per half hour of the local day,
    from opening to closing, widened to cover any ticket outside the opening hours."""
    tickets = list(tickets)
    midnight = datetime.strptime(day, "%Y%m%d").replace(tzinfo=hall.zone)
    first = min(s.start for s in hall.hours)
    last = max(s.end for s in hall.hours)
    start = midnight.replace(hour=first.hour, minute=first.minute)
    end = midnight.replace(hour=last.hour, minute=last.minute)
    for t in tickets:
        for at in (t.issued_at, t.first_called_at):
            if at is not None:
                local = at.astimezone(hall.zone)
                start, end = min(start, _bin_start(local)), max(end, _bin_start(local) + BIN)
    start = _bin_start(start)
    bins: list[dict[str, Any]] = []
    arrivals: dict[datetime, int] = {}
    waits: dict[datetime, list[float]] = {}
    for t in tickets:
        issued = _bin_start(t.issued_at.astimezone(hall.zone))
        arrivals[issued] = arrivals.get(issued, 0) + 1
        called = t.first_called_at
        if called is not None and t.wait_s is not None:
            waits.setdefault(_bin_start(called.astimezone(hall.zone)), []).append(t.wait_s)
    at = start
    while at < end:
        w = waits.get(at, [])
        bins.append({"start": at.strftime("%H:%M"), "arrivals": arrivals.get(at, 0), "called": len(w),
                     "avg_wait_s": mean(w), "max_wait_s": round(max(w)) if w else None})
        at += BIN
    return bins


def figures(tickets: Sequence[TicketFact]) -> dict[str, Any]:
    """The reports' counts (``floor.reports.rules.counts``) and what the dashboard and console add to them."""
    outcomes: dict[str, int] = {}
    for t in tickets:
        if t.outcome:
            outcomes[t.outcome] = outcomes.get(t.outcome, 0) + 1
    return {
        **counts(tickets),
        "waiting": sum(t.status == "waiting" for t in tickets),
        "green": sum(t.priority == "green" for t in tickets),
        "vip": sum(t.priority == "vip" for t in tickets),
        "outcomes": outcomes,
    }


def summarize(tickets: Sequence[TicketFact], hall: HallConfig, day: str) -> dict[str, Any]:
    """Everything the dashboard charts: totals, half hours, each service (the one a ticket was issued for, as in
    the reports) and each window (the one it was last called to)."""
    services = [{"code": s.code, "name": s.name_zh, "name_en": s.name_en,
                 **figures([t for t in tickets if t.service == s.code])} for s in hall.services]
    windows = [{"id": w.id, "name": w.name, **figures([t for t in tickets if t.window == w.id])}
               for w in hall.windows]
    return {"day": day, "totals": figures(tickets), "half_hours": half_hours(tickets, hall, day),
            "services": services, "windows": windows}
