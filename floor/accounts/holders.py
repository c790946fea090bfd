"""Who is at each window: one person at one window, one window per person, kept in the hall's Redis slot
(``HallKeys.holders``: window id -> {"u": username, "n": display name}) so every worker and screen agrees."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from queue_engine.library import standalone_script


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


_TAKE = standalone_script("take_window")


@dataclass(frozen=True, slots=True)
class Taken:
    """Why a window could not be taken: someone else holds it (``holder``), or this person holds ``another``."""

    holder: Holder | None = None
    another: str | None = None


async def take(redis: Redis, key: str, window: str, username: str, name: str) -> Taken | None:
    """Hold ``window`` for ``username`` (holding it already counts as taking it); None when done, else why not."""
    reply: Any = await redis.eval(_TAKE, 1, key, window, username, orjson.dumps({"u": username, "n": name}))
    outcome = _text(reply[0])
    if outcome == "ok":
        return None
    if outcome == "taken":
        held = orjson.loads(reply[1])
        return Taken(holder=Holder(held["u"], held["n"]))
    return Taken(another=_text(reply[1]))


def holding(held: dict[str, Holder], username: str) -> list[str]:
    """The windows ``username`` holds (one at most, the rule says; a list, so a broken rule shows)."""
    return [w for w, h in held.items() if h.username == username]


async def release(redis: Redis, key: str, window: str, username: str) -> None:
    """Let go of ``window`` if ``username`` holds it (a leave racing a manager's hand-over frees nothing else)."""
    held = (await read(redis, key)).get(window)
    if held is not None and held.username == username:
        await redis.hdel(key, window)
