"""What each web worker measures of itself while it runs: its event loop's lag, and the Redis errors it logs.

The lag is measured as ``floor.http.timings`` does for load runs (how late a sleep wakes), but twice a second, not
every 5 ms: always on, it must cost nothing a window would notice.
"""

from __future__ import annotations

import asyncio
import logging
import time

from floor.metrics.families import LOOP_LAG, LOOP_LAG_MAX
from floor.metrics.store_errors import LOGGER, RedisErrorCount, show_zero_series

LAG_EVERY_S = 0.5
LAG_WINDOW_S = 5.0  # the max gauge is the worst lag of this long, so a scrape every 15 s sees a recent worst


def lag_after(asked: float, woke: float, every_s: float) -> float:
    """How late a sleep of ``every_s`` asked at ``asked`` woke at ``woke`` (perf_counter seconds)."""
    return max(0.0, woke - asked - every_s)


async def run_worker_metrics(every_s: float = LAG_EVERY_S, window_s: float = LAG_WINDOW_S) -> None:
    """Until cancelled: count the Redis errors the worker logs, and sample its loop's lag."""
    counter = RedisErrorCount()
    logger = logging.getLogger(LOGGER)
    logger.addHandler(counter)
    show_zero_series()
    worst, window_ends = 0.0, time.monotonic() + window_s
    try:
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(every_s)
            lag = lag_after(asked, time.perf_counter(), every_s)
            LOOP_LAG.observe(lag)
            worst = max(worst, lag)
            if time.monotonic() >= window_ends:
                LOOP_LAG_MAX.set(worst)
                worst, window_ends = 0.0, time.monotonic() + window_s
    finally:
        logger.removeHandler(counter)
