"""The realtime hub: one reader per process over every hall's event stream, fanned out to local sockets.

Each event is rendered to its websocket text once, then offered to every subscriber of its hall.
Offering never waits: a subscriber whose queue is full (a slow or dead socket) is marked overflowed
and its socket is closed by its own task, so one bad screen can never delay a call to the others.
The closed client reconnects with ``since=<last id>`` and gets what it missed from the stream.

Any number of processes can run behind a load balancer: each reads the streams itself, so nothing
passes through process memory between workers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import orjson
from redis.asyncio import Redis

from .cancellation import raise_if_cancelled

log = logging.getLogger("hallq.hub")

Entries = list[tuple[bytes, dict[bytes, bytes]]]
Render = Callable[[str, str, dict[str, object]], str]  # (hall, event id, payload) -> websocket text
QUEUE_LIMIT = 2000  # a subscriber this far behind is disconnected and resumes from the stream instead


@dataclass(eq=False)
class Subscriber:
    hall: str
    queue: asyncio.Queue[tuple[str, str]] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    overflowed: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, event_id: str, text: str) -> None:
        try:
            self.queue.put_nowait((event_id, text))
        except asyncio.QueueFull:
            self.overflowed.set()


class Hub:
    def __init__(self, redis: Redis, streams: dict[str, str], render: Render, *, block_ms: int = 2000) -> None:
        self.redis = redis  # a client of its own: XREAD BLOCK holds a connection
        self.streams = streams  # hall -> stream key
        self.render = render
        self.block_ms = block_ms
        self.subscribers: dict[str, set[Subscriber]] = {hall: set() for hall in streams}
        self.delivered = 0

    def subscribe(self, hall: str) -> Subscriber:
        sub = Subscriber(hall)
        self.subscribers[hall].add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers[sub.hall].discard(sub)

    async def backlog(self, hall: str, since: str, count: int = 500) -> list[tuple[str, str]]:
        """Rendered events strictly after ``since``, oldest first, at most ``count``."""
        entries = cast(Entries, await self.redis.xrange(self.streams[hall], min=f"({since}", count=count))
        return [self._rendered(hall, eid, fields) for eid, fields in entries]

    def _rendered(self, hall: str, eid: bytes | str, fields: dict[bytes, bytes]) -> tuple[str, str]:
        event_id = eid.decode() if isinstance(eid, bytes) else eid
        return event_id, self.render(hall, event_id, orjson.loads(fields[b"e"]))

    async def _start_ids(self) -> dict[str, str]:
        ids = {}
        for hall, stream in self.streams.items():
            last = await self.redis.xrevrange(stream, count=1)
            ids[hall] = cast(Entries, last)[0][0].decode() if last else "0-0"
        return ids

    async def run(self) -> None:
        """Read every hall's stream from its current end and fan out, until cancelled."""
        last = await self._start_ids()
        by_stream = {stream: hall for hall, stream in self.streams.items()}
        while True:
            raise_if_cancelled()
            try:
                replies = cast(list[tuple[bytes, Entries]], await self.redis.xread(
                    {self.streams[h]: i for h, i in last.items()}, block=self.block_ms, count=500))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarting: keep trying, sockets stay open meanwhile
                log.warning("hub read failed, retrying: %s", exc)
                await asyncio.sleep(0.5)
                continue
            for stream, entries in replies or []:
                hall = by_stream[stream.decode()]
                for eid, fields in entries:
                    event_id, text = self._rendered(hall, eid, fields)
                    last[hall] = event_id
                    for sub in tuple(self.subscribers[hall]):
                        sub.offer(event_id, text)
                    self.delivered += 1
