"""What one room adds to the server, declared where the room lives and composed by the app factory.

A room is a hall service (tickets, ratings, reports...) or a face (the lobby display, the window console): its
API endpoints, its other routes (websockets, pages outside ``/halls/{hall}/``), its pages by name, its assets
and the live channels it offers. ``floor.app`` lists every room it serves; nothing registers itself on import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from starlette.routing import BaseRoute

from floor.http.feed import Channel
from floor.http.kit import Endpoint


@dataclass(frozen=True)
class Room:
    name: str  # also where its assets are served: /assets/{name}/
    endpoints: Sequence[Endpoint] = ()
    routes: Sequence[BaseRoute] = ()
    pages: Mapping[str, Path] = field(default_factory=dict)  # /halls/{hall}/{page name} -> its HTML
    region_pages: Mapping[str, Path] = field(default_factory=dict)  # /regions/{region}/{page name} -> its HTML
    assets: Path | None = None
    channels: Mapping[str, Channel] = field(default_factory=dict)  # /api/v1/halls/{hall}/ws/{channel}
