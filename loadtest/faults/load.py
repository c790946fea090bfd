"""The load a fault is injected under: guides issuing, windows calling, lobby displays listening, all recorded.

Every request has a bounded timeout; what came back is recorded as the checks need it: each acknowledged ticket
(id, number, the furthest status a response confirmed), each acknowledged call (ticket, window), every 5xx, every
503 and its Retry-After, every request that hung past the timeout, every request the server never answered
(connection refused or reset: a worker died under it), and every ``ticket.called`` each display received.

Clients behave as the pages do: a guide retries an issue with the same Idempotency-Key until it is acknowledged,
a window that is unsure of its state after a failure reads it again, and a display that loses its socket
reconnects with ``since=<last event id>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from floor.http.auth import make_token
from queue_engine.config import HallConfig

REQUEST_TIMEOUT_S = 10.0  # past this a request counts as hung: a down Redis must give a 503 well before
RETRY_CAP_S = 1.0  # a client waits Retry-After, at most this: the load keeps probing for the recovery
STATUS_RANK = {"waiting": 0, "called": 1, "serving": 2, "done": 3}


@dataclass
class AckedTicket:
    id: str
    number: str
    service: str
    status: str  # the furthest status a response confirmed
    acked_at: float  # time.time() of the issue's acknowledgement


@dataclass
class DisplayLog:
    name: str
    called: dict[str, str] = field(default_factory=dict)  # event id -> number of each ticket.called received
    last_id: str = "0-0"
    connects: int = 0
    drops: int = 0
    last_event_at: float = 0.0  # time.monotonic() of the last event received


@dataclass
class LoadRecord:
    """What the clients saw. Times are time.time(), so they compare with stream ids and the fault's log."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)  # 5xx other than 503, with the endpoint and body
    unavailable: int = 0  # 503s
    unavailable_without_retry_after: list[str] = field(default_factory=list)
    retry_after: Counter[str] = field(default_factory=Counter)
    hangs: list[str] = field(default_factory=list)
    unanswered: Counter[str] = field(default_factory=Counter)  # transport errors, by exception type
    tickets: dict[str, AckedTicket] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (ticket, window) of each acknowledged call
    displays: list[DisplayLog] = field(default_factory=list)
    failures: list[float] = field(default_factory=list)  # when a request failed (5xx, 503, hang, unanswered)
    successes: list[float] = field(default_factory=list)  # when a request succeeded (any 2xx)
    latencies_s: list[float] = field(default_factory=list)

    def recovery_s(self, fault_at: float, next_fault_at: float = float("inf")) -> float | None:
        """From the fault to the first success after the last failure that followed it (before the next fault);
        None if nothing failed."""
        failed = [t for t in self.failures if fault_at <= t < next_fault_at]
        if not failed:
            return None
        back = [t for t in self.successes if t > failed[-1]]
        return (back[0] if back else float("inf")) - fault_at


