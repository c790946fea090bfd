"""A retried ``POST /tickets`` with the same Idempotency-Key gets the same ticket: once, concurrently, after a
worker was killed, after Redis lost the day. The same key with a different request is refused (422
``idempotency_key_reused``), never answered with the ticket of another service or person.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from queue_engine import errors
from queue_engine.clock import ManualClock
from queue_engine.config import HallConfig
from queue_engine.engine import Engine
from queue_engine.model import HallModel
from tests.drivers import ModelDriver
from tests.server.conftest import HallApi, LiveServer, ServerFactory, assert_error, make_id_number

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

ISSUE_PATH = "/tickets"
RESTART_TIMEOUT_S = 60.0  # two workers starting beside a loaded suite have taken over 20 s


@pytest.fixture(params=["model", "engine"])
def impl(request: pytest.FixtureRequest, demo_hall: HallConfig, clock: ManualClock) -> Any:
    """The pure model and the Redis engine: the refusal is part of the specification, so both must make it."""
    if request.param == "model":
        return ModelDriver(demo_hall, clock=clock)
    return request.getfixturevalue("engine")


# -- the engine and the model -------------------------------------------------------------------


@pytest.mark.parametrize("change", [
    {"service": "HUK"}, {"priority": "vip"}, {"person": "someone-else"}, {"appointment_ms": 1},
], ids=["service", "priority", "person", "appointment"])
async def test_a_key_reused_for_a_different_request_is_refused(impl: Any, change: dict[str, Any]) -> None:
    await impl.open_window("1")
    asked: dict[str, Any] = {"service": "SOC", "person": "p-1"}
    first = await impl.issue(idempotency_key="desk-3-press-9", **asked)
    if "appointment_ms" in change:
        change = {"appointment_ms": first.ticket.issued_at + 3_600_000}
    events_before = len(await impl.events())
    with pytest.raises(errors.DomainError) as refused:
        await impl.issue(idempotency_key="desk-3-press-9", **{**asked, **change})
    assert refused.value.code == "idempotency_key_reused"
    assert refused.value.status == 422
    assert refused.value.details == {"number": "A001"}
    assert "A001" in refused.value.message("en")
    assert "new key" in refused.value.message("en")
    assert len(await impl.events()) == events_before  # a refusal writes nothing
    again = await impl.issue(idempotency_key="desk-3-press-9", **asked)
    assert (again.replay, again.ticket.id) == (True, first.ticket.id)


async def test_a_transferred_ticket_still_replays_for_the_service_it_was_issued_for(impl: Any) -> None:
    await impl.open_window("1")
    first = await impl.issue("SOC", idempotency_key="k-1")
    await impl.call_next("1")
    await impl.transfer("1", to_service="TAX", reason="wrong line")
    again = await impl.issue("SOC", idempotency_key="k-1")
    assert (again.replay, again.ticket.id, again.ticket.service) == (True, first.ticket.id, "TAX")
    with pytest.raises(errors.DomainError) as refused:
        await impl.issue("TAX", idempotency_key="k-1")  # the ticket's service now, but not what was asked
    assert refused.value.code == "idempotency_key_reused"


async def test_keys_and_their_requests_survive_redis_losing_the_day(
    engine: Engine, redis: Redis, key_prefix: str, demo_hall: HallConfig
) -> None:
    await engine.open_window("1")
    first = await engine.issue("SOC", idempotency_key="k-1")
    stored = [e.data for e in await engine.events()]
    async for key in redis.scan_iter(match=f"{key_prefix}:*"):
        await redis.delete(key)
    await engine.load_state(HallModel.replay(demo_hall, stored), None)
    again = await engine.issue("SOC", idempotency_key="k-1")
    assert (again.replay, again.ticket.id) == (True, first.ticket.id)
    with pytest.raises(errors.DomainError) as refused:
        await engine.issue("HUK", idempotency_key="k-1")
    assert refused.value.code == "idempotency_key_reused"


async def test_a_key_stored_before_requests_were_kept_still_replays(engine: Engine, redis: Redis) -> None:
    """Keys written by the previous version (the bare ticket id) live until the day's end: they must keep working."""
    await engine.open_window("1")
    first = await engine.issue("SOC", idempotency_key="old-1")
    day = engine.hall.business_day(engine.clock())
    await redis.hset(engine.keys.idempotency(day), "old-1", first.ticket.id)
    again = await engine.issue("SOC", idempotency_key="old-1")
    assert (again.replay, again.ticket.id) == (True, first.ticket.id)


# -- over HTTP ---------------------------------------------------------------------------------


async def _issue(api: HallApi, key: str, body: dict[str, Any], role: str = "guide") -> Any:
    return await api.request("POST", ISSUE_PATH, role=role, json=body, headers={"Idempotency-Key": key})


