"""Notifications: the webhook deliveries' API (the senders run in the archive process)."""

from __future__ import annotations

from floor.http.room import Room
from floor.notify import api

ROOM = Room(
    name="notify",
    endpoints=api.ENDPOINTS,
)
