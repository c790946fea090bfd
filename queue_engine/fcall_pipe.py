"""FCALL on the hot path, packed by hand and pipelined on one connection.

redis-py encodes every argument of every command anew; a call_next names
some 30 keys and arguments, nearly all fixed for its window. ``Packed`` holds such a run encoded
once, so a call costs only its few changing arguments.

``Pipe`` sends those buffers on one connection per Redis client, without waiting for earlier replies:
Redis answers in order, so each call's future is resolved by the next reply hiredis parses. Under load
many requests' calls share one write (the calls of one turn of the event loop) and one read, and no call
borrows, checks or returns a pooled connection (a large share of a request's time under load). A cancelled
caller leaves its future behind and its reply is dropped when it comes, so a
cancellation can never shift replies.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .shards import Shards, SlotMoved, is_moved

REPLY_TIMEOUT_S = 5.0  # a reply this late means a hung connection: drop it, fail its calls, reconnect
CONNECT_TIMEOUT_S = 2.0  # a local Redis connects in milliseconds
RECOVERY_WAIT_S = 2.0  # a call waits this long for the rebuild of a Redis that lost its data, then fails (503)


def bulk(value: str | bytes | int | float) -> bytes:
    data = value if isinstance(value, bytes) else str(value).encode()
    return b"$%d\r\n%b\r\n" % (len(data), data)


@dataclass(frozen=True, slots=True)
class Packed:
    """A run of command arguments, encoded once."""

    count: int
    data: bytes

    @classmethod
    def of(cls, values: Iterable[str | bytes | int | float]) -> Packed:
        encoded = [bulk(v) for v in values]
        return cls(len(encoded), b"".join(encoded))

    def __add__(self, other: Packed) -> Packed:
        return Packed(self.count + other.count, self.data + other.data)


EMPTY = Packed(0, b"")


class Pipe:
    """One pipelined connection, borrowed for good from a redis-py client's pool: the client's ``aclose()``
    closes it with the rest, and its address, credentials and database are the client's own."""

    def __init__(self, redis: Redis, timeout_s: float = REPLY_TIMEOUT_S) -> None:
        self._pool = redis.connection_pool
        self._timeout_s = timeout_s
        self._conn: Any = None  # a redis.asyncio.Connection while one is held
        self._pending: deque[tuple[asyncio.Future[Any], float]] = deque()
        self._connecting: asyncio.Future[None] | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Future[None]] = set()  # the reply reader and releases under way
        self._outgoing: list[bytes] = []  # calls made in this turn of the event loop, written together at its end

    async def call(self, packed: bytes) -> Any:
        """Send one packed command and return its reply (a reply error is raised as ResponseError)."""
        # A loop: the connection just made may be dropped before this task resumes (Redis shutting down), and a
        # call queued on a dropped connection would wait for a reply that never comes.
        while self._conn is None or not self._conn.is_connected:
            await self._connected()
        return await self._enqueue(packed)

    async def call_many(self, commands: Sequence[bytes]) -> list[Any]:
        """Send several packed commands in one go and return their replies, in order (not a transaction)."""
        while self._conn is None or not self._conn.is_connected:
            await self._connected()
        # gather, not one await each: if the connection drops, every reply fails, and gather collects them all
        # (an exception left in a future nobody reads is logged as never retrieved).
        return list(await asyncio.gather(*(self._enqueue(packed) for packed in commands)))

    def _enqueue(self, packed: bytes) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((future, time.monotonic() + self._timeout_s))
        self._outgoing.append(packed)
        if len(self._outgoing) == 1:  # one write (a syscall) for all the calls of this turn, not one each
            asyncio.get_running_loop().call_soon(self._flush)
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().call_later(self._timeout_s, self._check_late)
        return future

    def _flush(self) -> None:
        if self._outgoing and self._conn is not None:
            self._conn._writer.write(b"".join(self._outgoing))
        self._outgoing.clear()

    async def _connected(self) -> None:
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        connecting = self._connecting
        try:
            await asyncio.shield(connecting)
        finally:
            if connecting.done():
                self._connecting = None

    async def _connect(self) -> None:
        try:
            conn = await asyncio.wait_for(self._lend(), CONNECT_TIMEOUT_S)
        except TimeoutError:
            # Seen while Redis shuts down: the connection is taken in but never answered. Every call waiting for
            # this connection would wait with it.
            raise RedisTimeoutError(f"could not connect to Redis within {CONNECT_TIMEOUT_S:g} s") from None
        # Each connection has its own list of calls awaiting replies, and its reader its own stream: a reader still
        # running on a dropped connection (late replies, or a Connection object the pool lends again) can then
        # never hand a reply to a call made on the next one.
        self._conn, self._pending = conn, deque()
        # The connection's own stream reader (redis-py keeps it as _reader): from here on this pipe is its only user,
        # reading every reply in order.
        self._spawn(self._read_replies(conn, conn._reader, self._pending))

    async def _lend(self) -> Any:
        conn = await self._pool.get_connection()  # type: ignore[no-untyped-call]
        if not conn.is_connected:
            await conn.connect()
        return conn

    async def _read_replies(self, conn: Any, stream: Any, pending: deque[tuple[asyncio.Future[Any], float]]) -> None:
        reader = hiredis.Reader(replyError=ResponseError)
        error: Exception = RedisConnectionError("the connection to Redis was closed")
        try:
            while data := await stream.read(65536):
                reader.feed(data)
                while (reply := reader.gets()) is not False:
                    if not pending:  # the calls of this connection were failed when it was dropped
                        return
                    future, _ = pending.popleft()
                    if future.done():
                        continue  # its caller gave up (cancelled): the reply still had to be read, in order
                    if isinstance(reply, ResponseError):
                        # A cluster node that does not serve the slot (now): an outage for the caller, not an error.
                        future.set_exception(SlotMoved(str(reply)) if is_moved(reply) else reply)
                    else:
                        future.set_result(reply)
        except (OSError, AttributeError, asyncio.CancelledError) as exc:  # AttributeError: closed under us
            error = RedisConnectionError(f"lost the connection to Redis: {exc}")
        finally:
            self._drop(conn, error, pending)

    def _drop(self, conn: Any, error: Exception, pending: deque[tuple[asyncio.Future[Any], float]]) -> None:
        _fail(pending, error)
        if self._pending is pending:  # still our connection (the pool may lend the same object again later)
            self._pending = deque()  # dropped once: its reader ending later must not give it back to the pool again
            self._conn = None
            self._outgoing.clear()  # their calls fail with the rest: never send them down a new connection
            # Back to the pool, closed: it will reconnect if it is ever lent again.
            self._spawn(self._release(conn))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _release(self, conn: Any) -> None:
        try:
            await conn.disconnect()
        finally:
            await self._pool.release(conn)

    def _check_late(self) -> None:
        self._watchdog = None
        if not self._pending:
            return
        late_in = self._pending[0][1] - time.monotonic()
        if late_in <= 0:
            error = RedisTimeoutError(f"Redis did not answer within {self._timeout_s:g} s")
            if self._conn is not None:
                self._drop(self._conn, error, self._pending)
            else:
                _fail(self._pending, error)
            return
        # At the oldest call's own deadline, not a whole timeout later: no call waits up to twice the timeout.
        self._watchdog = asyncio.get_running_loop().call_later(late_in, self._check_late)


