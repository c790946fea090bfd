"""The real server in a subprocess (``hallq serve``), tokens made in-process, and small HTTP/websocket helpers.

``live_server`` is a factory: ``live_server(workers=2, heartbeat_s=0.3)`` starts ``hallq serve`` on a free port
with this test's own HALLQ_HOME, secret and Redis key prefix, waits for /healthz and stops it (SIGTERM, then
kill) at teardown, when the prefix's Redis keys are deleted too.

``shared_server`` is one server per test module serving many copies of the demo hall (``pool-00``..): each test
that asks for ``api`` gets a hall of its own, so tests stay independent while the module starts one server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

import httpx
import orjson
import pytest
import tomli_w
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from floor.clock import write_clock
from floor.http.auth import make_token, ticket_key
from queue_engine.keys import HallKeys
from tests.conftest import REDIS_URL, ROOT, sync_redis

DEMO_TOML = ROOT / "floor" / "halls" / "demo.toml"
HALLQ = Path(sys.executable).parent / "hallq"
SECRET = "server-test-secret-0123456789abcdef"
START_TIMEOUT_S = 60.0  # a server of 32 halls starts in 3 s alone, 14-24 s beside three page-test workers (load 14)
STOP_TIMEOUT_S = 10.0
POOL_SIZE = 120  # halls a shared server serves; more than the tests of any module that uses it


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# For modules whose tests mark a no-show right after the call (they test something else: the matrix, bad input, the
# feeds): no recall or minute to wait, and a late arrival put back in line. The rule itself has its own tests
# (tests/server/test_no_show_rule.py, tests/queue_engine/test_no_show_rule.py) on the demo's rule.
NO_SHOW_AT_ONCE = {"no_show_after_recalls": "0", "no_show_after_s": "0", "returning": '"requeue"'}


# The shared server's halls form a network of two counties: "demo" and the pool lie in the demo's county (as
# demo.toml says), "other" in a county beside it. A region manager of one county must see nothing of the other.
OTHER_COUNTY = "other-county"
SHARED_NETWORK = """
[[regions]]
id = "demo-province"
name = "示范省"
kind = "province"

[[regions]]
id = "demo-city"
name = "示范市"
kind = "city"
parent = "demo-province"

[[regions]]
id = "demo-county"
name = "示范县"
kind = "county"
parent = "demo-city"

[[regions]]
id = "other-county"
name = "邻县"
kind = "county"
parent = "demo-city"
"""


# A village station of the demo's county that takes its services from the county's catalog (a copy of the demo's
# services, kept in the network file by no hall, so the demo's own services stay its managers' to edit).
VILLAGE_TOML = """
id = "village"
name = "示范村便民服务站"
region = "demo-county"
level = "village_station"
address = "示范县示范村村委会"
location = { lat = 42.29, lon = 118.98 }
catalog = "demo-county"
authorised = ["SOC", "HUK-IDCARD"]

