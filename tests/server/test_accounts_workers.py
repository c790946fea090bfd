"""Sign-in and revocation across the workers of ``hallq serve --workers 2``, on SQLite and on PostgreSQL: signing
out, a withdrawn key and failed sign-ins are the same on every worker, within a second. And across restarts: a
revocation outlives a restart that lost Redis, and a worker just started refuses revoked credentials from its
first request.

Each worker is asked through a connection of its own (``Pins`` in test_accounts.py finds which worker holds each).
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session as SqlSession

import tests.server.conftest as server_conftest
from floor.accounts import store
from floor.http.auth import read_token
from tests.server.conftest import DEMO_TOML, assert_error, delete_prefix_sync, free_port, start_server, stop_server
from tests.server.deployments import either_deployment, pg_deployment, sqlite_deployment  # noqa: F401 (fixtures)
from tests.server.test_accounts import (
    CSRF,
    HALL,
    OTHER,
    PASSWORD,
    REVOKED_WITHIN_S,
    SESSION,
    Deployment,
    Session,
    bearer,
    password_hash,
    send,
    set_cookies,
    start_deployment,
    stop_deployment,
)

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)


def store_id(dep: Deployment, token: str) -> str:
    return read_token(dep.server.secret, token).token_id


def revoked_at(dep: Deployment, credential: str) -> object:
    with SqlSession(dep.sql) as session:
        row = session.get(store.CredentialRow, credential)
        assert row is not None, credential
        return row.revoked_at


def test_signing_out_ends_the_session_on_every_worker_within_a_second(dep: Deployment) -> None:
    http = dep.http()
    username = dep.person("manager")
    session = dep.sign_in(http, username)
    jid = store_id(dep, session.cookie)
    assert revoked_at(dep, jid) is None
    with dep.pins() as pins:
        pins.accepted(HALL, "/session", session.headers())  # every worker takes it before
        pins.accepted(HALL, "/snapshot", session.headers())
        reply = send(http, "DELETE", HALL, "/session", headers=session.headers())
        since = time.monotonic()
        assert reply.status_code == 200, reply.text
        cleared = set_cookies(reply)
        for name in (SESSION, CSRF):  # the browser forgets both
            value, attributes = cleared[name]
            assert value == "" or attributes.get("max-age") == "0", cleared
        pins.refused_within(HALL, "/session", session.headers(), since)
        pins.refused_within(HALL, "/snapshot", session.headers(), since)
    assert revoked_at(dep, jid) is not None  # recorded: a worker starting later refuses it too
    # A write with the old cookies and their CSRF token is refused as well, and signing in again works.
    assert_error(send(http, "POST", HALL, "/windows/1/open", headers=session.headers()), 401, "revoked")
    again = dep.sign_in(http, username)
    assert send(http, "GET", HALL, "/session", headers=again.headers()).json()["username"] == username


def test_a_withdrawn_key_is_refused_on_every_worker_within_a_second(dep: Deployment) -> None:
    http = dep.http()
    admin = bearer(dep.admin_token())
    key_id, token = dep.key("manager", "provincial platform")  # made as POST /keys makes it (tested there)
    keyed = bearer(token)
    assert key_id in {k["id"] for k in send(http, "GET", HALL, "/keys", headers=admin).json()["keys"]}
    with dep.pins() as pins:
        pins.accepted(HALL, "/stats/today", keyed)
        withdrawn = send(http, "DELETE", HALL, f"/keys/{key_id}", headers=admin)
        since = time.monotonic()
        assert withdrawn.status_code == 200, withdrawn.text
        pins.refused_within(HALL, "/stats/today", keyed, since)
    assert revoked_at(dep, key_id) is not None


def test_failed_sign_ins_on_every_worker_add_up_to_the_lock(dep: Deployment) -> None:
    username = dep.person("guide")
    with dep.pins() as pins:
        codes = []
        for attempt in range(5):  # round the workers
            pin = pins.pins[attempt % len(pins.pins)]
            reply = pin.client.post(f"/api/v1/halls/{HALL}/session",
                                    json={"username": username, "password": f"wrong-{attempt:06d}"})
            codes.append(reply.status_code)
        assert codes == [401, 401, 401, 401, 429], codes
        for pin in pins.pins:
            reply = pin.client.post(f"/api/v1/halls/{HALL}/session", json={"username": username, "password": PASSWORD})
            assert_error(reply, 429, "account_locked")


def restart(deployment: Deployment, home: Path, *, lose_redis: bool) -> None:
    """Stop the server and start it again on the same record (and key prefix), as after a crash or an upgrade."""
    first = deployment.server
    stop_server(first)
    if lose_redis:
        delete_prefix_sync(first.key_prefix)  # Redis restarted without its data: the stream of revocations too
    deployment.server = start_server(first.home, first.key_prefix, workers=1,
                                     halls=[DEMO_TOML, home / "halls" / f"{OTHER}.toml"], hall_ids=(HALL, OTHER),
                                     heartbeat_s=0.5, extra_env={"HALLQ_LOG_LEVEL": "debug"})


def signed_in_and_out(deployment: Deployment) -> tuple[Session, Session]:
    """Two sessions of one person: one still good, one signed out (refused)."""
    http = deployment.http()
    username = deployment.person("manager")
    kept, ended = deployment.sign_in(http, username), deployment.sign_in(http, username)
    assert send(http, "DELETE", HALL, "/session", headers=ended.headers()).status_code == 200
    assert_error(send(http, "GET", HALL, "/session", headers=ended.headers()), 401, "revoked")
    return kept, ended


def test_a_revoked_session_stays_refused_after_a_restart_that_lost_redis(tmp_path: Path) -> None:
    """The record is the truth: a worker started after Redis lost the stream of revocations still refuses."""
    password_hash()
    deployment = start_deployment(tmp_path, workers=1)
    try:
        kept, ended = signed_in_and_out(deployment)
        restart(deployment, tmp_path, lose_redis=True)
        time.sleep(REVOKED_WITHIN_S)  # settled (what a worker answers while starting: the test below)
        http = deployment.http()
        assert_error(send(http, "GET", HALL, "/session", headers=ended.headers()), 401, "revoked")
        assert send(http, "GET", HALL, "/session", headers=kept.headers()).status_code == 200
    finally:
        stop_deployment(deployment)


class Hammer:
    """Threads asking one address over and over, on new connections, from before the server listens: the first
    requests a starting worker answers are among those recorded."""

    def __init__(self, port: int, path: str, headers: dict[str, str], threads: int = 4) -> None:
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
                 *(f"{k}: {v}" for k, v in headers.items())]
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.port = port
        self.answers: list[tuple[int, bytes]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=30) as conn:
                    conn.sendall(self.request)
                    reply = b""
                    while chunk := conn.recv(65536):
                        reply += chunk
            except OSError:  # not listening yet
                time.sleep(0.0005)
                continue
            head, _, body = reply.partition(b"\r\n\r\n")
            self.answers.append((int(head.split(b" ", 2)[1]), body))

    def __enter__(self) -> Hammer:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def test_a_starting_worker_refuses_revoked_sessions_from_its_first_request(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker must know what was revoked before it answers anyone: a signed-out cookie is refused by a worker
    that has just started (after a crash, an upgrade, uvicorn replacing a worker) from its very first request.
    The record holds 20,000 other revoked, unexpired sessions (a busy server's half day of windows taken and
    left, each a new session): reading them takes long enough that a worker answering before it has them is
    seen answering."""
    password_hash()
    deployment = start_deployment(tmp_path, workers=1)
    try:
        kept, ended = signed_in_and_out(deployment)
        now = datetime.now(UTC)
        with deployment.sql.begin() as conn:
            conn.execute(sa.insert(store.CredentialRow), [
                {"id": f"old-{i:08d}", "kind": "session", "hall": HALL, "role": "staff", "created_at": now,
                 "expires_at": now + timedelta(hours=6), "revoked_at": now} for i in range(20_000)])
        port = free_port()
        monkeypatch.setattr(server_conftest, "free_port", lambda: port)  # so the hammer knows where to knock
        with Hammer(port, f"/api/v1/halls/{HALL}/session", ended.headers()) as hammer:
            restart(deployment, tmp_path, lose_redis=False)
            time.sleep(0.5)
        assert deployment.server.port == port
        assert len(hammer.answers) >= 10, hammer.answers
        accepted = [body[:200] for status, body in hammer.answers if status != 401]
        assert not accepted, f"{len(accepted)} of the first {len(hammer.answers)} answers of the restarted " \
                             f"worker took the signed-out cookie: {accepted[:3]}"
        assert all(b'"revoked"' in body for _, body in hammer.answers)
        assert send(deployment.http(), "GET", HALL, "/session", headers=kept.headers()).status_code == 200
    finally:
        stop_deployment(deployment)