def _fail(pending: deque[tuple[asyncio.Future[Any], float]], error: Exception) -> None:
    while pending:
        future, _ = pending.popleft()
        if not future.done():
            future.set_exception(error)


_PIPES: weakref.WeakKeyDictionary[Redis, Pipe] = weakref.WeakKeyDictionary()


def command(*args: str | bytes | int | float) -> bytes:
    """A plain command, packed for ``Pipe.call``: the hot path's reads (a ticket, its place in line) skip
    redis-py's encoding and its pool, as its scripts do."""
    return b"*%d\r\n%b" % (len(args), b"".join(bulk(a) for a in args))


def pipe_for(redis: Redis) -> Pipe:
    """The one pipe of a Redis client: every engine (hall) on that client shares it."""
    pipe = _PIPES.get(redis)
    if pipe is None:
        pipe = _PIPES[redis] = Pipe(redis)
    return pipe


Recovery = Callable[[], Awaitable[None]]
_RECOVERIES: weakref.WeakKeyDictionary[Shards, Recovery] = weakref.WeakKeyDictionary()
_RECOVERING: weakref.WeakKeyDictionary[Shards, asyncio.Future[None]] = weakref.WeakKeyDictionary()


def when_functions_lost(shards: Shards, recovery: Recovery) -> None:
    """Run ``recovery`` before the library is loaded again into a Redis that has lost it.

    A Redis that lost its functions was restarted without persistence: it lost the halls' live state too.
    Until the library is back no script can run, so nothing can issue a number from an empty hall: the
    recovery (a rebuild from the SQL record) has Redis to itself. The library is loaded only once it is done.
    """
    _RECOVERIES[shards] = recovery


