"""好差评 rules (floor.ratings.rules): five levels, the provinces' 10/8/6/3/0 scores, 差评, and the rating period."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from floor.ratings.rules import (
    LEVELS,
    PAD_S,
    SCORES,
    is_bad,
    level,
    pad_may_rate,
    points,
    rateable_until,
    too_late,
)
from queue_engine import policy
from queue_engine.config import HallConfig
from tests.conftest import SHANGHAI


def test_five_levels_from_very_satisfied_to_very_dissatisfied() -> None:
    assert SCORES == (5, 4, 3, 2, 1)
    assert [level(s).zh for s in SCORES] == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    assert [level(s).en for s in SCORES] == ["Very satisfied", "Satisfied", "Fairly satisfied", "Dissatisfied",
                                             "Very dissatisfied"]
    assert level(2).name("en") == "Dissatisfied"
    assert level(2).name("zh") == "不满意"


def test_reports_score_the_levels_ten_eight_six_three_zero() -> None:
    assert [points(s) for s in SCORES] == [10, 8, 6, 3, 0]


def test_only_dissatisfied_and_very_dissatisfied_are_bad() -> None:
    assert [s for s in SCORES if is_bad(s)] == [2, 1]
    # One home for the rule: the engine's ticket.rated says "bad" by the same test.
    assert all(LEVELS[s].bad == policy.is_bad(s) for s in SCORES)


@pytest.mark.parametrize("score", [0, 6, -1])
def test_a_score_outside_one_to_five_has_no_level(score: int) -> None:
    with pytest.raises(ValueError, match="1 to 5"):
        level(score)


def test_a_ticket_may_be_rated_all_its_own_day_and_late_for_the_hall_s_period(demo_hall: HallConfig) -> None:
    assert demo_hall.ratings.late_s == 7 * 86400
    finished = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
    until = rateable_until(demo_hall, "20261123", finished)
    assert until == finished + timedelta(days=7)
    assert not too_late(demo_hall, "20261123", finished, finished + timedelta(days=7) - timedelta(seconds=1))
    assert too_late(demo_hall, "20261123", finished, finished + timedelta(days=7))


def test_with_no_late_period_a_ticket_is_rateable_until_its_day_ends(demo_hall: HallConfig) -> None:
    hall = demo_hall.model_copy(update={"ratings": demo_hall.ratings.model_copy(update={"late_s": 0})})
    finished = datetime(2026, 11, 23, 16, 0, tzinfo=SHANGHAI)
    assert rateable_until(hall, "20261123", finished) == datetime(2026, 11, 24, 0, 0, tzinfo=SHANGHAI)
    assert not too_late(hall, "20261123", finished, datetime(2026, 11, 23, 23, 59, tzinfo=SHANGHAI))
    assert too_late(hall, "20261123", finished, datetime(2026, 11, 24, 0, 0, tzinfo=SHANGHAI))


def test_a_pad_may_rate_only_its_window_s_last_finished_ticket_and_only_for_a_while() -> None:
    done, now = 1_000_000, 1_000_000 + 60_000
    assert pad_may_rate("5", "t1", "t1", "5", done, now)
    assert pad_may_rate("5", "t1", "t1", "5", done, done + PAD_S * 1000)  # to the last second
    assert not pad_may_rate("5", "t1", "t1", "5", done, done + PAD_S * 1000 + 1)  # and no longer
    assert not pad_may_rate("5", "t2", "t1", "5", done, now)  # the window finished another since
    assert not pad_may_rate("3", "t1", "t1", "5", done, now)  # another window's pad
    assert not pad_may_rate("5", None, "t1", "5", None, now)  # never finished
    assert not pad_may_rate("5", "t1", "t1", "5", now + 1, now)  # finished in the future: a clock gone wrong
