"""What a cluster and a replica's acknowledgement cost one engine call: ``python -m loadtest.ack_cost``.

Three set-ups in one run, interleaved round by round (the machine is shared and noisy): the machine's Redis
(one server), the local cluster of ``scripts/redis-cluster`` acknowledging on the primary, and the same cluster
acknowledging only once a replica has the change (``HALLQ_ACK_REPLICAS=1``: WAIT 1 pipelined behind the call).
Each round issues a ticket and calls it, ``--calls`` times per set-up from ``--tasks`` concurrent tasks, and
records each call's latency. Prints p50/p90/p99 per set-up and operation, and the ratio to one server.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import time
import uuid
from collections import defaultdict
from pathlib import Path

from redis.asyncio import Redis

from queue_engine.config import load_hall
from queue_engine.engine import Engine
from queue_engine.fcall_pipe import Durability
from queue_engine.shards import Shards

from .report import percentile

ROOT = Path(__file__).resolve().parent.parent
SINGLE = "redis://127.0.0.1:6379/0"


async def _engine(url: str, replicas: int, prefix: str) -> tuple[Engine, Shards]:
    shards = Shards.from_url(url, Redis.from_url)
    await shards.start()
    hall = load_hall(ROOT / "floor" / "halls" / "demo.toml")
    # A fixed clock in opening hours: the demo hall issues and calls whenever this runs.
    engine = Engine(shards, hall, prefix=prefix, clock=lambda: 1_795_568_400.0,  # Mon 2026-11-23 09:00 +08
                    durability=Durability(replicas=replicas))
    await engine.setup()
    for window in hall.windows:
        await engine.open_window(window.id)
    return engine, shards


async def _round(engine: Engine, calls: int, tasks: int, times: dict[str, list[float]]) -> None:
    windows = [w.id for w in engine.hall.windows if "SOC" in w.services]
    assert tasks <= len(windows), f"at most {len(windows)} tasks: a window each"

    async def worker(n: int) -> None:
        window = windows[n]  # a window per task: one window calls one ticket at a time
        for _ in range(calls // tasks):
            started = time.perf_counter()
            await engine.issue("SOC")
            times["issue"].append(time.perf_counter() - started)
            state = await engine.window(window)
            if state.ticket is not None:
                await engine.finish(window, "done")
            started = time.perf_counter()
            await engine.call_next(window)
            times["call_next"].append(time.perf_counter() - started)

    await asyncio.gather(*(worker(n) for n in range(tasks)))


def _ms(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (seconds) in ms, by nearest rank (``loadtest.report.percentile``)."""
    found = percentile(values, q)
    return found * 1000 if found is not None else float("nan")


async def main_async(rounds: int, calls: int, tasks: int) -> None:
    started = await asyncio.to_thread(subprocess.run, [str(ROOT / "scripts" / "redis-cluster"), "start"], check=True,
                                      capture_output=True, text=True)
    cluster = started.stdout.strip()
    setups = {"one Redis": (SINGLE, 0), "cluster, primary": (cluster, 0), "cluster, WAIT 1 replica": (cluster, 1)}
    prefix = f"hqack-{uuid.uuid4().hex[:8]}"
    opened = {name: await _engine(url, replicas, f"{prefix}-{n}") for n, (name, (url, replicas)) in
              enumerate(setups.items())}
    times: dict[str, dict[str, list[float]]] = {name: defaultdict(list) for name in setups}
    try:
        for r in range(rounds):
            for name, (engine, _) in opened.items():
                await _round(engine, calls, tasks, times[name])
            print(f"round {r + 1}/{rounds} done", flush=True)
    finally:
        for engine, shards in opened.values():
            for client in shards.clients():
                async for key in client.scan_iter(match=f"{engine.keys.prefix}:*", count=1000):
                    await client.delete(key)
            await shards.aclose()
    print(f"\n{rounds} rounds x {calls} calls per set-up, {tasks} tasks at once; latency in ms")
    print(f"{'set-up':26} {'operation':10} {'p50':>7} {'p90':>7} {'p99':>7} {'p50 / one Redis':>16}")
    for name in setups:
        for op in ("issue", "call_next"):
            values = times[name][op]
            base = statistics.median(times["one Redis"][op])
            print(f"{name:26} {op:10} {_ms(values, .5):7.2f} {_ms(values, .9):7.2f} {_ms(values, .99):7.2f} "
                  f"{statistics.median(values) / base:16.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtest.ack_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=400, help="issue+call pairs per set-up and round")
    parser.add_argument("--tasks", type=int, default=3, help="concurrent callers, a window each")
    args = parser.parse_args()
    asyncio.run(main_async(args.rounds, args.calls, args.tasks))


if __name__ == "__main__":
    main()