[[windows]]
id = "1"
name = "代办窗口"
services = ["SOC", "HUK"]
primary = []
"""


# The demo county (scripts/demo serves it): its county centre, towns, villages and bank outlets as a network.
COUNTY_DIR = ROOT / "floor" / "halls" / "demo-county"
COUNTY_NETWORK = COUNTY_DIR / "network.toml"
COUNTY_HALLS = (DEMO_TOML, *sorted(p for p in COUNTY_DIR.glob("*.toml") if p != COUNTY_NETWORK))
COUNTY_IDS = ("demo", *(p.stem for p in COUNTY_HALLS[1:]))


@contextlib.contextmanager
def county_server(home: Path, heartbeat_s: float | None = None) -> Iterator[LiveServer]:
    """The demo county on one server (its Redis keys deleted afterwards): for a module's tests, which then work in
    halls of their own or read what they changed."""
    prefix = f"hqtest-{uuid.uuid4().hex[:10]}"
    server = start_server(home / "server", prefix, halls=COUNTY_HALLS, hall_ids=COUNTY_IDS, heartbeat_s=heartbeat_s,
                          extra_env={"HALLQ_NETWORK": str(COUNTY_NETWORK)})
    try:
        yield server
    finally:
        stop_server(server)
        delete_prefix_sync(prefix)


def write_network(directory: Path) -> Path:
    """``SHARED_NETWORK`` as a file, for HALLQ_NETWORK, with the demo's services as its county's catalog."""
    services = tomllib.loads(DEMO_TOML.read_text(encoding="utf-8"))["services"]
    catalog = tomli_w.dumps({"catalogs": {"demo-county": services}})
    path = directory / "network.toml"
    path.write_text(SHARED_NETWORK + "\n" + catalog, encoding="utf-8")
    return path


def write_hall_copy(directory: Path, hall_id: str, policy: Mapping[str, str] | None = None,
                    region: str | None = None) -> Path:
    """The demo hall under another id (same services, windows and hours); ``policy`` replaces [policy] lines, and
    ``region`` the region it lies in."""
    text = DEMO_TOML.read_text(encoding="utf-8")
    assert 'id = "demo"' in text
    if region is not None:
        text, n = re.subn(r'(?m)^region = ".*"$', f'region = "{region}"', text, count=1)
        assert n == 1, "demo.toml has no region line"
    for name, value in (policy or {}).items():
        text, n = re.subn(rf"(?m)^{name} = .*$", f"{name} = {value}", text, count=1)
        assert n == 1, f"demo.toml has no {name} line"
    path = directory / f"{hall_id}.toml"
    path.write_text(text.replace('id = "demo"', f'id = "{hall_id}"', 1), encoding="utf-8")
    return path


def delete_prefix_sync(prefix: str) -> None:
    """tests.conftest.delete_prefix for a synchronous teardown (no event loop runs there)."""
    client = sync_redis()
    try:
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            client.delete(key)
    finally:
        client.close()


def stream_events(prefix: str, hall: str = "demo", since: str | None = None) -> list[tuple[str, str]]:
    """(event id, type) of the hall's Redis stream after ``since``: the record every feed must agree with."""
    client = sync_redis()
    try:
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]],
                       client.xrange(HallKeys(hall, prefix).events, min=f"({since}" if since else "-"))
    finally:
        client.close()
    return [(eid.decode(), orjson.loads(fields[b"e"])["type"]) for eid, fields in entries]


# -- resident ID numbers (GB 11643) ----------------------------------------------------------
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def id_check_digit(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def make_id_number(born: date, seq: int = 123, area: str = "110105") -> str:
    """A valid 18-digit resident ID number for someone born on ``born``."""
    first17 = f"{area}{born:%Y%m%d}{seq:03d}"
    return first17 + id_check_digit(first17)


def with_bad_check_digit(id_number: str) -> str:
    wrong = next(c for c in "0123456789X" if c != id_number[-1])
    return id_number[:-1] + wrong


# -- a server's clock --------------------------------------------------------------------------
class ServerClock:
    """The time of a server started with ``extra_env=clock.env`` (floor.clock.FileClock): it stands still where the
    test sets it, so rules of the date and hour (booking windows, lapsed bookings, late ratings) can be tested."""

    def __init__(self, path: Path, start: datetime) -> None:
        self.path = path
        self.epoch_s = start.timestamp()
        self.zone = start.tzinfo
        write_clock(path, self.epoch_s)

    @property
    def env(self) -> dict[str, str]:
        return {"HALLQ_CLOCK_FILE": str(self.path)}

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.epoch_s, self.zone)

    def set(self, when: datetime) -> None:
        self.epoch_s = when.timestamp()
        write_clock(self.path, self.epoch_s)

    def advance(self, seconds: float) -> None:
        self.set(datetime.fromtimestamp(self.epoch_s + seconds, self.zone))


# -- the server ------------------------------------------------------------------------------
@dataclass
class LiveServer:
    port: int
    secret: bytes
    key_prefix: str
    home: Path
    workers: int
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    halls: tuple[str, ...] = ("demo",)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, role: str, window: str | None = None, hall: str = "demo", region: str | None = None) -> str:
        return make_token(self.secret, hall, role, window, region=region)

    def auth(self, role: str, window: str | None = None, hall: str = "demo", region: str | None = None
             ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, window, hall, region)}"}

    def ws_url(self, channel: str, token: str | None, hall: str = "demo", **params: str) -> str:
        query = dict(params)
        if token is not None:
            query["token"] = token
        qs = f"?{urlencode(query)}" if query else ""
        return f"ws://127.0.0.1:{self.port}/api/v1/halls/{hall}/ws/{channel}{qs}"

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=20.0, trust_env=False)

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def events(self, hall: str = "demo", since: str | None = None) -> list[tuple[str, str]]:
        return stream_events(self.key_prefix, hall, since)


