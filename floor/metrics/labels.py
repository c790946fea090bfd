"""Label values, pure: every one is bounded by the code or the configuration, never by what a client sends.

A ticket id, a raw path or a username as a label would make a new series per citizen: Prometheus keeps every
series it has seen, so one label of that kind is enough to exhaust it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from starlette.routing import Mount

UNMATCHED = "unmatched"  # the route of a request no route took (a 404 for an address that does not exist)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
NO_LEVEL = "none"  # a hall outside any network says no level
OTHER = "other"
HALL_WS = "/api/v1/halls/"
REGION_WS = "/api/v1/regions/"


def status_class(status: int) -> str:
    """``2xx``..``5xx``; no answer at all (the app raised before it started one) is the server's fault."""
    return f"{status // 100}xx" if 100 <= status <= 599 else "5xx"


def method_label(method: str) -> str:
    return method if method in METHODS else OTHER


def route_template(route: Any) -> str:
    """The template of the route that took a request (Starlette puts it in the scope as ``route``), never the path
    the client sent; a mount (static files) is its prefix and ``{path}``."""
    if route is None:
        return UNMATCHED
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    return f"{path}/{{path}}" if isinstance(route, Mount) else path


def socket_kind(path: str, channels: Collection[str]) -> str:
    """What a websocket feeds, from its path: a hall's channel (display, console, dashboard, pad), the citizen's
    phone (``/ws/ticket/{ticket}``), a region's overview; anything else (a channel that does not exist) is other."""
    if path.startswith(HALL_WS):
        parts = path[len(HALL_WS):].split("/")  # hall, "ws", channel[, ticket]
        if len(parts) == 4 and parts[1] == "ws" and parts[2] == "ticket" and parts[3]:
            return "phone"
        if len(parts) == 3 and parts[1] == "ws" and parts[2] in channels:
            return parts[2]
    elif path.startswith(REGION_WS):
        parts = path[len(REGION_WS):].split("/")
        if len(parts) == 3 and parts[1] == "ws" and parts[2] == "overview":
            return "region"
    return OTHER


def level_label(level: str | None) -> str:
    """A hall's level in its network (county centre, town centre, village station...), bounded by the config."""
    return level or NO_LEVEL
