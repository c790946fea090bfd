"""Redis lost while we serve: keep what this process read last, and rebuild every hall from the record.

Redis restarted without persistence: the first script call finds the function library gone, or the hub sees the
connection drop. Either way the halls are rebuilt from the SQL record before they answer again (see
``queue_engine.fcall_pipe.when_functions_lost``), after the events the archiver had not copied yet are added to the
record: those this process's hub read, and those its own calls wrote (an event acknowledged a moment before Redis
went may have reached no hub).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

import orjson

from floor.realtime.hub import RECENT_MAX, keep_recent
from floor.record.archiver import stream_event
from floor.record.projection import store_events
from floor.record.rebuild import bring_back
from floor.runtime import HallRuntime, Runtime
from queue_engine.fcall_pipe import when_functions_lost
from queue_engine.stream_ids import StreamKey, parse_stream_id

log = logging.getLogger("hallq")
REBUILDS_AT_ONCE = 4  # halls rebuilt at the same time after Redis lost them (each holds a SQL connection)


class Recovery:
    def __init__(self, runtime: Runtime, sql: Any) -> None:
        self.runtime = runtime
        self.sql = sql
        self._tails_written: dict[str, StreamKey] = {}
        self.written: dict[str, deque[tuple[str, str | bytes]]] = {
            hall: deque(maxlen=RECENT_MAX) for hall in runtime.halls}

    def watch(self) -> None:
        """Called once at start: from now on a lost Redis brings the halls back."""
        when_functions_lost(self.runtime.shards, self.bring_back_halls)
        for hall in self.runtime.halls.values():
            hall.engine.on_written = self.remember
        self.runtime.hub.on_outage = self.record_tails
        self.runtime.hub.after_outage = self.redis_is_back

    def remember(self, hall: str, events: list[tuple[str, str | bytes]]) -> None:
        """Keep what our calls wrote for a minute (as the hub keeps what it read): no I/O, on the request's path."""
        kept = self.written[hall]
        for event_id, raw in events:
            keep_recent(kept, event_id, raw)

    async def record_tails(self) -> None:
        """Redis is gone, perhaps with its data: add to the record the events this process read last. The archiver
        trails the stream; without them the tickets it had not copied yet would be lost when the halls are rebuilt
        from the record, and their numbers issued again. Every process does this, so the record gets the events any
        of them read; writing one twice is harmless (the stream id is its key)."""
        for hall in self.runtime.halls.values():
            await self._record_tail(hall)

    async def redis_is_back(self) -> None:
        # Idle pooled connections still point at the Redis that went away: each would fail its next request once.
        await self.runtime.shards.disconnect_idle()
        await self.runtime.hub.shards.disconnect_idle()
        await self.bring_back_halls()

    async def bring_back_halls(self) -> None:
        """Rebuild every hall Redis lost from its record (see ``record_tails``), a few at a time: each replays its
        day in a thread, and a city platform's halls would otherwise wait for one another."""
        turns = asyncio.Semaphore(REBUILDS_AT_ONCE)

        async def one(hall: HallRuntime) -> None:
            async with turns:
                if not await hall.engine.has_state():
                    await self._record_tail(hall)  # in case the hub never saw Redis go (it was busy meanwhile)
                await bring_back(hall.engine, self.sql)

        await asyncio.gather(*(one(hall) for hall in self.runtime.halls.values()))

    async def _record_tail(self, hall: HallRuntime) -> None:
        hall_id = hall.config.id
        done = self._tails_written.get(hall_id, (0, -1))
        known = {**dict(self.written[hall_id]), **dict(self.runtime.hub.recent[hall_id])}
        recent = sorted(((parse_stream_id(eid), eid, raw) for eid, raw in known.items()
                         if parse_stream_id(eid) > done))
        if not recent:
            return
        try:
            events = [stream_event(eid, orjson.loads(raw)) for _, eid, raw in recent]
            added = await asyncio.to_thread(store_events, self.sql, hall.config, events)
        except Exception as exc:  # the record is down too: a restore then has what the record has
            log.error("hall %s: could not add the last %d events read to the record: %s",
                      hall.config.id, len(recent), exc)
            return
        self._tails_written[hall_id] = recent[-1][0]
        if added:
            log.warning("hall %s: %d events the archiver had not copied yet were added to the record from memory",
                        hall.config.id, added)
