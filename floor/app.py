"""The hall server: ``create_app(settings)`` composes every room's routes around one runtime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy import Engine as SqlEngine
from starlette._utils import get_route_path
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from queue_engine.config import HallConfig, load_hall
from queue_engine.engine import Engine

from . import heap
from .clock import FileClock
from .db import make_sql_engine, migrate, sync_config
from .frames import SERVER_SEND
from .hub import Hub
from .openapi import document
from .rebuild import bring_back
from .runtime import HallRuntime, Runtime
from .settings import Settings
from .shapes import PathShapes, plain
from .timings import Timings
from .web import ENDPOINTS, JSONResponse, as_route, error_response, language

log = logging.getLogger("hallq")
VERSION = "1.0.0"


ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


class HallApp(Starlette):
    """Starlette, with the API's endpoints found by the shape of their path (``floor.shapes``) and called
    directly: no regex per route, and none of the middleware layers each request and each send of its answer
    would pass through. Those layers add nothing here: an endpoint's handler answers every refusal itself
    (``floor.web.as_route``), and an unexpected error gets the same 500 and log as from Starlette. Every other
    request (pages, websockets, a method an address does not take) goes through Starlette as before."""

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
                scope[SERVER_SEND] = send  # for floor.frames: Starlette hands its routes a wrapped send
            return await super().__call__(scope, receive, send)
        route, scope["path_params"] = found
        scope["app"] = self
        started = time.perf_counter()
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request)
        except Exception as exc:  # as Starlette's ServerErrorMiddleware: answer 500, then let the server log it
            await (await self.on_error(request, exc))(scope, receive, send)
            raise
        await response(scope, receive, send)
        if self.timings is not None:
            took = time.perf_counter() - started
            self.timings.add(route.name, time.time() - took, took * 1000)


def _rooms() -> list[Any]:
    """Import every module that declares endpoints, so they register themselves."""
    import displays.feed
    import floor.api.appointments
    import floor.api.audit
    import floor.api.cases
    import floor.api.catalog
    import floor.api.hall
    import floor.api.ratings
    import floor.api.reports
    import floor.api.stats
    import floor.api.tickets
    import floor.api.webhooks
    import staff_console.api

    return [floor.api.tickets, floor.api.hall, floor.api.stats, floor.api.audit, staff_console.api, displays.feed]


class RedactTokens(logging.Filter):
    """Websocket URLs carry ?token=…; uvicorn logs those URLs, and a log must never hold a credential."""

    _TOKEN = re.compile(r"(token=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        record.msg = self._TOKEN.sub(r"\1<redacted>", str(record.msg))
        return True


def quiet_tokens() -> None:
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "hallq"):
        logging.getLogger(name).addFilter(RedactTokens())


def load_halls(settings: Settings) -> dict[str, HallConfig]:
    halls: dict[str, HallConfig] = {}
    for path in settings.halls:
        hall = load_hall(path)
        if hall.id in halls:
            raise ValueError(f"hall {hall.id!r} is configured twice ({path})")
        halls[hall.id] = hall
    return halls


async def prepare_hall(engine: Engine, sql: SqlEngine) -> None:
    """Before the first request: the hall's configuration is in SQL, and Redis holds its live day,
    rebuilt from the SQL record if Redis lost it (a restart without persistence)."""
    await asyncio.to_thread(sync_config, sql, engine.hall)
    await bring_back(engine, sql)


def create_app(settings: Settings) -> Starlette:
    from displays.feed import ROUTES as FEED_ROUTES
    from displays.feed import render

    from .pages import ROUTES as PAGE_ROUTES
    from .phone import ROUTES as PHONE_ROUTES

    _rooms()
    quiet_tokens()
    halls = load_halls(settings)
    timings = Timings(settings.timings_file) if settings.timings_file else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = BlockingConnectionPool.from_url(settings.redis_url, max_connections=256, timeout=5)
        redis = Redis(connection_pool=pool)
        hub_redis = Redis.from_url(settings.redis_url)
        clock = FileClock(settings.clock_file) if settings.clock_file else time.time
        engines = {h: Engine(redis, cfg, prefix=settings.key_prefix, clock=clock) for h, cfg in halls.items()}
        hub = Hub(hub_redis, {h: e.keys.events for h, e in engines.items()},
                  lambda hall, eid, payload: render(halls[hall], eid, payload), heartbeat_s=settings.heartbeat_s)
        sql = make_sql_engine(settings.database_url)
        await asyncio.to_thread(migrate, sql)  # a no-op when `hallq serve` has migrated already
        runtime = Runtime(settings, redis, {h: HallRuntime(halls[h], e) for h, e in engines.items()}, hub, sql)
        for engine in engines.values():
            await prepare_hall(engine, sql)
        runtime.tasks.append(asyncio.create_task(hub.run(), name="hub"))
        app.state.runtime = runtime
        if timings is not None:
            runtime.tasks.append(asyncio.create_task(timings.watch_loop(), name="loop-lag"))
        heap.settle()
        try:
            yield
        finally:
            for task in runtime.tasks:
                task.cancel()
            await asyncio.gather(*runtime.tasks, return_exceptions=True)
            await hub_redis.aclose()
            await redis.aclose()
            await pool.disconnect()
            sql.dispose()
            if timings is not None:
                timings.write()

    spec = document(VERSION)

    async def openapi(_: Request) -> Response:
        return JSONResponse(spec)

    async def docs(_: Request) -> Response:
        from .docs_page import render_docs

        return HTMLResponse(render_docs(spec))

    async def health(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        await runtime.redis.ping()
        return JSONResponse({"ok": True, "halls": sorted(runtime.halls)})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        zh = language(request) == "zh"
        if exc.status_code == 404:
            return error_response(404, "not_found", "没有这个地址。" if zh else "There is nothing at this address.")
        if exc.status_code == 405:
            return error_response(405, "method_not_allowed", "该地址不支持此请求方法。" if zh else
                                  f"{request.method} is not allowed here.")
        return error_response(exc.status_code, "http_error", str(exc.detail))

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        zh = language(request) == "zh"
        return error_response(500, "internal_error", "服务器内部错误，已记录，请稍后重试。" if zh else
                              "Something went wrong on our side; it has been logged. Please try again.")

    routes: list[Any] = PHONE_ROUTES + FEED_ROUTES + PAGE_ROUTES + [
        Route("/api/v1/openapi.json", openapi),
        Route("/api/v1/docs", docs),
        Route("/healthz", health),
    ]
    return HallApp(endpoints=[as_route(ep) for ep in ENDPOINTS], on_error=server_error, timings=timings, routes=routes,
                   lifespan=lifespan, exception_handlers={HTTPException: http_error, Exception: server_error})


def app_from_env() -> Starlette:
    """The factory uvicorn workers call: each worker reads the same HALLQ_* environment."""
    return create_app(Settings.from_env())
