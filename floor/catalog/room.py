"""The catalog of services and sub-items: API only; its words show on the guide desk, kiosk and notice."""

from __future__ import annotations

from floor.catalog import api
from floor.http.room import Room

ROOM = Room(
    name="catalog",
    endpoints=api.ENDPOINTS,
)
