"""The text of a scrape: every process's metrics (summed by ``floor.metrics.summing``), then the halls as read now."""

from __future__ import annotations

import os
from collections.abc import Sequence
from operator import attrgetter

from prometheus_client import generate_latest

from floor.metrics.directory import VARIABLE
from floor.metrics.families import OWN
from floor.metrics.readings import HallReading
from floor.metrics.summing import ProcessSums

# The halls' gauges: (name, help, the reading's field). Labelled by hall and its level.
HALL_GAUGES = (
    ("hallq_waiting", "Citizens waiting now, every service of the hall.", "waiting"),
    ("hallq_longest_wait_seconds", "How long the longest-waiting citizen of the hall has waited (0: nobody waits).",
     "longest_wait_s"),
    ("hallq_wait_target_ratio", "The longest wait of the hall's worst service over that service's target wait: "
     "above 1 is over target.", "target_ratio"),
    ("hallq_archive_backlog_events", "The hall's events not in the SQL record yet.", "backlog"),
    ("hallq_archive_lag_seconds", "How long ago the oldest event not in the SQL record yet was appended (0: the "
     "record is complete).", "archive_lag_s"),
)


def _label(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')


def _gauge(name: str, help_text: str) -> str:
    return f"# HELP {name} {help_text}\n# TYPE {name} gauge\n"


def hall_text(readings: Sequence[HallReading], read_s: float) -> str:
    """The halls' gauges in the text format, written here: prometheus_client's generic rendering of 500 halls' series
    took most of a scrape's time, and these are plain gauges with two known labels."""
    labels = [f'{{hall="{_label(r.hall)}",level="{_label(r.level)}"}}' for r in readings]
    out = []
    for name, help_text, field in HALL_GAUGES:
        out.append(_gauge(name, help_text))
        value = attrgetter(field)
        out += [f"{name}{label} {float(value(r))!r}\n" for label, r in zip(labels, readings, strict=True)]
    out.append(_gauge("hallq_hall_read_seconds", "How long this scrape took to read the halls from Redis.")
               + f"hallq_hall_read_seconds {float(read_s)!r}\n")
    out.append(_gauge("hallq_halls_read", "Halls this scrape could read from Redis.")
               + f"hallq_halls_read {float(len(readings))!r}\n")
    return "".join(out)


async def text(readings: Sequence[HallReading], read_s: float, sums: ProcessSums) -> bytes:
    """The whole scrape, in Prometheus' text format."""
    directory = os.environ.get(VARIABLE)
    # Without the directory (a test's app, not started by `hallq serve`), this process is all there is.
    processes = await sums.text(directory) if directory else generate_latest(OWN)
    return processes + hall_text(readings, read_s).encode()
