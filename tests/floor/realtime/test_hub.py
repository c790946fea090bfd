"""The hub reads each hall's stream once per process and offers every event to that hall's listeners, in order."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from typing import Any

import pytest
from redis.asyncio import Redis

from floor.realtime.hub import Event, HallFan, Hub, StreamReads
from queue_engine.engine import Engine
from queue_engine.fcall_pipe import Pipe
from queue_engine.shards import Shards
from queue_engine.stream_ids import parse_stream_id

ONE_REDIS = "redis://127.0.0.1:6379/0"

STREAM = "{h}:events"  # the stream of hall "h", in its slot (on a cluster the hub finds it by the tag)


def render(hall: str, view: str, event_id: str, payload: dict[str, Any]) -> str | None:
    """Each view's text of an event; view "none" gets nothing of any."""
    return None if view == "none" else f"{hall}|{view}|{event_id}|{payload['n']}"


async def _add(redis: Redis, key: str, n: int) -> str:
    eid = await redis.xadd(key, {"e": f'{{"n": {n}}}'})
    assert isinstance(eid, bytes)  # the client does not decode replies
    return eid.decode()


class Recorder:
    def __init__(self, hall: str, expect: int = 1, view: str = "v") -> None:
        self.hall = hall
        self.view = view
        self.offers: list[Event] = []
        self.beats: list[float] = []  # when each beat came (loop time)
        self.expect = expect
        self.arrived = asyncio.Event()  # set once ``expect`` offers have come

    def offer(self, events: Sequence[Event]) -> None:
        self.offers.extend(events)
        if len(self.offers) >= self.expect:
            self.arrived.set()

    def beat(self) -> None:
        self.beats.append(asyncio.get_running_loop().time())


class Broken(Recorder):
    def offer(self, events: Sequence[Event]) -> None:
        raise ValueError("a listener with a bug")


async def test_every_listener_of_the_hall_gets_every_event_in_order_once(
        redis: Redis, shards: Shards, key_prefix: str) -> None:
    keys = {"h": f"{key_prefix}:{{h}}:events", "other": f"{key_prefix}:{{other}}:events"}
    await _add(redis, keys["h"], 0)  # before the hub starts: for the backlog, not delivered live
    hub = Hub(shards, keys, render, block_ms=100)
    first, second, elsewhere, broken = Recorder("h", 20), Recorder("h", 20, "w"), Recorder("other"), Broken("h")
    for listener in (broken, first, second, elsewhere):
        hub.subscribe(listener)
    reader = asyncio.create_task(hub.run())
    try:
        await asyncio.sleep(0.2)
        ids = [await _add(redis, keys["h"], n) for n in range(1, 21)]
        await asyncio.wait_for(asyncio.gather(first.arrived.wait(), second.arrived.wait()), 5)
        for listener in (first, second):
            assert [event.id for event in listener.offers] == ids
            assert [event.text(listener.view) for event in listener.offers] == [
                f"h|{listener.view}|{eid}|{n}" for n, eid in enumerate(ids, 1)]
            assert [event.payload["n"] for event in listener.offers] == list(range(1, 21))
        assert [event.text("none") for event in first.offers] == [None] * 20  # a view may get nothing
        assert elsewhere.offers == []  # another hall's listener hears nothing of this one
        assert hub.delivered == 20
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


async def test_backlog_is_strictly_after_since_and_in_order(redis: Redis, shards: Shards, key_prefix: str) -> None:
    key = f"{key_prefix}:{STREAM}"
    ids = [await _add(redis, key, n) for n in range(10)]
    hub = Hub(shards, {"h": key}, render)
    backlog = await hub.backlog("h", "v", ids[3])
    assert backlog == [(eid, f"h|v|{eid}|{n}") for n, eid in enumerate(ids[4:], 4)]  # that view's text of each
    assert await hub.backlog("h", "none", ids[3]) == [(eid, None) for eid in ids[4:]]  # ids even when nothing
    assert parse_stream_id(ids[9]) > parse_stream_id(ids[8])


async def test_unsubscribed_listeners_get_nothing_more(redis: Redis, shards: Shards, key_prefix: str) -> None:
    key = f"{key_prefix}:{STREAM}"
    hub = Hub(shards, {"h": key}, render, block_ms=100)
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


async def test_listeners_are_asked_to_beat_twice_per_heartbeat_interval(shards: Shards, key_prefix: str) -> None:
    hub = Hub(shards, {"h": f"{key_prefix}:{STREAM}"}, render, heartbeat_s=0.2, block_ms=100)
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
    client = Redis.from_url(ONE_REDIS, protocol=protocol)  # one XREAD over many halls: the single-Redis read
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


