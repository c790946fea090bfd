"""``impl``: the same test against the pure model and the Redis engine."""

from __future__ import annotations

from typing import Any

import pytest

from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig
from tests.drivers import ModelDriver


@pytest.fixture(params=["model", "engine"])
def impl(request: pytest.FixtureRequest, demo_hall: HallConfig, clock: ManualClock) -> Any:
    """An Engine or a ModelDriver on the demo hall (all windows closed, 09:00 on a Monday)."""
    if request.param == "model":
        return ModelDriver(demo_hall, clock=clock)
    return request.getfixturevalue("engine")
