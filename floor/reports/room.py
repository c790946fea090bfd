"""Reports: figures over days, today's figures, the reports page and the dashboard's report panel."""

from __future__ import annotations

from pathlib import Path

from floor.http.room import Room
from floor.reports import api, today_api

HERE = Path(__file__).resolve().parent
PAGES = HERE / "pages"

ROOM = Room(
    name="reports",
    endpoints=[*api.ENDPOINTS, *today_api.ENDPOINTS],
    pages={"reports": PAGES / "reports.html"},
    assets=HERE / "assets",
)
