"""What a window's console gets of each event: all of its own window's tickets, and of the rest of the hall only
what the lobby screens show (another window's ticket ids, holders and reasons are not this window's business)."""

from __future__ import annotations

from typing import Any

from floor.http.feed import Channel, pick
from queue_engine.config import HallConfig

HALL = ("number", "service", "window", "recalls", "day", "services", "primary", "version")
OWN = (*HALL, "ticket", "holder", "item", "reason", "outcome", "handling_ms", "tier", "priority", "from_service",
       "from_window", "to_window", "score", "bad", "late")  # never the comment: a 差评's text goes to the supervisor


def project(_: HallConfig, payload: dict[str, Any], window: str | None) -> dict[str, Any] | None:
    ours = window is not None and window in (str(payload.get("window")), str(payload.get("from_window")),
                                             str(payload.get("to_window")))
    if payload["type"] == "ticket.rated" and not ours:
        return None
    return pick(payload, OWN if ours else HALL)


CHANNEL = Channel(roles=("staff", "manager"), project=project, per_window=True)
