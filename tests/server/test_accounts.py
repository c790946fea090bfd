"""Accounts and sign-in through the real server (``hallq serve --workers 2``), as a security matrix: the session
and CSRF cookies, wrong and unknown passwords, lock-out, CSRF on cookie writes, the websocket's origin, windows
taken by people, password change and reset, disabling, one hall's admin in another hall, integration keys, who
may manage accounts, and what the server's log must never hold.

One server for the module (SQLite; the same sign-in and revocation on PostgreSQL in test_accounts_workers.py);
each test makes accounts of its own, straight in the record (``floor.accounts.store``, as ``setup.create`` does,
with one argon2 hash made once: hashing is the slow part). Tests that fail sign-ins on purpose send them from a
loopback address of their own (127.0.0.x): the lock-out counts 30 failures per address, and the rest of the module
signs in from 127.0.0.1.

Revocation must reach every worker: ``Pins`` holds one keep-alive connection to each worker process (found in
/proc by the connection's socket), so "refused within a second" is asked of each worker, not of whichever one
happened to answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine as SqlEngine

from floor.accounts import passwords, store
from floor.app import ENDPOINTS
from floor.http.auth import csrf_token, issue, make_token, read_token
from floor.sql.db import make_sql_engine
from tests.server.conftest import (
    DEMO_TOML,
    LiveServer,
    assert_error,
    delete_prefix_sync,
    first_message,
    has_chinese,
    start_server,
    stop_server,
    write_hall_copy,
)

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

HALL, OTHER = "demo", "other"
PASSWORD = f"pw-{secrets.token_hex(8)}"  # every account the tests make starts with it (hashed once, below)
SESSION, CSRF = "hallq_session", "hallq_csrf"
SAFE = ("GET", "HEAD", "OPTIONS")
REVOKED_WITHIN_S = 1.0
LOCK_WINDOW_S = 15 * 60


@functools.cache
def password_hash() -> str:
    return passwords.hash_password(PASSWORD)


# -- cookies and sessions ----------------------------------------------------------------------------------
def set_cookies(reply: httpx.Response) -> dict[str, tuple[str, dict[str, str]]]:
    """name -> (value, attributes in lower case; a flag such as HttpOnly maps to "") of each Set-Cookie."""
    found: dict[str, tuple[str, dict[str, str]]] = {}
    for line in reply.headers.get_list("set-cookie"):
        name_value, *parts = [p.strip() for p in line.split(";")]
        name, _, value = name_value.partition("=")
        attributes = {}
        for part in parts:
            key, _, attribute = part.partition("=")
            attributes[key.strip().lower()] = attribute.strip()
        found[name.strip()] = (value.strip().strip('"'), attributes)
    return found


@dataclass(frozen=True)
class Session:
    """A person signed in: the two cookies a browser would hold."""

    cookie: str
    csrf: str
    hall: str = HALL

    @classmethod
    def of(cls, reply: httpx.Response, hall: str = HALL) -> Session:
        cookies = set_cookies(reply)
        assert {SESSION, CSRF} <= set(cookies), (reply.status_code, reply.headers.get_list("set-cookie"))
        return cls(cookies[SESSION][0], cookies[CSRF][0], hall)

    def headers(self, csrf: str | bool = True, method: str = "POST") -> dict[str, str]:
        """The Cookie header, and X-CSRF-Token on a write: this session's token (True), another value, or none."""
        headers = {"Cookie": f"{SESSION}={self.cookie}; {CSRF}={self.csrf}"}
        if method not in SAFE and csrf is not False:
            headers["X-CSRF-Token"] = self.csrf if csrf is True else str(csrf)
        return headers


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def send(client: httpx.Client, method: str, hall: str, path: str, *, headers: Mapping[str, str] | None = None,
         json: Any = None) -> httpx.Response:
    """One request, with only the cookies given in ``headers``: the client's jar is emptied first, so no test leans
    on a cookie an earlier answer set."""
    client.cookies.clear()
    return client.request(method, f"/api/v1/halls/{hall}{path}", headers=dict(headers or {}), json=json)


# -- which worker holds a connection ----------------------------------------------------------------------------
def client_port(reply: httpx.Response) -> int:
    address = reply.extensions["network_stream"].get_extra_info("client_addr")
    return int(address[1])


def _group(pgid: int) -> list[int]:
    """The processes of the server's process group (the server, its workers, its archiver)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp ...
            if int(fields[2]) == pgid:
                found.append(int(entry.name))
    return found


def worker_of(server: LiveServer, port: int) -> int | None:
    """The pid of the server process holding the accepted end of our connection from local ``port``."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                local, remote = cols[1], cols[2]
                if int(local.rsplit(":", 1)[1], 16) == server.port and int(remote.rsplit(":", 1)[1], 16) == port:
                    inode = cols[9]
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in _group(server.process.pid):
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == target:
                        return pid
    return None


@dataclass
class Pin:
    worker: int
    client: httpx.Client
    port: int

    def send(self, method: str, hall: str, path: str, headers: Mapping[str, str], json: Any = None) -> httpx.Response:
        reply = send(self.client, method, hall, path, headers=headers, json=json)
        assert client_port(reply) == self.port, f"the connection to worker {self.worker} was replaced"
        return reply


