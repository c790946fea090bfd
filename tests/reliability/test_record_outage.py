"""A store down under a running hall is a 503 with Retry-After, never a 500.

The SQL record down: every endpoint that reads or writes it answers 503 record_unavailable, the live hall goes on
issuing and calling, and the same endpoints answer again once PostgreSQL is back. Redis down: the health check a
load balancer polls answers 503 too, and recovers with Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from floor.http.kit import RETRY_AFTER_S
from loadtest.faults.services import PrivatePostgres, PrivateRedis
from tests.server.conftest import LiveServer, delete_prefix_sync, start_server, stop_server

HALL = "/api/v1/halls/demo"
# (role, window, method, path, json): each lives on the SQL record alone.
RECORD_ENDPOINTS: list[tuple[str | None, str | None, str, str, Any]] = [
    ("manager", None, "GET", "/audit", None),
    ("manager", None, "GET", "/ratings", None),
    ("manager", None, "GET", "/cases", None),
    ("manager", None, "GET", "/reports", None),
    ("manager", None, "GET", "/reports.csv", None),
    ("manager", None, "GET", "/reports.xlsx", None),
    ("manager", None, "GET", "/reports/stars", None),
    ("manager", None, "GET", "/reports/charts/waits.png", None),
    ("manager", None, "GET", "/stats/today", None),
    ("manager", None, "GET", "/webhooks/deliveries", None),
    ("staff", "1", "GET", "/windows/1/today", None),
    ("guide", None, "GET", "/appointments", None),
    ("guide", None, "GET", "/appointments/slots?service=SOC", None),
    (None, None, "GET", "/appointments/" + "0" * 24, None),
    ("guide", None, "POST", "/appointments/check-in", {"code": "123456"}),
]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres().init().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def hall(postgres: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("record-outage")
    server = start_server(home, f"hqtest-{uuid.uuid4().hex[:8]}", extra_env={"HALLQ_DATABASE_URL": postgres.url})
    try:
        yield server
    finally:
        stop_server(server)
        delete_prefix_sync(server.key_prefix)


def ask(client: httpx.Client, server: LiveServer, role: str | None, window: str | None, method: str, path: str,
        body: Any, lang: str = "en") -> httpx.Response:
    headers = {"Accept-Language": lang, **(server.auth(role, window) if role else {})}
    return client.request(method, HALL + path, headers=headers, json=body)


def test_record_endpoints_answer_503_while_sql_is_down_and_the_hall_goes_on(
        hall: LiveServer, postgres: PrivatePostgres) -> None:
    with httpx.Client(base_url=hall.base_url, timeout=30.0, trust_env=False) as client:
        for role, window, method, path, body in RECORD_ENDPOINTS:  # up: each answers, so the 503 below is the outage
            reply = ask(client, hall, role, window, method, path, body)
            assert reply.status_code < 500, (path, reply.status_code, reply.text[:300])

        postgres.stop()
        try:
            for role, window, method, path, body in RECORD_ENDPOINTS:
                for lang, words in (("en", "record"), ("zh", "记录库")):
                    reply = ask(client, hall, role, window, method, path, body, lang)
                    assert reply.status_code == 503, (path, reply.status_code, reply.text[:300])
                    assert reply.headers["retry-after"] == RETRY_AFTER_S, path
                    error = reply.json()["error"]
                    assert error["code"] == "record_unavailable", (path, error)
                    assert words in error["message"], (path, error)

            # The live hall never waits for SQL: a ticket is issued and called while the record is down.
            opened = client.post(HALL + "/windows/1/open", headers=hall.auth("staff", "1"))
            assert opened.status_code == 200, opened.text
            issued = client.post(HALL + "/tickets", headers=hall.auth("guide"), json={"service": "SOC"})
            assert issued.status_code == 201, issued.text
            called = client.post(HALL + "/windows/1/call-next", headers=hall.auth("staff", "1"))
            assert called.status_code == 200, called.text
            assert called.json()["ticket"]["number"] == issued.json()["number"]
        finally:
            postgres.start()

        for role, window, method, path, body in RECORD_ENDPOINTS:  # back: the pool reconnects by itself
            reply = ask(client, hall, role, window, method, path, body)
            assert reply.status_code < 500, (path, reply.status_code, reply.text[:300])


def test_health_answers_503_while_redis_is_down(tmp_path: Path) -> None:
    (tmp_path / "redis").mkdir()
    redis = PrivateRedis(tmp_path / "redis").start()
    server = start_server(tmp_path / "home", f"hqtest-{uuid.uuid4().hex[:8]}",
                          extra_env={"HALLQ_REDIS_URL": redis.url})
    try:
        with httpx.Client(base_url=server.base_url, timeout=30.0, trust_env=False) as client:
            assert client.get("/healthz").status_code == 200
            redis.shutdown_nosave()
            for lang in ("en", "zh"):
                reply = client.get("/healthz", headers={"Accept-Language": lang})
                assert reply.status_code == 503, reply.text
                assert reply.headers["retry-after"] == RETRY_AFTER_S
                assert reply.json()["error"]["code"] == "unavailable"
            redis.start()
            deadline = time.monotonic() + 30
            while (reply := client.get("/healthz")).status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert reply.status_code == 200, reply.text
    finally:
        stop_server(server)
        redis.close()
