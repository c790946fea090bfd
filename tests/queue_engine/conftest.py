"""``impl``: the same test against the pure model and the Redis engine."""

from __future__ import annotations

from collections.abc import Callable
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


@pytest.fixture(params=["model", "engine"])
def build_hall(request: pytest.FixtureRequest, demo_hall: HallConfig, clock: ManualClock, key_prefix: str) -> Any:
    """Make a model driver or an engine for the demo hall as changed by a function (another policy, say)."""
    redis = request.getfixturevalue("redis") if request.param == "engine" else None

    async def make(change: Callable[[HallConfig], HallConfig]) -> Any:
        hall = change(demo_hall)
        if redis is None:
            return ModelDriver(hall, clock=clock)
        engine = Engine(redis, hall, prefix=key_prefix, clock=clock)
        await engine.setup()
        return engine

    return make
