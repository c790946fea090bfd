"""The archiver: copies one hall's event stream into SQL, each event once, acknowledging after commit.

It reads through a Redis consumer group, so any number of server processes may each run one for
the same hall: Redis hands every entry to one of them, and an entry stays pending until its
batch is committed and XACKed. What a crashed process had pending is claimed by another after
it has sat idle for ``claim_idle_ms``, or at once by an archiver starting on the same host, which
can see that the process is gone; a restarted process first re-reads its own pending entries.
A batch that reaches SQL twice is harmless (see ``floor.record.projection``).

When SQL is down the archiver keeps the batch, backs off and tries again; the live hall never
waits for it, and the stream (kept for days, see ``queue_engine.keys.EVENTS_MAXLEN``) holds
what it has not copied yet.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import orjson
from redis.exceptions import RedisError, ResponseError
from sqlalchemy import Engine as SqlEngine

from floor.cancellation import raise_if_cancelled
from floor.record.projection import Batch, StreamEvent, store_batches
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from queue_engine.records import Event
from queue_engine.stream_ids import parse_stream_id

log = logging.getLogger("hallq.archiver")

Entry = tuple[bytes | str, dict[bytes, bytes] | None]  # a stream entry; no fields if it was trimmed away

GROUP = "archiver"
T = TypeVar("T")


class SqlWriter:
    """Writes the batches of many halls' archivers in shared transactions.

    A city platform's 200 halls each bring an event or two at a time; a transaction per hall batch made the
    archive process busier than the server. Batches handed in while a write runs (or within ``linger_s`` of
    the first) go into the next transaction together. If that transaction fails, each batch is tried again
    on its own, so one hall's failure never holds back the others.
    """

    def __init__(self, sql_engine: SqlEngine, *, linger_s: float = 0.0) -> None:
        self.sql_engine = sql_engine  # read at each write, so it may be replaced while running
        self.linger_s = linger_s
        self.waiting: list[tuple[Batch, asyncio.Future[int]]] = []
        self.task: asyncio.Task[None] | None = None

    async def store(self, hall: HallConfig, events: list[StreamEvent]) -> int:
        """Write one hall's batch; how many events were new. Raises what the write raised."""
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.waiting.append(((hall, events), done))
        if self.task is None:
            self.task = asyncio.create_task(self._write_all())
        return await done

    async def _write_all(self) -> None:
        try:
            if self.linger_s:
                await asyncio.sleep(self.linger_s)
            while self.waiting:
                taken, self.waiting = self.waiting, []
                await self._write([batch for batch, _ in taken], [done for _, done in taken])
        finally:
            self.task = None

    async def _write(self, batches: list[Batch], futures: list[asyncio.Future[int]]) -> None:
        # SQL is blocking: a worker thread keeps the event loop free. If the caller is cancelled the thread still
        # finishes its transaction; the batch, unacknowledged, comes back later.
        try:
            counts = await asyncio.to_thread(store_batches, self.sql_engine, batches)
        except Exception as exc:
            if len(batches) == 1:
                _settle(futures[0], exc=exc)
                return
            for batch, done in zip(batches, futures, strict=True):
                await self._write([batch], [done])
            return
        for done, count in zip(futures, counts, strict=True):
            _settle(done, result=count)


async def unrecorded(engine: Engine, group: str = GROUP) -> int:
    """How many of the hall's events the SQL record does not hold yet: not yet read by the archive group,
    or read and not yet committed. A reader of the record (today's figures) re-reads until this is 0."""
    try:
        groups = await engine.redis.xinfo_groups(engine.keys.events)
    except ResponseError as exc:
        if "no such key" in str(exc):
            return 0  # no event yet today
        raise
    for info in groups:
        if _text(info["name"]) == group:
            lag = info.get("lag")
            if lag is None:  # Redis cannot count it (entries deleted): is anything past what the group read?
                last = (await engine.redis.xinfo_stream(engine.keys.events))["last-generated-id"]
                lag = int(parse_stream_id(last) > parse_stream_id(info["last-delivered-id"]))
            return int(info["pending"]) + int(lag)
    return int(await engine.redis.xlen(engine.keys.events))  # no archiver has started on this stream yet


def _settle(done: asyncio.Future[int], *, result: int = 0, exc: Exception | None = None) -> None:
    if done.done():  # its archiver was cancelled meanwhile
        return
    if exc is None:
        done.set_result(result)
    else:
        done.set_exception(exc)


