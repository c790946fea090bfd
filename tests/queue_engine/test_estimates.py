"""Estimated waits, on the model and on the engine: the time until a window able to serve the ticket can take it,
never its own service. The first in line with an idle window able to serve it waits 0 (即将叫号); with every such
window busy it waits one handling time shared by them; a service's estimate is what a ticket issued now is told."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from tests.conftest import SHANGHAI
from tests.queue_engine.test_lifecycle import service_row

SOC_S = 480  # the demo's handling estimates
RESTO_S = 2700  # 开餐馆一件事 (K): windows 7 and 8 serve all of it


async def test_the_first_in_line_with_an_idle_window_is_told_it_is_called_now(impl: Any) -> None:
    await impl.open_window("7")
    issued = await impl.issue("RESTO")
    assert (issued.ticket.number, issued.ahead, issued.estimated_wait_s) == ("K001", 0, 0)
    status = await impl.ticket(issued.ticket.id)
    assert (status.ahead, status.estimated_wait_s) == (0, 0)
    # A newcomer has K001 ahead, whom the idle window takes: it waits for that one service, not two.
    assert service_row(await impl.snapshot(), "RESTO")["estimated_wait_s"] == RESTO_S


async def test_with_every_able_window_busy_the_first_waits_one_service_shared_by_them(
    impl: Any, clock: ManualClock
) -> None:
    await impl.open_window("7")
    await impl.open_window("8")
    for w in ("7", "8"):
        await impl.issue("RESTO")
        await impl.call_next(w)
    first = await impl.issue("RESTO")
    assert (first.ahead, first.estimated_wait_s) == (0, RESTO_S // 2)  # not its own 45 minutes added
    second = await impl.issue("RESTO")
    assert (second.ahead, second.estimated_wait_s) == (1, RESTO_S)
    clock.advance(RESTO_S)  # a case as long as the estimate, which it leaves as it is
    await impl.finish("7")  # window 7 is idle again: the first is called next, the second waits for one service
    assert (await impl.ticket(first.ticket.id)).estimated_wait_s == 0
    assert (await impl.ticket(second.ticket.id)).estimated_wait_s == RESTO_S // 2


async def test_idle_windows_take_the_first_of_the_line_and_the_rest_wait_for_them(impl: Any) -> None:
    for w in ("1", "2", "3"):
        await impl.open_window(w)
    issued = [await impl.issue("SOC") for _ in range(5)]
    # 3 idle windows take A001-A003 at once; A004 waits for one of 3 windows, A005 for two cases of them.
    assert [(i.ahead, i.estimated_wait_s) for i in issued] == [
        (0, 0), (1, 0), (2, 0), (3, SOC_S // 3), (4, 2 * SOC_S // 3)]


async def test_a_paused_or_busy_window_is_not_free_to_call(impl: Any) -> None:
    await impl.open_window("1")
    await impl.open_window("2")
    await impl.pause("2", "午休")
    issued = await impl.issue("SOC")
    assert issued.estimated_wait_s == 0  # window 1 is idle
    await impl.call_next("1")
    waiting = await impl.issue("SOC")
    # Both windows able (open), neither free: one case shared by the 2 of them.
    assert (waiting.ahead, waiting.estimated_wait_s) == (0, SOC_S // 2)
    await impl.resume("2")
    assert (await impl.ticket(waiting.ticket.id)).estimated_wait_s == 0


async def test_a_window_given_a_service_is_free_to_call_it_at_once(impl: Any) -> None:
    await impl.open_window("9")  # 不动产 only
    await impl.open_window("1")
    await impl.issue("SOC")
    await impl.call_next("1")
    waiting = await impl.issue("SOC")
    assert waiting.estimated_wait_s == SOC_S
    await impl.set_services("9", ["PROP", "SOC"])
    assert (await impl.ticket(waiting.ticket.id)).estimated_wait_s == 0
    await impl.set_services("9", ["PROP"])
    assert (await impl.ticket(waiting.ticket.id)).estimated_wait_s == SOC_S


async def test_before_opening_the_planned_windows_stand_in(impl: Any, clock: ManualClock) -> None:
    """08:00, before the hall opens at 08:30: no window is open, none idle; the 9 windows configured for 社保 share
    the line as they will once open."""
    clock.set(datetime(2026, 11, 24, 8, 0, tzinfo=SHANGHAI))
    hall: HallConfig = impl.hall
    assert hall.planned_windows("SOC") == 9
    issued = [await impl.issue("SOC") for _ in range(2)]
    assert [(i.ahead, i.estimated_wait_s) for i in issued] == [(0, SOC_S // 9), (1, 2 * SOC_S // 9)]


async def test_a_live_day_from_before_the_count_is_counted_once_at_start(
    engine: Engine, demo_hall: HallConfig
) -> None:
    """An upgrade in the day: Redis holds windows but no count of the idle ones; setup counts them once."""
    for w in ("1", "7", "9"):
        await engine.open_window(w)
    await engine.issue("SOC")
    await engine.call_next("1")
    expected = {k: v for k, v in (await engine.redis.hgetall(engine.keys.idle)).items() if int(v)}
    assert (expected[b"PROP"], expected[b"SOC"]) == (b"2", b"1")
    await engine.redis.delete(engine.keys.idle)
    await engine.setup()
    counted = await engine.redis.hgetall(engine.keys.idle)
    assert {k: v for k, v in counted.items() if int(v)} == expected
    await engine.setup()  # counted already: left alone
    assert await engine.redis.hgetall(engine.keys.idle) == counted
