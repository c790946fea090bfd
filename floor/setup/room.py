"""The hall set up live: its API and the admin page."""

from __future__ import annotations

from pathlib import Path

from floor.http.room import Room
from floor.setup import api

HERE = Path(__file__).resolve().parent

ROOM = Room(
    name="setup",
    endpoints=list(api.ENDPOINTS),
    pages={"setup": HERE / "pages" / "setup.html"},
    assets=HERE / "assets",
)
