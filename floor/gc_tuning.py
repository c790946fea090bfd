"""Short garbage-collector pauses for long-running processes.

CPython's collections stop the event loop while they walk the container objects of the generations they
collect. A worker serving many halls holds hundreds of thousands of them from startup alone (hall
configurations, routes, compiled SQL, modules), and a full collection walks them all, pausing every request.

``settle`` freezes what startup built, so collections never walk it again, and collects the young generation
every 7,000 allocations instead of 700: most of a request's objects are gone by then, so there are fewer
collections and fewer survivors promoted to be walked again. Cycles made later are still collected, only
less often.

The middle generation is collected after every 2 young collections, not 20. What it finds is mostly uvicorn's
own: every closed connection leaves a cycle (HTTP: protocol, parser, flow control; websocket: protocol,
queue, events, headers). Collected often, each batch is small and its pause short; collected rarely, one
batch held tens of thousands of them and showed as a step in the load runs' tail latency. The pauses before
and after are recorded with the city-platform runs in ``loadtest/results/`` and in the git log.
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
