"""The hub reads each hall's stream once per process and offers every event to that hall's listeners, in order."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from typing import Any

import pytest
from redis.asyncio import Redis

from floor.db import parse_stream_id
from floor.hub import Hub, StreamReads
from queue_engine.wire import Pipe
from tests.conftest import REDIS_URL

STREAM = "{hall}:events"


def render(hall: str, event_id: str, payload: dict[str, object]) -> str:
    return f"{hall}|{event_id}|{payload['n']}"


async def _add(redis: Redis, key: str, n: int) -> str:
    eid: bytes = await redis.xadd(key, {"e": f'{{"n": {n}}}'})
    return eid.decode()


class Recorder:
    def __init__(self, hall: str, expect: int = 1) -> None:
        self.hall = hall
        self.offers: list[tuple[str, str, Mapping[str, Any]]] = []
        self.beats: list[float] = []  # when each beat came (loop time)
        self.expect = expect
        self.arrived = asyncio.Event()  # set once ``expect`` offers have come

    def offer(self, event_id: str, text: str, payload: Mapping[str, Any]) -> None:
        self.offers.append((event_id, text, payload))
        if len(self.offers) >= self.expect:
            self.arrived.set()

    def beat(self) -> None:
        self.beats.append(asyncio.get_running_loop().time())


class Broken(Recorder):
    def offer(self, event_id: str, text: str, payload: Mapping[str, Any]) -> None:
        raise ValueError("a listener with a bug")


async def test_every_listener_of_the_hall_gets_every_event_in_order_once(redis: Redis, key_prefix: str) -> None:
    keys = {"h": f"{key_prefix}:{{h}}:events", "other": f"{key_prefix}:{{other}}:events"}
    await _add(redis, keys["h"], 0)  # before the hub starts: for the backlog, not delivered live
    hub = Hub(redis, keys, render, block_ms=100)
    first, second, elsewhere, broken = Recorder("h", 20), Recorder("h", 20), Recorder("other"), Broken("h")
    for listener in (broken, first, second, elsewhere):
        hub.subscribe(listener)
    reader = asyncio.create_task(hub.run())
    try:
        await asyncio.sleep(0.2)
        ids = [await _add(redis, keys["h"], n) for n in range(1, 21)]
        await asyncio.wait_for(asyncio.gather(first.arrived.wait(), second.arrived.wait()), 5)
        for listener in (first, second):
            assert [eid for eid, _, _ in listener.offers] == ids
            assert [text for _, text, _ in listener.offers] == [f"h|{eid}|{n}" for n, eid in enumerate(ids, 1)]
            assert [payload["n"] for _, _, payload in listener.offers] == list(range(1, 21))
        assert elsewhere.offers == []  # another hall's listener hears nothing of this one
        assert hub.delivered == 20
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


async def test_unsubscribed_listeners_get_nothing_more(redis: Redis, key_prefix: str) -> None:
    key = f"{key_prefix}:{STREAM}"
    hub = Hub(redis, {"h": key}, render, block_ms=100)
    gone, staying = Recorder("h"), Recorder("h")
    hub.subscribe(gone)
    hub.subscribe(staying)
    hub.unsubscribe(gone)
    reader = asyncio.create_task(hub.run())
    try:
        await asyncio.sleep(0.2)
        await _add(redis, key, 1)
        await asyncio.wait_for(staying.arrived.wait(), 5)
        assert gone.offers == []
        assert hub.delivered == 1
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


async def test_listeners_are_asked_to_beat_twice_per_heartbeat_interval(redis: Redis, key_prefix: str) -> None:
    hub = Hub(redis, {"h": f"{key_prefix}:{STREAM}"}, render, heartbeat_s=0.2, block_ms=100)
    listener = Recorder("h")
    hub.subscribe(listener)
    reader = asyncio.create_task(hub.run())
    try:
        await asyncio.sleep(1.05)
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    # Judged by the gaps, not by a count in wall time: a busy machine delays some beats, never brings one early.
    gaps = sorted(b - a for a, b in itertools.pairwise(listener.beats))
    assert len(gaps) >= 3
    assert gaps[0] >= 0.09  # never more often than every heartbeat_s / 2
    assert gaps[len(gaps) // 2] < 0.15  # and typically every 0.1 s, not once per heartbeat_s


@pytest.mark.parametrize("protocol", [2, 3])
async def test_hand_packed_reads_take_each_hall_after_its_own_id_in_either_protocol(
        key_prefix: str, protocol: int) -> None:
    """The hub's XREAD is packed by hand: each hall's id must pair with its own stream, ids that moved must be
    packed again, and RESP2's list and RESP3's map must both come back as (stream, entries)."""
    client = Redis.from_url(REDIS_URL, protocol=protocol)
    keys = {hall: f"{key_prefix}:{{{hall}}}:events" for hall in ("a", "b", "c")}
    try:
        ids = {hall: [await _add(client, key, n) for n in range(3)] for hall, key in keys.items()}
        reads = StreamReads(Pipe(client), keys, block_ms=100)

        async def read(last: dict[str, str]) -> dict[str, list[str]]:
            replies = await reads.after(last)
            return {stream.decode(): [eid.decode() for eid, _ in entries] for stream, entries in replies}

        assert await read({"a": ids["a"][0], "b": ids["b"][2], "c": ids["c"][1]}) == {
            keys["a"]: ids["a"][1:], keys["c"]: ids["c"][2:]}
        assert await read({"a": ids["a"][1], "b": ids["b"][0], "c": ids["c"][2]}) == {
            keys["a"]: ids["a"][2:], keys["b"]: ids["b"][1:]}
        assert list(await read({hall: hall_ids[-1] for hall, hall_ids in ids.items()})) == []  # the block ran out
        entry = next(iter(await reads.after({"a": "0-0", "b": ids["b"][2], "c": ids["c"][2]})))[1][0]
        assert entry[1] == [b"e", b'{"n": 0}']
    finally:
        await client.delete(*keys.values())
        await client.aclose()
