"""``impl``: the same test against the pure model and the Redis engine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig, Policy
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
    shards = request.getfixturevalue("shards") if request.param == "engine" else None

    async def make(hall: HallConfig) -> Any:
        if shards is None:
            return ModelDriver(hall, clock=clock)
        engine = Engine(shards, hall, prefix=key_prefix, clock=clock)
        await engine.setup()
        return engine

    return make


async def mark_no_show(impl: Any, window: str) -> Any:
    """Mark the window's called ticket a no-show once the hall's rule lets staff (``Policy.no_show_after_*``): it is
    announced again as often as the rule asks, and the time the rule gives passes on the test's clock."""
    rule = impl.hall.policy
    ticket = (await impl.ticket((await impl.window(window)).ticket)).ticket
    for _ in range(rule.no_show_after_recalls - ticket.recalls):
        await impl.recall(window)
    left_ms = ticket.called_at + rule.no_show_after_s * 1000 - int(impl.clock() * 1000)
    if left_ms > 0:
        impl.clock.advance(left_ms / 1000)
    return await impl.no_show(window)


def with_returning(hall: HallConfig, returning: str, **policy: Any) -> HallConfig:
    """The hall with another rule for late arrivals (and any other policy fields), validated as a file's would be."""
    rule = hall.policy.model_dump() | {"returning": returning, **policy}
    return hall.model_copy(update={"policy": Policy.model_validate(rule)})
