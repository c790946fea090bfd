"""What /metrics costs a request: the prometheus_client calls alone, then a whole request through the app with and
without them.

    .venv/bin/python -m loadtest.metrics_cost [--n 200000] [--scrape-halls 500]

Runs in multiprocess mode, as under ``hallq serve`` (values written to mmap files in a temporary directory): the
variable is set before prometheus_client is first imported. Prints microseconds per call, best of five rounds.
With ``--scrape-halls N``, also what a scrape's read of N copies of the demo hall costs the worker answering it (the
local Redis, under a key prefix of its own, deleted afterwards): wall time, this process's CPU time, the text's size.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
import timeit
import uuid
from collections.abc import Callable
from typing import Any

# Multiprocess mode is chosen when prometheus_client is first imported: before any import below that brings it.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="hallq-metrics-cost-")

from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from floor.http.hall_app import HallApp
from floor.metrics.exposition import hall_text
from floor.metrics.families import REQUEST_SECONDS, TICKETS_ISSUED, WEBSOCKETS
from floor.metrics.hall_reads import HallReads
from floor.metrics.requests import MeteredApp
from floor.runtime import HallRuntime
from floor.settings import DEMO_HALL
from queue_engine.config import load_hall
from queue_engine.engine import Engine

ROUNDS = 5
PATH = "/api/v1/halls/{hall}/windows/{w}/call-next"


def per_call_us(call: Callable[[], object], n: int) -> float:
    return min(timeit.repeat(call, number=n, repeat=ROUNDS)) / n * 1e6


async def _answer(_: Request) -> Response:
    return Response(b"{}", media_type="application/json")


async def _on_error(_: Request, __: Exception) -> Response:
    return Response(status_code=500)


def _app(kind: type[HallApp]) -> HallApp:
    endpoints = [Route(PATH, _answer, methods=["POST"])]
    if kind is MeteredApp:
        return MeteredApp(channels=("display",), endpoints=endpoints, on_error=_on_error, routes=[])
    return HallApp(endpoints=endpoints, on_error=_on_error, routes=[])


async def _requests_us(app: HallApp, n: int) -> float:
    """One POST call-next through the ASGI app, answered on the fast path; the server's own work left out."""
    scope: dict[str, Any] = {"type": "http", "method": "POST", "path": "/api/v1/halls/demo/windows/5/call-next",
                             "raw_path": b"", "root_path": "", "query_string": b"", "headers": [],
                             "http_version": "1.1", "scheme": "http", "server": ("hall", 80), "client": ("k", 1)}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: Any) -> None:
        return None

    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(n):
            await app(dict(scope), receive, send)
        best = min(best, (time.perf_counter() - started) / n * 1e6)
    return best


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _scrape_cost(halls: int, redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    prefix = f"hqbench-metrics-{uuid.uuid4().hex[:8]}"
    demo = load_hall(DEMO_HALL)
    try:
        runtimes = {}
        for i in range(halls):
            engine = Engine(redis, demo.model_copy(update={"id": f"h{i:03d}"}), prefix=prefix)
            await engine.setup()
            await engine.open_window("1")
            for service in ("SOC", "HUK", "TAX"):
                await engine.issue(service)
            runtimes[engine.hall.id] = HallRuntime(engine)
        reads = HallReads()
        print(f"a scrape's read of {halls} halls ({len(demo.services)} services each), best of {ROUNDS}")
        best = (float("inf"), 0.0, 0.0, 0)
        for _ in range(ROUNDS):
            started, cpu = time.perf_counter(), _cpu_s()
            readings = await reads.read(runtimes)
            read_s, read_cpu = time.perf_counter() - started, _cpu_s() - cpu
            body = hall_text(readings, read_s)  # the processes' sums are the helper's (floor.metrics.summing)
            total_s = time.perf_counter() - started
            if total_s < best[0]:
                best = (total_s, read_s, _cpu_s() - cpu, len(body))
            assert len(readings) == halls
            assert read_cpu >= 0
        total_s, read_s, cpu_s, size = best
        print(f"  Redis read (wall)                  {read_s * 1000:7.1f} ms")
        print(f"  read and halls' text (wall)        {total_s * 1000:7.1f} ms")
        print(f"  read and halls' text (CPU)         {cpu_s * 1000:7.1f} ms")
        print(f"  halls' text size                   {size / 1024:7.1f} KiB")
    finally:
        async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
            await redis.delete(key)
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="calls per round")
    parser.add_argument("--scrape-halls", type=int, default=0, help="also time a scrape's read of this many halls")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    n = args.n
    timer = REQUEST_SECONDS.labels(PATH, "POST", "2xx")
    issued = TICKETS_ISSUED.labels("county_centre", "SOC")
    socket = WEBSOCKETS.labels("display")
    print(f"prometheus_client, multiprocess mode, {n} calls, best of {ROUNDS} (µs per call)")
    print(f"  histogram child .observe()         {per_call_us(lambda: timer.observe(0.007), n):7.2f}")
    print(f"  histogram .labels(...).observe()   "
          f"{per_call_us(lambda: REQUEST_SECONDS.labels(PATH, 'POST', '2xx').observe(0.007), n):7.2f}")
    print(f"  counter child .inc()               {per_call_us(issued.inc, n):7.2f}")
    def up_and_down() -> None:
        socket.inc()
        socket.dec()

    print(f"  gauge child .inc() + .dec()        {per_call_us(up_and_down, n):7.2f}")
    print(f"  os.getpid() (each mmap write asks) {per_call_us(os.getpid, n):7.2f}")
    requests = max(n // 10, 1000)
    plain = asyncio.run(_requests_us(_app(HallApp), requests))
    metered = asyncio.run(_requests_us(_app(MeteredApp), requests))
    print(f"a request through the app (fast path, {requests} requests, best of {ROUNDS})")
    print(f"  HallApp                            {plain:7.2f}")
    print(f"  MeteredApp                         {metered:7.2f}")
    print(f"  what metrics add                   {metered - plain:7.2f}")
    if args.scrape_halls:
        asyncio.run(_scrape_cost(args.scrape_halls, args.redis_url))


if __name__ == "__main__":
    main()
