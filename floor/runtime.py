"""What a server process holds while it runs: settings, the Redis client, and one engine per hall."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from redis.asyncio import Redis

from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from queue_engine.wire import when_functions_lost

from .archiver import stream_event
from .db import StreamKey, parse_stream_id
from .projection import store_events
from .rebuild import bring_back
from .settings import Settings
from .web import ApiError

if TYPE_CHECKING:
    from .hub import Hub

log = logging.getLogger("hallq")
REBUILDS_AT_ONCE = 4  # halls rebuilt at the same time after Redis lost them (each holds a SQL connection)


@dataclass
class HallRuntime:
    config: HallConfig
    engine: Engine

    def service_names(self, lang: str) -> dict[str, str]:
        return {s.code: s.name_en if lang == "en" else s.name_zh for s in self.config.services}


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    halls: dict[str, HallRuntime]
    hub: Hub
    sql: Any = None  # a SQLAlchemy engine once the record is wired in
    tasks: list[Any] = field(default_factory=list)
    _tails_written: dict[str, StreamKey] = field(default_factory=dict, init=False, repr=False)  # by record_tails

    def __post_init__(self) -> None:
        # Redis restarted without persistence while we serve: the first script call finds the library gone, and
        # the halls are rebuilt from the record before it is loaded again (see queue_engine.wire).
        if self.sql is not None:
            when_functions_lost(self.redis, self.bring_back_halls)
            self.hub.on_outage = self.record_tails
            self.hub.after_outage = self.redis_is_back

    async def record_tails(self) -> None:
        """Redis is gone, perhaps with its data: add to the record the events this process read last. The archiver
        trails the stream; without them the tickets it had not copied yet would be lost when the halls are rebuilt
        from the record, and their numbers issued again. Every process does this, so the record gets the events any
        of them read; writing one twice is harmless (the stream id is its key)."""
        for hall in self.halls.values():
            await self._record_tail(hall)

    async def redis_is_back(self) -> None:
        # Idle pooled connections still point at the Redis that went away: each would fail its next request once.
        await self.redis.connection_pool.disconnect(inuse_connections=False)
        await self.hub.redis.connection_pool.disconnect(inuse_connections=False)
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

        await asyncio.gather(*(one(hall) for hall in self.halls.values()))

    async def _record_tail(self, hall: HallRuntime) -> None:
        written = self._tails_written.get(hall.config.id, (0, -1))
        recent = [(eid, raw) for eid, raw in self.hub.recent[hall.config.id] if parse_stream_id(eid) > written]
        if not recent:
            return
        try:
            events = [stream_event(eid, orjson.loads(raw)) for eid, raw in recent]
            added = await asyncio.to_thread(store_events, self.sql, hall.config, events)
        except Exception as exc:  # the record is down too: a restore then has what the record has
            log.error("hall %s: could not add the last %d events read to the record: %s",
                      hall.config.id, len(recent), exc)
            return
        self._tails_written[hall.config.id] = parse_stream_id(recent[-1][0])
        if added:
            log.warning("hall %s: %d events the archiver had not copied yet were added to the record from memory",
                        hall.config.id, added)

    def hall(self, hall_id: str) -> HallRuntime:
        try:
            return self.halls[hall_id]
        except KeyError:
            raise ApiError(404, "unknown_hall", f"There is no hall {hall_id!r} on this server.",
                           f"本服务器上没有大厅 {hall_id!r}。") from None
