"""Who is at each window: one person at one window, one window per person, kept in the hall's Redis slot
(``HallKeys.holders``: window id -> {"u": username, "n": display name}) so every worker and screen agrees."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class Holder:
    username: str
    name: str


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def read(redis: Redis, key: str) -> dict[str, Holder]:
    raw: dict[Any, Any] = await redis.hgetall(key)
    found = {}
    for window, value in raw.items():
        held = orjson.loads(value)
        found[_text(window)] = Holder(held["u"], held["n"])
    return found


async def take(redis: Redis, key: str, window: str, username: str, name: str) -> bool:
    """Hold ``window`` for ``username``; False if someone holds it (holding it already counts as taking it)."""
    if await redis.hsetnx(key, window, orjson.dumps({"u": username, "n": name})):
        return True
    held = (await read(redis, key)).get(window)
    return held is not None and held.username == username


async def release(redis: Redis, key: str, window: str, username: str) -> None:
    """Let go of ``window`` if ``username`` holds it (a leave racing a manager's hand-over frees nothing else)."""
    held = (await read(redis, key)).get(window)
    if held is not None and held.username == username:
        await redis.hdel(key, window)
