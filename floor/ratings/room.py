"""Ratings and 差评 cases: their API, the rating pad beside a window, the cases page."""

from __future__ import annotations

from pathlib import Path

from floor.http.room import Room
from floor.ratings import api, cases_api, pad_feed

HERE = Path(__file__).resolve().parent
PAGES = HERE / "pages"

ROOM = Room(
    name="ratings",
    endpoints=[*api.ENDPOINTS, *cases_api.ENDPOINTS],
    pages={"rate": PAGES / "rate.html", "cases": PAGES / "cases.html"},
    assets=HERE / "assets",
    channels={"pad": pad_feed.CHANNEL},
)
