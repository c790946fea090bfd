"""Appointments: the booking API and the booking page."""

from __future__ import annotations

from pathlib import Path

from floor.appointments import api
from floor.http.room import Room

HERE = Path(__file__).resolve().parent
PAGES = HERE / "pages"

ROOM = Room(
    name="appointments",
    endpoints=api.ENDPOINTS,
    pages={"book": PAGES / "book.html"},
    assets=HERE / "assets",
)
