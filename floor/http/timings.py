"""What requests cost inside the worker, for load runs (``HALLQ_TIMINGS_FILE``; off unless set).

A load generator sees a request's whole trip: the wait for its connection to be accepted, the kernel's
buffers, the server's event loop, the handler, and its own loop before it reads the answer. This keeps the
part the worker controls, so a run can say where the rest went:

- per endpoint, the time from the worker taking the request up (after the route is found) to its answer
  written to the socket;
- the event loop's lag: how late a 5 ms sleep wakes (every request waiting to be read waits at least that).

Samples carry their wall-clock time, so a reader can keep those of its measuring window. Written once, when
the worker shuts down, to ``<file>.<pid>.json``: writing during the run would pause the loop being measured.
"""

from __future__ import annotations

import asyncio
import os
import time
from array import array
from pathlib import Path

import orjson

LAG_EVERY_S = 0.005
LAG = "event loop lag"  # the name the loop's lag is kept under, beside the endpoints'


class Timings:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.samples: dict[str, tuple[array[float], array[float]]] = {}  # name -> (wall-clock s, ms)

    def add(self, name: str, started: float, ms: float) -> None:
        """A sample of ``name`` that began at wall-clock ``started`` and took ``ms`` milliseconds."""
        kept = self.samples.get(name)
        if kept is None:
            kept = self.samples[name] = (array("d"), array("d"))
        kept[0].append(started)
        kept[1].append(ms)

    async def watch_loop(self) -> None:
        """Sample the loop's lag until cancelled."""
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(LAG_EVERY_S)
            self.add(LAG, time.time(), max(0.0, (time.perf_counter() - asked - LAG_EVERY_S) * 1000))

    def write(self) -> Path:
        path = self.path.with_name(f"{self.path.name}.{os.getpid()}.json")
        data = {name: {"at": at.tolist(), "ms": ms.tolist()} for name, (at, ms) in self.samples.items()}
        path.write_bytes(orjson.dumps(data))
        return path


def read(paths: list[Path], since: float, until: float) -> dict[str, list[float]]:
    """Every worker's samples of each name taken within [since, until], in ms, sorted."""
    merged: dict[str, list[float]] = {}
    for path in paths:
        for name, kept in orjson.loads(path.read_bytes()).items():
            merged.setdefault(name, []).extend(ms for at, ms in zip(kept["at"], kept["ms"], strict=True)
                                               if since <= at <= until)
    return {name: sorted(values) for name, values in merged.items()}
