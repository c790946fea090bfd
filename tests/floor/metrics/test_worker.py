"""Each worker samples its loop's lag, and counts the Redis errors it logs only while it runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from floor.metrics.families import OWN
from floor.metrics.store_errors import RedisErrorCount
from floor.metrics.worker import lag_after, run_worker_metrics


def test_the_lag_is_how_late_the_sleep_woke() -> None:
    assert lag_after(10.0, 10.5, 0.5) == 0.0
    assert lag_after(10.0, 10.75, 0.5) == 0.25
    assert lag_after(10.0, 10.4, 0.5) == 0.0  # a clock read early is no negative lag


def handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger("hallq").handlers if isinstance(h, RedisErrorCount)]


async def test_the_worker_samples_its_loop_and_stops_counting_when_it_ends() -> None:
    samples = OWN.get_sample_value("hallq_event_loop_lag_seconds_count") or 0.0
    task = asyncio.create_task(run_worker_metrics(every_s=0.01, window_s=0.02))
    await asyncio.sleep(0.2)
    assert len(handlers()) == 1
    assert (OWN.get_sample_value("hallq_event_loop_lag_seconds_count") or 0.0) - samples >= 5
    assert OWN.get_sample_value("hallq_event_loop_lag_max_seconds") is not None
    # Shown at 0 from the start, so a first error is a rise an alert's increase() sees.
    assert OWN.get_sample_value("hallq_redis_errors_total", {"source": "request", "kind": "timeout"}) is not None
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert handlers() == []