class Named:
    def __init__(self, name: str) -> None:
        self.hall = "h"
        self.name = name

    def offer(self, events: Sequence[Event]) -> None: ...

    def beat(self) -> None: ...


def _ids(events: list[Event]) -> list[str]:
    return [event.id for event in events]


def _event(event_id: str) -> Event:
    return Event(event_id, {"n": 0}, "h", render)


def test_a_hall_fan_owes_each_listener_what_was_read_after_it_joined_once_and_in_order() -> None:
    fan = HallFan()
    a, b, c, late = Named("a"), Named("b"), Named("c"), Named("late")
    for listener in (a, b, c):
        fan.join(listener)
    fan.add(_event("1-0"))
    assert fan.owed() == [a, b, c]
    assert _ids(fan.take(a)) == ["1-0"]
    fan.add(_event("2-0"))  # read while a pass is under way: it joins the pass for those not yet offered
    fan.join(late)  # joined after both were read: owed neither
    assert _ids(fan.take(b)) == ["1-0", "2-0"]
    fan.leave(c)  # gone before its turn
    assert fan.take(c) == []
    fan.trim()
    assert (fan.base, _ids(fan.events)) == (1, ["2-0"])  # a still lacks the second
    assert fan.owed() == [a]
    assert _ids(fan.take(a)) == ["2-0"]
    fan.trim()
    assert (fan.base, fan.events, fan.owed()) == (2, [], [])
    fan.add(_event("3-0"))
    assert fan.owed() == [a, b, late]
    assert [_ids(fan.take(x)) for x in (a, b, late)] == [["3-0"]] * 3


class SlowScreen(Recorder):
    """A listener whose socket takes a while: two thousand of them make a pass long enough to read during."""

    def __init__(self, index: int, log: list[tuple[int, list[str]]], begun: asyncio.Event) -> None:
        super().__init__("h", expect=2)
        self.index = index
        self.log = log
        self.begun = begun

    def offer(self, events: Sequence[Event]) -> None:
        time.sleep(0.0001)
        self.log.append((self.index, _ids(list(events))))
        self.begun.set()
        super().offer(events)


async def test_an_event_read_while_the_hub_offers_the_last_does_not_wait_for_that_pass_to_end(
        redis: Redis, shards: Shards, key_prefix: str) -> None:
    """A window calls the moment it finishes: the call must reach the screens the finish has not reached yet
    along with it, not after the finish has reached every screen."""
    key = f"{key_prefix}:{STREAM}"
    hub = Hub(shards, {"h": key}, render, block_ms=100)
    log: list[tuple[int, list[str]]] = []
    begun = asyncio.Event()
    # 20 slices of ~10 ms: the turns of the loop between them let the test add the call and the hub read it.
    screens = [SlowScreen(n, log, begun) for n in range(2000)]
    for screen in screens:
        hub.subscribe(screen)
    reader = asyncio.create_task(hub.run())
    try:
        await asyncio.sleep(0.2)
        finished = await _add(redis, key, 1)
        await asyncio.wait_for(begun.wait(), 5)  # the finish's pass has begun
        called = await _add(redis, key, 2)
        await asyncio.wait_for(asyncio.gather(*(s.arrived.wait() for s in screens)), 10)
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    for screen in screens:
        assert _ids(screen.offers) == [finished, called]
    first_call = next(i for i, (_, ids) in enumerate(log) if called in ids)
    together = [index for index, ids in log[:first_call + 1] if ids == [finished, called]]
    assert together, "the call waited for the finish's whole pass"
    assert log[first_call][0] > 0  # it went on from where the pass was, not from the first screen
    assert log[-1][1] == [called]  # and the screens passed before it came got it after


async def test_a_hall_change_reaches_its_listeners_at_once_however_long_the_hub_blocks(
        engine: Engine, shards: Shards) -> None:
    """The engine's scripts wake the hub: one Redis answers its blocking read, on a cluster each event's
    SPUBLISH wakes the node's listener. Neither waits for ``block_ms`` (a minute here)."""
    hall = engine.hall.id
    hub = Hub(shards, {hall: engine.keys.events}, lambda h, v, e, payload: payload["type"], block_ms=60_000)
    listener = Recorder(hall, expect=2)
    hub.subscribe(listener)
    task = asyncio.create_task(hub.run())
    try:
        await asyncio.sleep(0.3)  # the hub reads from the streams' ends, listening
        started = time.monotonic()
        await engine.open_window("1")
        await engine.issue("SOC")
        await asyncio.wait_for(listener.arrived.wait(), 5)
        assert time.monotonic() - started < 2.0
        assert [event.text("v") for event in listener.offers] == ["window.opened", "ticket.issued"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
