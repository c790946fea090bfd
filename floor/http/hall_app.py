"""The ASGI application: Starlette, with a fast path for the API's endpoints."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette._utils import get_route_path
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from floor.http.headers import secured, security_headers
from floor.http.kit import is_outage
from floor.http.router import PathShapes, plain
from floor.http.timings import Timings
from floor.realtime.frames import SERVER_SEND

ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


class HallApp(Starlette):
    """Starlette, with the API's endpoints found by the shape of their path (``floor.http.router``) and called
    directly: no regex per route, and none of the middleware layers each request and each send of its answer
    would pass through. Those layers add nothing here: an endpoint's handler answers every refusal itself
    (``floor.http.kit.as_route``), and an unexpected error gets the same 500 and log as from Starlette. Every other
    request (pages, websockets, a method an address does not take) goes through Starlette as before.

    Every HTTP answer gets the security headers of ``floor.http.headers`` here, on both paths: added to the
    endpoint's response object on the fast path (no wrapped send there), and by a wrapped ``send`` on Starlette's,
    which covers its routes, static files and error handlers alike."""

    def __init__(self, *, endpoints: list[Route], on_error: ErrorHandler, timings: Timings | None = None,
                 **kwargs: Any) -> None:
        super().__init__(routes=[*endpoints, *kwargs.pop("routes")], **kwargs)
        self.on_error = on_error
        self.timings = timings
        self.shapes: PathShapes[Route] = PathShapes()
        for route in endpoints:
            for method in route.methods or ():
                # Starlette's own answer to HEAD (the GET without its body) stays its own.
                if method != "HEAD" and plain(route.path):
                    self.shapes.add(method, route.path, route)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.shapes.find(scope["method"], get_route_path(scope)) if scope["type"] == "http" else None
        if found is None:
            if scope["type"] == "websocket":
                scope[SERVER_SEND] = send  # for floor.realtime.frames: Starlette hands its routes a wrapped send
            elif scope["type"] == "http":
                send = secured(scope, send)
            return await super().__call__(scope, receive, send)
        route, scope["path_params"] = found
        scope["app"] = self
        started = time.perf_counter()
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request)
        except Exception as exc:  # as Starlette's ServerErrorMiddleware: answer 500, then let the server log it
            await self._secure(scope, await self.on_error(request, exc))(scope, receive, send)
            if not is_outage(exc):  # a store down was answered 503 and logged; the connection stays usable
                raise
        await self._secure(scope, response)(scope, receive, send)
        if self.timings is not None:
            took = time.perf_counter() - started
            self.timings.add(route.name, time.time() - took, took * 1000)

    @staticmethod
    def _secure(scope: Scope, response: Response) -> Response:
        response.raw_headers.extend(security_headers(scope, response.status_code, response.raw_headers))
        return response
