"""The hall server's composition root: ``create_app(settings)`` serves every room of ``ROOMS`` around one runtime.

The only module of ``floor`` that imports the faces (``displays``, ``staff_console``): they plug in here, as the
hall services do, each through its ``Room``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import Engine as SqlEngine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from displays import room as display_room
from displays.announce import announcement
from floor import gc_tuning
from floor.accounts import revocations
from floor.accounts import room as accounts_room
from floor.appointments import room as appointments_room
from floor.audit import room as audit_room
from floor.catalog import room as catalog_room
from floor.clock import FileClock
from floor.hall import room as hall_room
from floor.hall_files import HallFile, read_hall_files, read_network
from floor.http.feed import feed_route, render_for
from floor.http.kit import (
    OUTAGES,
    Endpoint,
    JSONResponse,
    as_route,
    error_response,
    is_outage,
    language,
    outage_response,
)
from floor.http.openapi import document
from floor.http.pages import KIT_ASSETS, page_routes
from floor.http.probes import livez, readyz
from floor.http.room import Room
from floor.http.timings import Timings
from floor.metrics import room as metrics_room
from floor.metrics.requests import MeteredApp
from floor.metrics.store_errors import count_start_retry
from floor.metrics.worker import run_worker_metrics
from floor.notify import room as notify_room
from floor.notify.notifier import CallWords
from floor.ratings import room as ratings_room
from floor.realtime.hub import Hub
from floor.record.rebuild import bring_back
from floor.record.recovery import Recovery
from floor.redis_shards import durability, open_shards
from floor.regions import room as regions_room
from floor.regions.watch import RegionWatch
from floor.reports import room as reports_room
from floor.runtime import HallRuntime, Runtime
from floor.settings import Settings
from floor.setup import live as live_setup
from floor.setup import room as setup_room
from floor.sql.db import make_sql_engine, migrate, sync_config
from floor.tickets import room as tickets_room
from queue_engine.engine import Engine
from staff_console import room as console_room

log = logging.getLogger("hallq")
T = TypeVar("T")
HUB_LISTENING_S = 10.0  # how long a starting worker waits for its hub to be reading before it serves anyway
STOP_TIMEOUT_S = 5.0  # a cancelled task has this long to end before the worker stops without it
START_RETRY_CAP_S = 5.0  # a worker starting during an outage tries its stores again at least this often
VERSION = "1.0.0"


# Every room the server serves, in one list: the shared kit, the hall services, then the faces. Nothing
# registers itself; each room says what it brings in its own room.py.
ROOMS: tuple[Room, ...] = (
    Room("floor", assets=KIT_ASSETS),  # the shared kit: hallq.js, hallq.css, the favicon
    tickets_room.ROOM,
    hall_room.ROOM,
    catalog_room.ROOM,
    appointments_room.ROOM,
    ratings_room.ROOM,
    reports_room.ROOM,
    regions_room.ROOM,
    notify_room.ROOM,
    audit_room.ROOM,
    accounts_room.ROOM,
    setup_room.ROOM,
    display_room.ROOM,
    console_room.ROOM,
    metrics_room.ROOM,  # GET /metrics, for Prometheus (docs/monitoring.md)
)
ENDPOINTS: list[Endpoint] = [ep for room in ROOMS for ep in room.endpoints]
CALL_WORDS: CallWords = announcement  # the lobby's words for a call, which the SMS of a call repeats
CHANNELS = {name: channel for room in ROOMS for name, channel in room.channels.items()}


async def prepare_hall(engine: Engine, sql: SqlEngine, file: HallFile) -> None:
    """Before the first request: the hall runs on its newest set-up, its configuration is in SQL, Redis holds its
    live day (rebuilt from the SQL record if Redis lost it: a restart without persistence), and its file is
    imported if it is new."""
    await live_setup.settle(engine, sql)
    await asyncio.to_thread(sync_config, sql, engine.hall)
    await bring_back(engine, sql)
    await live_setup.import_file(engine, sql, file)


async def when_stores_answer(what: str, step: Callable[[], Awaitable[T]]) -> T:
    """Run a start-up step, waiting out a Redis or SQL outage rather than failing. A worker that uvicorn replaces
    during an outage must not fail its start: uvicorn takes a failed start for a broken app and stops the whole
    server, the workers still serving included."""
    pause_s = 0.25
    while True:
        try:
            return await step()
        except OUTAGES as exc:
            count_start_retry(exc)
            log.warning("could not %s yet (%s: %s); trying again in %.1f s", what, type(exc).__name__,
                        str(exc).splitlines()[0] if str(exc) else "", pause_s)
        await asyncio.sleep(pause_s)
        pause_s = min(pause_s * 2, START_RETRY_CAP_S)


async def stop_tasks(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel the worker's tasks, again and again until they end: a cancellation that arrives inside redis-py's
    timeout can be swallowed (Python 3.11's timeouts), and the loop would go on forever, holding uvicorn's shutdown
    and every deploy hostage. What still runs after ``STOP_TIMEOUT_S`` is logged with where it is stuck."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STOP_TIMEOUT_S
    pending = set(tasks)
    while pending and loop.time() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.2)
    for task in pending:
        where = io.StringIO()
        task.print_stack(file=where)
        log.error("task %s did not stop when cancelled: %s", task.get_name(), where.getvalue())


def create_app(settings: Settings) -> Starlette:
    files = read_hall_files(settings)
    halls = {hall: file.config for hall, file in files.items()}
    timings = Timings(settings.timings_file) if settings.timings_file else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        shards = open_shards(settings)
        # The hub's reads hold connections of their own (per node: its blocking read, or on a cluster its wake-ups'
        # listener and its reads), beside the backlog reads of sockets opening.
        hub_shards = open_shards(settings, max_connections=64)
        await when_stores_answer("read the Redis Cluster's map", shards.start)
        await when_stores_answer("read the Redis Cluster's map", hub_shards.start)
        clock = FileClock(settings.clock_file) if settings.clock_file else time.time
        engines = {h: Engine(shards, cfg, prefix=settings.key_prefix, clock=clock, durability=durability(settings))
                   for h, cfg in halls.items()}
        hub = Hub(hub_shards, {h: e.keys.events for h, e in engines.items()},
                  render_for(lambda hall: engines[hall].hall, CHANNELS), heartbeat_s=settings.heartbeat_s)
        sql = make_sql_engine(settings.database_url)
        # A no-op when `hallq serve` has migrated already.
        await when_stores_answer("migrate the database", lambda: asyncio.to_thread(migrate, sql))
        runtime = Runtime(settings, shards, {h: HallRuntime(e) for h, e in engines.items()}, hub, sql,
                          network=read_network(settings.network) if settings.network else None)
        Recovery(runtime, sql).watch()
        runtime.region_watch = watch = RegionWatch(runtime)

        def on_event(hall: str, event: dict[str, Any]) -> None:
            engines[hall].follow(event)  # a set-up changed in another worker
            watch.touch(hall)

        hub.on_event = on_event
        for hall, engine in engines.items():
            await when_stores_answer(f"prepare hall {hall}", functools.partial(prepare_hall, engine, sql, files[hall]))
        runtime.tasks.append(asyncio.create_task(hub.run(), name="hub"))
        runtime.tasks.append(asyncio.create_task(watch.run(), name="region-watch"))
        # Revoked credentials are known before the first request: a worker started after a sign-out refuses it.
        revoked_from = await when_stores_answer("read revoked credentials", lambda: revocations.prime(runtime))
        runtime.tasks.append(asyncio.create_task(revocations.watch(runtime, revoked_from), name="revocations"))
        runtime.tasks.append(asyncio.create_task(revocations.record_seen(runtime), name="keys-seen"))
        # A screen that opens must find the hub reading, or it would get events from before it came.
        with contextlib.suppress(TimeoutError):  # Redis away meanwhile: the hub reads once it is back
            await asyncio.wait_for(hub.listening.wait(), HUB_LISTENING_S)
        app.state.runtime = runtime
        runtime.tasks.append(asyncio.create_task(run_worker_metrics(), name="metrics"))
        if timings is not None:
            runtime.tasks.append(asyncio.create_task(timings.watch_loop(), name="loop-lag"))
        gc_tuning.settle()
        try:
            yield
        finally:
            await stop_tasks(runtime.tasks)
            await hub_shards.aclose()
            await shards.aclose()
            sql.dispose()
            if timings is not None:
                timings.write()

    spec = document(VERSION, ENDPOINTS)

    async def openapi(_: Request) -> Response:
        return JSONResponse(spec)

    async def docs(_: Request) -> Response:
        from floor.http.docs_page import render_docs

        return HTMLResponse(render_docs(spec))

    async def health(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        for redis in runtime.shards.clients():  # Redis down: the catch-all below answers 503, as a probe wants
            await redis.ping()
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

    async def outage(request: Request, exc: Exception) -> Response:
        return outage_response(request, exc)

    async def server_error(request: Request, exc: Exception) -> Response:
        if is_outage(exc):  # a store down is never a 500, on whichever route it surfaced
            return outage_response(request, exc)
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        zh = language(request) == "zh"
        return error_response(500, "internal_error", "服务器内部错误，已记录，请稍后重试。" if zh else
                              "Something went wrong on our side; it has been logged. Please try again.")

    pages = {name: path for room in ROOMS for name, path in room.pages.items()}
    region_pages = {name: path for room in ROOMS for name, path in room.region_pages.items()}
    assets = {room.name: room.assets for room in ROOMS if room.assets is not None}
    routes: list[Any] = [*(r for room in ROOMS for r in room.routes), feed_route(CHANNELS),
                         *page_routes(pages, assets, region_pages),
        Route("/api/v1/openapi.json", openapi),
        Route("/api/v1/docs", docs),
        Route("/healthz", health),
        Route("/livez", livez),  # for load balancers: the process answers (docs/deploy.md)
        Route("/readyz", readyz),  # and this worker can serve a hall now
    ]
    # HallApp, with each request timed and each websocket counted for /metrics (floor.metrics.requests).
    return MeteredApp(channels=CHANNELS, endpoints=[as_route(ep) for ep in ENDPOINTS], on_error=server_error,
                      timings=timings, routes=routes, lifespan=lifespan,
                      exception_handlers={HTTPException: http_error, **dict.fromkeys(OUTAGES, outage),
                                          Exception: server_error})


def app_from_env() -> Starlette:
    """The factory uvicorn workers call: each worker reads the same HALLQ_* environment."""
    return create_app(Settings.from_env())
