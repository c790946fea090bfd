"""A scrape's read of every hall: one read-only script call per hall, sent down one pipelined connection per Redis.

What it reads is small (per service the size of its waiting set and its oldest member; the archive group's
backlog), and a county's 500 halls must cost a scrape little: redis-py encoding and parsing ten commands per hall
would cost the worker far more than Redis, and the engines' snapshot reads every window too. So each hall is one
``EVAL_RO`` of the script below, packed once per set-up of the hall, and the calls of every hall of a Redis go
down a ``Pipe`` (``queue_engine.fcall_pipe``) together; on a cluster, every key of a hall shares its hash tag.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from floor.metrics.readings import HallReading, reading
from floor.metrics.store_errors import count_redis_error
from floor.record.archiver import GROUP
from floor.runtime import HallRuntime
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from queue_engine.fcall_pipe import Packed, Pipe
from queue_engine.library import standalone_script

READ_TIMEOUT_S = 3.0  # a scrape answers without the halls rather than wait on a Redis that does not

SCRIPT = standalone_script("hall_reading")  # its KEYS, ARGV and reply: queue_engine/lua/hall_reading.lua


class HallReads:
    """A worker's reader of its halls for scrapes; keeps a pipe per Redis and each hall's packed call."""

    def __init__(self, group: str = GROUP) -> None:
        self.group = group
        self.pipes: weakref.WeakKeyDictionary[Redis, Pipe] = weakref.WeakKeyDictionary()
        # Each hall's engine -> (the set-up its call was packed for, the call).
        self.calls: weakref.WeakKeyDictionary[Engine, tuple[HallConfig, bytes]] = weakref.WeakKeyDictionary()

    def call(self, engine: Engine) -> tuple[HallConfig, bytes]:
        hall = engine.hall
        kept = self.calls.get(engine)
        if kept is None or kept[0] is not hall:  # new, or its set-up changed live (its services may have)
            keys = [engine.keys.age(s.code) for s in hall.services] + [engine.keys.events]
            packed = Packed.of(["EVAL_RO", SCRIPT, len(keys), *keys, self.group])
            kept = self.calls[engine] = (hall, b"*%d\r\n" % packed.count + packed.data)
        return kept

    async def read(self, halls: Mapping[str, HallRuntime]) -> list[HallReading]:
        """Every hall that could be read now (a Redis that failed is counted in ``hallq_redis_errors_total``)."""
        by_redis: dict[Redis, list[tuple[Engine, HallConfig, bytes]]] = {}
        for hall in halls.values():
            by_redis.setdefault(hall.engine.redis, []).append((hall.engine, *self.call(hall.engine)))
        try:
            parts = await asyncio.wait_for(asyncio.gather(*(self._read_one_redis(redis, calls) for redis, calls in
                                                            by_redis.items())), READ_TIMEOUT_S)
        except TimeoutError as exc:
            count_redis_error("scrape", exc)
            return []
        return [found for part in parts for found in part]

    async def _read_one_redis(self, redis: Redis, calls: list[tuple[Engine, HallConfig, bytes]]) -> list[HallReading]:
        pipe = self.pipes.get(redis)
        if pipe is None:
            pipe = self.pipes[redis] = Pipe(redis)
        try:
            replies: list[Any] = await pipe.call_many([call for _, _, call in calls])
        except ResponseError:  # one hall's reply (its slot moved mid-resharding): the others still count
            replies = await asyncio.gather(*(pipe.call(call) for _, _, call in calls), return_exceptions=True)
        except Exception as exc:  # the connection: this Redis's halls are left out of this scrape
            count_redis_error("scrape", exc)
            return []
        found = []
        for (engine, hall, _), reply in zip(calls, replies, strict=True):
            if isinstance(reply, BaseException):
                count_redis_error("scrape", reply)
            else:
                found.append(reading(hall, reply, engine.clock() * 1000))
        return found
