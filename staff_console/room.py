"""The window console as the server serves it: its page, assets, a window's API and its per-window feed."""

from __future__ import annotations

from pathlib import Path

from floor.http.room import Room
from staff_console import api, feed

HERE = Path(__file__).resolve().parent

ROOM = Room(
    name="console",
    endpoints=api.ENDPOINTS,
    pages={"console": HERE / "pages" / "console.html"},
    assets=HERE / "assets",
    channels={"console": feed.CHANNEL},
)
