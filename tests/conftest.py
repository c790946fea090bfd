"""Fixtures: a real Redis under a key prefix of the test's own, the demo hall, a hand-turned clock.

``HALLQ_TEST_REDIS_URL`` chooses the Redis: the machine's own by default, or a Redis Cluster
(``redis+cluster://127.0.0.1:7000``, which ``scripts/redis-cluster start`` runs). Tests reach it through ``shards``
(what an engine runs on, as the server's) and ``redis`` (for reading keys directly; on a cluster, redis-py's
cluster client, which finds each key's node)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
import redis as redis_sync
from redis.asyncio import Redis, RedisCluster

from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig, load_hall
from queue_engine.engine import Engine
from queue_engine.shards import ClusterUrl, Shards, is_cluster_url

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("HALLQ_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ON_CLUSTER = is_cluster_url(REDIS_URL)
SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Monday mid-morning: the demo hall is open.
MONDAY_9AM = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files marked ``slow`` run first. Workers take a whole file at a time (``--dist loadfile``, in collection
    order): a long file handed out last keeps the whole run waiting on one worker while the others idle."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: each file keeps its order


@pytest.fixture(scope="session")
def demo_hall() -> HallConfig:
    return load_hall(ROOT / "floor" / "halls" / "demo.toml")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_9AM)


@pytest.fixture
def key_prefix() -> str:
    return f"hqtest-{uuid.uuid4().hex[:10]}"


def _seed_url() -> str:
    return ClusterUrl.parse(REDIS_URL).node(*ClusterUrl.parse(REDIS_URL).seeds[0])


def async_redis(**options: Any) -> Redis:
    """A client for reading and writing test keys directly, whatever their slot (typed as the plain client: the
    cluster client answers the same commands)."""
    if ON_CLUSTER:
        return cast(Redis, RedisCluster.from_url(_seed_url(), **options))
    return Redis.from_url(REDIS_URL, **options)


def sync_redis() -> redis_sync.Redis:
    """``async_redis`` for synchronous code (teardowns, helpers with no event loop)."""
    if ON_CLUSTER:
        return cast(redis_sync.Redis, redis_sync.RedisCluster.from_url(_seed_url()))
    return redis_sync.Redis.from_url(REDIS_URL)


async def open_shards() -> Shards:
    """What an engine runs on, as in the server: one Redis, or the cluster's primaries."""
    shards = Shards.from_url(REDIS_URL, Redis.from_url)
    await shards.start()
    return shards


async def delete_prefix(redis: Redis, prefix: str) -> None:
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        await redis.delete(key)


@pytest.fixture
async def redis(key_prefix: str) -> AsyncIterator[Redis]:
    client = async_redis()
    try:
        await client.ping()
    except Exception as exc:  # a missing Redis is a broken machine, not a skipped test
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}; run scripts/test, which starts it")
    yield client
    await delete_prefix(client, key_prefix)
    await client.aclose()


@pytest.fixture
async def shards(redis: Redis) -> AsyncIterator[Shards]:
    """The ``redis`` fixture's Redis as an engine sees it (its keys are deleted with that fixture's)."""
    opened = Shards.one(redis) if not ON_CLUSTER else await open_shards()
    yield opened
    if ON_CLUSTER:
        await opened.aclose()


@pytest.fixture
async def engine(shards: Shards, demo_hall: HallConfig, clock: ManualClock, key_prefix: str) -> Engine:
    e = Engine(shards, demo_hall, prefix=key_prefix, clock=clock)
    await e.setup()
    return e
