"""Matching calls to their arrival on screens, and keeping every latency sample exactly.

Call-to-screen is measured from the moment a window's Locust user reads the call-next response to the
moment a screen's socket read returns the ``ticket.called`` message for the same ticket. Both happen in one
Locust process, so one ``CallClock`` per process pairs them, by ``call_key``: the hall, the number and the
window, which is what a lobby display or a phone is told of a call (never the ticket id, which is the key to
the citizen's phone page); a number is unique in its hall's day.

A screen can read the message before the window's greenlet has read its response (both arrive at about the
same time; gevent serves them in whichever order). Such a receipt is kept as early and, once the call is
recorded, counted as 0 ms: the screen had it no later than the window did. Calls made in another Locust
process are never recorded here; their receipts are dropped after a while.

Locust's own CSV rounds every latency to whole milliseconds; ``Samples`` keeps the float values so the
report can compare call-to-screen with the broadcast floor at sub-millisecond resolution.
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

KEEP_CALLED_S = 120.0  # a call is matched to screens for this long
LOOP_LAG = "load generator loop lag"  # how late a Locust process's 5 ms sleeps woke (``users._watch_lag``)
KEEP_EARLY_S = 5.0  # a receipt with no known call waits this long for it


def call_key(hall: str, number: str, window: str) -> str:
    """What pairs a window's call with the screens' receipts of it: the hall's number called at that window."""
    return f"{hall}|{number}|{window}"


@dataclass(slots=True)
class Early:
    first_s: float
    receipts: list[tuple[str, int]]  # (request name, message length)


@dataclass
class CallClock:
    called: dict[str, float] = field(default_factory=dict)  # call -> when a window read it
    early: dict[str, Early] = field(default_factory=dict)  # call -> receipts read before it
    _next_prune_s: float = 0.0

    def call_read(self, call: str, now_s: float) -> list[tuple[str, int]]:
        """A window read the call-next response for ``call`` (its ``call_key``); returns the receipts that came
        first."""
        self.called[call] = now_s
        self._maybe_prune(now_s)
        early = self.early.pop(call, None)
        return early.receipts if early else []

    def screen_read(self, call: str, now_s: float, name: str, length: int) -> float | None:
        """A screen read ``call``: milliseconds since the call-next response, or None when the call is not (yet)
        known here."""
        t0 = self.called.get(call)
        if t0 is not None:
            return max(0.0, (now_s - t0) * 1000.0)
        early = self.early.get(call)
        if early is None:
            self.early[call] = Early(now_s, [(name, length)])
        else:
            early.receipts.append((name, length))
        return None

    def _maybe_prune(self, now_s: float) -> None:
        if now_s < self._next_prune_s:
            return
        self._next_prune_s = now_s + 1.0
        self.called = {t: s for t, s in self.called.items() if now_s - s < KEEP_CALLED_S}
        self.early = {t: e for t, e in self.early.items() if now_s - e.first_s < KEEP_EARLY_S}


@dataclass
class Samples:
    """Every latency (ms) by request name, and counters; one file per Locust process at the end."""

    values: dict[str, array[float]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    warmup: dict[str, array[float]] = field(default_factory=dict)  # the latencies of the warm-up, kept apart

    def add(self, name: str, ms: float) -> None:
        bucket = self.values.get(name)
        if bucket is None:
            bucket = self.values[name] = array("d")
        bucket.append(ms)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def peak(self, name: str, value: int) -> None:
        if value > self.counters.get(name, 0):
            self.counters[name] = value

    def reset(self) -> None:
        self.values.clear()
        # Peaks (live sockets) survive a reset: they are about the whole run.
        self.counters = {k: v for k, v in self.counters.items() if k.startswith("peak ")}

    def end_warmup(self) -> None:
        """The warm-up is over: what was measured so far is kept apart, and the measuring starts afresh."""
        self.warmup, self.values = self.values, {}
        self.reset()  # the counters too

    def dump(self, path: Path, elapsed_s: float) -> None:
        data = {"values": {k: v.tolist() for k, v in self.values.items()}, "counters": self.counters,
                "elapsed_s": elapsed_s, "warmup": {k: v.tolist() for k, v in self.warmup.items()}}
        path.write_text(json.dumps(data), encoding="utf-8")


@dataclass
class Merged:
    values: dict[str, list[float]]
    counters: dict[str, int]  # summed over processes ("peak …": summed peaks, an upper bound)
    elapsed_s: float  # the longest measuring span of any process
    warmup: dict[str, list[float]] = field(default_factory=dict)  # latencies before the measuring began


def merge_samples(paths: Iterable[Path]) -> Merged:
    values: dict[str, list[float]] = {}
    warmup: dict[str, list[float]] = {}
    counters: dict[str, int] = {}
    elapsed = 0.0
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        for name, vs in data["values"].items():
            values.setdefault(name, []).extend(vs)
        for name, vs in data.get("warmup", {}).items():
            warmup.setdefault(name, []).extend(vs)
        for name, n in data["counters"].items():
            counters[name] = counters.get(name, 0) + n
        elapsed = max(elapsed, float(data.get("elapsed_s", 0.0)))
    return Merged(values, counters, elapsed, warmup)


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank, as Locust reports them."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))))
    return sorted_values[rank - 1]