@dataclass
class Pins:
    """One keep-alive connection to each worker of the server."""

    pins: list[Pin]

    def accepted(self, hall: str, path: str, headers: Mapping[str, str]) -> None:
        for pin in self.pins:
            reply = pin.send("GET", hall, path, headers)
            assert reply.status_code == 200, f"worker {pin.worker}: {reply.status_code} {reply.text}"

    def refused_within(self, hall: str, path: str, headers: Mapping[str, str], since: float,
                       within_s: float = REVOKED_WITHIN_S) -> None:
        """Every worker answers 401 revoked no later than ``within_s`` after ``since`` (time.monotonic()), and
        keeps refusing."""
        pending = {pin.worker: pin for pin in self.pins}
        while pending:
            for worker, pin in list(pending.items()):
                reply = pin.send("GET", hall, path, headers)
                if reply.status_code == 401:
                    assert_error(reply, 401, "revoked")
                    del pending[worker]
                else:
                    assert reply.status_code == 200, f"worker {worker}: {reply.status_code} {reply.text}"
            late = time.monotonic() - since
            assert not pending or late <= within_s, \
                f"still accepted by worker(s) {sorted(pending)} {late:.2f} s after the revocation"
            if pending:
                time.sleep(0.05)
        for pin in self.pins:  # and stays refused
            assert_error(pin.send("GET", hall, path, headers), 401, "revoked")


# -- the deployment ------------------------------------------------------------------------------------------
@dataclass
class Deployment:
    server: LiveServer
    sql: SqlEngine
    secrets: set[str] = field(default_factory=set)  # passwords, one-time passwords, cookies, keys: never logged
    clients: list[httpx.Client] = field(default_factory=list)

    def http(self, address: str | None = None) -> httpx.Client:
        """A client of the server, from loopback ``address`` (127.0.0.x) if given: an address of its own."""
        transport = httpx.HTTPTransport(local_address=address) if address else None
        client = httpx.Client(base_url=self.server.base_url, timeout=60.0, trust_env=False, transport=transport)
        self.clients.append(client)
        return client

    def admin_token(self, hall: str = HALL) -> str:
        """An admin's bearer token, as ``hallq token --role admin`` prints it."""
        return make_token(self.server.secret, hall, "admin")

    def person(self, role: str, hall: str = HALL, name: str | None = None) -> str:
        """A new account of ``hall`` with PASSWORD; its username."""
        username = f"{role[:3]}-{uuid.uuid4().hex[:10]}"
        account = store.Account(username, name or f"测试{role}{username[-4:]}", role, (hall,), (), False, False,
                                password_hash())
        assert store.create(self.sql, account, datetime.now(UTC))
        self.secrets.add(PASSWORD)
        return username

    def key(self, role: str, name: str, hall: str = HALL) -> tuple[str, str]:
        """An integration key made straight in the record, as POST /keys makes one: (its id, the token)."""
        jid = secrets.token_hex(12)
        token = issue(self.server.secret, hall=hall, role=role, jid=jid, kind="key")
        store.issued(self.sql, store.CredentialRow(id=jid, kind="key", hall=hall, role=role, name=name,
                                                   created_at=datetime.now(UTC)))
        self.secrets.add(token)
        return jid, token

    def sign_in(self, client: httpx.Client, username: str, password: str = PASSWORD, hall: str = HALL) -> Session:
        reply = send(client, "POST", hall, "/session", json={"username": username, "password": password})
        assert reply.status_code == 200, reply.text
        session = Session.of(reply, hall)
        self.secrets |= {password, session.cookie}
        return session

    @contextlib.contextmanager
    def pins(self, tries: int = 80) -> Iterator[Pins]:
        """A connection to each worker, held open for the block."""
        found: dict[int, Pin] = {}
        spare: list[httpx.Client] = []
        try:
            for _ in range(tries):
                # httpx lets an idle connection go after 5 s: a pin must outlast a slow step between its requests.
                client = httpx.Client(base_url=self.server.base_url, timeout=60.0, trust_env=False,
                                      limits=httpx.Limits(keepalive_expiry=120.0))
                reply = client.get("/healthz")
                assert reply.status_code == 200, reply.text
                port = client_port(reply)
                worker = worker_of(self.server, port)
                if worker is None or worker in found:
                    spare.append(client)
                else:
                    found[worker] = Pin(worker, client, port)
                if len(found) == self.server.workers:
                    break
            assert len(found) == self.server.workers, \
                f"{tries} connections reached only worker(s) {sorted(found)} of {self.server.workers}"
            yield Pins(list(found.values()))
        finally:
            for client in (*spare, *(pin.client for pin in found.values())):
                client.close()

    def close(self) -> None:
        for client in self.clients:
            client.close()


def start_deployment(home: Path, *, workers: int = 2, database_url: str | None = None) -> Deployment:
    """``hallq serve`` with halls "demo" and "other" (a copy), at debug log level: the log test reads everything."""
    halls_dir = home / "halls"
    halls_dir.mkdir(parents=True)
    other = write_hall_copy(halls_dir, OTHER)
    env = {"HALLQ_LOG_LEVEL": "debug"} | ({"HALLQ_DATABASE_URL": database_url} if database_url else {})
    server = start_server(home / "server", f"hqtest-{uuid.uuid4().hex[:10]}", workers=workers,
                          halls=[DEMO_TOML, other], hall_ids=(HALL, OTHER), heartbeat_s=0.5, extra_env=env)
    sql = make_sql_engine(database_url or f"sqlite:///{home / 'server' / 'hallq.db'}")
    return Deployment(server, sql)


def stop_deployment(deployment: Deployment) -> None:
    deployment.close()
    stop_server(deployment.server)
    delete_prefix_sync(deployment.server.key_prefix)
    deployment.sql.dispose()


@pytest.fixture(scope="module")
def dep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    password_hash()  # before the server starts, while the machine is quieter
    deployment = start_deployment(tmp_path_factory.mktemp("accounts"))
    try:
        yield deployment
    finally:
        stop_deployment(deployment)


@pytest.fixture
def http(dep: Deployment) -> httpx.Client:
    return dep.http()


