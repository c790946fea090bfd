"""A hall's figures from one read: waiting, the longest wait and how far past its target, the record's backlog."""

from __future__ import annotations

import pytest

from floor.metrics.readings import reading
from queue_engine.config import HallConfig

NOW_MS = 1_800_000_000_000


def reply_for(hall: HallConfig, services: dict[str, tuple[int, float | None]], backlog: int = 0,
              first: bytes | None = None, redis_ms: int = NOW_MS) -> list[object]:
    """The script's reply: per service (count, oldest issue ms), then backlog, oldest id and Redis's TIME."""
    out: list[object] = []
    for s in hall.services:
        count, oldest = services.get(s.code, (0, None))
        out += [count, None if oldest is None else str(oldest).encode()]
    return [*out, backlog, first, str(redis_ms // 1000).encode(), str(redis_ms % 1000 * 1000).encode()]


def test_an_empty_hall(demo_hall: HallConfig) -> None:
    r = reading(demo_hall, reply_for(demo_hall, {}), NOW_MS)
    assert (r.hall, r.level, r.waiting, r.longest_wait_s, r.target_ratio, r.backlog, r.archive_lag_s) == \
        ("demo", "county_centre", 0, 0.0, 0.0, 0, 0.0)


def test_the_longest_wait_and_the_worst_service_against_its_own_target(demo_hall: HallConfig) -> None:
    soc, huk = demo_hall.service("SOC"), demo_hall.service("HUK")
    assert soc is not None
    assert huk is not None
    # SOC: 3 waiting, the oldest for 10 minutes; HUK: 1, for a little over its own target.
    huk_wait_s = huk.target_wait_s + 60
    r = reading(demo_hall, reply_for(demo_hall, {"SOC": (3, NOW_MS - 600_000),
                                                 "HUK": (1, NOW_MS - huk_wait_s * 1000)}), NOW_MS)
    assert r.waiting == 4
    assert r.longest_wait_s == max(600, huk_wait_s)
    assert r.target_ratio == pytest.approx(max(600 / soc.target_wait_s, huk_wait_s / huk.target_wait_s))
    assert r.target_ratio > 1


def test_a_clock_behind_the_issue_time_is_no_negative_wait(demo_hall: HallConfig) -> None:
    r = reading(demo_hall, reply_for(demo_hall, {"SOC": (1, NOW_MS + 5000)}), NOW_MS)
    assert (r.waiting, r.longest_wait_s, r.target_ratio) == (1, 0.0, 0.0)


def test_the_records_lag_is_the_age_of_its_oldest_missing_event_by_redis_clock(demo_hall: HallConfig) -> None:
    # The hall's clock may be a test's; stream ids are stamped by Redis, so the lag is read against Redis's TIME.
    r = reading(demo_hall, reply_for(demo_hall, {}, backlog=7, first=b"%d-3" % (NOW_MS - 42_500)), 0)
    assert (r.backlog, r.archive_lag_s) == (7, 42.5)
    caught_up = reading(demo_hall, reply_for(demo_hall, {}, backlog=0, first=None), NOW_MS)
    assert (caught_up.backlog, caught_up.archive_lag_s) == (0, 0.0)
