"""``impl``: the same test against the pure model and the Redis engine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from tests.drivers import ModelDriver


@pytest.fixture(params=["model", "engine"])
def impl(request: pytest.FixtureRequest, demo_hall: HallConfig, clock: ManualClock) -> Any:
    """An Engine or a ModelDriver on the demo hall (all windows closed, 09:00 on a Monday)."""
    if request.param == "model":
        return ModelDriver(demo_hall, clock=clock)
    return request.getfixturevalue("engine")


Build = Callable[[HallConfig], Awaitable[Any]]


@pytest.fixture(params=["model", "engine"])
def build(request: pytest.FixtureRequest, clock: ManualClock, key_prefix: str) -> Build:
    """Make a model driver or an engine for a hall of the test's own (e.g. another requeue policy)."""
    redis = request.getfixturevalue("redis") if request.param == "engine" else None

    async def make(hall: HallConfig) -> Any:
        if redis is None:
            return ModelDriver(hall, clock=clock)
        engine = Engine(redis, hall, prefix=key_prefix, clock=clock)
        await engine.setup()
        return engine

    return make