# -- signing in ------------------------------------------------------------------------------------------
def test_sign_in_sets_an_httponly_strict_session_cookie_and_a_readable_csrf_cookie(
        dep: Deployment, http: httpx.Client) -> None:
    username = dep.person("manager", name="王主任")
    reply = send(http, "POST", HALL, "/session", json={"username": username.upper(), "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"username": username, "display_name": "王主任", "role": "manager", "hall": HALL,
                            "must_change": False}
    assert PASSWORD not in reply.text
    assert "argon2" not in reply.text
    cookies = set_cookies(reply)
    assert set(cookies) == {SESSION, CSRF}, cookies
    token, attributes = cookies[SESSION]
    assert "httponly" in attributes, attributes
    assert attributes.get("samesite", "").lower() == "strict", attributes
    assert attributes.get("path") == "/", attributes
    assert 0 < int(attributes["max-age"]) <= 12 * 3600, attributes
    assert "secure" not in attributes, attributes  # served over http here: a Secure cookie would never come back
    csrf, csrf_attributes = cookies[CSRF]
    assert "httponly" not in csrf_attributes, csrf_attributes  # the page reads it to send X-CSRF-Token
    assert csrf_attributes.get("samesite", "").lower() == "strict", csrf_attributes
    assert csrf_attributes.get("path") == "/", csrf_attributes
    principal = read_token(dep.server.secret, token)
    assert (principal.hall, principal.role, principal.staff, principal.kind, principal.window) == \
        (HALL, "manager", username, "session", None)
    assert csrf == csrf_token(dep.server.secret, principal.token_id)
    dep.secrets.add(token)

    me = send(http, "GET", HALL, "/session", headers=Session(token, csrf).headers())
    assert me.status_code == 200, me.text
    assert me.json() == {"hall": HALL, "region": None, "role": "manager", "window": None, "kind": "session",
                         "username": username,
                         "display_name": "王主任", "must_change": False}
    assert send(http, "GET", HALL, "/snapshot", headers=Session(token, csrf).headers()).status_code == 200
    # Without the cookie, nobody is signed in.
    assert_error(send(http, "GET", HALL, "/session"), 401, "no_token")


def test_a_wrong_password_is_401_with_a_message_in_chinese_and_in_english(dep: Deployment) -> None:
    client = dep.http("127.0.0.2")
    username = dep.person("guide")
    zh = send(client, "POST", HALL, "/session", json={"username": username, "password": PASSWORD + "x"})
    error = assert_error(zh, 401, "wrong_password")
    assert has_chinese(error["message"]), error
    assert not set_cookies(zh), zh.headers.get_list("set-cookie")
    en = send(client, "POST", HALL, "/session", json={"username": username, "password": "not-the-password"},
              headers={"Accept-Language": "en"})
    error = assert_error(en, 401, "wrong_password")
    assert not has_chinese(error["message"]), error
    assert "password" in error["message"].lower(), error
    assert not set_cookies(en)


def test_an_unknown_username_is_refused_exactly_like_a_wrong_password(dep: Deployment) -> None:
    client = dep.http("127.0.0.3")
    username = dep.person("guide")
    nobody = f"nobody-{uuid.uuid4().hex[:8]}"
    for language in ("zh", "en"):
        wrong = send(client, "POST", HALL, "/session", json={"username": username, "password": "wrong-password"},
                     headers={"Accept-Language": language})
        unknown = send(client, "POST", HALL, "/session", json={"username": nobody, "password": "wrong-password"},
                       headers={"Accept-Language": language})
        assert (unknown.status_code, unknown.json()) == (wrong.status_code, wrong.json()), (wrong.text, unknown.text)
        assert_error(unknown, 401, "wrong_password")
        assert not set_cookies(unknown)
    # The same path on: failures of a name nobody has lock it like an account's (nothing tells the two apart).
    replies = [send(client, "POST", HALL, "/session", json={"username": nobody, "password": "wrong-password"})
               for _ in range(3)]
    assert [r.status_code for r in replies] == [401, 401, 429], [r.text for r in replies]
    assert_error(replies[-1], 429, "account_locked")


def test_an_account_of_another_hall_is_refused_403(dep: Deployment, http: httpx.Client) -> None:
    username = dep.person("manager", hall=OTHER)
    reply = send(http, "POST", HALL, "/session", json={"username": username, "password": PASSWORD})
    error = assert_error(reply, 403, "wrong_hall")
    assert has_chinese(error["message"])
    assert not set_cookies(reply)
    session = dep.sign_in(http, username, hall=OTHER)  # the same account signs in to its own hall
    assert send(http, "GET", OTHER, "/snapshot", headers=session.headers()).status_code == 200
    # And its session is of its own hall only.
    assert_error(send(http, "GET", HALL, "/snapshot", headers=session.headers()), 403, "wrong_hall")


def test_five_wrong_passwords_lock_the_account_even_against_the_right_password(dep: Deployment) -> None:
    client = dep.http("127.0.0.4")
    username = dep.person("staff")
    replies = [send(client, "POST", HALL, "/session", json={"username": username, "password": f"wrong-{i:06d}"})
               for i in range(5)]
    assert [r.status_code for r in replies] == [401, 401, 401, 401, 429], [r.text for r in replies]
    error = assert_error(replies[-1], 429, "account_locked")
    assert 0 < error["seconds_left"] <= LOCK_WINDOW_S, error
    assert has_chinese(error["message"]), error
    right = send(client, "POST", HALL, "/session", json={"username": username, "password": PASSWORD},
                 headers={"Accept-Language": "en"})
    locked = assert_error(right, 429, "account_locked")
    assert 0 < locked["seconds_left"] <= error["seconds_left"], (error, locked)
    assert "locked" in locked["message"], locked
    assert not set_cookies(right)
    # From anywhere: the lock is the account's, not the address's...
    assert_error(send(dep.http(), "POST", HALL, "/session", json={"username": username, "password": PASSWORD}),
                 429, "account_locked")
    # ...so another account still signs in from this address.
    dep.sign_in(client, dep.person("staff"))
    # The hall's admin lifts it with a reset: the one-time password signs in.
    reset = send(client, "POST", HALL, f"/accounts/{username}/reset", headers=bearer(dep.admin_token()))
    assert reset.status_code == 200, reset.text
    one_time = reset.json()["one_time_password"]
    dep.secrets.add(one_time)
    session = dep.sign_in(client, username, one_time)
    assert read_token(dep.server.secret, session.cookie).kind == "reset"


def test_wrong_passwords_sent_at_once_still_lock_the_account_after_five(dep: Deployment) -> None:
    """Ten guesses sent together (each from an address of its own), then the right password half a second later:
    five failures lock the account however they arrive, so the right password is refused; were the guesses
    counted only once checked (about a second of argon2 each), a burst would get every guess checked."""
    username = dep.person("guide")

    def guess(i: int) -> httpx.Response:
        if i == 10:
            time.sleep(0.5)  # the ten guesses are in, and being checked
        client = dep.http(f"127.0.2.{i + 1}")
        password = PASSWORD if i == 10 else f"guess-{i:06d}"
        return send(client, "POST", HALL, "/session", json={"username": username, "password": password})

    with ThreadPoolExecutor(11) as pool:
        replies = list(pool.map(guess, range(11)))
    codes = [r.status_code for r in replies]
    for session in (Session.of(r) for r in replies if r.status_code == 200):
        dep.secrets.add(session.cookie)
    assert_error(replies[-1], 429, "account_locked")
    assert codes[:10].count(401) <= 5, f"more than five guesses were checked: {codes}"


# -- CSRF: writes signed in by cookie ----------------------------------------------------------------------
def open_window_1(dep: Deployment, http: httpx.Client) -> None:
    """A window open for SOC, so that a ticket of it may be issued (the writes below issue tickets)."""
    manager = bearer(make_token(dep.server.secret, HALL, "manager"))
    reply = send(http, "POST", HALL, "/windows/1/open", headers=manager)
    assert reply.status_code in (200, 409), reply.text  # 409: open already
    assert send(http, "GET", HALL, "/windows/1", headers=manager).json()["state"] != "closed"


def test_a_cookie_write_needs_the_sessions_csrf_token(dep: Deployment, http: httpx.Client) -> None:
    open_window_1(dep, http)
    session = dep.sign_in(http, dep.person("guide"))
    queue = send(http, "GET", HALL, "/queue", headers=session.headers())  # a read needs no CSRF token
    assert queue.status_code == 200, queue.text
    before = len(queue.json()["tickets"])
    another_sessions = csrf_token(dep.server.secret, secrets.token_hex(12))
    for csrf in (False, "", "forged-csrf-token", another_sessions, session.csrf.upper()):
        reply = send(http, "POST", HALL, "/tickets", headers=session.headers(csrf=csrf), json={"service": "SOC"})
        error = assert_error(reply, 403, "csrf")
        assert has_chinese(error["message"]), (csrf, error)
    after = send(http, "GET", HALL, "/queue", headers=session.headers())
    assert len(after.json()["tickets"]) == before, "a write refused for its CSRF token issued a ticket"
    # Signing out is a write too: refused without the token, and the session goes on.
    assert_error(send(http, "DELETE", HALL, "/session", headers=session.headers(csrf=False)), 403, "csrf")
    assert send(http, "GET", HALL, "/session", headers=session.headers()).status_code == 200
    # With the session's own token the write is done.
    issued = send(http, "POST", HALL, "/tickets", headers=session.headers(), json={"service": "SOC"})
    assert issued.status_code == 201, issued.text
    listed = send(http, "GET", HALL, "/queue", headers=session.headers()).json()["tickets"]
    assert issued.json()["id"] in {t["id"] for t in listed}


def test_a_bearer_token_needs_no_csrf_token(dep: Deployment, http: httpx.Client) -> None:
    open_window_1(dep, http)
    guide = make_token(dep.server.secret, HALL, "guide")
    reply = send(http, "POST", HALL, "/tickets", headers=bearer(guide), json={"service": "SOC"})
    assert reply.status_code == 201, reply.text
    # A bearer token is what is read even beside a cookie (no CSRF asked): another site cannot send the header.
    session = dep.sign_in(http, dep.person("manager"))
    both = {**bearer(guide), **session.headers(csrf=False)}
    reply = send(http, "POST", HALL, "/tickets", headers=both, json={"service": "SOC"})
    assert reply.status_code == 201, reply.text


# -- the websocket, signed in by cookie ------------------------------------------------------------------
async def test_a_websocket_signed_in_by_cookie_opens_only_from_this_servers_origin(dep: Deployment) -> None:
    http = dep.http()
    session = await asyncio.to_thread(dep.sign_in, http, dep.person("manager"))
    url = dep.server.ws_url("dashboard", None, hall=HALL)
    cookie = {"Cookie": f"{SESSION}={session.cookie}"}
    own = f"http://127.0.0.1:{dep.server.port}"
    message, code = await first_message(url, additional_headers=cookie, origin=own)
    assert (message["type"] == "error", code) == (False, None), (message, code)
    for origin in ("http://evil.example", f"http://127.0.0.1:{dep.server.port}.evil.example",
                   f"http://127.0.0.1:{dep.server.port + 1}", None):
        extra = {"origin": origin} if origin else {}
        message, code = await first_message(url, additional_headers=cookie, **extra)
        assert (message["type"], code) == ("error", 4403), (origin, message, code)
    # A device's token in the address is not a cookie: no page of ours to come from.
    token = make_token(dep.server.secret, HALL, "display")
    message, code = await first_message(dep.server.ws_url("display", token, hall=HALL), origin="http://evil.example")
    assert (message["type"] == "error", code) == (False, None), (message, code)
    # Signed out, the cookie opens nothing, from anywhere.
    signed_out = await asyncio.to_thread(send, http, "DELETE", HALL, "/session", headers=session.headers())
    assert signed_out.status_code == 200, signed_out.text
    await asyncio.sleep(REVOKED_WITHIN_S)
    for _ in range(4):  # new connections: whichever worker takes them
        message, code = await first_message(url, additional_headers=cookie, origin=own)
        assert (message["type"], code) == ("error", 4401), (message, code)


# -- windows -------------------------------------------------------------------------------------------------
def take(http: httpx.Client, session: Session, window: str) -> httpx.Response:
    return send(http, "POST", HALL, "/session/window", headers=session.headers(), json={"window": window})


def holders(http: httpx.Client, dep: Deployment) -> dict[str, str | None]:
    reply = send(http, "GET", HALL, "/session/windows", headers=bearer(make_token(dep.server.secret, HALL,
                                                                                   "manager")))
    assert reply.status_code == 200, reply.text
    return {w["window"]: w["holder"] for w in reply.json()["windows"]}


def test_a_member_of_staff_takes_a_window_and_acts_there_only(dep: Deployment, http: httpx.Client) -> None:
    username = dep.person("staff")
    session = dep.sign_in(http, username)
    assert send(http, "GET", HALL, "/session", headers=session.headers()).json()["window"] is None
    assert_error(send(http, "POST", HALL, "/windows/2/open", headers=session.headers()), 403, "wrong_window")
    with dep.pins() as pins:
        pins.accepted(HALL, "/session", session.headers())
        taken = take(http, session, "2")
        since = time.monotonic()
        assert taken.status_code == 200, taken.text
        at_2 = Session.of(taken)
        dep.secrets.add(at_2.cookie)
        pins.refused_within(HALL, "/session", session.headers(), since)  # the session at no window is over
    me = send(http, "GET", HALL, "/session", headers=at_2.headers()).json()
    assert (me["window"], me["username"], me["kind"]) == ("2", username, "session"), me
    assert holders(http, dep)["2"] == username
    opened = send(http, "POST", HALL, "/windows/2/open", headers=at_2.headers())
    assert opened.status_code == 200, opened.text
    assert send(http, "GET", HALL, "/windows/2", headers=at_2.headers()).status_code == 200
    for method, path in (("POST", "/windows/3/open"), ("GET", "/windows/3"), ("POST", "/windows/3/call-next")):
        assert_error(send(http, method, HALL, path, headers=at_2.headers(method=method)), 403, "wrong_window")
    # A staff token made by `hallq token` is not a person signed in: it takes no window.
    token = make_token(dep.server.secret, HALL, "staff", "4")
    assert_error(send(http, "POST", HALL, "/session/window", headers=bearer(token), json={"window": "4"}),
                 403, "not_a_person")
    assert_error(take(http, at_2, "99"), 404, "unknown_window")
    assert send(http, "DELETE", HALL, "/session", headers=at_2.headers()).status_code == 200  # frees window 2


def test_one_person_at_a_window_and_one_window_per_person(dep: Deployment, http: httpx.Client) -> None:
    first, second = dep.person("staff", name="李窗口"), dep.person("staff")
    a, b = dep.sign_in(http, first), dep.sign_in(http, second)
    a_at_6 = take(http, a, "6")
    assert a_at_6.status_code == 200, a_at_6.text
    a = Session.of(a_at_6)
    error = assert_error(take(http, b, "6"), 409, "window_taken")
    assert "李窗口" in error["message"], error
    error = assert_error(take(http, a, "8"), 409, "holds_another")
    assert "6" in error["message"], error
    assert {w: holders(http, dep)[w] for w in ("6", "8")} == {"6": first, "8": None}
    # b, refused, is still signed in and may take a free window; then a cannot take b's either.
    b_at_8 = take(http, b, "8")
    assert b_at_8.status_code == 200, b_at_8.text
    b = Session.of(b_at_8)
    assert_error(take(http, a, "8"), 409, "holds_another")
    assert {w: holders(http, dep)[w] for w in ("6", "8")} == {"6": first, "8": second}
    for session in (a, b):
        send(http, "DELETE", HALL, "/session", headers=session.headers())


def test_leaving_the_window_or_signing_out_frees_it(dep: Deployment, http: httpx.Client) -> None:
    first, second = dep.person("staff"), dep.person("staff")
    a, b = dep.sign_in(http, first), dep.sign_in(http, second)
    a = Session.of(take(http, a, "10"))
    assert_error(take(http, b, "10"), 409, "window_taken")
    left = send(http, "DELETE", HALL, "/session/window", headers=a.headers())
    assert left.status_code == 200, left.text
    a = Session.of(left)
    assert send(http, "GET", HALL, "/session", headers=a.headers()).json()["window"] is None
    assert holders(http, dep)["10"] is None
    assert_error(send(http, "POST", HALL, "/windows/10/open", headers=a.headers()), 403, "wrong_window")
    b_at_10 = take(http, b, "10")
    assert b_at_10.status_code == 200, b_at_10.text
    b = Session.of(b_at_10)
    assert holders(http, dep)["10"] == second
    # Signing out frees it too.
    assert send(http, "DELETE", HALL, "/session", headers=b.headers()).status_code == 200
    assert holders(http, dep)["10"] is None
    a_at_10 = take(http, a, "10")
    assert a_at_10.status_code == 200, a_at_10.text
    send(http, "DELETE", HALL, "/session", headers=Session.of(a_at_10).headers())


def test_one_person_asking_for_two_windows_at_once_gets_only_one(dep: Deployment, http: httpx.Client) -> None:
    """The same person signed in twice (the console, a phone) asks for window 4 and window 5 at the same moment,
    each on another worker: one window per person holds all the same."""
    username = dep.person("staff")
    sessions = [dep.sign_in(http, username), dep.sign_in(http, username)]
    barrier = threading.Barrier(2)  # reused: both asks leave together, each attempt

    def ask(pin: Pin, session: Session, window: str) -> httpx.Response:
        barrier.wait()
        return pin.send("POST", HALL, "/session/window", session.headers(), json={"window": window})

    with dep.pins() as pins, ThreadPoolExecutor(2) as pool:
        for attempt in range(20):
            replies = list(pool.map(ask, pins.pins, sessions, ("4", "5")))
            held = sorted(w for w, who in holders(http, dep).items() if who == username)
            assert len(held) <= 1, f"attempt {attempt}: {username} holds windows {held} " \
                                   f"({[r.status_code for r in replies]})"
            assert sorted(r.status_code for r in replies) == [200, 409], [r.text for r in replies]
            for i, reply in enumerate(replies):  # leave, for the next attempt
                session = Session.of(reply) if reply.status_code == 200 else sessions[i]
                left = send(http, "DELETE", HALL, "/session/window", headers=session.headers())
                assert left.status_code == 200, left.text
                sessions[i] = Session.of(left)


# -- password change, reset, disabling ---------------------------------------------------------------------
def change_password(http: httpx.Client, session: Session, current: str, new: str) -> httpx.Response:
    return send(http, "POST", session.hall, "/session/password", headers=session.headers(),
                json={"current": current, "new": new})


def test_changing_the_password_ends_the_accounts_other_sessions(dep: Deployment, http: httpx.Client) -> None:
    username = dep.person("guide")
    mine, other_device = dep.sign_in(http, username), dep.sign_in(http, username)
    new = f"new-{secrets.token_hex(8)}"
    dep.secrets.add(new)
    assert_error(change_password(http, mine, "not-my-password", new), 403, "wrong_password")
    assert_error(change_password(http, mine, PASSWORD, "short"), 422, "invalid_request")
    with dep.pins() as pins:
        pins.accepted(HALL, "/session", other_device.headers())
        changed = change_password(http, mine, PASSWORD, new)
        since = time.monotonic()
        assert changed.status_code == 200, changed.text
        pins.refused_within(HALL, "/session", other_device.headers(), since)
        pins.refused_within(HALL, "/session", mine.headers(), since)  # this cookie is replaced by a new one
    renewed = Session.of(changed)
    dep.secrets.add(renewed.cookie)
    me = send(http, "GET", HALL, "/session", headers=renewed.headers())
    assert (me.status_code, me.json()["kind"]) == (200, "session"), me.text
    assert_error(send(http, "POST", HALL, "/session", json={"username": username, "password": PASSWORD}),
                 401, "wrong_password")
    dep.sign_in(http, username, new)


def test_an_admin_reset_gives_a_one_time_password_that_only_lets_the_password_be_changed(
        dep: Deployment, http: httpx.Client) -> None:
    username = dep.person("manager")
    before = dep.sign_in(http, username)
    reply = send(http, "POST", HALL, f"/accounts/{username}/reset", headers=bearer(dep.admin_token()))
    assert reply.status_code == 200, reply.text
    one_time = reply.json()["one_time_password"]
    dep.secrets.add(one_time)
    assert len(one_time) >= 10
    assert one_time != PASSWORD
    time.sleep(REVOKED_WITHIN_S)
    assert_error(send(http, "GET", HALL, "/session", headers=before.headers()), 401, "revoked")
    assert_error(send(http, "POST", HALL, "/session", json={"username": username, "password": PASSWORD}),
                 401, "wrong_password")

    signed_in = send(http, "POST", HALL, "/session", json={"username": username, "password": one_time})
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["must_change"] is True
    reset = Session.of(signed_in)
    dep.secrets.add(reset.cookie)
    me = send(http, "GET", HALL, "/session", headers=reset.headers())
    assert (me.status_code, me.json()["kind"], me.json()["must_change"]) == (200, "reset", True), me.text
    # Everywhere but /session: 403, must_change_password wherever a manager may otherwise go.
    fill = {"w": "2", "ticket": "20000101-000000000000"}
    checked = 0
    for ep in ENDPOINTS:
        if not ep.roles or ep.path.startswith("/session") or ep.scope != "hall":
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: fill.get(m.group(1), "x"), ep.path)
        refused = send(http, ep.method, HALL, path, headers=reset.headers(method=ep.method),
                       json={} if ep.body else None)
        code = "must_change_password" if "manager" in ep.roles else "wrong_role"
        assert_error(refused, 403, code)
        checked += code == "must_change_password"
    assert checked >= 20, checked
    for method, path in (("GET", "/snapshot"), ("GET", "/config"), ("POST", "/windows/2/open"), ("GET", "/queue")):
        assert_error(send(http, method, HALL, path, headers=reset.headers(method=method)), 403,
                     "must_change_password")

    new = f"new-{secrets.token_hex(8)}"
    dep.secrets.add(new)
    changed = change_password(http, reset, one_time, new)
    assert changed.status_code == 200, changed.text
    assert changed.json()["must_change"] is False
    full = Session.of(changed)
    dep.secrets.add(full.cookie)
    assert send(http, "GET", HALL, "/session", headers=full.headers()).json()["kind"] == "session"
    assert send(http, "GET", HALL, "/snapshot", headers=full.headers()).status_code == 200
    time.sleep(REVOKED_WITHIN_S)
    assert_error(send(http, "GET", HALL, "/session", headers=reset.headers()), 401, "revoked")
    # One time only.
    assert_error(send(http, "POST", HALL, "/session", json={"username": username, "password": one_time}),
                 401, "wrong_password")


