"""Each request is timed under its route's template, on HallApp's fast path and Starlette's alike; websockets are
counted while open, by what they feed."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from floor.metrics.families import OWN
from floor.metrics.requests import MeteredApp

TICKET = "20261123-9f3a0c1d2e4b"
DURATION = "hallq_http_request_duration_seconds_count"


async def ticket(request: Request) -> Response:
    return JSONResponse({"id": request.path_params["ticket"]})


async def broken(_: Request) -> Response:
    raise RuntimeError("a bug")


async def page(_: Request) -> Response:
    return PlainTextResponse("a page")


async def feed(ws: WebSocket) -> None:
    await ws.accept()
    await ws.receive_text()
    await ws.send_text("bye")


async def on_error(_: Request, __: Exception) -> Response:
    return PlainTextResponse("sorry", status_code=500)


def app() -> MeteredApp:
    return MeteredApp(channels=("display", "console"), on_error=on_error, endpoints=[
        Route("/api/v1/halls/{hall}/tickets/{ticket}", ticket, methods=["GET"]),
        Route("/api/v1/halls/{hall}/broken", broken, methods=["POST"]),
    ], routes=[Route("/halls/{hall}/{page}", page), WebSocketRoute("/api/v1/halls/{hall}/ws/{channel}", feed)])


def count(route: str, method: str, status: str) -> float:
    return OWN.get_sample_value(DURATION, {"route": route, "method": method, "status": status}) or 0.0


async def test_requests_are_timed_by_template_on_both_paths() -> None:
    template = "/api/v1/halls/{hall}/tickets/{ticket}"
    before = {key: count(*key) for key in [(template, "GET", "2xx"), (template, "HEAD", "2xx"),
                                           ("/halls/{hall}/{page}", "GET", "2xx"), ("unmatched", "GET", "4xx"),
                                           ("/api/v1/halls/{hall}/broken", "POST", "5xx")]}
    transport = httpx.ASGITransport(app=app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://hall") as client:
        for _ in range(3):
            assert (await client.get(f"/api/v1/halls/demo/tickets/{TICKET}")).json() == {"id": TICKET}  # fast path
        assert (await client.head(f"/api/v1/halls/demo/tickets/{TICKET}")).status_code == 200  # Starlette's
        assert (await client.get("/halls/demo/display")).status_code == 200
        assert (await client.get(f"/no/such/{TICKET}")).status_code == 404
        assert (await client.post("/api/v1/halls/demo/broken")).status_code == 500
    after = {key: count(*key) for key in before}
    assert {key: after[key] - before[key] for key in before} == {
        (template, "GET", "2xx"): 3, (template, "HEAD", "2xx"): 1, ("/halls/{hall}/{page}", "GET", "2xx"): 1,
        ("unmatched", "GET", "4xx"): 1, ("/api/v1/halls/{hall}/broken", "POST", "5xx"): 1}
    labels = {value for family in OWN.collect() for sample in family.samples for value in sample.labels.values()}
    assert not any(TICKET in value or "/demo/" in value for value in labels)


def open_now(kind: str) -> float:
    return OWN.get_sample_value("hallq_websockets_open", {"kind": kind}) or 0.0


async def test_websockets_are_counted_while_open() -> None:
    served = app()
    assert open_now("region") == 0  # every kind is shown from the start
    base = open_now("display")
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[MutableMapping[str, Any]] = []
    accepted = asyncio.Event()

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)
        accepted.set()

    path = "/api/v1/halls/demo/ws/display"
    scope = {"type": "websocket", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
             "headers": [], "scheme": "ws", "server": ("hall", 80), "client": ("127.0.0.1", 5000),
             "subprotocols": [], "asgi": {"version": "3.0"}}
    await inbox.put({"type": "websocket.connect"})
    socket = asyncio.create_task(served(scope, inbox.get, send))
    await asyncio.wait_for(accepted.wait(), 5)
    assert sent[0]["type"] == "websocket.accept"
    assert open_now("display") == base + 1
    await inbox.put({"type": "websocket.receive", "text": "hello"})
    await asyncio.wait_for(socket, 5)
    assert open_now("display") == base
