"""The realtime hub: one reader per process over every hall's event stream, fanned out to local listeners.

Each event is rendered to its websocket text once, then offered to every listener of its hall. Offering
never waits: a listener hands the text to its socket's ``Outbox``, which sends it at once when the socket
can take it and otherwise queues it behind the send in flight, so one bad screen can never delay a call
to the others. A socket too far behind is closed and reconnects with ``since=<last id>`` to get what it
missed from the stream.

Any number of processes can run behind a load balancer: each reads the streams itself, so nothing
passes through process memory between workers.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol, cast

import orjson
from redis.asyncio import Redis

from queue_engine.wire import Packed, Pipe, bulk

from .cancellation import raise_if_cancelled

log = logging.getLogger("hallq.hub")

Entries = list[tuple[bytes, dict[bytes, bytes]]]
Render = Callable[[str, str, dict[str, object]], str]  # (hall, event id, payload) -> websocket text
SLICE = 100  # listeners offered an event between two turns of the event loop
RECENT_MS = 60_000  # events kept per hall, by age: far more than the archiver trails by (a fraction of a second)
RECENT_MAX = 2000  # and by count, for a hall busier than any


class Listener(Protocol):
    """A socket's side of the hub; both methods run in the hub's loop and must never wait."""

    hall: str

    def offer(self, event_id: str, text: str, payload: Mapping[str, Any]) -> None:
        """An event of the listener's hall: its id, rendered text and raw payload (private keys included)."""

    def beat(self) -> None:
        """Called every half heartbeat interval: send a heartbeat unless something was sent since the last call."""


class Hub:
    def __init__(self, redis: Redis, streams: dict[str, str], render: Render, *, heartbeat_s: float = 15.0,
                 block_ms: int = 2000) -> None:
        self.redis = redis  # backlog reads; XREAD BLOCK holds a connection of this client's pool for good
        self.streams = streams  # hall -> stream key
        self.reads = StreamReads(Pipe(redis), streams, block_ms)
        self.render = render
        self.heartbeat_s = heartbeat_s
        self.block_ms = block_ms
        self.listeners: dict[str, set[Listener]] = {hall: set() for hall in streams}
        self.delivered = 0
        # The events read in the last minute per hall, as stored (JSON): the record may trail the stream by a fraction
        # of a second, and if Redis is lost meanwhile these are the only copy of that tail (see Runtime.record_tails).
        self.recent: dict[str, deque[tuple[str, bytes]]] = {hall: deque(maxlen=RECENT_MAX) for hall in streams}
        # Run when the hub loses Redis (``on_outage``), and when Redis answers again (``after_outage``): it may have
        # come back empty, and nothing else would notice before a window's next call (the citizens' phones only read).
        self.on_outage: Callable[[], Awaitable[None]] | None = None
        self.after_outage: Callable[[], Awaitable[None]] | None = None

    def subscribe(self, listener: Listener) -> None:
        self.listeners[listener.hall].add(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self.listeners[listener.hall].discard(listener)

    async def backlog(self, hall: str, since: str, count: int = 500) -> list[tuple[str, str]]:
        """Rendered events strictly after ``since``, oldest first, at most ``count``."""
        entries = cast(Entries, await self.redis.xrange(self.streams[hall], min=f"({since}", count=count))
        return [(event_id, self.render(hall, event_id, payload))
                for event_id, payload in (self._parsed(eid, fields) for eid, fields in entries)]

    @staticmethod
    def _parsed(eid: bytes | str, fields: dict[bytes, bytes]) -> tuple[str, dict[str, Any]]:
        return (eid.decode() if isinstance(eid, bytes) else eid), orjson.loads(fields[b"e"])

    async def _start_ids(self) -> dict[str, str]:
        ids = {}
        for hall, stream in self.streams.items():
            last = await self.redis.xrevrange(stream, count=1)
            ids[hall] = cast(Entries, last)[0][0].decode() if last else "0-0"
        return ids

    async def run(self) -> None:
        """Read every hall's stream from its current end and fan out, and keep idle sockets beating, until
        cancelled."""
        beats = asyncio.ensure_future(self._beat())
        try:
            await self._read()
        finally:
            beats.cancel()
            await asyncio.gather(beats, return_exceptions=True)

    async def _read(self) -> None:
        last = await self._start_ids()
        by_stream = {stream: hall for hall, stream in self.streams.items()}
        outage = False
        while True:
            raise_if_cancelled()
            try:
                if outage and self.after_outage is not None:
                    await self.after_outage()
                outage = False
                replies = await self.reads.after(last)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarting: keep trying, sockets stay open meanwhile
                log.warning("hub read failed, retrying: %s", exc)
                if not outage and self.on_outage is not None:
                    await self.on_outage()
                outage = True
                await asyncio.sleep(0.5)
                continue
            for stream, entries in replies:
                hall = by_stream[stream.decode()]
                for eid, fields in entries:
                    event_id, raw = eid.decode(), _field(fields, b"e")
                    payload = orjson.loads(raw)
                    text = self.render(hall, event_id, payload)
                    last[hall] = event_id
                    self._keep(hall, event_id, raw)
                    await self._fan_out(hall, event_id, text, payload)
                    self.delivered += 1

    def _keep(self, hall: str, event_id: str, raw: bytes) -> None:
        recent = self.recent[hall]
        recent.append((event_id, raw))
        oldest_ms = int(event_id.partition("-")[0]) - RECENT_MS
        while int(recent[0][0].partition("-")[0]) < oldest_ms:
            recent.popleft()

    async def _fan_out(self, hall: str, event_id: str, text: str, payload: dict[str, Any]) -> None:
        # Offers to a thousand sockets take tens of milliseconds (a send syscall each): let the loop answer
        # the windows' requests between slices rather than after the last screen.
        for n, listener in enumerate(tuple(self.listeners[hall]), 1):
            try:
                listener.offer(event_id, text, payload)
            except Exception:  # a bug in one listener must not stop the calls to the others
                log.exception("listener failed on %s", event_id)
            if n % SLICE == 0:
                await asyncio.sleep(0)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s / 2)
            for listeners in self.listeners.values():
                for listener in tuple(listeners):
                    listener.beat()


