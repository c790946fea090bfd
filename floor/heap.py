"""Short garbage-collector pauses for long-running processes.

CPython's collections stop the event loop while they walk the container objects of the generations they
collect. A worker serving a city platform (200 halls) holds ~340,000 of them from startup alone (hall
configurations, routes, compiled SQL, modules), and a full collection walked them all: under city-platform's
load, 11 full collections in 90 s paused the loop for up to 254 ms each (measured with ``gc.callbacks``).

``settle`` freezes what startup built, so collections never walk it again, and collects the young generation
every 7,000 allocations instead of 700: most of a request's objects are gone by then, so there are fewer
collections and fewer survivors promoted to be walked again. Measured the same way afterwards: no full
collection in 60 s, and the longest pause 37 ms. Cycles made later are still collected, only less often.

The middle generation is collected after every 2 young collections, not 20. What it finds is mostly uvicorn's
own: every closed connection leaves a cycle (HTTP: protocol, parser, flow control; websocket: protocol,
queue, events, headers), ~40 HTTP and ~30 websocket connections a second under city-platform. With 20, a
middle collection came every ~50 s, found 45,000-54,000 such objects and paused the loop 87-122 ms, and each
one showed as a 10-second step of the run with issue p99 at 33-86 ms. With 2 (one run, 150 s, gc.callbacks
logged): the longest middle collection 35 ms, no full one after startup, and the loop's longest lag
35 ms instead of 131-165 ms.
"""

from __future__ import annotations

import gc

THRESHOLDS = (7000, 2, 100)


def settle() -> None:
    """Call once a process has built what it keeps for its whole life: what exists now is moved out of the
    collector's sight (``gc.freeze``), so later full collections walk only what was made since."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