async def _recover(shards: Shards) -> None:
    """The registered recovery, run once however many calls found the library gone at the same time. A call waits
    for it at most ``RECOVERY_WAIT_S``, then fails as if Redis were down (503, try again): rebuilding a busy day
    takes seconds, and a request must not hang meanwhile."""
    recovery = _RECOVERIES.get(shards)
    if recovery is None:
        return
    running = _RECOVERING.get(shards)
    if running is None:
        running = _RECOVERING[shards] = asyncio.ensure_future(recovery())
        running.add_done_callback(lambda _: _RECOVERING.pop(shards, None))
    try:
        await asyncio.wait_for(asyncio.shield(running), RECOVERY_WAIT_S)
    except TimeoutError:
        raise RedisTimeoutError("Redis lost its data; the halls are being rebuilt from the record") from None


class NotReplicated(RedisConnectionError):
    """A change was made, but no replica confirmed it in time: it is not acknowledged (503), and the client's retry
    with its Idempotency-Key finds it if it survived, or makes it again if the primary was lost with it."""


@dataclass(frozen=True, slots=True)
class Durability:
    """When a change is acknowledged: once its primary has it (``replicas`` 0: a failover may lose the last
    changes of the primary that died), or once that many replicas have it too (``WAIT``, pipelined behind the
    call: still one round trip, plus the replica's)."""

    replicas: int = 0
    wait_ms: int = 500

    @property
    def packed_wait(self) -> bytes:
        return command("WAIT", self.replicas, self.wait_ms)


PRIMARY_ONLY = Durability()


class FunctionCaller:
    """Calls the functions of one Lua library (FCALL) for the keys of one slot, each call one pre-packed buffer."""

    def __init__(self, shards: Shards, slot: int, library: str, names: dict[str, str],
                 read_only: frozenset[str] = frozenset(), durability: Durability = PRIMARY_ONLY) -> None:
        self.shards = shards  # the slot's primary lends the connections; FUNCTION LOAD goes through it too
        self.slot = slot
        self.library = library
        self._heads = {name: bulk("FCALL") + bulk(function) for name, function in names.items()}
        self._read_only = read_only
        self.durability = durability
        self._wait = durability.packed_wait

    @property
    def redis(self) -> Redis:
        return self.shards.at(self.slot)

    async def load(self) -> None:
        await load_library(self.redis, self.library)

    async def call(self, name: str, keys: Packed, args: Sequence[Any], tail: Packed = EMPTY,
                   last: Any = "") -> Any:
        """FCALL name with KEYS = keys and ARGV = args + tail + [last]."""
        encoded = b"".join(bulk(a) for a in args)
        count = 3 + keys.count + len(args) + tail.count + 1
        packed = b"".join((b"*%d\r\n" % count, self._heads[name], bulk(keys.count), keys.data, encoded, tail.data,
                           bulk(last)))
        durable = self.durability.replicas > 0 and name not in self._read_only
        try:
            try:
                return await self._send(packed, durable)
            except ResponseError as exc:
                if "Function not found" not in str(exc):
                    raise
                await _recover(self.shards)  # Redis restarted without persistence, or this version is new to it
                await self.load()
                return await self._send(packed, durable)
        except (RedisConnectionError, RedisTimeoutError):
            self.shards.suspect()  # a node lost: on a cluster its replica may be taking over
            raise
        except ResponseError as exc:
            if not is_moved(exc):
                raise
            self.shards.suspect()
            raise SlotMoved(str(exc)) from None

    async def _send(self, packed: bytes, durable: bool) -> Any:
        pipe = pipe_for(self.redis)
        if not durable:
            return await pipe.call(packed)
        reply, replicas = await pipe.call_many((packed, self._wait))
        if replicas < self.durability.replicas:
            raise NotReplicated(f"{replicas} of {self.durability.replicas} replicas confirmed the change in "
                                f"{self.durability.wait_ms} ms")
        return reply


async def load_library(redis: Redis, library: str) -> None:
    """FUNCTION LOAD REPLACE: the same library twice is harmless, and a new version replaces none of the old's."""
    await redis.execute_command("FUNCTION", "LOAD", "REPLACE", library)  # type: ignore[no-untyped-call]