def _field(fields: list[bytes], name: bytes) -> bytes:
    """A field of a stream entry as XREAD sends it: a flat list of names and values."""
    for i in range(0, len(fields), 2):
        if fields[i] == name:
            return fields[i + 1]
    raise KeyError(name)


class StreamReads:
    """``XREAD BLOCK .. STREAMS <every hall's stream> <ids>``, packed by hand and sent on a pipe of its own.

    A city platform's hub names 200 streams in every read, and reads again after every few events: redis-py
    encoded those 400 arguments anew each time (~2 ms, a sixth of the worker's time in the profile). The keys
    are packed once here, and each hall's last id only when it moves."""

    def __init__(self, pipe: Pipe, streams: dict[str, str], block_ms: int, count: int = 500) -> None:
        self.pipe = pipe
        self.streams = streams  # hall -> stream key
        keys = Packed.of(["XREAD", "BLOCK", block_ms, "COUNT", count, "STREAMS", *streams.values()])
        self.head = b"*%d\r\n" % (keys.count + len(streams)) + keys.data
        self.ids: dict[str, tuple[str, bytes]] = {}  # hall -> (last id, it as a bulk string)

    async def after(self, last: dict[str, str]) -> Iterable[tuple[bytes, list[tuple[bytes, list[bytes]]]]]:
        """(stream, entries) after ``last`` (hall -> id); none when none came within the block."""
        parts = [self.head]
        for hall in self.streams:
            event_id = last[hall]
            known = self.ids.get(hall)
            if known is None or known[0] != event_id:
                known = self.ids[hall] = (event_id, bulk(event_id))
            parts.append(known[1])
        reply = await self.pipe.call(b"".join(parts))
        if reply is None:
            return ()
        # RESP3 (redis-py's default from 8.0) answers a map of stream to entries, RESP2 a list of pairs.
        return cast(Iterable[tuple[bytes, list[tuple[bytes, list[bytes]]]]],
                    reply.items() if isinstance(reply, dict) else reply)
