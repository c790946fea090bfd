"""What a scrape says of each hall, pure: from one Redis read of the hall (``floor.metrics.hall_reads``) to figures.

Per hall, not per service: a county's 500 halls would otherwise bring tens of thousands of series to every scrape.
How far the worst service is past its own target (``target_ratio``) keeps what an alert needs of the services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from floor.metrics.labels import level_label
from queue_engine.config import HallConfig
from queue_engine.stream_ids import parse_stream_id


@dataclass(frozen=True, slots=True)
class HallReading:
    hall: str
    level: str
    waiting: int  # citizens waiting now, every service
    longest_wait_s: float  # the longest of them has waited this long (0: nobody waits)
    target_ratio: float  # the worst service's longest wait over its target wait: above 1 is over target
    backlog: int  # events of the hall's stream not in the SQL record yet
    archive_lag_s: float  # the oldest of them was appended this long ago (0: none)


def _number(value: Any) -> float:
    return float(value.decode() if isinstance(value, bytes) else value)


def reading(hall: HallConfig, reply: list[Any], now_ms: float) -> HallReading:
    """The hall's figures from the read's reply: per service (in ``hall.services``' order) how many wait and the
    oldest one's issue time (ms, the hall's clock, ``now_ms``); then the backlog, the oldest unrecorded event's
    id, and Redis's clock (seconds, microseconds), which stamped that id."""
    waiting, longest_s, ratio = 0, 0.0, 0.0
    for i, service in enumerate(hall.services):
        count, oldest = int(reply[2 * i]), reply[2 * i + 1]
        if count and oldest is not None:
            waited_s = max(0.0, now_ms - _number(oldest)) / 1000
            waiting += count
            longest_s = max(longest_s, waited_s)
            ratio = max(ratio, waited_s / service.target_wait_s)
    base = 2 * len(hall.services)
    backlog, first, redis_s, redis_us = reply[base:base + 4]
    lag_s = 0.0
    if first is not None and int(backlog):
        redis_ms = int(redis_s) * 1000 + int(redis_us) // 1000
        lag_s = max(0, redis_ms - parse_stream_id(first)[0]) / 1000
    return HallReading(hall.id, level_label(hall.level), waiting, longest_s, ratio, int(backlog), lag_s)
