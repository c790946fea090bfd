"""EVALSHA on the hot path, packed by hand: most of a call's keys and arguments never change.

redis-py encodes every argument of every command anew (about 8 µs each here); a call_next names
some 30 keys and arguments, nearly all fixed for its window. ``Packed`` holds such a run encoded
once, and ``ScriptCaller`` sends EVALSHA as one buffer on a connection borrowed from the client's
pool (hiredis still parses the reply), so a call costs only its few changing arguments.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError


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


class ScriptCaller:
    """Runs loaded Lua scripts by sha, each call one pre-packed buffer."""

    def __init__(self, redis: Redis, sources: dict[str, str]) -> None:
        self.redis = redis  # its pool lends the connections; SCRIPT LOAD goes through it too
        self.sources = sources
        self.shas = {name: hashlib.sha1(src.encode()).hexdigest() for name, src in sources.items()}
        self._heads = {name: bulk("EVALSHA") + bulk(sha) for name, sha in self.shas.items()}

    async def call(self, name: str, keys: Packed, args: Sequence[Any], tail: Packed = EMPTY,
                   last: Any = "") -> Any:
        """EVALSHA name with KEYS = keys and ARGV = args + tail + [last]."""
        encoded = b"".join(bulk(a) for a in args)
        count = 3 + keys.count + len(args) + tail.count + 1
        packed = b"".join((b"*%d\r\n" % count, self._heads[name], bulk(keys.count), keys.data, encoded, tail.data,
                           bulk(last)))
        try:
            return await self._send(packed)
        except NoScriptError:
            await self.redis.script_load(self.sources[name])  # Redis restarted, or a new server: load once more
            return await self._send(packed)

    async def _send(self, packed: bytes) -> Any:
        pool = self.redis.connection_pool
        conn = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            await conn.send_packed_command(packed, check_health=False)
            return await conn.read_response()
        except ResponseError:
            raise  # the connection is fine; the reply was an error
        except BaseException:
            # Broken, timed out or cancelled mid-reply: its stream position is unknown, never reuse it.
            await conn.disconnect()
            raise
        finally:
            await pool.release(conn)
