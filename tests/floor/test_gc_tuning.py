"""``floor.gc_tuning.settle``: once a process has built its long-lived state, the collector stops walking it."""

from __future__ import annotations

import json
import subprocess
import sys

from floor.gc_tuning import THRESHOLDS

PROBE = """
import gc, json
from floor.gc_tuning import settle
kept = [[n] for n in range(50_000)]  # a process's long-lived state: containers the collector would walk
before = gc.get_freeze_count()
settle()
print(json.dumps({"before": before, "after": gc.get_freeze_count(), "threshold": gc.get_threshold()}))
"""


def test_settle_moves_what_the_process_holds_out_of_the_collectors_walk() -> None:
    # A process of its own: freezing the test runner's heap would change every later test's collections.
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    figures = json.loads(out)
    assert figures["before"] == 0
    assert figures["after"] >= 50_000
    assert tuple(figures["threshold"]) == THRESHOLDS
    assert THRESHOLDS[0] > 700  # fewer young collections than CPython's default
