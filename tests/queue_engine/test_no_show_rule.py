"""The hall's one no-show (过号) rule, on the model and on the engine: no no-show before the recalls and the time the
rule asks (refused, saying what is left, changing nothing), one allowed at once after; what a late arrival gets; the
rule as a hall file states it; and the one sentence every text about no-shows is written from."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from queue_engine import errors
from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig, Policy
from queue_engine.no_show import notice
from tests.queue_engine.conftest import Build, with_returning
from tests.queue_engine.test_refusals import assert_refused


async def called(impl: Any, window: str = "1") -> str:
    await impl.open_window(window)
    tid: str = (await impl.issue("SOC")).ticket.id
    await impl.call_next(window)
    return tid


async def test_a_no_show_right_after_the_call_is_refused_saying_what_is_left(impl: Any, clock: ManualClock) -> None:
    """The demo hall's rule: one recall and 60 s after the call."""
    tid = await called(impl)
    exc = await assert_refused(impl, lambda: impl.no_show("1"), errors.NoShowTooEarly, "no_show_too_early",
                               tickets=[tid])
    assert (exc.status, exc.details) == (409, {"number": "A001", "recalls_left": 1, "wait_s": 60})
    assert exc.message("zh") == "A001号暂不能作过号处理：按本大厅过号规定，还需重呼1次，并再等1分钟。"
    assert exc.message("en") == ("It is too early to mark A001 a no-show: recall it once more and wait 1 minute more, "
                                 "as the hall's no-show rule asks.")

    clock.advance(45.5)  # seconds left are rounded up: never "wait 0 seconds" in a refusal
    exc = await assert_refused(impl, lambda: impl.no_show("1"), errors.NoShowTooEarly, "no_show_too_early")
    assert (exc.details["recalls_left"], exc.details["wait_s"]) == (1, 15)
    await impl.recall("1")
    exc = await assert_refused(impl, lambda: impl.no_show("1"), errors.NoShowTooEarly, "no_show_too_early")
    assert (exc.details["recalls_left"], exc.details["wait_s"]) == (0, 15)
    assert exc.message("zh").endswith("还需再等15秒。")

    clock.advance(14.5)  # 60 s after the call, recalled once: allowed
    missed = await impl.no_show("1")
    assert (missed.id, missed.status) == (tid, "missed")
    assert (await impl.window("1")).misses == [tid]


async def test_the_time_runs_from_the_call_and_recalls_alone_are_not_enough(impl: Any, clock: ManualClock) -> None:
    await called(impl)
    for _ in range(3):
        await impl.recall("1")
    exc = await assert_refused(impl, lambda: impl.no_show("1"), errors.NoShowTooEarly, "no_show_too_early")
    assert (exc.details["recalls_left"], exc.details["wait_s"]) == (0, 60)
    clock.advance(60)
    assert (await impl.no_show("1")).status == "missed"


async def test_a_ticket_called_back_starts_the_rule_again(impl: Any, clock: ManualClock) -> None:
    """A late arrival served from the misses is called anew: its recalls and its time start from that call."""
    tid = await called(impl)
    await impl.recall("1")
    clock.advance(60)
    await impl.no_show("1")
    clock.advance(600)
    await impl.call_ticket("1", tid, "came back late")
    exc = await assert_refused(impl, lambda: impl.no_show("1"), errors.NoShowTooEarly, "no_show_too_early")
    assert (exc.details["recalls_left"], exc.details["wait_s"]) == (1, 60)


@pytest.mark.parametrize(("recalls", "after_s", "left"), [(0, 0, None), (2, 0, (2, 0)), (0, 30, (0, 30))])
async def test_each_hall_sets_its_own_rule(build: Build, demo_hall: HallConfig, recalls: int, after_s: int,
                                           left: tuple[int, int] | None) -> None:
    impl = await build(with_returning(demo_hall, "serve", no_show_after_recalls=recalls, no_show_after_s=after_s))
    await called(impl)
    if left is None:
        assert (await impl.no_show("1")).status == "missed"
        return
    exc = await assert_refused(impl, lambda: impl.no_show("1"), errors.NoShowTooEarly, "no_show_too_early")
    assert (exc.details["recalls_left"], exc.details["wait_s"]) == left


async def test_the_end_of_the_day_misses_a_called_ticket_whatever_the_rule(impl: Any) -> None:
    tid = await called(impl)
    assert (await impl.end_day())["missed"] == 1
    assert (await impl.ticket(tid)).ticket.status == "missed"