def test_a_reset_session_cannot_become_a_full_session_by_leaving_a_window(dep: Deployment, http: httpx.Client) -> None:
    """DELETE /session/window is under /session, which a reset session may call; what it answers must still be a
    session that has to change its password first."""
    username = dep.person("staff")
    reply = send(http, "POST", HALL, f"/accounts/{username}/reset", headers=bearer(dep.admin_token()))
    assert reply.status_code == 200, reply.text
    one_time = reply.json()["one_time_password"]
    dep.secrets.add(one_time)
    reset = dep.sign_in(http, username, one_time)
    assert_error(send(http, "GET", HALL, "/config", headers=reset.headers()), 403, "must_change_password")
    left = send(http, "DELETE", HALL, "/session/window", headers=reset.headers())
    sessions = [reset, *([Session.of(left)] if SESSION in set_cookies(left) else [])]
    for session in sessions:
        dep.secrets.add(session.cookie)
        reply = send(http, "GET", HALL, "/config", headers=session.headers())
        assert reply.status_code in (401, 403), \
            f"DELETE /session/window answered {left.status_code}; its cookie then got GET /config {reply.status_code}"
        assert reply.json()["error"]["code"] in ("must_change_password", "revoked"), reply.text
    assert send(http, "GET", HALL, "/session", headers=sessions[-1].headers()).json()["must_change"] is True


