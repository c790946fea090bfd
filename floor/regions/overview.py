"""区域总览, pure: one line per hall of a region, from the hall's live snapshot and its open 差评 cases.

A region manager answers for hundreds of halls and looks for the few that need them now. Each line says how
many wait and for how long, how many windows are open of those the hall has, and why it needs a look:

- ``wait_over_target``: some service's longest wait is past its target wait (the services named in
  ``over_target``);
- ``nobody_serving``: citizens wait and no window is open to serve them (a station whose one clerk left);
- ``bad_rating_open``: a 差评 case not closed yet; ``case_overdue``: a callback or fix past its deadline.

``longest_since_ms`` (when the longest-waiting citizen took their ticket) lets a page count the wait on by itself
between updates, so a quiet hall's line need not be sent again each second for its wait to stay true.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from floor.network.rules import Network
from queue_engine.config import HallConfig

Json = dict[str, Any]
ALERTS = ("wait_over_target", "nobody_serving", "bad_rating_open", "case_overdue")
OPEN_STATES = ("idle", "calling", "serving")  # a window at work; paused and closed serve nobody


@dataclass(frozen=True, slots=True)
class CaseCounts:
    """A hall's 差评 cases at this moment: not closed yet, and of those past a deadline."""

    open: int = 0
    overdue: int = 0


def hall_line(hall: HallConfig, snapshot: Json, cases: CaseCounts, now_ms: int, network: Network | None) -> Json:
    """The hall's line of the overview, from ``Engine.snapshot()`` and its cases (plain JSON, sent as is)."""
    lines = snapshot["services"]
    waiting = sum(int(s["waiting"]) for s in lines)
    longest = max((int(s["longest_wait_s"]) for s in lines if s["waiting"]), default=0)
    targets = {s.code: s.target_wait_s for s in hall.services}
    over = [s["code"] for s in lines if s["waiting"] and int(s["longest_wait_s"]) > targets.get(s["code"], 1 << 30)]
    states = [w["state"] for w in snapshot["windows"]]
    open_ = sum(1 for state in states if state in OPEN_STATES)
    alerts = [name for name, on in (("wait_over_target", bool(over)), ("nobody_serving", waiting > 0 and not open_),
                                    ("bad_rating_open", cases.open > 0), ("case_overdue", cases.overdue > 0)) if on]
    region = network.region(hall.region) if network is not None and hall.region else None
    return {"hall": hall.id, "name": hall.name, "level": hall.level, "region": hall.region,
            "region_name": region.name if region else None, "waiting": waiting, "longest_wait_s": longest,
            "longest_since_ms": now_ms - longest * 1000 if waiting else None, "windows_open": open_,
            "windows_paused": states.count("paused"), "windows_planned": len(hall.windows), "over_target": over,
            "bad_open": cases.open, "overdue": cases.overdue, "alerts": alerts}


def same_line(a: Json | None, b: Json) -> bool:
    """Whether a page showing ``a`` already shows ``b``: the wait counting on by itself is no change."""
    if a is None:
        return False
    return all(a[k] == b[k] for k in b if k not in ("longest_wait_s", "longest_since_ms")) and (
        a["longest_since_ms"] is None) == (b["longest_since_ms"] is None) and abs(
        (a["longest_since_ms"] or 0) - (b["longest_since_ms"] or 0)) < 2000


def totals(lines: list[Json]) -> Json:
    """The region's figures over its halls: what the page's header shows."""
    return {"halls": len(lines), "waiting": sum(line["waiting"] for line in lines),
            "windows_open": sum(line["windows_open"] for line in lines),
            "windows_planned": sum(line["windows_planned"] for line in lines),
            "halls_alerting": sum(1 for line in lines if line["alerts"]),
            "longest_wait_s": max((line["longest_wait_s"] for line in lines), default=0)}