@pytest.mark.parametrize("mode", ["original", "end"])
async def test_returning_requeue_puts_the_late_arrival_back_and_refuses_a_direct_call(
    build: Build, demo_hall: HallConfig, clock: ManualClock, mode: str
) -> None:
    impl = await build(with_returning(demo_hall, "requeue", requeue=mode, no_show_after_recalls=0,
                                      no_show_after_s=0))
    tid = await called(impl)
    clock.advance(1)
    await impl.issue("SOC")
    await impl.no_show("1")
    await assert_refused(impl, lambda: impl.call_ticket("1", tid, "came back late"), errors.NoShowNotServed,
                         "no_show_not_served", tickets=[tid])
    clock.advance(5)
    back = await impl.requeue(tid)
    assert back.status == "waiting"
    assert (await impl.ticket(tid)).ahead == (0 if mode == "original" else 1)


async def test_returning_new_ticket_neither_serves_nor_requeues(build: Build, demo_hall: HallConfig) -> None:
    impl = await build(with_returning(demo_hall, "new_ticket", no_show_after_recalls=0, no_show_after_s=0))
    tid = await called(impl)
    await impl.no_show("1")
    await assert_refused(impl, lambda: impl.call_ticket("1", tid, "came back late"), errors.NoShowNotServed,
                         "no_show_not_served", tickets=[tid])
    exc = await assert_refused(impl, lambda: impl.requeue(tid), errors.RequeueNotAllowed, "requeue_not_allowed",
                               tickets=[tid])
    assert exc.details == {"number": "A001", "why": "new_ticket"}
    assert "重新取号" in exc.message("zh")


# -- the rule as a hall file states it ------------------------------------------------------------


def test_the_defaults_ask_one_recall_and_a_minute_and_serve_a_late_arrival_directly() -> None:
    rule = Policy()
    assert (rule.no_show_after_recalls, rule.no_show_after_s, rule.returning) == (1, 60, "serve")
    assert rule.requeue_mode == "serve"
    assert Policy(returning="requeue", requeue="end").requeue_mode == "end"


@pytest.mark.parametrize(("fields", "says"), [
    ({"recall_limit": 1, "no_show_after_recalls": 2}, "no ticket could ever be marked a no-show"),
    ({"returning": "serve", "missed_serve_direct": 0}, "missed_serve_direct of 1 or more"),
    ({"returning": "requeue", "requeue": "none"}, "requeue = original or end"),
    ({"no_show_after_s": -1}, "no_show_after_s"),
])
def test_a_rule_that_contradicts_itself_is_refused_when_the_hall_loads(fields: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        Policy.model_validate(fields)


@pytest.mark.parametrize(("serve_direct", "returning"), [(3, "serve"), (0, "new_ticket")])
def test_an_older_file_with_requeue_none_keeps_its_meaning(serve_direct: int, returning: str) -> None:
    """Before `returning`, requeue = "none" put nobody back in line: windows served their latest no-shows directly,
    or, keeping none, late arrivals took a new number."""
    rule = Policy.model_validate({"requeue": "none", "missed_serve_direct": serve_direct})
    assert rule.returning == returning
    assert rule.requeue_mode == returning


# -- the one sentence -----------------------------------------------------------------------------


def test_the_sentence_follows_every_part_of_the_rule(demo_hall: HallConfig) -> None:
    assert notice(demo_hall.policy) == {
        "zh": "叫到号请及时到窗口，重呼1次且超过1分钟仍未到窗口的，作过号处理；"
              "过号后请尽快回到叫号窗口，工作人员会直接为您办理。",
        "en": "If you are not at the window 1 minute after the call and after one repeat call, your number is marked "
              "missed; come back to the window that called you as soon as you can, to be served there.",
    }
    other = notice(Policy(no_show_after_recalls=2, no_show_after_s=90, returning="requeue", requeue="end"))
    assert other["zh"] == ("叫到号请及时到窗口，重呼2次且超过1分30秒仍未到窗口的，作过号处理；"
                           "过号后请到叫号窗口，工作人员会为您重新排到队尾。")
    assert "1 min 30 s after the call and after 2 repeat calls" in other["en"]
    assert "back at the end of the line" in other["en"]
    original = notice(Policy(no_show_after_recalls=0, no_show_after_s=45, returning="requeue"))
    assert "叫号后超过45秒仍未到窗口的" in original["zh"]
    assert "按原顺序重新排队" in original["zh"]
    fresh = notice(Policy(no_show_after_recalls=0, no_show_after_s=0, returning="new_ticket"))
    assert fresh["zh"].endswith("过号后请重新取号。")
    assert fresh["en"] == ("If you are not at the window when called, your number is marked missed; then please take "
                           "a new number.")
