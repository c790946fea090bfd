"""The app measured: each HTTP request's time by route template, and the websockets open by what they feed.

A subclass of ``HallApp`` rather than a Starlette middleware: the API's endpoints are answered on HallApp's fast
path, which no middleware sees. Per request: two clock reads, a wrapped ``send`` that notes the status, a dict
lookup and one histogram observe. Per websocket: one gauge up and down over its life; its frames are not touched
(``floor.realtime.frames`` writes past the ASGI send, and a wrapped send would hide the server's from it).

The fast path leaves no route in the scope, so the endpoints' routes are rebuilt here to say which took the
request (``scope["route"]``, as Starlette's router does for its own routes).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

from prometheus_client.metrics import Histogram
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from floor.http.hall_app import HallApp
from floor.metrics.families import REQUEST_SECONDS, WEBSOCKETS
from floor.metrics.labels import method_label, route_template, socket_kind, status_class


class MeteredApp(HallApp):
    def __init__(self, *, channels: Collection[str], endpoints: list[Route], **kwargs: Any) -> None:
        super().__init__(endpoints=[_naming_itself(route) for route in endpoints], **kwargs)
        self.channels = frozenset(channels)
        for kind in (*sorted(self.channels), "region"):  # at 0 before the first socket of their kind
            WEBSOCKETS.labels(kind)
        self.timers: dict[tuple[int, str, int], Histogram] = {}  # (route, method, status) -> its histogram child

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._timed(scope, receive, send)
        elif scope["type"] == "websocket":
            gauge = WEBSOCKETS.labels(socket_kind(get_route_path(scope), self.channels))
            gauge.inc()
            try:
                await super().__call__(scope, receive, send)
            finally:
                gauge.dec()
        else:
            await super().__call__(scope, receive, send)

    async def _timed(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 0

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await super().__call__(scope, receive, noting_status)
        finally:
            took = time.perf_counter() - started
            route = scope.get("route")  # a route lives as long as the app: its id stands for it (it is unhashable)
            key = (id(route), method_label(scope["method"]), status)  # each part bounded
            timer = self.timers.get(key)
            if timer is None:  # the first of its kind: labels() takes a lock and builds the label tuple
                timer = self.timers[key] = REQUEST_SECONDS.labels(route_template(route), key[1], status_class(status))
            timer.observe(took)


def _naming_itself(route: Route) -> Route:
    """The route, whose endpoint first puts the route in the scope (the fast path calls the endpoint directly)."""
    endpoint = route.endpoint
    methods = sorted(route.methods - {"HEAD"}) if route.methods else None

    async def named(request: Request) -> Response:
        request.scope["route"] = itself
        response: Response = await endpoint(request)
        return response

    itself = Route(route.path, named, methods=methods, name=route.name, include_in_schema=route.include_in_schema)
    return itself
