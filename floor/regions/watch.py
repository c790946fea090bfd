"""区域总览 live: each worker keeps the lines of the halls its region managers watch, and sends what changed.

Aggregated here, not in the browser: a county's page would otherwise follow 500 halls' feeds. The hub tells us
which halls had an event (``touch``, a set insert per event); twice a second the halls touched that someone watches
are read again (one snapshot each, a few at a time), their lines compared with the last sent, and each watched
region gets one frame of its changed lines, rendered once and sent to every socket watching it. Open 差评 cases
live in SQL and change rarely: one query over every watched hall every ``CASES_EVERY_S``. Nobody watching: no
work at all.

Frames (``WS /api/v1/regions/{region}/ws/overview``), JSON text:

- ``{"type": "overview", "region", "name", "at", "halls": [line...], "totals"}`` first, the whole region;
- ``{"type": "halls", "at", "halls": [changed line...], "totals"}`` when lines changed;
- ``{"type": "heartbeat", "at"}`` when nothing did for ``HEARTBEAT_S``.

A line is ``floor.regions.overview.hall_line``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from floor.http.auth import AuthError
from floor.http.feed import CLOSE_AUTH, CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, drain_incoming, outbox_for, refuse
from floor.http.kit import ApiError, authenticate_region, region_of
from floor.ratings.store import open_cases_by_hall
from floor.realtime.outbox import Outbox
from floor.regions.overview import CaseCounts, Json, hall_line, same_line, totals
from floor.runtime import Runtime

log = logging.getLogger("hallq")
# How often touched halls are read again: a change is on the page within a second, waiting for the next tick and the
# tick's reads; a busy hall is read twice a second at most, whatever its events.
PERIOD_S = 0.5
CASES_EVERY_S = 15.0
HEARTBEAT_S = 15.0
READS_AT_ONCE = 16  # snapshots in flight at once: a county's first view reads every hall


class RegionWatch:
    def __init__(self, runtime: Runtime, *, period_s: float = PERIOD_S, cases_every_s: float = CASES_EVERY_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.runtime = runtime
        self.period_s, self.cases_every_s, self.clock = period_s, cases_every_s, clock
        self.dirty: set[str] = set()
        self.lines: dict[str, Json] = {}
        self.cases: dict[str, CaseCounts] = {}
        self.viewers: dict[str, set[Outbox]] = {}
        self._cases_at = 0.0
        self._sent_at: dict[str, float] = {}
        # Joins read one after another, so sockets opening at once read an unwatched region once, not each; and a
        # tick while one reads keeps the halls touched meanwhile (a line read before a touch would go stale).
        self._join_turn = asyncio.Lock()
        self._joining = 0
        self.reads = 0  # snapshots read, for the benchmark

    def touch(self, hall: str) -> None:
        """The hub saw an event of ``hall``: its line may have changed."""
        self.dirty.add(hall)

    def watched(self) -> set[str]:
        return {h for region in self.viewers for h in self.runtime.halls_below(region)}

    async def join(self, region: str, outbox: Outbox) -> bytes:
        """Watch ``region`` from now; the first frame, the whole region as it stands."""
        self._joining += 1
        try:
            async with self._join_turn:
                return await self._join(region, outbox)
        finally:
            self._joining -= 1

    async def _join(self, region: str, outbox: Outbox) -> bytes:
        halls = self.runtime.halls_below(region)
        # Halls nobody watched were not kept current (their events were not followed): read them now. Those others
        # watch are current within a tick; reading them here would hide their change from the others' next frame.
        watched = self.watched()
        unwatched = [h for h in halls if h not in watched]
        if unwatched or self.clock() - self._cases_at >= self.cases_every_s:
            self.dirty |= await self._read_cases(set(halls) | watched) & watched
        self.lines.update(await self._fresh_lines(unwatched))
        self.viewers.setdefault(region, set()).add(outbox)
        self._sent_at[region] = self.clock()
        return self.frame("overview", region, [self.lines[h] for h in halls if h in self.lines])

    def leave(self, region: str, outbox: Outbox) -> None:
        viewers = self.viewers.get(region)
        if viewers is not None:
            viewers.discard(outbox)
            if not viewers:
                del self.viewers[region]

    def frame(self, kind: str, region: str, lines: list[Json], every: dict[str, Json] | None = None) -> bytes:
        network = self.runtime.network
        below = self.runtime.halls_below(region)
        every = self.lines if every is None else every
        frame: Json = {"type": kind, "at": int(self.clock() * 1000), "halls": lines,
                       "totals": totals([every[h] for h in below if h in every])}
        if kind == "overview" and network is not None:
            named = network.region(region)
            frame.update(region=region, name=named.name if named else region)
        return orjson.dumps(frame)

    async def run(self) -> None:
        due = time.monotonic()
        while True:
            due += self.period_s  # on the period, not a period after each tick: the tick's reads are not added to it
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            due = max(due, time.monotonic() - self.period_s)  # a stalled loop does not tick to catch up
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis or SQL away: the lines stay as they were; the next tick tries again
                log.warning("region overview: could not refresh: %s", exc)

    async def tick(self) -> None:
        if not self.viewers:
            if not self._joining:
                self.dirty.clear()
            return
        watched = self.watched()
        stale = self.dirty & watched
        self.dirty -= stale
        if self.clock() - self._cases_at >= self.cases_every_s:
            stale |= await self._read_cases(watched)
        changed = await self._read_lines(sorted(stale)) if stale else set()
        now = self.clock()
        for region, viewers in list(self.viewers.items()):
            mine = [self.lines[h] for h in self.runtime.halls_below(region) if h in changed]
            if mine:
                text = self.frame("halls", region, mine).decode()
            elif now - self._sent_at.get(region, 0.0) >= HEARTBEAT_S:
                text = orjson.dumps({"type": "heartbeat", "at": int(now * 1000)}).decode()
            else:
                continue
            self._sent_at[region] = now
            for outbox in viewers:
                outbox.put(text)

    async def _fresh_lines(self, halls: list[str]) -> dict[str, Json]:
        """These halls' lines, read now."""
        turns = asyncio.Semaphore(READS_AT_ONCE)

        async def one(hall_id: str) -> Json:
            hall = self.runtime.halls[hall_id]
            async with turns:
                snapshot = await hall.engine.snapshot()
            self.reads += 1
            return hall_line(hall.config, snapshot, self.cases.get(hall_id, CaseCounts()), int(self.clock() * 1000),
                             self.runtime.network)

        return dict(zip(halls, await asyncio.gather(*(one(h) for h in halls)), strict=True))

    async def _read_lines(self, halls: list[str]) -> set[str]:
        """Read these halls again and keep their lines; the ones whose line changed."""
        changed = set()
        for hall, line in (await self._fresh_lines(halls)).items():
            if not same_line(self.lines.get(hall), line):
                self.lines[hall] = line
                changed.add(hall)
        return changed

    async def snapshot(self, region: str) -> bytes:
        """The whole region for one request (``GET /overview``): as kept, if sockets watch all of it; else read now,
        leaving what the viewers were sent alone, so their next frame still carries every change."""
        halls = self.runtime.halls_below(region)
        watched = self.watched()
        if all(h in watched for h in halls):  # kept current within a tick for the sockets watching them
            return self.frame("overview", region, [self.lines[h] for h in halls])
        if any(h not in self.cases for h in halls) or self.clock() - self._cases_at >= self.cases_every_s:
            await self._read_cases(set(halls) | watched)
        lines = await self._fresh_lines(halls)
        return self.frame("overview", region, [lines[h] for h in halls], lines)

    async def _read_cases(self, halls: set[str]) -> set[str]:
        """Read the open cases of these halls; the halls whose counts changed."""
        self._cases_at = self.clock()
        if self.runtime.sql is None or not halls:
            return set()
        counts = await asyncio.to_thread(open_cases_by_hall, self.runtime.sql, sorted(halls), datetime.now(UTC))
        changed = set()
        for hall in halls:
            now = CaseCounts(*counts.get(hall, (0, 0)))
            if self.cases.get(hall, CaseCounts()) != now:
                changed.add(hall)
            self.cases[hall] = now
        return changed


def overview_route(watch_of: Callable[[Runtime], RegionWatch]) -> WebSocketRoute:
    async def overview(ws: WebSocket) -> None:
        runtime: Runtime = ws.app.state.runtime
        try:
            region = region_of(runtime, ws.path_params["region"])
            authenticate_region(ws, runtime, region.id, ("manager",))
        except AuthError as exc:
            return await refuse(ws, CLOSE_AUTH if exc.status == 401 else CLOSE_FORBIDDEN, exc.message)
        except ApiError as exc:
            return await refuse(ws, CLOSE_NOT_FOUND, exc.message)
        watch = watch_of(runtime)
        outbox = outbox_for(ws, held=True)
        try:
            await ws.accept()
            first = await watch.join(region.id, outbox)
            await ws.send_text(first.decode())
            outbox.release(None)
            await drain_incoming(ws)
        except (WebSocketDisconnect, RuntimeError):
            pass  # the client went away mid-send
        finally:
            watch.leave(region.id, outbox)
            outbox.close()

    return WebSocketRoute("/api/v1/regions/{region}/ws/overview", overview)
