"""The hub fans every event out once per process; a subscriber that falls behind is cut loose, never waited on."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from floor import hub as hub_module
from floor.db import parse_stream_id
from floor.hub import Hub

STREAM = "{hall}:events"


def render(hall: str, event_id: str, payload: dict[str, object]) -> str:
    return f"{hall}|{event_id}|{payload['n']}"


async def _add(redis: Redis, key: str, n: int) -> str:
    eid: bytes = await redis.xadd(key, {"e": f'{{"n": {n}}}'})
    return eid.decode()


async def test_a_slow_subscriber_is_marked_and_the_others_get_everything(
    redis: Redis, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_module, "QUEUE_LIMIT", 5)
    key = f"{key_prefix}:{STREAM}"
    await _add(redis, key, 0)  # before the hub starts: not delivered live
    hub = Hub(redis, {"h": key}, render, block_ms=100)
    fast, slow = hub.subscribe("h"), hub.subscribe("h")
    reader = asyncio.create_task(hub.run())
    try:
        await asyncio.sleep(0.2)
        received: list[str] = []
        for n in range(1, 21):
            await _add(redis, key, n)
            received.append((await asyncio.wait_for(fast.queue.get(), 5))[1])
        assert [text.split("|")[2] for text in received] == [str(n) for n in range(1, 21)]
        assert slow.overflowed.is_set()
        assert slow.queue.qsize() == 5  # it kept what fitted; the socket resumes from the stream for the rest
        assert not fast.overflowed.is_set()
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


async def test_backlog_is_strictly_after_since_and_in_order(redis: Redis, key_prefix: str) -> None:
    key = f"{key_prefix}:{STREAM}"
    ids = [await _add(redis, key, n) for n in range(10)]
    hub = Hub(redis, {"h": key}, render)
    backlog = await hub.backlog("h", ids[3])
    assert [eid for eid, _ in backlog] == ids[4:]
    assert [text.split("|")[2] for _, text in backlog] == [str(n) for n in range(4, 10)]
    assert parse_stream_id(ids[9]) > parse_stream_id(ids[8])


async def test_unsubscribed_sockets_get_nothing_more(redis: Redis, key_prefix: str) -> None:
    key = f"{key_prefix}:{STREAM}"
    hub = Hub(redis, {"h": key}, render, block_ms=100)
    sub = hub.subscribe("h")
    hub.unsubscribe(sub)
    reader = asyncio.create_task(hub.run())
    try:
        await asyncio.sleep(0.2)
        await _add(redis, key, 1)
        await asyncio.sleep(0.3)
        assert sub.queue.empty()
        assert hub.delivered == 1
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