@dataclass
class Hall:
    """The hall under load and how to reach it."""

    base_url: str
    secret: bytes
    config: HallConfig
    windows: tuple[str, ...]
    services: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.config.id

    def auth(self, role: str, window: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {make_token(self.secret, self.id, role, window)}"}

    def ws_url(self, since: str) -> str:
        token = make_token(self.secret, self.id, "display")
        return f"{self.base_url.replace('http', 'ws', 1)}/api/v1/halls/{self.id}/ws/display?token={token}&since={since}"


class Failed(Exception):
    """A request that got no usable answer; already recorded."""


class LoadGenerator:
    def __init__(self, hall: Hall, *, guides: int = 2, displays: int = 3, issue_every_s: float = 0.1,
                 serve_s: float = 0.05, seed: int = 1) -> None:
        self.hall = hall
        self.guides = guides
        self.issue_every_s = issue_every_s
        self.serve_s = serve_s
        self.random = random.Random(seed)
        self.record = LoadRecord(displays=[DisplayLog(f"display-{i}") for i in range(displays)])
        self._stop = asyncio.Event()  # the displays' stop; the guides and windows stop first, on _stop_http
        self._stop_http = asyncio.Event()
        self._sockets: dict[str, ClientConnection] = {}
        self._client = httpx.AsyncClient(base_url=hall.base_url, timeout=REQUEST_TIMEOUT_S, trust_env=False,
                                         limits=httpx.Limits(max_keepalive_connections=50))

    # -- one request -----------------------------------------------------------------------
    async def request(self, method: str, path: str, *, headers: dict[str, str], json: Any = None) -> Any:
        """The reply's JSON on 2xx; otherwise the failure is recorded and ``Failed`` (5xx, hang, no answer) or the
        reply (4xx, returned as an ``httpx.Response``) comes back for the caller to judge."""
        what = f"{method} {path}"
        rec = self.record
        rec.requests += 1
        started, sent_at = time.monotonic(), time.time()
        try:
            reply = await self._client.request(method, f"/api/v1/halls/{self.hall.id}{path}", headers=headers,
                                               json=json)
        except httpx.TimeoutException as exc:
            rec.hangs.append(f"{what} sent at {sent_at:.2f}: {type(exc).__name__}")
            rec.failures.append(time.time())
            raise Failed(what) from None
        except httpx.TransportError as exc:
            rec.unanswered[type(exc).__name__] += 1
            rec.failures.append(time.time())
            raise Failed(what) from None
        rec.statuses[reply.status_code] += 1
        if reply.status_code < 300:
            rec.successes.append(time.time())
            rec.latencies_s.append(time.monotonic() - started)
            return reply.json()
        if reply.status_code >= 500:
            rec.failures.append(time.time())
            if reply.status_code == 503:
                rec.unavailable += 1
                retry_after = reply.headers.get("retry-after")
                if retry_after is None:
                    rec.unavailable_without_retry_after.append(f"{what}: {reply.text[:200]}")
                    await asyncio.sleep(RETRY_CAP_S)
                else:
                    rec.retry_after[retry_after] += 1
                    await asyncio.sleep(min(float(retry_after), RETRY_CAP_S))
            else:
                rec.server_errors.append(f"{what}: {reply.status_code} {reply.text[:300]}")
                await asyncio.sleep(0.2)
            raise Failed(what)
        return reply

    # -- the clients ------------------------------------------------------------------------
    async def guide(self, n: int) -> None:
        headers = self.hall.auth("guide")
        while not self._stop_http.is_set():
            service = self.random.choice(self.hall.services)
            key = uuid.uuid4().hex
            while not self._stop_http.is_set():  # the same key until acknowledged, as the guide desk does
                try:
                    reply = await self.request("POST", "/tickets", headers={**headers, "Idempotency-Key": key},
                                               json={"service": service})
                except Failed:
                    continue
                if isinstance(reply, httpx.Response):
                    raise AssertionError(f"guide {n}: issue refused: {reply.status_code} {reply.text[:300]}")
                self._ack_ticket(reply)
                break
            await asyncio.sleep(self.issue_every_s)

    def _ack_ticket(self, t: dict[str, Any]) -> None:
        known = self.record.tickets.get(t["id"])
        if known is None:
            self.record.tickets[t["id"]] = AckedTicket(t["id"], t["number"], t["service"], t["status"], time.time())
        elif STATUS_RANK.get(t["status"], 9) > STATUS_RANK.get(known.status, 9):
            known.status = t["status"]

    async def window(self, window: str) -> None:
        headers = self.hall.auth("staff", window)
        state = await self._window_state(window, headers)
        while not self._stop_http.is_set():
            try:
                state = await self._step(window, headers, state)
            except Failed:
                state = await self._window_state(window, headers)  # the op may or may not have happened

    async def _open(self, window: str) -> None:
        """Open the window (a refusal means it is open already); its own task then reads its state."""
        with contextlib.suppress(Failed):
            await self.request("POST", f"/windows/{window}/open", headers=self.hall.auth("staff", window))

    async def _window_state(self, window: str, headers: dict[str, str]) -> str:
        while not self._stop_http.is_set():
            try:
                reply = await self.request("GET", f"/windows/{window}", headers=headers)
            except Failed:
                continue
            if isinstance(reply, httpx.Response):
                raise AssertionError(f"window {window}: {reply.status_code} {reply.text[:300]}")
            if reply["ticket"]:
                self._ack_ticket(reply["ticket"])
            state: str = reply["state"]
            return state
        return "stopped"

    async def _step(self, window: str, headers: dict[str, str], state: str) -> str:
        """One move of a window from ``state``; the state it is in after."""
        op = {"closed": "open", "idle": "call-next", "calling": "start", "serving": "finish"}.get(state)
        if op is None:
            raise AssertionError(f"window {window} is {state!r}; the load never pauses a window")
        body = {"outcome": "done"} if op == "finish" else None
        reply = await self.request("POST", f"/windows/{window}/{op}", headers=headers, json=body)
        if isinstance(reply, httpx.Response):  # refused: our idea of the state was wrong; read it
            return await self._window_state(window, headers)
        if op == "open":
            return "idle"
        ticket = reply.get("ticket")
        if op == "call-next":
            if ticket is None:
                await asyncio.sleep(self.serve_s)
                return "idle"
            self.record.calls.append((ticket["id"], window))
        if ticket is not None:
            self._ack_ticket(ticket)
        await asyncio.sleep(self.serve_s)
        return {"call-next": "calling", "start": "serving", "finish": "idle"}[op]

    async def display(self, log: DisplayLog) -> None:
        while not self._stop.is_set():
            try:
                async with connect(self.hall.ws_url(log.last_id), proxy=None, open_timeout=REQUEST_TIMEOUT_S,
                                   close_timeout=1) as ws:
                    log.connects += 1
                    self._sockets[log.name] = ws
                    async for raw in ws:
                        message = orjson.loads(raw)
                        if message.get("type") == "error":
                            raise AssertionError(f"{log.name}: refused: {message}")
                        if message.get("type") != "heartbeat" and message.get("event_id"):
                            log.last_id = message["event_id"]
                            log.last_event_at = time.monotonic()
                        if message.get("type") == "ticket.called":
                            log.called[message["event_id"]] = message["number"]  # a display sees no ticket id
            except (OSError, WebSocketException, TimeoutError):
                pass
            finally:
                self._sockets.pop(log.name, None)
            if not self._stop.is_set():
                log.drops += 1
                await asyncio.sleep(0.2)

    async def _displays_settled(self, quiet_s: float = 2.0, within_s: float = 20.0) -> None:
        """Once the windows stop, let the displays receive the last calls (or resume to them) before closing."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if all(d.last_event_at < time.monotonic() - quiet_s for d in self.record.displays):
                return
            await asyncio.sleep(0.2)

    def drop_sockets(self) -> int:
        """The ws-drop fault: every display's connection cut at once, as a network blip does; they reconnect."""
        sockets = list(self._sockets.values())
        for ws in sockets:
            ws.transport.abort()
        return len(sockets)

    # -- running ------------------------------------------------------------------------------
    async def run(self, until: asyncio.Event) -> LoadRecord:
        """Load until ``until`` is set; then every client finishes its request in flight and the record returns."""
        tasks = [asyncio.create_task(self.display(d)) for d in self.record.displays]
        await asyncio.sleep(0.3)  # displays first: they must see every call from the first
        # Then the windows open, before any guide issues: within opening hours a ticket for a service no open
        # window takes is refused (409), and before opening it is taken early; the load must not depend on the hour.
        await asyncio.gather(*(self._open(w) for w in self.hall.windows))
        tasks += [asyncio.create_task(self.window(w)) for w in self.hall.windows]
        tasks += [asyncio.create_task(self.guide(n)) for n in range(self.guides)]
        stopper = asyncio.ensure_future(until.wait())
        done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
        self._stop_http.set()
        http = tasks[len(self.record.displays):]
        await asyncio.wait(http, timeout=REQUEST_TIMEOUT_S + 2)
        await self._displays_settled()
        self._stop.set()
        for ws in list(self._sockets.values()):  # a display waits on its socket, not on the stop
            await ws.close()
        for task in tasks:
            if task in done:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), REQUEST_TIMEOUT_S + 2)
        stopper.cancel()
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await self._client.aclose()
        for result in results:  # a client that broke (a refusal it cannot explain) fails the run
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                raise result
        return self.record
