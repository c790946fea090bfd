"""Appointments: the booking API, the booking page, and the managers' bookings page."""

from __future__ import annotations

from pathlib import Path

from floor.appointments import api
from floor.http.room import Room

HERE = Path(__file__).resolve().parent
PAGES = HERE / "pages"

ROOM = Room(
    name="appointments",
    endpoints=api.ENDPOINTS,
    pages={"book": PAGES / "book.html", "bookings": PAGES / "bookings.html"},
    assets=HERE / "assets",
)
