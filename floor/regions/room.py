"""Regions: the region's endpoints, its live overview socket, and its pages (``/regions/{region}/{page}``)."""

from __future__ import annotations

from pathlib import Path

from floor.http.room import Room
from floor.regions import api, reports_api
from floor.regions.watch import overview_route

HERE = Path(__file__).resolve().parent
PAGES = HERE / "pages"


ROOM = Room(
    name="regions",
    endpoints=[*api.ENDPOINTS, *reports_api.ENDPOINTS],
    routes=[overview_route(lambda runtime: runtime.region_watch)],
    region_pages={"overview": PAGES / "overview.html"},
    assets=HERE / "assets",
)