def consumer_name() -> str:
    """Unique per process and per start, so two processes never share one pending list."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def _process_gone(consumer: str) -> bool:
    """Whether ``consumer`` (a ``consumer_name``) belonged to a process of this host that has ended."""
    host, pid, token = [*consumer.rsplit("-", 2), "", ""][:3]
    if host != socket.gethostname() or not pid.isdigit() or not token or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, run by someone else
        return False
    return False


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Archiver:
    def __init__(
        self,
        engine: Engine,
        sql_engine: SqlEngine,
        *,
        group: str = GROUP,
        consumer: str | None = None,
        batch_size: int = 200,
        block_ms: int = 2000,  # below redis-py's default 5 s socket timeout, or every idle read times out
        claim_idle_ms: int = 60_000,
        claim_every_s: float = 30.0,
        backoff_s: tuple[float, float] = (0.5, 10.0),
        pace_s: float = 0.0,
        writer: SqlWriter | None = None,
    ) -> None:
        self.engine = engine
        self.writer = writer or SqlWriter(sql_engine)  # shared by the halls of one archive process
        self.stream = engine.keys.events
        self.group = group
        self.consumer = consumer or consumer_name()
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.claim_every_s = claim_every_s
        self.backoff_s = backoff_s
        # After a batch smaller than a full one, wait this long before reading again: a busy hall's events then
        # gather into one transaction instead of one commit each, and the record trails the hall by about this.
        self.pace_s = pace_s
        # What a health check wants to know: events written, failures in a row, and the last one.
        self.archived = 0
        self.failures = 0
        self.last_error: str | None = None
        self._recheck_own = True  # our pending list may hold entries: at start, and after a Redis error
        self._claim_cursor = "0-0"
        self._next_claim = 0.0

    # -- the loop -------------------------------------------------------------------------------
    async def run(self) -> None:
        """Archive until cancelled (then call ``close``). A batch cut short is not acknowledged: this consumer
        re-reads it when it starts again, or another claims it once it has been idle ``claim_idle_ms``."""
        await self._retrying("create the consumer group", self.ensure_group)
        await self._retrying("adopt what a dead process left", self.adopt_orphans)
        while True:
            raise_if_cancelled()
            entries = await self._retrying("read the event stream", lambda: self._read(self.block_ms))
            if entries:
                await self._handle(entries)
                if self.pace_s and len(entries) < self.batch_size:
                    await asyncio.sleep(self.pace_s)

    async def drain(self) -> int:
        """Archive everything there is now: own pending, claimable and new entries; how many were handled."""
        await self.ensure_group()
        await self.adopt_orphans()
        self._recheck_own, self._claim_cursor, self._next_claim = True, "0-0", 0.0
        handled = 0
        while True:
            raise_if_cancelled()
            entries = await self._read(None)
            if entries:
                await self._handle(entries)
                handled += len(entries)
            elif not self._claim_due():
                return handled

    async def ensure_group(self) -> None:
        """Create the group if Redis has none (first start, or Redis lost its data): from the stream's start."""
        try:
            await self.engine.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def adopt_orphans(self) -> int:
        """Take over at once what consumers of this host left pending when their process died (an archive process
        killed and started again): waiting ``claim_idle_ms`` for them would leave the record a minute behind. A
        consumer of another host, or of a process still running, is left to the idle claim. How many were taken."""
        redis = self.engine.redis
        adopted = 0
        for info in await redis.xinfo_consumers(self.stream, self.group):
            name = _text(info["name"])
            if name == self.consumer or not int(info["pending"]) or not _process_gone(name):
                continue
            entries = await redis.xpending_range(self.stream, self.group, "-", "+", self.batch_size * 100, name)
            ids: list[Any] = [entry["message_id"] for entry in entries]
            if ids:
                await redis.xclaim(self.stream, self.group, self.consumer, 0, ids, justid=True)
                adopted += len(ids)
            if len(ids) == int(info["pending"]):  # all of it is ours now: the dead consumer can go
                await redis.xgroup_delconsumer(self.stream, self.group, name)
        if adopted:
            log.info("archiver %s adopted %d events a dead process had read", self.consumer, adopted)
            self._recheck_own = True
        return adopted

    async def close(self) -> None:
        """Leave the group on a clean shutdown, if nothing is pending for us (pending entries would be lost)."""
        try:
            info = await self.engine.redis.xpending_range(self.stream, self.group, "-", "+", 1, self.consumer)
            if not info:
                await self.engine.redis.xgroup_delconsumer(self.stream, self.group, self.consumer)
        except RedisError as exc:
            log.warning("archiver %s could not leave group %s: %s", self.consumer, self.group, exc)

    # -- reading --------------------------------------------------------------------------------
    async def _read(self, block_ms: int | None) -> list[Entry]:
        if self._recheck_own:
            entries = await self._read_group("0", None)
            if entries:
                return entries
            self._recheck_own = False
        if self._claim_due():
            entries = await self._claim()
            if entries:
                return entries
        return await self._read_group(">", block_ms)

    async def _read_group(self, start: str, block_ms: int | None) -> list[Entry]:
        """``start`` "0" reads our own pending entries again, ">" new ones."""
        try:
            reply = await self.engine.redis.xreadgroup(
                self.group, self.consumer, {self.stream: start}, count=self.batch_size, block=block_ms)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # Redis lost the stream and its group (a restart without persistence): start again from the top.
            await self.ensure_group()
            self._recheck_own = True
            return []
        return _entries(reply)

    def _claim_due(self) -> bool:
        return self._claim_cursor != "0-0" or time.monotonic() >= self._next_claim

    async def _claim(self) -> list[Entry]:
        """Take over entries another consumer has left pending too long (it died, or hangs)."""
        reply = await self.engine.redis.xautoclaim(
            self.stream, self.group, self.consumer, self.claim_idle_ms, start_id=self._claim_cursor,
            count=self.batch_size)
        cursor, entries = reply[0], reply[1]
        self._claim_cursor = cursor.decode() if isinstance(cursor, bytes) else str(cursor)
        if self._claim_cursor == "0-0":  # a whole sweep done; the next one later
            self._next_claim = time.monotonic() + self.claim_every_s
        return cast(list[Entry], entries)

    # -- writing --------------------------------------------------------------------------------
    async def _handle(self, entries: list[Entry]) -> None:
        events = [e for e in (self._parse(eid, fields) for eid, fields in entries) if e is not None]
        for event in events:
            self.engine.follow(event.payload)  # the hall's set-up changed: its later events are stored in the new one
        if events:
            await self._retrying("write events to SQL", lambda: self._store(events))
        try:
            await self.engine.redis.xack(self.stream, self.group, *(eid for eid, _ in entries))
        except RedisError as exc:
            # Committed but not acknowledged: they come round again from our pending list and are skipped then.
            log.warning("archiver %s could not acknowledge %d events: %s", self.consumer, len(entries), exc)
            self._recheck_own = True

    async def _store(self, events: list[StreamEvent]) -> None:
        self.archived += await self.writer.store(self.engine.hall, events)

    def _parse(self, stream_id: bytes | str, fields: dict[bytes, bytes] | None) -> StreamEvent | None:
        if not fields or b"e" not in fields:
            return None  # trimmed from the stream before we got to it: nothing left to copy
        try:
            return stream_event(stream_id, orjson.loads(fields[b"e"]))
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            # Retrying cannot fix a malformed entry; holding it back would stop the whole archive.
            log.error("archiver skips malformed event %r: %s", stream_id, exc)
            return None

    async def _retrying(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt`` until it succeeds, backing off (doubling, capped) after each failure."""
        delay, cap = self.backoff_s
        while True:
            raise_if_cancelled()
            try:
                result = await attempt()
            except Exception as exc:  # any failure: SQL or Redis down, a lock timeout, a bug worth a log line
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("archiver %s could not %s (failure %d, next try in %.1f s): %s",
                            self.consumer, what, self.failures, delay, self.last_error)
                if isinstance(exc, RedisError):
                    self._recheck_own = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, cap)
                continue
            if self.failures:
                log.info("archiver %s recovered after %d failures", self.consumer, self.failures)
            self.failures, self.last_error = 0, None
            return result



def stream_event(stream_id: bytes | str, payload: dict[str, Any]) -> StreamEvent:
    """A stream entry's event as the record stores it."""
    event = Event.from_stream(stream_id, payload)
    return StreamEvent.from_stream(event.id, event.data)


def _entries(reply: Any) -> list[Entry]:
    """XREADGROUP's reply for our one stream: [[name, entries]] over RESP2, {name: [entries]} over RESP3."""
    if not reply:
        return []
    if isinstance(reply, dict):
        (entries,) = reply.values()
        return list(entries[0] if entries and isinstance(entries[0], list) else entries)
    return list(reply[0][1])
