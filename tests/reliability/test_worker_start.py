"""A worker uvicorn replaces while a store is down waits for it instead of failing its start.

uvicorn stops the whole server when a worker fails to start (it takes that for a broken app), so a worker killed
during a Redis outage would otherwise take the workers still serving down with it: every request after it refused.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from loadtest.faults.services import ROOT, HallqServer, PrivateRedis, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def redis_and_server(tmp_path: Path) -> Iterator[tuple[PrivateRedis, HallqServer]]:
    (tmp_path / "redis").mkdir()
    redis = PrivateRedis(tmp_path / "redis").start()
    server = HallqServer(tmp_path / "server", redis_url=redis.url, database_url=f"sqlite:///{tmp_path / 'hall.db'}",
                         key_prefix=f"hqstart-{uuid.uuid4().hex[:8]}", secret=uuid.uuid4().hex,
                         halls=(ROOT / "floor" / "halls" / "demo.toml",))
    try:
        yield redis, server.start()
    finally:
        server.stop()
        redis.close()


def test_a_worker_replaced_while_redis_is_down_waits_for_it_and_the_server_stays_up(
        redis_and_server: tuple[PrivateRedis, HallqServer]) -> None:
    redis, server = redis_and_server
    assert server.process is not None
    redis.shutdown_nosave()
    victim = server.kill_worker()
    wait_until(lambda: victim not in server.worker_pids() and len(server.worker_pids()) == server.workers,
               "a replacement worker", timeout_s=30)
    # The replacement tries its stores and waits; the server does not stop meanwhile.
    wait_until(lambda: "could not prepare hall demo yet" in server.log(), "the replacement waiting for Redis",
               timeout_s=30)
    time.sleep(2.0)
    assert server.process.poll() is None, server.log()[-3000:]
    answered = requests.get(f"{server.base_url}/healthz", timeout=5)
    assert answered.status_code == 503, answered.text
    assert answered.headers.get("Retry-After"), answered.headers

    redis.start()
    wait_until(lambda: server.log().count("Application startup complete") >= server.workers + 1,
               "the replacement worker started once Redis was back", timeout_s=30)
    assert server.process.poll() is None
    for _ in range(6):  # both workers read the hall from Redis again (connections land on either)
        reply = requests.get(f"{server.base_url}/api/v1/halls/demo/tickets/20990101-000000000000", timeout=5)
        assert reply.status_code == 404, reply.text
        assert reply.json()["error"]["code"] == "unknown_ticket", reply.text