def test_disabling_an_account_ends_its_sessions_and_refuses_its_sign_in(dep: Deployment, http: httpx.Client) -> None:
    username = dep.person("guide")
    session = dep.sign_in(http, username)
    admin = bearer(dep.admin_token())
    with dep.pins() as pins:
        pins.accepted(HALL, "/session", session.headers())
        reply = send(http, "PATCH", HALL, f"/accounts/{username}", headers=admin, json={"disabled": True})
        since = time.monotonic()
        assert reply.status_code == 200, reply.text
        assert reply.json()["disabled"] is True
        pins.refused_within(HALL, "/session", session.headers(), since)
    error = assert_error(send(http, "POST", HALL, "/session", json={"username": username, "password": PASSWORD}),
                         403, "account_disabled")
    assert has_chinese(error["message"])
    enabled = send(http, "PATCH", HALL, f"/accounts/{username}", headers=admin, json={"disabled": False})
    assert enabled.status_code == 200, enabled.text
    dep.sign_in(http, username)
    # An admin signed in cannot disable their own account.
    me = dep.person("admin")
    mine = dep.sign_in(http, me)
    assert_error(send(http, "PATCH", HALL, f"/accounts/{me}", headers=mine.headers(), json={"disabled": True}),
                 409, "own_account")


def test_disabling_a_member_of_staff_frees_the_window_they_held(dep: Deployment, http: httpx.Client) -> None:
    """Their session is over: the window must not stay taken by someone who can no longer sign in."""
    held_by, successor = dep.person("staff"), dep.person("staff")
    at_12 = take(http, dep.sign_in(http, held_by), "12")
    assert at_12.status_code == 200, at_12.text
    other = dep.sign_in(http, successor)
    reply = send(http, "PATCH", HALL, f"/accounts/{held_by}", headers=bearer(dep.admin_token()),
                 json={"disabled": True})
    assert reply.status_code == 200, reply.text
    time.sleep(REVOKED_WITHIN_S)
    assert_error(send(http, "GET", HALL, "/session", headers=Session.of(at_12).headers()), 401, "revoked")
    assert holders(http, dep)["12"] is None, holders(http, dep)
    taken = take(http, other, "12")
    assert taken.status_code == 200, taken.text
    send(http, "DELETE", HALL, "/session", headers=Session.of(taken).headers())


