"""The two floors a load run is compared with: what the framework alone and a bare broadcast can do.

(a) ``json``: a Starlette app with one endpoint, ``GET /json`` -> ``{"ok": true}``, served by uvicorn with
    the options ``hallq serve`` uses (same worker count, same core pinning by the runner). Whatever latency
    hallq's endpoints show above it is hallq's own work.
(b) ``broadcast``: a raw ``websockets`` (asyncio) server. Screens connect to ``/ws/<group>``; a trigger
    ``GET /trigger?g=<group>&id=<id>&call=<0|1>`` sends one message shaped and sized like hallq's
    ``ticket.called`` event to every socket of that group, then answers. The Locust side records the time
    it reads that answer and each screen reports receipt minus that time: exactly how call-to-screen is
    measured against hallq's call-next response. A group stands for a hall, so each screen receives the
    same share of the traffic as a display of one hall would.

    With ``--workers N`` the broadcaster runs N processes on ports P..P+N-1 and the Locust side spreads
    the screens over them and triggers each port: the same split of sockets over processes as hallq's
    workers, without a message bus between them (hallq's workers each read Redis themselves).

Run: ``.venv/bin/python -m loadtest.floors json --port 8100 --workers 1`` or ``... broadcast --port 8200``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http
import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from urllib.parse import parse_qs, urlsplit

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.http11 import Request as WsRequest
from websockets.http11 import Response as WsResponse

# The Chinese fields make the frame as long as hallq's own call message (about 265 bytes of UTF-8).
_FILLER = {
    "number": "A001", "service": "SOC", "by": "staff:1@232061283a83", "at": "2026-11-23T20:37:20.676+08:00",
    "window": "1", "window_name": "1号窗口", "announcement": "请A001号到1号窗口",
}


# -- (a) the framework's limit ---------------------------------------------------------------
async def json_endpoint(_: Request) -> Response:
    return JSONResponse({"ok": True})


def json_app() -> Starlette:
    return Starlette(routes=[Route("/json", json_endpoint)])


def serve_json(host: str, port: int, workers: int) -> None:
    import uvicorn

    # The same uvicorn options as `hallq serve` (floor/cli.py), so the two differ only in the app.
    uvicorn.run("loadtest.floors:json_app", factory=True, host=host, port=port, workers=workers,
                ws_max_size=64 * 1024, ws_per_message_deflate=False, log_level="info", access_log=False)


# -- (b) the broadcast floor -----------------------------------------------------------------
def message(event_id: str, call: bool) -> str:
    # Non-call triggers stand for hallq's other events (issued, serving, finished): same size, other type.
    kind = "ticket.called" if call else "ticket.serving"
    return orjson.dumps({**_FILLER, "type": kind, "ticket": event_id, "event_id": event_id}).decode()


class Broadcaster:
    def __init__(self) -> None:
        self.groups: dict[str, set[ServerConnection]] = defaultdict(set)
        self.sent = 0

    async def handler(self, conn: ServerConnection) -> None:
        group = (conn.request.path if conn.request else "/ws/0").rsplit("/", 1)[-1]
        members = self.groups[group]
        members.add(conn)
        try:
            async for _ in conn:  # screens send nothing that matters; reading notices a close at once
                pass
        finally:
            members.discard(conn)

    def process_request(self, conn: ServerConnection, request: WsRequest) -> WsResponse | None:
        url = urlsplit(request.path)
        if url.path.startswith("/ws/"):
            return None  # a screen: go on with the websocket handshake
        if url.path == "/healthz":
            return conn.respond(http.HTTPStatus.OK, "ok\n")
        if url.path != "/trigger":
            return conn.respond(http.HTTPStatus.NOT_FOUND, "no such path\n")
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        members = self.groups.get(query.get("g", "0"), set())
        text = message(query.get("id", "0"), query.get("call") == "1")
        # Answer first, then send: hallq answers call-next and its hub sends the event to the screens after,
        # so the floor is the fan-out alone, measured from the same moment. process_request runs inside the
        # handshake's task step, which writes this answer; call_soon runs the broadcast right after that step.
        asyncio.get_running_loop().call_soon(self._send, members, text)
        return conn.respond(http.HTTPStatus.OK, f"{len(members)}\n")

    def _send(self, members: set[ServerConnection], text: str) -> None:
        broadcast(members, text)
        self.sent += len(members)


async def run_broadcaster(host: str, port: int) -> None:
    hub = Broadcaster()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    # Heartbeats off and no compression: a bare broadcast, nothing hallq's screens do not also skip.
    async with serve(hub.handler, host, port, process_request=hub.process_request, ping_interval=None,
                     compression=None, max_size=64 * 1024, backlog=4096):
        await stop.wait()


def serve_broadcast(host: str, port: int, workers: int) -> None:
    if workers <= 1:
        asyncio.run(run_broadcaster(host, port))
        return
    # One process per port; a signal to this parent stops them all.
    children = [subprocess.Popen([sys.executable, "-m", "loadtest.floors", "broadcast", "--host", host,
                                  "--port", str(port + i), "--workers", "1"]) for i in range(workers)]

    def stop(*_: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        child.wait()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtest.floors", description=__doc__.split("\n\n")[0])
    p.add_argument("kind", choices=("json", "broadcast"))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args(argv)
    if args.kind == "json":
        serve_json(args.host, args.port, args.workers)
    else:
        serve_broadcast(args.host, args.port, args.workers)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
