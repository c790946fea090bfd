"""The audit trail's API."""

from __future__ import annotations

from floor.audit import api
from floor.http.room import Room

ROOM = Room(
    name="audit",
    endpoints=api.ENDPOINTS,
)