# -- admins, halls, keys ---------------------------------------------------------------------------------
ADMIN_ONLY = (("GET", "/accounts", None), ("POST", "/accounts", {"username": "intruder", "display_name": "x",
                                                                  "role": "admin", "password": "intruder-pw-1234"}),
              ("PATCH", "/accounts/{user}", {"disabled": True}), ("POST", "/accounts/{user}/reset", None),
              ("GET", "/keys", None), ("POST", "/keys", {"name": "mine", "role": "manager"}),
              ("DELETE", "/keys/{key}", None))


def fill_path(template: str, fill: Mapping[str, str]) -> str:
    for placeholder, value in fill.items():
        template = template.replace(placeholder, value)
    return template


def make_key(http: httpx.Client, dep: Deployment, role: str, name: str, hall: str = HALL) -> dict[str, Any]:
    reply = send(http, "POST", hall, "/keys", headers=bearer(dep.admin_token(hall)), json={"name": name, "role": role})
    assert reply.status_code == 201, reply.text
    key: dict[str, Any] = reply.json()
    dep.secrets.add(key["token"])
    return key


def test_a_halls_admin_is_refused_in_another_hall(dep: Deployment, http: httpx.Client) -> None:
    theirs = dep.person("admin", hall=OTHER)
    assert_error(send(http, "POST", HALL, "/session", json={"username": theirs, "password": PASSWORD}),
                 403, "wrong_hall")
    admin = dep.sign_in(http, theirs, hall=OTHER)
    assert send(http, "GET", OTHER, "/accounts", headers=admin.headers()).status_code == 200
    ours = dep.person("staff")
    key_id, key = dep.key("display", "lobby tv")
    fill = {"{user}": ours, "{key}": key_id}
    for method, template, body in ADMIN_ONLY:
        path = fill_path(template, fill)
        reply = send(http, method, HALL, path, headers=admin.headers(method=method), json=body)
        assert_error(reply, 403, "wrong_hall")
    # Through their own hall's address, our people and keys are not theirs to touch.
    for method, path, body in (("PATCH", f"/accounts/{ours}", {"disabled": True}),
                               ("POST", f"/accounts/{ours}/reset", None)):
        assert_error(send(http, method, OTHER, path, headers=admin.headers(), json=body), 404, "unknown_account")
    assert_error(send(http, "DELETE", OTHER, f"/keys/{key_id}", headers=admin.headers()), 404, "unknown_key")
    listed = send(http, "GET", OTHER, "/accounts", headers=admin.headers()).json()["accounts"]
    assert ours not in {a["username"] for a in listed}
    assert key_id not in {k["id"] for k in send(http, "GET", OTHER, "/keys", headers=admin.headers()).json()["keys"]}
    account = store.find(dep.sql, ours)
    assert account is not None
    assert (account.disabled, account.must_change) == (False, False)
    assert send(http, "GET", HALL, "/snapshot", headers=bearer(key)).status_code == 200


