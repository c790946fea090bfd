"""Tickets: the guide desk, the kiosk, the notice of what to bring, a ticket's phone page and print."""

from __future__ import annotations

from pathlib import Path

from floor.http.room import Room
from floor.tickets import api, citizen_pages, nearby, phone_line

HERE = Path(__file__).resolve().parent
PAGES = HERE / "pages"

ROOM = Room(
    name="tickets",
    endpoints=[*api.ENDPOINTS, *nearby.ENDPOINTS],
    routes=[*phone_line.ROUTES, *citizen_pages.ROUTES],
    pages={"guide": PAGES / "guide.html", "kiosk": PAGES / "kiosk.html", "notice": PAGES / "notice.html"},
    assets=HERE / "assets",
    channels={phone_line.VIEW: phone_line.CHANNEL},
)
