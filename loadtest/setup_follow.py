"""What following a live set-up costs a worker (``python -m loadtest.setup_follow``).

Every worker's hub hands each event of the stream to ``Engine.follow`` before any screen renders it, so a set-up
changed on one worker is obeyed by all. This prints that cost for an ordinary event (the price every event pays),
beside one issue's request time for scale, and what adopting a new set-up costs the one event that carries it.
"""

from __future__ import annotations

import argparse
import timeit

import orjson
from redis.asyncio import Redis

from floor.settings import DEMO_HALL
from queue_engine.config import load_hall
from queue_engine.engine import Engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    engine = Engine(Redis(), load_hall(DEMO_HALL))  # no call reaches Redis: follow() is pure
    engines = {"demo": engine}

    def hook(hall: str, event: dict[str, object]) -> object:  # as floor/app.py sets hub.on_event
        return engines[hall].follow(event)

    called = {"type": "ticket.called", "ticket": "x", "window": "1", "number": "A001", "at": 1}
    ordinary = timeit.timeit(lambda: hook("demo", called), number=args.events) / args.events
    configured = {"type": "hall.configured", "version": 2, "config": orjson.loads(engine.hall.model_dump_json())}

    def adopt() -> None:
        engine.config_version = 1
        engine.follow(configured)

    adopting = timeit.timeit(adopt, number=200) / 200
    print(f"an ordinary event through the hub's hook: {ordinary * 1e9:.0f} ns")
    print(f"adopting the demo hall's set-up (one hall.configured event): {adopting * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
