"""区域总览's line per hall (floor/regions/overview.py): from a hall's snapshot and its open 差评 cases, pure."""

from __future__ import annotations

from typing import Any

from floor.regions.overview import CaseCounts, hall_line, same_line, totals
from floor.settings import DEMO_HALL
from queue_engine.config import HallConfig, hall_data

HALL = HallConfig.model_validate(hall_data(DEMO_HALL))
NOW_MS = 1_800_000_000_000


def snapshot(waits: dict[str, tuple[int, int]], states: list[str]) -> dict[str, Any]:
    """Per service (waiting, longest wait in s); window states in the hall's window order."""
    return {"services": [{"code": s.code, "waiting": waits.get(s.code, (0, 0))[0],
                          "longest_wait_s": waits.get(s.code, (0, 0))[1], "estimated_wait_s": 0, "able_windows": 1}
                         for s in HALL.services],
            "windows": [{"id": w.id, "state": state} for w, state in zip(HALL.windows, states, strict=False)]}


def test_a_hall_with_a_line_past_its_target_and_an_open_case_asks_for_a_look() -> None:
    soc = HALL.service("SOC")
    assert soc is not None
    states = ["serving", "idle", "paused", *["closed"] * 9]
    line = hall_line(HALL, snapshot({"SOC": (4, soc.target_wait_s + 60), "HUK": (1, 30)}, states),
                     CaseCounts(open=2, overdue=1), NOW_MS, None)
    assert (line["waiting"], line["longest_wait_s"], line["windows_open"], line["windows_paused"]) == (
        5, soc.target_wait_s + 60, 2, 1)
    assert line["windows_planned"] == len(HALL.windows)
    assert line["longest_since_ms"] == NOW_MS - (soc.target_wait_s + 60) * 1000
    assert line["over_target"] == ["SOC"]
    assert line["alerts"] == ["wait_over_target", "bad_rating_open", "case_overdue"]


def test_citizens_waiting_with_no_window_open_is_an_alert_and_a_quiet_hall_is_none() -> None:
    closed = ["closed"] * len(HALL.windows)
    nobody = hall_line(HALL, snapshot({"INFO": (2, 40)}, closed), CaseCounts(), NOW_MS, None)
    assert nobody["alerts"] == ["nobody_serving"]
    quiet = hall_line(HALL, snapshot({}, closed), CaseCounts(), NOW_MS, None)
    assert (quiet["waiting"], quiet["longest_since_ms"], quiet["alerts"]) == (0, None, [])


def test_the_wait_counting_on_is_no_change_but_a_new_ticket_is() -> None:
    states = ["idle"] * len(HALL.windows)
    before = hall_line(HALL, snapshot({"SOC": (1, 100)}, states), CaseCounts(), NOW_MS, None)
    later = hall_line(HALL, snapshot({"SOC": (1, 105)}, states), CaseCounts(), NOW_MS + 5000, None)
    assert same_line(before, later)  # the same citizen, five seconds on: the page counts it itself
    more = hall_line(HALL, snapshot({"SOC": (2, 105)}, states), CaseCounts(), NOW_MS + 5000, None)
    assert not same_line(before, more)
    assert not same_line(None, before)


def test_totals_add_up_the_halls() -> None:
    states = ["idle"] * len(HALL.windows)
    lines = [hall_line(HALL, snapshot({"SOC": (n, 10 * n)}, states), CaseCounts(open=n % 2), NOW_MS, None)
             for n in range(4)]
    assert totals(lines) == {"halls": 4, "waiting": 6, "windows_open": 4 * len(HALL.windows),
                             "windows_planned": 4 * len(HALL.windows), "halls_alerting": 2, "longest_wait_s": 30}