def test_an_admin_makes_a_key_answered_once_that_works_for_its_role_until_revoked(
        dep: Deployment, http: httpx.Client) -> None:
    key = make_key(http, dep, "display", "大屏 east")
    assert (key["kind"], key["role"], key["name"]) == ("key", "display", "大屏 east")
    assert key["revoked_at"] is None
    principal = read_token(dep.server.secret, key["token"])
    assert (principal.hall, principal.role, principal.kind, principal.token_id) == (HALL, "display", "key", key["id"])
    admin = bearer(dep.admin_token())
    listing = send(http, "GET", HALL, "/keys", headers=admin)
    assert listing.status_code == 200, listing.text
    listed = {k["id"]: k for k in listing.json()["keys"]}
    assert key["id"] in listed, listing.text
    assert (listed[key["id"]]["name"], listed[key["id"]]["role"]) == ("大屏 east", "display")
    assert "token" not in listed[key["id"]]
    assert key["token"] not in listing.text  # answered once, never again
    # It is a display's credential: reads the hall, writes nothing.
    keyed = bearer(key["token"])
    assert send(http, "GET", HALL, "/snapshot", headers=keyed).status_code == 200
    assert_error(send(http, "POST", HALL, "/tickets", headers=keyed, json={"service": "SOC"}), 403, "wrong_role")
    assert_error(send(http, "GET", HALL, "/keys", headers=keyed), 403, "wrong_role")
    assert_error(send(http, "GET", OTHER, "/snapshot", headers=keyed), 403, "wrong_hall")
    for role in ("staff", "pad", "admin", "root"):
        refused = send(http, "POST", HALL, "/keys", headers=admin, json={"name": "x", "role": role})
        assert_error(refused, 422, "invalid_request")
    with dep.pins() as pins:
        pins.accepted(HALL, "/snapshot", keyed)
        revoked = send(http, "DELETE", HALL, f"/keys/{key['id']}", headers=admin)
        since = time.monotonic()
        assert revoked.status_code == 200, revoked.text
        pins.refused_within(HALL, "/snapshot", keyed, since)
    listed = {k["id"]: k for k in send(http, "GET", HALL, "/keys", headers=admin).json()["keys"]}
    assert listed[key["id"]]["revoked_at"] is not None
    assert_error(send(http, "DELETE", HALL, "/keys/no-such-key", headers=admin), 404, "unknown_key")


