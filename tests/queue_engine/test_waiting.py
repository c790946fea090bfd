"""``Engine.waiting``: the list a console and a manager see is the order call-next will take.

The property: with the clock held still, the tickets ``waiting(window=w)`` lists are exactly those call-next at
``w`` then calls, one after another, in that order. Checked over random mixes of services, priorities, pins and
transfers, at windows with different skills and primary services.
"""

from __future__ import annotations

import random

import pytest

from queue_engine import errors
from queue_engine.clock import ManualClock
from queue_engine.engine import Engine

SERVICES = ("SOC", "HUK", "TAX", "FUND", "BIZ", "INFO", "PROP")
# 1: primary SOC, serves most; 7: primary BIZ, also PROP; 12: INFO first, then SOC and HUK.
WINDOWS = ("1", "7", "12")


async def _random_hall(engine: Engine, clock: ManualClock, rng: random.Random) -> None:
    for w in ("1", "5", "7", "8", "12"):
        await engine.open_window(w)
    for _ in range(40):
        clock.advance(rng.randint(5, 120))
        roll = rng.random()
        issued = await engine.issue(rng.choice(SERVICES),
                                    priority="vip" if roll < 0.05 else "green" if roll < 0.15 else None)
        if rng.random() < 0.08:
            await engine.pin(issued.ticket.id, "came back from the tax office")
    for _ in range(3):  # transfers into window 1's lines and to window 1 itself
        # Tickets queued in the same millisecond tie, and a tie is broken by ticket id; keep the times apart.
        clock.advance(1)
        called = await engine.call_next("5")
        if called is None:
            break
        if rng.random() < 0.5:
            await engine.transfer("5", to_window="1", reason="needs the front desk")
        else:
            await engine.transfer("5", to_service="SOC", reason="wrong line")


@pytest.mark.parametrize("seed", range(12))
async def test_waiting_lists_what_call_next_will_call_in_order(engine: Engine, clock: ManualClock,
                                                               seed: int) -> None:
    rng = random.Random(seed)
    await _random_hall(engine, clock, rng)
    clock.advance(30)
    window = WINDOWS[seed % len(WINDOWS)]
    listed = [t.id for t in await engine.waiting(window=window, limit=500)]
    assert listed, "the random hall left nothing for the window to call"
    called = []
    while (t := await engine.call_next(window)) is not None:
        called.append(t.id)
        await engine.finish(window)
    assert called == listed


async def test_waiting_for_one_service_and_the_whole_hall(engine: Engine, clock: ManualClock) -> None:
    await engine.open_window("1")
    a1 = await engine.issue("SOC")
    clock.advance(10)
    b1 = await engine.issue("HUK")
    clock.advance(10)
    a2 = await engine.issue("SOC", priority="green")
    assert [t.number for t in await engine.waiting(service="SOC")] == [a2.ticket.number, a1.ticket.number]
    assert {t.id for t in await engine.waiting()} == {a1.ticket.id, a2.ticket.id, b1.ticket.id}
    assert [t.id for t in await engine.waiting(limit=1)] == [a2.ticket.id]  # green goes first anywhere


async def test_waiting_leaves_out_called_and_cancelled(engine: Engine, clock: ManualClock) -> None:
    await engine.open_window("1")
    first = await engine.issue("SOC")
    clock.advance(1)
    second = await engine.issue("SOC")
    clock.advance(1)
    third = await engine.issue("SOC")
    await engine.call_next("1")
    await engine.cancel(third.ticket.id)
    assert [t.id for t in await engine.waiting(window="1")] == [second.ticket.id]
    assert first.ticket.id not in {t.id for t in await engine.waiting()}


async def test_waiting_refuses_unknown_window_and_service(engine: Engine) -> None:
    with pytest.raises(errors.UnknownWindow):
        await engine.waiting(window="99")
    with pytest.raises(errors.UnknownService):
        await engine.waiting(service="NOPE")
