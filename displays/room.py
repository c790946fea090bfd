"""The lobby display as the server serves it: its page, assets, feed channel, LED endpoint and voice reports."""

from __future__ import annotations

from pathlib import Path

from displays import feed, voice_api
from floor.http.room import Room

HERE = Path(__file__).resolve().parent

ROOM = Room(
    name="displays",
    endpoints=[*feed.ENDPOINTS, *voice_api.ENDPOINTS],
    pages={"display": HERE / "pages" / "display.html"},
    assets=HERE / "assets",
    channels={"display": feed.CHANNEL},
)
