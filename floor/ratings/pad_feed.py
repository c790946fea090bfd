"""What a window's rating pad (评价器) gets of each event: its own window's finished tickets, to ask about, and
their ratings, to stop asking. Nothing else of the hall."""

from __future__ import annotations

from typing import Any

from floor.http.feed import Channel, pick
from queue_engine.config import HallConfig


def project(_: HallConfig, payload: dict[str, Any], window: str | None) -> dict[str, Any] | None:
    if window is None or str(payload.get("window")) != window:
        return None
    if payload["type"] == "ticket.finished" and payload.get("reason") != "end_of_day":
        return pick(payload, ("ticket", "number", "service", "window"))
    if payload["type"] == "ticket.rated":
        return pick(payload, ("ticket", "window", "score"))
    return None


CHANNEL = Channel(roles=("pad",), project=project, per_window=True)
