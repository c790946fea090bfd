"""FCALL on the hot path, packed by hand: most of a call's keys and arguments never change.

redis-py encodes every argument of every command anew (about 8 µs each here); a call_next names
some 30 keys and arguments, nearly all fixed for its window. ``Packed`` holds such a run encoded
once, and ``FunctionCaller`` sends FCALL as one buffer on a connection borrowed from the client's
pool (hiredis still parses the reply), so a call costs only its few changing arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError


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


class FunctionCaller:
    """Calls the functions of one Lua library (FCALL), each call one pre-packed buffer."""

    def __init__(self, redis: Redis, library: str, names: dict[str, str]) -> None:
        self.redis = redis  # its pool lends the connections; FUNCTION LOAD goes through it too
        self.library = library
        self._heads = {name: bulk("FCALL") + bulk(function) for name, function in names.items()}

    async def load(self) -> None:
        await self.redis.execute_command("FUNCTION", "LOAD", "REPLACE", self.library)  # type: ignore[no-untyped-call]

    async def call(self, name: str, keys: Packed, args: Sequence[Any], tail: Packed = EMPTY,
                   last: Any = "") -> Any:
        """FCALL name with KEYS = keys and ARGV = args + tail + [last]."""
        encoded = b"".join(bulk(a) for a in args)
        count = 3 + keys.count + len(args) + tail.count + 1
        packed = b"".join((b"*%d\r\n" % count, self._heads[name], bulk(keys.count), keys.data, encoded, tail.data,
                           bulk(last)))
        try:
            return await self._send(packed)
        except ResponseError as exc:
            if "Function not found" not in str(exc):
                raise
            await self.load()  # Redis restarted without persistence, or this version is new to it
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
