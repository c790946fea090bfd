"""Fixtures: a real Redis under a key prefix of the test's own, the demo hall, a hand-turned clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis

from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig, load_hall
from queue_engine.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("HALLQ_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
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


async def delete_prefix(redis: Redis, prefix: str) -> None:
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        await redis.delete(key)


@pytest.fixture
async def redis(key_prefix: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:  # a missing Redis is a broken machine, not a skipped test
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}; run scripts/test, which starts it")
    yield client
    await delete_prefix(client, key_prefix)
    await client.aclose()


@pytest.fixture
async def engine(redis: Redis, demo_hall: HallConfig, clock: ManualClock, key_prefix: str) -> Engine:
    e = Engine(redis, demo_hall, prefix=key_prefix, clock=clock)
    await e.setup()
    return e
