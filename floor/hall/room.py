"""The hall as a whole: snapshot, configuration, queues, the manager's dashboard and its live channel, and the
windows' skills page."""

from __future__ import annotations

from pathlib import Path

from floor.hall import api
from floor.http.feed import Channel, all_but_private
from floor.http.room import Room

HERE = Path(__file__).resolve().parent
PAGES = HERE / "pages"

ROOM = Room(
    name="hall",
    endpoints=api.ENDPOINTS,
    pages={"dashboard": PAGES / "dashboard.html", "windows": PAGES / "windows.html"},
    assets=HERE / "assets",
    channels={"dashboard": Channel(roles=("manager",), project=all_but_private)},  # managers see all
)
