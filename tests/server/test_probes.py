"""``/livez`` and ``/readyz``, the probes a load balancer polls (docs/api.md "Probes"), against real servers.

Ready means this worker can serve a hall: Redis answers, the halls are prepared, the hub reads the streams. The
record (SQL) down leaves it ready (issuing needs only Redis) and says so in the body."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from floor.http.kit import RETRY_AFTER_S
from floor.http.probes import Readiness
from loadtest.faults.services import PrivatePostgres, PrivateRedis
from tests.server.conftest import LiveServer, ServerFactory, SharedServer, has_chinese

pytestmark = pytest.mark.slow  # three private servers, a private Redis and a private PostgreSQL

HALL = "/api/v1/halls/demo"


def client_of(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=30.0, trust_env=False)


def wait_for(client: httpx.Client, path: str, status: int, within_s: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + within_s
    while (reply := client.get(path)).status_code != status and time.monotonic() < deadline:
        time.sleep(0.2)
    assert reply.status_code == status, f"{path}: {reply.status_code} {reply.text}"
    return reply


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    (tmp_path / "redis").mkdir()
    redis = PrivateRedis(tmp_path / "redis").start()
    try:
        yield redis
    finally:
        redis.close()


def test_a_serving_worker_is_alive_and_ready(shared_server: SharedServer) -> None:
    with client_of(shared_server.server) as client:
        alive = client.get("/livez")
        assert alive.status_code == 200
        assert alive.json() == {"alive": True}
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"ready": True, "halls": "prepared", "redis": "up", "hub": "running", "record": "up",
                                "not_ready": []}
        for reply in (alive, ready):  # a cache between the balancer and the worker must not answer for it
            assert reply.headers["cache-control"] == "no-store"
            assert reply.headers["content-type"].startswith("application/json")
        assert client.head("/readyz").status_code == 200  # balancers that probe with HEAD
        assert client.post("/readyz").status_code == 405


def test_without_redis_the_worker_is_alive_but_not_ready_until_redis_is_back(
        live_server: ServerFactory, private_redis: PrivateRedis) -> None:
    server = live_server(extra_env={"HALLQ_REDIS_URL": private_redis.url})
    with client_of(server) as client:
        assert client.get("/readyz").status_code == 200
        private_redis.shutdown_nosave()
        try:
            reply = wait_for(client, "/readyz", 503, within_s=10)
            assert reply.headers["retry-after"] == RETRY_AFTER_S
            body = reply.json()
            assert body["ready"] is False
            assert (body["redis"], body["halls"], body["hub"]) == ("down", "prepared", "running"), body
            [problem] = body["not_ready"]
            assert problem["part"] == "redis"
            assert has_chinese(problem["zh"]), problem
            assert "Redis" in problem["zh"], problem
            assert "Redis did not answer" in problem["en"], problem
            # Alive all along: a balancer must not have every worker restarted for an outage outside them.
            assert client.get("/livez").status_code == 200
        finally:
            private_redis.start()  # on the same port, empty: the halls are rebuilt from the record
        ready = wait_for(client, "/readyz", 200)
        assert ready.json()["redis"] == "up"


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    postgres = PrivatePostgres().init().start()
    try:
        yield postgres
    finally:
        postgres.close()


def test_with_the_record_down_the_worker_stays_ready_and_says_so(
        live_server: ServerFactory, private_postgres: PrivatePostgres) -> None:
    server = live_server(extra_env={"HALLQ_DATABASE_URL": private_postgres.url})
    with client_of(server) as client:
        assert client.get("/readyz").json()["record"] == "up"
        private_postgres.stop()
        try:
            reply = client.get("/readyz")
            assert reply.status_code == 200, reply.text  # issuing needs only Redis
            body = reply.json()
            assert (body["ready"], body["record"], body["not_ready"]) == (True, "down", []), body
            [note] = body["degraded"]
            assert note["part"] == "record"
            assert has_chinese(note["zh"]), note
            assert "record" in note["en"], note
            opened = client.post(HALL + "/windows/1/open", headers=server.auth("staff", "1"))
            assert opened.status_code == 200, opened.text
            issued = client.post(HALL + "/tickets", headers=server.auth("guide"), json={"service": "SOC"})
            assert issued.status_code == 201, issued.text
        finally:
            private_postgres.start()
        assert wait_for(client, "/readyz", 200).json()["record"] == "up"


@pytest.mark.parametrize(("readiness", "parts"), [
    (Readiness(prepared=False, redis="unknown", hub="unknown", record="unknown"), ["halls"]),
    (Readiness(prepared=True, redis="up", hub="stopped", record="up"), ["hub"]),
    (Readiness(prepared=True, redis="down", hub="stopped", record="down"), ["redis", "hub"]),
])
def test_each_part_not_ready_is_named_in_both_languages(readiness: Readiness, parts: list[str]) -> None:
    """States a real server cannot be put in on purpose (a hub that died, a worker caught mid-start)."""
    body = readiness.body()
    assert body["ready"] is False
    assert [p["part"] for p in body["not_ready"]] == parts
    for problem in body["not_ready"]:
        assert has_chinese(problem["zh"]), problem
        assert problem["en"].strip(), problem