def _issued_events(server: LiveServer, hall: str) -> list[str]:
    return [eid for eid, kind in server.events(hall) if kind == "ticket.issued"]


async def test_a_replay_is_200_with_the_same_ticket_and_one_issued_event(api: HallApi) -> None:
    await api.open("5")
    body = {"service": "SOC", "phone": "13912345678", "id_number": make_id_number(date(1990, 5, 17))}
    first = await _issue(api, "guide-1-press-1", body)
    again = await _issue(api, "guide-1-press-1", body)
    assert (first.status_code, again.status_code) == (201, 200), (first.text, again.text)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["number"] == first.json()["number"] == "A001"
    assert len(_issued_events(api.server, api.hall)) == 1
    other = await _issue(api, "guide-1-press-2", {"service": "SOC"})
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]
    assert other.json()["number"] == "A002"
    assert len(_issued_events(api.server, api.hall)) == 2


async def test_twenty_concurrent_retries_make_one_ticket(api: HallApi) -> None:
    await api.open("5")
    replies = await asyncio.gather(*(_issue(api, "flaky-wifi-7", {"service": "HUK"}, role="kiosk")
                                     for _ in range(20)))
    assert sorted(r.status_code for r in replies) == [200] * 19 + [201]
    assert {r.json()["id"] for r in replies} == {replies[0].json()["id"]}
    assert {r.json()["number"] for r in replies} == {"B001"}
    assert len(_issued_events(api.server, api.hall)) == 1


async def test_the_same_key_for_another_service_is_refused_with_a_sentence(api: HallApi) -> None:
    await api.open("5")
    first = await _issue(api, "guide-2-press-1", {"service": "SOC"})
    assert first.status_code == 201
    reused = await _issue(api, "guide-2-press-1", {"service": "HUK"})
    error = assert_error(reused, 422, "idempotency_key_reused")
    assert "A001" in error["message"]
    english = await api.request("POST", ISSUE_PATH, role="guide", json={"service": "HUK"},
                                headers={"Idempotency-Key": "guide-2-press-1", "Accept-Language": "en"})
    assert "new key" in assert_error(english, 422, "idempotency_key_reused")["message"]
    assert len(_issued_events(api.server, api.hall)) == 1  # nothing half-done: no HUK ticket, no B number
    assert (await api.issue("HUK"))["number"] == "B001"


# -- a worker killed between the first try and the retry ----------------------------------------


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 (after the parenthesised command, which may hold spaces) is the parent's id.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def _workers(server: LiveServer) -> set[int]:
    """The uvicorn workers among the server's children (not the archive process nor multiprocessing's tracker)."""
    workers = set()
    for pid in _children(server.process.pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"multiprocessing.spawn" in cmdline:
            workers.add(pid)
    return workers


async def _wait_for_new_workers(server: LiveServer, killed: set[int]) -> set[int]:
    deadline = time.monotonic() + RESTART_TIMEOUT_S
    while time.monotonic() < deadline:
        workers = _workers(server)
        started = server.stderr().count("Application startup complete")
        if len(workers) == server.workers and not workers & killed and started >= 2 * server.workers:
            return workers
        await asyncio.sleep(0.1)
    pytest.fail(f"uvicorn did not replace the killed workers {killed} within {RESTART_TIMEOUT_S} s; "
                f"workers now {_workers(server)}; stderr:\n{server.stderr()}")


async def test_a_key_survives_its_worker_being_killed(live_server: ServerFactory) -> None:
    server = live_server(workers=2)
    workers = _workers(server)
    assert len(workers) == 2, f"expected 2 uvicorn workers under {server.process.pid}, found {workers}"
    async with server.client() as client:
        api = HallApi(server, client, "demo")
        await api.open("5")
        body = {"service": "SOC", "id_number": make_id_number(date(1950, 1, 2))}
        first = await _issue(api, "kiosk-1-press-1", body)
        assert first.status_code == 201, first.text
    # Whichever worker answered, it dies without a chance to clean up: kill -9 both.
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    replaced = await _wait_for_new_workers(server, workers)
    assert server.process.poll() is None
    replies = []
    for _ in range(4):  # a connection each, so the kernel spreads them over the new workers
        async with server.client() as client:
            replies.append(await _issue(HallApi(server, client, "demo"), "kiosk-1-press-1", body))
    assert [r.status_code for r in replies] == [200] * 4, [r.text for r in replies]
    assert {r.json()["id"] for r in replies} == {first.json()["id"]}
    assert {r.json()["number"] for r in replies} == {first.json()["number"]}
    assert first.json()["priority"] == "green"  # born 1950: 60+, the green channel
    assert len(_issued_events(server, "demo")) == 1
    assert _workers(server) == replaced
