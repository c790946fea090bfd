"""差评 cases as a state machine (floor.ratings.cases): the steps in order, their deadlines in working days, overdue."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from floor.ratings import cases
from queue_engine.config import HallConfig
from tests.conftest import SHANGHAI

FRIDAY_4PM = datetime(2026, 11, 27, 16, 0, tzinfo=SHANGHAI)
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)


def at(day: int, month: int = 11, year: int = 2026) -> datetime:
    """Midnight at the start of that day in Shanghai: the end of the day before."""
    return datetime(year, month, day, tzinfo=SHANGHAI)


def test_callback_then_fix_then_feedback_close_the_loop_and_a_review_may_follow() -> None:
    status = cases.FIRST_STATUS
    seen = [status]
    for step in ("callback", "fix", "feedback", "review"):
        status = cases.advance(status, step)
        seen.append(status)
    assert seen == ["awaiting_callback", "awaiting_fix", "awaiting_feedback", "closed", "reviewed"]
    assert [s for s in seen if cases.is_open(s)] == ["awaiting_callback", "awaiting_fix", "awaiting_feedback"]


@pytest.mark.parametrize(("status", "step"), [
    ("awaiting_callback", "fix"), ("awaiting_callback", "feedback"), ("awaiting_callback", "review"),
    ("awaiting_fix", "feedback"), ("awaiting_fix", "callback"), ("awaiting_feedback", "fix"),
    ("awaiting_feedback", "review"), ("closed", "feedback"), ("reviewed", "review"), ("reviewed", "callback"),
])
def test_a_step_out_of_order_or_twice_is_refused(status: str, step: str) -> None:
    with pytest.raises(cases.StepRefused) as refused:
        cases.advance(status, step)
    assert (refused.value.status, refused.value.step) == (status, step)


def test_a_refusal_says_what_the_case_awaits() -> None:
    early = cases.StepRefused("awaiting_callback", "fix")
    assert early.message("zh") == "该差评件当前待回访核实，请先登记回访核实，再登记整改。"
    assert early.message("en") == "This case awaits the callback; record that before the fix."
    twice = cases.StepRefused("awaiting_fix", "callback")
    assert twice.message("zh") == "该差评件的回访核实已登记，下一步请登记整改。"
    assert twice.message("en") == "The callback of this case is already recorded; record the fix next."
    assert "复核" in cases.StepRefused("reviewed", "review").message("zh")


def test_deadlines_count_working_days_from_the_rating_and_end_at_midnight(demo_hall: HallConfig) -> None:
    # Rated on Monday: the callback is due by the end of Tuesday, the fix by the end of the next Monday.
    due = cases.deadlines(demo_hall, MONDAY_10AM)
    assert due.callback_due == at(25)
    assert due.fix_due == at(1, 12)


def test_deadlines_skip_weekends_and_holidays(demo_hall: HallConfig) -> None:
    # Rated on a Friday afternoon: the weekend does not count, the callback is due by the end of Monday.
    assert cases.deadlines(demo_hall, FRIDAY_4PM).callback_due == at(1, 12)
    # 2027-01-01 (a Friday) is a holiday in the demo hall: rated on Thursday 31 December, called back by Monday.
    due = cases.deadlines(demo_hall, datetime(2026, 12, 31, 11, 0, tzinfo=SHANGHAI))
    assert due.callback_due == at(5, 1, 2027)
    assert due.fix_due == at(9, 1, 2027)  # Mon 4, Tue 5, Wed 6, Thu 7, Fri 8 January


def test_deadlines_follow_the_hall_s_configuration(demo_hall: HallConfig) -> None:
    rules = demo_hall.ratings.model_copy(update={"callback_working_days": 0, "fix_working_days": 15})
    hall = demo_hall.model_copy(update={"ratings": rules})
    due = cases.deadlines(hall, MONDAY_10AM)
    assert due.callback_due == at(24)  # the same day
    assert due.fix_due == at(15, 12)  # 浙江's 15 days: three working weeks


def test_a_weekend_rating_counts_from_the_next_working_day(demo_hall: HallConfig) -> None:
    saturday = datetime(2026, 11, 28, 9, 0, tzinfo=SHANGHAI)
    assert cases.deadlines(demo_hall, saturday).callback_due == at(1, 12)


def test_a_step_is_overdue_once_its_deadline_passes_undone() -> None:
    due = cases.Deadlines(callback_due=at(25), fix_due=at(1, 12))
    nothing: dict[str, datetime | None] = {}
    assert cases.overdue_steps(due, nothing, at(25) - timedelta(seconds=1)) == []
    assert cases.overdue_steps(due, nothing, at(25)) == ["callback"]
    assert cases.overdue_steps(due, nothing, at(1, 12)) == ["callback", "fix"]
    called_back = {"callback": at(24)}
    assert cases.overdue_steps(due, called_back, at(26)) == []
    assert cases.overdue_steps(due, called_back | {"fix": at(30)}, at(2, 12)) == []