def test_only_the_admin_manages_accounts_and_keys(dep: Deployment, http: httpx.Client) -> None:
    ours = dep.person("staff")
    key_id, key = dep.key("kiosk", "bank kiosk")
    fill = {"{user}": ours, "{key}": key_id}
    secret = dep.server.secret
    tokens = {role: make_token(secret, HALL, role, "1" if role in ("staff", "pad") else None)
              for role in ("guide", "kiosk", "staff", "manager", "display", "pad")}
    manager = dep.sign_in(http, dep.person("manager"))
    staff = dep.sign_in(http, dep.person("staff"))
    for method, template, body in ADMIN_ONLY:
        path = fill_path(template, fill)
        callers = {**{role: bearer(t) for role, t in tokens.items()}, "key": bearer(key),
                   "manager session": manager.headers(method=method), "staff session": staff.headers(method=method)}
        for who, headers in callers.items():
            reply = send(http, method, HALL, path, headers=headers, json=body)
            assert reply.status_code == 403, (method, path, who, reply.text)
            assert_error(reply, 403, "wrong_role")
    # Nothing was done: no account made or changed, the key still good.
    assert store.find(dep.sql, "intruder") is None
    account = store.find(dep.sql, ours)
    assert account is not None
    assert (account.disabled, account.must_change) == (False, False)
    assert send(http, "GET", HALL, "/config", headers=bearer(key)).status_code == 200
    # The admin may.
    admin = bearer(dep.admin_token())
    assert ours in {a["username"] for a in send(http, "GET", HALL, "/accounts", headers=admin).json()["accounts"]}


# -- the log -------------------------------------------------------------------------------------------------
def test_no_log_line_holds_a_password_a_session_cookie_or_a_one_time_password(
        dep: Deployment, http: httpx.Client) -> None:
    """Last in the module: every secret the tests above handled, and this test's own, against the whole log."""
    admin = bearer(dep.admin_token())
    username = f"logged-{uuid.uuid4().hex[:8]}"
    made = send(http, "POST", HALL, "/accounts", headers=admin,
                json={"username": username, "display_name": "日志", "role": "staff"})
    assert made.status_code == 201, made.text
    one_time = made.json()["one_time_password"]
    assert made.json()["must_change"] is True
    dep.secrets.add(one_time)
    wrong = f"wrong-{secrets.token_hex(8)}"
    dep.secrets.add(wrong)
    assert_error(send(http, "POST", HALL, "/session", json={"username": username, "password": wrong}),
                 401, "wrong_password")
    session = dep.sign_in(http, username, one_time)
    new = f"new-{secrets.token_hex(8)}"
    dep.secrets.add(new)
    assert_error(change_password(http, session, new, new), 403, "wrong_password")
    assert change_password(http, session, one_time, new).status_code == 200
    time.sleep(0.5)  # what the workers log, written

    log = dep.server.stderr() + dep.server.stdout()
    assert "Application startup complete" in log  # the log read is the server's
    assert len(dep.secrets) >= 20, len(dep.secrets)
    found = [next(line.replace(secret, "<SECRET>")[:300] for line in log.splitlines() if secret in line)
             for secret in sorted(dep.secrets) if secret in log]
    assert not found, f"{len(found)} secret(s) in the server's log, e.g. in these lines:\n" + "\n".join(found)
