"""The set-up across workers, people and restarts (``hallq serve --workers 2``, SQLite and PostgreSQL): a change
made on one worker is obeyed by every worker within a second; AB岗, a staff member signing out or pausing with 离岗
hands the window's services to its B post, which gives them back when the post is manned again, and a service nobody
open can serve alerts the managers at once; 考勤 shows who sat where and paused why; and a restart runs on the set-up
changed live (from Redis, or from the record when Redis lost it), re-importing the hall's file only while nobody has
edited the hall live.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any, cast

import httpx
import orjson
import pytest
from redis import Redis

from floor.http.auth import make_token
from floor.setup import store
from floor.sql.db import make_sql_engine
from queue_engine.keys import HallKeys
from queue_engine.stream_ids import parse_stream_id
from tests.conftest import REDIS_URL
from tests.server.conftest import (
    delete_prefix_sync,
    start_server,
    stop_server,
    write_hall_copy,
)
from tests.server.deployments import either_deployment, pg_deployment, sqlite_deployment  # noqa: F401 (fixtures)
from tests.server.test_accounts import (
    HALL,
    Deployment,
    bearer,
    send,
)

pytestmark = pytest.mark.slow
WITHIN_S = 1.0


def admin(dep: Deployment) -> dict[str, str]:
    return bearer(dep.admin_token())


def call(dep: Deployment, method: str, path: str, *, headers: dict[str, str] | None = None, json: Any = None,
         params: dict[str, str] | None = None, expect: int = 200) -> Any:
    with httpx.Client(base_url=dep.server.base_url, timeout=30.0, trust_env=False) as client:
        reply = client.request(method, f"/api/v1/halls/{HALL}{path}", headers=headers or admin(dep), json=json,
                               params=params)
    assert reply.status_code == expect, f"{method} {path}: {reply.status_code} {reply.text}"
    return reply.json()


def window(config: dict[str, Any], window_id: str) -> dict[str, Any]:
    return next(w for w in config["windows"] if w["id"] == window_id)


def put_window(dep: Deployment, changed: dict[str, Any]) -> int:
    version = call(dep, "GET", "/setup")["version"]
    reply = call(dep, "PUT", f"/setup/windows/{changed['id']}", json={"version": version, "window": changed})
    return int(reply["version"])


def test_a_change_reaches_every_worker_within_a_second(dep: Deployment) -> None:
    config = call(dep, "GET", "/setup")["config"]
    name = f"综合窗口{uuid.uuid4().hex[:4]}"
    with dep.pins() as pins:
        since = time.monotonic()
        put_window(dep, {**window(config, "6"), "name": name})
        pending = {pin.worker: pin for pin in pins.pins}
        while pending:
            for worker, pin in list(pending.items()):
                reply = pin.send("GET", HALL, "/config", admin(dep))
                if window(reply.json(), "6")["name"] == name:
                    del pending[worker]
            assert not pending or time.monotonic() - since <= WITHIN_S, \
                f"worker(s) {sorted(pending)} still on the old set-up after {WITHIN_S} s"
            time.sleep(0.02)


def staff_at(dep: Deployment, client: httpx.Client, window_id: str) -> tuple[str, dict[str, str]]:
    """A staff member signed in at ``window_id``: (username, the Cookie and CSRF headers of the session)."""
    username = dep.person("staff")
    session = dep.sign_in(client, username)
    reply = send(client, "POST", HALL, "/session/window", headers=session.headers(), json={"window": window_id})
    assert reply.status_code == 200, reply.text
    cookies = {k: v for k, v in reply.cookies.items()}
    headers = {"Cookie": f"hallq_session={cookies['hallq_session']}; hallq_csrf={cookies['hallq_csrf']}",
               "X-CSRF-Token": cookies["hallq_csrf"]}
    return username, headers


def skills(dep: Deployment, window_id: str) -> list[str]:
    snapshot = call(dep, "GET", "/snapshot")
    return list(window(snapshot, window_id)["services"])


def stream(dep: Deployment) -> list[tuple[bytes, dict[bytes, bytes]]]:
    redis = Redis.from_url(REDIS_URL)
    try:
        return cast(list[tuple[bytes, dict[bytes, bytes]]], redis.xrange(HallKeys(HALL, dep.server.key_prefix).events))
    finally:
        redis.close()


def alerts(dep: Deployment, since: str) -> list[dict[str, Any]]:
    later = [orjson.loads(fields[b"e"]) for eid, fields in stream(dep) if parse_stream_id(eid.decode()) >
             parse_stream_id(since)]
    return [e for e in later if e["type"] == "hall.alert"]


def last_event(dep: Deployment) -> str:
    entries = stream(dep)
    return entries[-1][0].decode() if entries else "0-0"


def test_ab_posts_take_over_on_sign_out_and_give_back(dep: Deployment) -> None:
    config = call(dep, "GET", "/setup")["config"]
    put_window(dep, {**window(config, "9"), "stand_in": "10"})  # 不动产 windows: 9's B post is 10
    call(dep, "PUT", "/setup/windows/11", json={"version": call(dep, "GET", "/setup")["version"], "window": {
        **window(config, "11"), "services": ["TAX"], "primary": [], "items": []}})  # nobody else serves PROP
    with dep.http() as a_client, dep.http() as b_client:
        a_name, a = staff_at(dep, a_client, "9")
        _, b = staff_at(dep, b_client, "10")
        for w, headers in (("9", a), ("10", b)):
            assert send(a_client, "POST", HALL, f"/windows/{w}/open", headers=headers).status_code == 200
        call(dep, "POST", "/windows/10/services", json={"services": ["TAX"], "primary": ["TAX"]})  # 10 moved
        before = last_event(dep)
        assert send(a_client, "DELETE", HALL, "/session", headers=a).status_code == 200  # A signs out
        assert "PROP" in skills(dep, "10")  # B took up PROP
        assert alerts(dep, before) == []  # PROP is still served (at 10)
        again = dep.sign_in(a_client, a_name)
        reply = send(a_client, "POST", HALL, "/session/window", headers=again.headers(), json={"window": "9"})
        assert reply.status_code == 200, reply.text
        assert skills(dep, "10") == ["TAX"]  # given back when A is back at 9
        b_pause = send(b_client, "POST", HALL, "/windows/10/pause", headers=b, json={"reason": "离岗（去后台）"})
        assert b_pause.status_code == 200, b_pause.text
        found = alerts(dep, before)
        assert [(e["kind"], e["window"], e["uncovered"]) for e in found] == [("service_uncovered", "10", ["TAX"])]
        assert send(b_client, "POST", HALL, "/windows/10/resume", headers=b).status_code == 200
        with_reasons = wait_for(lambda: attendance_of(dep, a_name))
        assert with_reasons["windows"][0]["window"] == "9"
        assert len(with_reasons["windows"]) == 2  # sat at 9, signed out, came back to 9


def attendance_of(dep: Deployment, username: str) -> dict[str, Any] | None:
    people = call(dep, "GET", "/attendance")["people"]
    return next((p for p in people if p["username"] == username), None)


def wait_for(check: Any, seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.2)
    return found


def test_attendance_shows_pauses_with_their_reasons(dep: Deployment) -> None:
    with dep.http() as client:
        username, headers = staff_at(dep, client, "5")
        assert send(client, "POST", HALL, "/windows/5/open", headers=headers).status_code == 200
        paused = send(client, "POST", HALL, "/windows/5/pause", headers=headers, json={"reason": "午休"})
        assert paused.status_code == 200, paused.text
        time.sleep(1.1)
        assert send(client, "POST", HALL, "/windows/5/resume", headers=headers).status_code == 200
        person = wait_for(lambda: (p := attendance_of(dep, username)) and p["pauses"] and p)
        assert person["signed_out"] is None
        assert person["windows"][0]["window"] == "5"
        assert [(x["window"], x["reason"]) for x in person["pauses"]] == [("5", "午休")]
        assert person["pauses"][0]["seconds"] >= 1
        assert send(client, "DELETE", HALL, "/session", headers=headers).status_code == 200
        assert wait_for(lambda: (p := attendance_of(dep, username)) is not None and p["signed_out"])


# -- restarts --------------------------------------------------------------------------------------------
def recorded_version(home: Path) -> int | None:
    sql = make_sql_engine(f"sqlite:///{home / 'hallq.db'}")
    try:
        setup = store.read(sql, "town")
        return setup.version if setup else None
    finally:
        sql.dispose()


def test_a_restart_runs_on_the_live_set_up_and_the_file_only_while_nobody_edited_live(tmp_path: Path) -> None:
    halls = tmp_path / "halls"
    halls.mkdir()
    hall_file = write_hall_copy(halls, "town")
    prefix = f"hqtest-{uuid.uuid4().hex[:10]}"
    home = tmp_path / "home"

    def serve() -> Any:
        return start_server(home, prefix, halls=[hall_file], hall_ids=("town",))

    def config(server: Any) -> dict[str, Any]:
        token = make_token(server.secret, "town", "admin")
        reply = httpx.get(f"{server.base_url}/api/v1/halls/town/setup", headers=bearer(token), trust_env=False)
        assert reply.status_code == 200, reply.text
        found: dict[str, Any] = reply.json()
        return found

    try:
        server = serve()
        assert config(server)["version"] == 1
        stop_server(server)
        hall_file.write_text(hall_file.read_text().replace('name = "12号窗口"', 'name = "出件窗口"'))
        server = serve()  # the file changed and nobody edited live: imported again
        found = config(server)
        assert (found["version"], window(found["config"], "12")["name"]) == (2, "出件窗口")
        token = make_token(server.secret, "town", "admin")
        reply = httpx.put(f"{server.base_url}/api/v1/halls/town/setup/windows/12", headers=bearer(token),
                          json={"version": 2, "window": {**window(found["config"], "12"), "name": "领证窗口"}},
                          trust_env=False)
        assert reply.status_code == 200, reply.text
        wait_for(lambda: recorded_version(home) == 3, 60)  # the archiver (a process of its own) follows the stream
        stop_server(server)
        hall_file.write_text(hall_file.read_text().replace('name = "11号窗口"', 'name = "税务专窗"'))
        server = serve()  # edited live: the file is not read again
        found = config(server)
        assert (found["version"], window(found["config"], "12")["name"]) == (3, "领证窗口")
        assert window(found["config"], "11")["name"] == "11号窗口"
        stop_server(server)
        delete_prefix_sync(prefix)  # Redis lost everything: the record still has version 3
        server = serve()
        found = config(server)
        assert (found["version"], window(found["config"], "12")["name"]) == (3, "领证窗口")
        stop_server(server)
    finally:
        delete_prefix_sync(prefix)
