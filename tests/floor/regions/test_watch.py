"""区域总览 live (floor/regions/watch.py), on real Redis: halls touched by an event are read again once a tick, only
the regions watching them get a frame, one text rendered per region whoever watches it, and nothing is read while
nobody watches."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import orjson
from redis.asyncio import Redis

from floor.network.rules import Network
from floor.realtime.outbox import Outbox
from floor.regions.watch import RegionWatch
from floor.runtime import HallRuntime, Runtime
from floor.settings import Settings
from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from queue_engine.shards import Shards

REGIONS = [{"id": "sf", "name": "示范县", "kind": "county"},
           {"id": "cg", "name": "城关镇", "kind": "town", "parent": "sf"},
           {"id": "hs", "name": "黑山镇", "kind": "town", "parent": "sf"}]


class Screen:
    """What a socket would be sent."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def put(self, text: str, event_id: str | None = None) -> None:
        self.texts.append(text)


async def county(redis: Redis, demo_hall: HallConfig, clock: ManualClock, prefix: str) -> Runtime:
    halls = {}
    for hall_id, region in (("a", "cg"), ("b", "cg"), ("c", "hs")):
        engine = Engine(redis, demo_hall.model_copy(update={"id": hall_id, "region": region}), prefix=prefix,
                        clock=clock)
        await engine.setup()
        halls[hall_id] = HallRuntime(engine)
    return Runtime(Settings(secret=b"watch"), Shards.one(redis), halls, hub=cast(Any, None),
                   network=Network.model_validate({"regions": REGIONS}))


async def test_only_the_regions_watching_a_touched_hall_get_a_frame_rendered_once(
        redis: Redis, demo_hall: HallConfig, clock: ManualClock, key_prefix: str) -> None:
    runtime = await county(redis, demo_hall, clock, key_prefix)
    watch = RegionWatch(runtime, clock=clock)
    town, county_a, county_b, other_town = Screen(), Screen(), Screen(), Screen()
    first = orjson.loads(await watch.join("cg", cast(Outbox, town)))
    assert [line["hall"] for line in first["halls"]] == ["a", "b"]
    assert first["name"] == "城关镇"
    await watch.join("sf", cast(Outbox, county_a))
    await watch.join("sf", cast(Outbox, county_b))
    await watch.join("hs", cast(Outbox, other_town))
    reads = watch.reads

    engine = runtime.halls["a"].engine
    await engine.open_window("1")
    await engine.issue("SOC")
    watch.touch("a")
    await watch.tick()
    assert watch.reads == reads + 1  # one hall touched, one snapshot, however many watch it
    [town_frame] = town.texts
    assert orjson.loads(town_frame)["halls"][0]["hall"] == "a"
    assert orjson.loads(town_frame)["halls"][0]["waiting"] == 1
    assert orjson.loads(town_frame)["totals"]["waiting"] == 1
    assert county_a.texts[0] is county_b.texts[0]  # rendered once for the region, sent to both
    assert other_town.texts == []  # 黑山镇 is not told about 城关镇

    # Touched with nothing changed: read, but no frame.
    watch.touch("a")
    await watch.tick()
    assert len(town.texts) == 1


async def test_nobody_watching_reads_nothing(redis: Redis, demo_hall: HallConfig, clock: ManualClock,
                                             key_prefix: str) -> None:
    runtime = await county(redis, demo_hall, clock, key_prefix)
    watch = RegionWatch(runtime, clock=clock)
    screen = Screen()
    await watch.join("cg", cast(Outbox, screen))
    watch.leave("cg", cast(Outbox, screen))
    reads = watch.reads
    watch.touch("a")
    await watch.tick()
    assert (watch.reads, watch.dirty) == (reads, set())


async def test_a_region_joined_again_after_nobody_watched_starts_from_the_hall_as_it_is(
        redis: Redis, demo_hall: HallConfig, clock: ManualClock, key_prefix: str) -> None:
    runtime = await county(redis, demo_hall, clock, key_prefix)
    watch = RegionWatch(runtime, clock=clock)
    screen = Screen()
    await watch.join("cg", cast(Outbox, screen))
    watch.leave("cg", cast(Outbox, screen))
    engine = runtime.halls["b"].engine
    await engine.open_window("1")
    await engine.issue("SOC")
    await engine.issue("SOC")
    watch.touch("b")
    await watch.tick()  # nobody watching: the touch is dropped
    again = orjson.loads(await watch.join("cg", cast(Outbox, Screen())))
    assert {line["hall"]: line["waiting"] for line in again["halls"]} == {"a": 0, "b": 2}


async def test_a_hall_touched_while_a_region_is_being_joined_is_read_again_after(
        redis: Redis, demo_hall: HallConfig, clock: ManualClock, key_prefix: str) -> None:
    """The join reads every hall before its socket watches them: a tick meanwhile (nobody watching yet) must keep
    what was touched, or a line read before the touch would stay as it was until the hall's next event."""
    runtime = await county(redis, demo_hall, clock, key_prefix)
    watch = RegionWatch(runtime, clock=clock)
    joining = asyncio.create_task(watch.join("cg", cast(Outbox, Screen())))
    await asyncio.sleep(0)  # the join is reading the halls now
    watch.touch("a")
    await watch.tick()
    await joining
    assert "a" in watch.dirty


async def test_a_request_for_a_watched_region_is_answered_from_the_lines_kept(
        redis: Redis, demo_hall: HallConfig, clock: ManualClock, key_prefix: str) -> None:
    runtime = await county(redis, demo_hall, clock, key_prefix)
    watch = RegionWatch(runtime, clock=clock)
    screen = cast(Outbox, Screen())
    await watch.join("sf", screen)
    reads = watch.reads
    town = orjson.loads(await watch.snapshot("cg"))
    assert [line["hall"] for line in town["halls"]] == ["a", "b"]
    assert watch.reads == reads  # the county's socket keeps the town's halls current
    watch.leave("sf", screen)
    await watch.snapshot("cg")
    assert watch.reads == reads + 2  # nobody watching: read now
