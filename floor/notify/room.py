"""Notifications: the webhook deliveries' API and their page (the senders run in the archive process)."""

from __future__ import annotations

from pathlib import Path

from floor.http.room import Room
from floor.notify import api

HERE = Path(__file__).resolve().parent

ROOM = Room(
    name="notify",
    endpoints=api.ENDPOINTS,
    pages={"webhooks": HERE / "pages" / "webhooks.html"},
    assets=HERE / "assets",
)
