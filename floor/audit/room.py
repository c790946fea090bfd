"""The audit trail's API and its page."""

from __future__ import annotations

from pathlib import Path

from floor.audit import api
from floor.http.room import Room

HERE = Path(__file__).resolve().parent

ROOM = Room(
    name="audit",
    endpoints=api.ENDPOINTS,
    pages={"audit": HERE / "pages" / "audit.html"},
    assets=HERE / "assets",
)