def server_env(home: Path, key_prefix: str, *, secret: str | None = SECRET, halls: Sequence[Path] = (),
               heartbeat_s: float | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLQ_")}
    env.update({
        "HALLQ_HOME": str(home),
        "HALLQ_KEY_PREFIX": key_prefix,
        "HALLQ_REDIS_URL": REDIS_URL,
        "HALLQ_DATABASE_URL": f"sqlite:///{home / 'hallq.db'}",
        "PYTHONUNBUFFERED": "1",
    })
    if secret is not None:
        env["HALLQ_SECRET"] = secret
    if halls:
        env["HALLQ_HALLS"] = os.pathsep.join(str(p) for p in halls)
    if heartbeat_s is not None:
        env["HALLQ_HEARTBEAT_S"] = str(heartbeat_s)
    env.update(extra or {})
    return env


def start_server(home: Path, key_prefix: str, *, workers: int = 1, secret: str | None = SECRET,
                 halls: Sequence[Path] = (), hall_ids: Sequence[str] = ("demo",), heartbeat_s: float | None = None,
                 args: Sequence[str] = (), extra_env: Mapping[str, str] | None = None) -> LiveServer:
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = server_env(home, key_prefix, secret=secret, halls=halls, heartbeat_s=heartbeat_s, extra=extra_env)
    tag = uuid.uuid4().hex[:6]
    stdout_path, stderr_path = home / f"server-{tag}.out", home / f"server-{tag}.err"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [str(HALLQ), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), *args],
            cwd=ROOT, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
    server = LiveServer(port, b"", key_prefix, home, workers, process, stdout_path, stderr_path, tuple(hall_ids))
    try:
        _wait_until_up(server)
    except BaseException:
        stop_server(server)
        raise
    server.secret = secret.encode() if secret is not None else (home / "secret").read_text().strip().encode()
    return server


def _wait_until_up(server: LiveServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(base_url=server.base_url, timeout=1.0, trust_env=False) as client:
        while True:
            if server.process.poll() is not None:
                pytest.fail(f"hallq serve exited with {server.process.returncode} before answering /healthz; "
                            f"stderr:\n{server.stderr()}")
            with contextlib.suppress(httpx.HTTPError):
                reply = client.get("/healthz")
                # Every worker has said so: a test that spreads sockets over workers needs them all.
                ready = server.stderr().count("Application startup complete") >= server.workers
                if reply.status_code == 200 and ready:
                    return
            if time.monotonic() > deadline:
                pytest.fail(f"hallq serve did not come up within {START_TIMEOUT_S} s; stderr:\n{server.stderr()}")
            time.sleep(0.05)


def stop_server(server: LiveServer) -> None:
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # the group we started: the server and its workers
            process.wait(timeout=STOP_TIMEOUT_S)


ServerFactory = Callable[..., LiveServer]


@pytest.fixture
def live_server(tmp_path: Path, key_prefix: str) -> Iterator[ServerFactory]:
    """``live_server(workers=1, heartbeat_s=None, halls=(), hall_ids=("demo",), secret=SECRET, args=())``."""
    started: list[LiveServer] = []
    counter = itertools.count()

    def factory(**kwargs: Any) -> LiveServer:
        server = start_server(tmp_path / f"home{next(counter)}", key_prefix, **kwargs)
        started.append(server)
        return server

    yield factory
    for server in started:
        stop_server(server)
    delete_prefix_sync(key_prefix)


@dataclass
class SharedServer:
    server: LiveServer
    pool: Iterator[str]
    other_hall: str = "other"


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[SharedServer]:
    """One server for the module: hall "demo", a second hall "other" (of another county), a village station taking
    its services from the county's catalog, and a pool of demo copies, whose [policy]
    is the module's ``HALL_POLICY`` if it sets one (e.g. ``NO_SHOW_AT_ONCE``)."""
    policy = getattr(request.module, "HALL_POLICY", None)
    home = tmp_path_factory.mktemp("shared")
    halls_dir = home / "halls"
    halls_dir.mkdir()
    pool = [f"pool-{i:02d}" for i in range(POOL_SIZE)]
    village = halls_dir / "village.toml"
    village.write_text(VILLAGE_TOML, encoding="utf-8")
    paths = [DEMO_TOML, write_hall_copy(halls_dir, "other", policy, region=OTHER_COUNTY), village,
             *(write_hall_copy(halls_dir, h, policy) for h in pool)]
    prefix = f"hqtest-{uuid.uuid4().hex[:10]}"
    server = start_server(home / "server", prefix, halls=paths, hall_ids=("demo", "other", "village", *pool),
                          extra_env={"HALLQ_NETWORK": str(write_network(home))})
    try:
        yield SharedServer(server, iter(pool))
    finally:
        stop_server(server)
        delete_prefix_sync(prefix)


# -- a hall to talk to -----------------------------------------------------------------------
@dataclass
class HallApi:
    """HTTP calls to one hall of a live server, with tokens made for the asked role."""

    server: LiveServer
    client: httpx.AsyncClient
    hall: str
    issued: list[dict[str, Any]] = field(default_factory=list)

    def path(self, path: str) -> str:
        return f"/api/v1/halls/{self.hall}{path}"

    def auth(self, role: str, window: str | None = None) -> dict[str, str]:
        return self.server.auth(role, window, self.hall)

    def keyed(self, ticket_id: str) -> dict[str, str]:
        """The header that proves a citizen holds the ticket: its key, as its QR code and phone link carry it."""
        return {"X-Ticket-Key": ticket_key(self.server.secret, self.hall, ticket_id)}

    async def request(self, method: str, path: str, *, role: str | None = "manager", window: str | None = None,
                      json: Any = None, headers: Mapping[str, str] | None = None,
                      params: Mapping[str, str] | None = None) -> httpx.Response:
        all_headers = {**(self.auth(role, window) if role else {}), **(headers or {})}
        return await self.client.request(method, self.path(path), json=json, headers=all_headers, params=params)

    async def ok(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        reply = await self.request(method, path, **kwargs)
        assert reply.status_code == expect, f"{method} {path}: {reply.status_code} {reply.text}"
        return reply.json()

    async def open(self, *windows: str) -> None:
        for w in windows:
            await self.ok("POST", f"/windows/{w}/open")

    async def issue(self, service: str = "SOC", *, role: str = "guide", expect: int = 201, **body: Any) -> Any:
        ticket = await self.ok("POST", "/tickets", expect, role=role, json={"service": service, **body})
        self.issued.append(ticket)
        return ticket

    async def window_op(self, window: str, op: str, body: Any = None, *, expect: int = 200) -> Any:
        return await self.ok("POST", f"/windows/{window}/{op}", expect, role="staff", window=window, json=body)

    async def snapshot(self) -> Any:
        return await self.ok("GET", "/snapshot", role="display")


@pytest.fixture
async def api(shared_server: SharedServer) -> AsyncIterator[HallApi]:
    """A hall of its own on the module's shared server (windows closed, no tickets)."""
    hall = next(shared_server.pool, None)
    if hall is None:
        pytest.fail(f"the shared server's pool of {POOL_SIZE} halls is used up; raise POOL_SIZE")
    async with shared_server.server.client() as client:
        yield HallApi(shared_server.server, client, hall)


@pytest.fixture
async def demo_api(live_server: ServerFactory) -> AsyncIterator[HallApi]:
    """A server of the test's own serving hall "demo" (one worker)."""
    server = live_server()
    async with server.client() as client:
        yield HallApi(server, client, "demo")


# -- websockets --------------------------------------------------------------------------------
def ws_connect(url: str, **kwargs: Any) -> Any:
    return connect(url, proxy=None, open_timeout=10, close_timeout=2, **kwargs)


async def recv_json(ws: ClientConnection, within_s: float = 10.0) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), within_s)
    message: dict[str, Any] = orjson.loads(raw)
    return message


async def first_message(url: str, **kwargs: Any) -> tuple[dict[str, Any], int | None]:
    """The first message of a feed, and the close code if the server closed it right after (None: still open)."""
    async with ws_connect(url, **kwargs) as ws:
        message = await recv_json(ws, 15)
        if message.get("type") != "error":
            return message, None
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    rcvd = closed.value.rcvd
    return message, rcvd.code if rcvd else None


async def recv_events(ws: ClientConnection, count: int, within_s: float = 10.0) -> list[dict[str, Any]]:
    """The next ``count`` event messages (heartbeats skipped)."""
    events: list[dict[str, Any]] = []
    while len(events) < count:
        message = await recv_json(ws, within_s)
        if message.get("type") != "heartbeat":
            events.append(message)
    return events


async def recv_until(ws: ClientConnection, last_id: str, within_s: float = 15.0) -> list[dict[str, Any]]:
    """Event messages up to and including the one with ``last_id`` (heartbeats skipped)."""
    events: list[dict[str, Any]] = []
    while True:
        message = await recv_json(ws, within_s)
        if message.get("type") == "heartbeat":
            continue
        events.append(message)
        if message.get("event_id") == last_id:
            return events


# -- assertions --------------------------------------------------------------------------------
def assert_error(reply: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """api.md's error shape: {"error": {"code", "message", ...}} with the given status and code."""
    assert reply.status_code == status, f"expected {status} {code}, got {reply.status_code}: {reply.text}"
    body = reply.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str), error
    assert error["message"].strip(), error
    return error


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)
