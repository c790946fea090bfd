"""区域总览 live at 500 halls: how fresh the county's view is and what it costs the server, beside the lobby display.

    .venv/bin/python -m loadtest.region_overview [--halls 500] [--seconds 30] [--rates 50,200]
                                                [--viewers 0,1,10,50,towns,regions,0] [--sample-halls 50]
                                                [--join-rounds 4] [--profile] [--out FILE] [--json FILE] [--keep]

One run, one server:

1. A county network in a temporary directory (province > city > county > 25 towns; a county centre, a town centre
   and a bank outlet per town, the rest village stations each in a village of its own), every hall a small
   self-contained file (three services, one or two windows, no catalog). ``hallq serve --workers 1`` on it with a
   key prefix and SQLite file of its own (the prefix's keys are deleted afterwards); start-up timed.
2. Every window opened through the API (each hall's manager token); ``--sample-halls`` village stations each get a
   lobby display socket (``/ws/display``).
3. The first frame of a county manager's socket (``/api/v1/regions/<county>/ws/overview``): the first one (every
   hall read), then others while it watches, a town's, ``GET /overview``; one socket alone and ten at once while
   nobody watches, with the worker's CPU for them. The worker's CPU with no load at all.
4. Per rate (``--rates``, events/s over every hall) and per viewer set (``--viewers``: a number of sockets on the
   county; ``towns``: one on the county and one on each town; ``regions``: one on every region; ``0``: nobody
   watching), ``--seconds`` of steady load: issue, call-next, start and finish at random halls, open loop. The
   sample halls are driven by a sampler alone: for each issue or call-next there the time from the API reply to
   (a) the first overview frame whose line of that hall shows the new waiting count, on the first county socket,
   and (b) the display's ``ticket.issued`` / ``ticket.called`` of that number. The worker process's CPU time
   (/proc utime+stime) over the load, beside Redis's and this process's.
5. Whether the pages show the halls as they are, against a fresh ``GET /overview`` two ticks after the load: the
   first county socket's picture (its first frame with every change after); after a phase nobody watched, a new
   socket's first frame, and the pictures of sockets that joined halfway through 4 s of load (``--join-rounds``).
6. With ``--profile``, py-spy on the worker in each load phase: the share of its samples with this overview's code
   (``floor/regions/watch.py``) on the stack, and of which parts.

The server runs on core 0, this process on core 1 (``--no-pin``: floating), Redis floats. Writes
``loadtest/results/region-overview.md`` (``--out``), keeping its hand-written notes between the NOTES markers.
Exit status 1 when a request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis as redis_pkg
from websockets.asyncio.client import ClientConnection, connect

from floor.http.auth import make_token

from .calls import percentile
from .faults.services import children, cmdline
from .machine import describe, git_commit, machine_busy_s, proc_cpu_s
from .run import clean_env, delete_prefix, free_port, pinned, raise_fd_limit, server_log_problems

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "loadtest" / "results" / "region-overview.md"
VENV_BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("HALLQ_REDIS_URL", "redis://127.0.0.1:6379/0")
NOTES_START, NOTES_END = "<!-- NOTES -->", "<!-- /NOTES -->"
FIGURES_MARK, HISTORY_MARK = "<!-- region-overview ", "<!-- region-overview-history "

PROVINCE, CITY, COUNTY = "bench-sheng", "bench-shi", "bench-xian"
SERVICES: tuple[dict[str, Any], ...] = (
    {"code": "SOC", "letter": "A", "name_zh": "社保医保", "name_en": "Social security", "target_wait_s": 900,
     "handling_s": 480},
    {"code": "HUK", "letter": "B", "name_zh": "户籍证件", "name_en": "Household registration", "target_wait_s": 900,
     "handling_s": 420},
    {"code": "INFO", "letter": "C", "name_zh": "咨询代办", "name_en": "Enquiries and proxy service",
     "target_wait_s": 600, "handling_s": 300},
)
CODES = tuple(str(s["code"]) for s in SERVICES)
SAMPLE_TIMEOUT_S = 5.0  # a sample not seen by then counts as missing and frees its hall
MAX_IN_FLIGHT = 64  # requests of the load at once; past it a due action is skipped (and counted)
SETTLE_S = 1.5  # after the viewers connect, before the CPU is read
STALE_WAIT_S = 2.5  # after the load stops and before the stale check: two ticks
JOIN_LOAD_S = 4.0  # the load a county socket joins halfway through, nobody else watching
JOIN_ROUNDS = 4  # of them, one after the other (--join-rounds)
HERD = 10  # county sockets that connect at once while nobody watches
PROFILE_HZ = 200
# With --profile: what of the worker's sampled CPU the overview took, by the stack of each sample. A sample counts
# as the overview's when floor/regions/watch.py is on its stack; the parts are those of its samples that also show
# one of these frames. The replies of the overview's snapshots are read by the Redis connection's reader, outside
# that stack: the share is a lower bound.
WATCH_FILE = "floor/regions/watch.py"
PARTS = (("hall lists (Runtime.halls_below)", "halls_below ("), ("lines (hall_line, same_line)", "_line ("),
         ("snapshot calls (request side)", "snapshot (queue_engine/engine.py"),
         ("frames (totals, JSON, sends)", "frame ("))


# -- the network and its halls ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class HallSpec:
    id: str
    name: str
    level: str
    region: str
    town: str | None
    windows: int
    address: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Layout:
    regions: tuple[dict[str, str], ...]
    halls: tuple[HallSpec, ...]
    towns: tuple[str, ...]

    def villages(self) -> list[HallSpec]:
        return [h for h in self.halls if h.level == "village_station"]


def layout(halls: int, towns: int = 25, seed: int = 5) -> Layout:
    """A county of ``halls`` halls below ``towns`` towns: the county centre, a town centre per town, a bank outlet
    per town (when there are at least four halls a town left), and village stations round-robin over the towns,
    each in a village region of its own."""
    if halls < 2:
        raise ValueError("a county needs at least two halls")
    rand = random.Random(seed)
    towns = max(1, min(towns, halls - 1))
    town_ids = tuple(f"bench-zhen{t + 1:02d}" for t in range(towns))
    regions: list[dict[str, str]] = [
        {"id": PROVINCE, "name": "压测省", "kind": "province"},
        {"id": CITY, "name": "压测市", "kind": "city", "parent": PROVINCE},
        {"id": COUNTY, "name": "压测县", "kind": "county", "parent": CITY},
        *({"id": tid, "name": f"第{t + 1}镇", "kind": "town", "parent": COUNTY} for t, tid in enumerate(town_ids))]

    def spec(hid: str, name: str, level: str, region: str, town: str | None, windows: int, address: str) -> HallSpec:
        return HallSpec(hid, name, level, region, town, windows, address, round(42.27 + rand.uniform(-0.4, 0.4), 4),
                        round(118.96 + rand.uniform(-0.5, 0.5), 4))

    specs = [spec("xian-zhongxin", "压测县政务服务中心", "county_centre", COUNTY, None, 2, "压测县政务服务大厦一层")]
    for t, tid in enumerate(town_ids):
        specs.append(spec(f"zhen{t + 1:02d}", f"第{t + 1}镇便民服务中心", "town_centre", tid, tid, 2,
                          f"第{t + 1}镇政府一楼"))
    if halls - len(specs) >= 4 * towns:
        for t, tid in enumerate(town_ids):
            specs.append(spec(f"zhen{t + 1:02d}-yh", f"第{t + 1}镇农商银行代办点", "bank_outlet", tid, tid, 1,
                              f"第{t + 1}镇农商银行营业厅"))
    for v in range(halls - len(specs)):
        t, k = v % towns, v // towns + 1
        village = f"{town_ids[t]}-cun{k:02d}"
        regions.append({"id": village, "name": f"第{t + 1}镇{k}村", "kind": "village", "parent": town_ids[t]})
        specs.append(spec(f"zhen{t + 1:02d}-cun{k:02d}", f"第{t + 1}镇{k}村便民服务站", "village_station", village,
                          town_ids[t], 1, f"第{t + 1}镇{k}村村委会"))
    return Layout(tuple(regions), tuple(specs[:halls]), town_ids)


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string: the same escapes as JSON's
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def network_toml(plan: Layout) -> str:
    lines = ["# Written by loadtest.region_overview: a county of the benchmark (no catalog; every hall lists its own "
             "services)."]
    for region in plan.regions:
        lines += ["", "[[regions]]", *(f"{k} = {_toml(v)}" for k, v in region.items())]
    return "\n".join(lines) + "\n"


def hall_toml(hall: HallSpec) -> str:
    lines = [
        "# Written by loadtest.region_overview for one run: services of its own, no catalog.",
        f"id = {_toml(hall.id)}",
        f"name = {_toml(hall.name)}",
        'timezone = "Asia/Shanghai"',
        f"region = {_toml(hall.region)}",
        f"level = {_toml(hall.level)}",
        f"address = {_toml(hall.address)}",
        f"location = {{ lat = {hall.lat}, lon = {hall.lon} }}",
        'hours = ["08:30-12:00", "14:00-17:30"]',  # with a window open a ticket is issued at any hour
        "",
    ]
    for service in SERVICES:
        lines += ["[[services]]", *(f"{k} = {_toml(v)}" for k, v in service.items()), ""]
    for w in range(1, hall.windows + 1):
        lines += ["[[windows]]", f'id = "{w}"', f'name = "{w}号综合窗口"', f"services = {_toml(CODES)}",
                  f"primary = {_toml([CODES[(w - 1) % len(CODES)]])}", ""]
    return "\n".join(lines)


def write_files(directory: Path, plan: Layout) -> tuple[Path, list[Path]]:
    """The network file and one file per hall in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    network = directory / "network.toml"
    network.write_text(network_toml(plan), encoding="utf-8")
    paths = []
    for hall in plan.halls:
        path = directory / f"{hall.id}.toml"
        path.write_text(hall_toml(hall), encoding="utf-8")
        paths.append(path)
    return network, paths


# -- the server --------------------------------------------------------------------------------------------------
@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def worker_pid(self) -> int:
        """The process that serves: the uvicorn worker (a multiprocessing child) with ``--workers`` above 1, the
        ``hallq serve`` process itself with one (uvicorn then serves in it; the archiver is a child of its own)."""
        spawned = [p for p in children(self.process.pid) if "multiprocessing.spawn" in cmdline(p)]
        return min(spawned) if spawned else self.process.pid

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # the group this run started
            self.process.wait(timeout=10)


def start_server(home: Path, env: dict[str, str], cpus: str | None, timeout_s: float) -> tuple[Server, float]:
    """``hallq serve --workers 1``, awaited on its log and /healthz; the server and its start-up seconds."""
    port = free_port()
    log_path = home / "server.log"
    cmd = pinned([str(VENV_BIN / "hallq"), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                 cpus)
    start = time.monotonic()
    with log_path.open("wb") as out:
        process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    server = Server(process, port, log_path)
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"hallq serve exited with {process.returncode}:\n{server.log()[-3000:]}")
            if "Application startup complete" in server.log():
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(server.base_url + "/healthz").status_code == 200:
                        return server, time.monotonic() - start
            if time.monotonic() - start > timeout_s:
                server.stop()
                raise RuntimeError(f"hallq serve not up within {timeout_s:.0f} s:\n{server.log()[-3000:]}")
            time.sleep(0.2)


# -- measuring -------------------------------------------------------------------------------------------------
def pct(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (nearest rank) of the values; None without any."""
    return percentile(sorted(values), p) if values else None


@dataclass
class Sample:
    """One issue or call-next at a sample hall: when its reply was read, and when each screen showed it."""

    hall: str
    kind: str  # "ticket.issued" | "ticket.called"
    number: str
    expected: int  # the hall's waiting count after it
    sent: float
    replied: float
    watched: bool  # a measuring overview socket was open
    overview_at: float | None = None  # perf_counter() when each screen was read showing it
    display_at: float | None = None

    def done(self) -> bool:
        return self.display_at is not None and (self.overview_at is not None or not self.watched)

    def after_reply(self, at: float) -> float:
        """Seconds from the reply read to the screen read; 0 when the screen was first."""
        return max(0.0, at - self.replied)


class Matcher:
    """Pairs the sample halls' replies with the first screen messages that show them, whichever comes first."""

    def __init__(self) -> None:
        self.overview: dict[str, Sample] = {}  # hall -> sample whose line is awaited
        self.display: dict[tuple[str, str, str], Sample] = {}
        self.seen_display: dict[tuple[str, str, str], float] = {}
        self.last_line: dict[str, tuple[int, float]] = {}  # hall -> (waiting, read at) on the measuring socket
        self.shown: dict[str, int] = {}  # hall -> the waiting count the measuring socket shows now
        self.watching = False

    def replied(self, sample: Sample) -> None:
        key = (sample.hall, sample.kind, sample.number)
        shown = self.seen_display.pop(key, None)
        if shown is not None:
            sample.display_at = shown
        else:
            self.display[key] = sample
        if sample.watched:
            line = self.last_line.get(sample.hall)
            if line is not None and line[0] == sample.expected and line[1] >= sample.sent:
                sample.overview_at = line[1]
            else:
                self.overview[sample.hall] = sample

    def on_line(self, hall: str, waiting: int, at: float) -> None:
        self.last_line[hall] = (waiting, at)
        self.shown[hall] = waiting
        sample = self.overview.get(hall)
        if sample is not None and waiting == sample.expected:
            sample.overview_at = at
            del self.overview[hall]

    def on_display(self, hall: str, kind: str, number: str, at: float) -> None:
        sample = self.display.pop((hall, kind, number), None)
        if sample is not None:
            sample.display_at = at
        else:
            self.seen_display[(hall, kind, number)] = at
            if len(self.seen_display) > 10_000:
                self.seen_display.clear()

    def forget(self, sample: Sample) -> None:
        self.overview.pop(sample.hall, None)
        self.display.pop((sample.hall, sample.kind, sample.number), None)


@dataclass
class Viewer:
    """One overview socket: its first frame and what it read after."""

    region: str
    measuring: bool  # its frames are parsed and paired with the samples
    ws: ClientConnection
    connect_s: float
    first: dict[str, Any]
    first_bytes: int
    frames: int = 0
    heartbeats: int = 0
    bytes: int = 0
    sizes: list[int] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    delivery_ms: list[float] = field(default_factory=list)
    ats: list[int] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    track: bool = False  # its frames are parsed and folded into ``view``, the page's picture of the halls
    view: dict[str, tuple[int, int]] = field(default_factory=dict)  # hall -> (waiting, windows open)

    def __post_init__(self) -> None:
        self.view = {line["hall"]: (line["waiting"], line["windows_open"]) for line in self.first["halls"]}


async def open_viewer(base: str, region: str, token: str, measuring: bool = False) -> Viewer:
    start = time.perf_counter()
    ws = await connect(f"{base}/api/v1/regions/{region}/ws/overview?token={token}", proxy=None, max_size=None,
                       open_timeout=120, close_timeout=2, compression=None)
    raw = await asyncio.wait_for(ws.recv(decode=False), 120)
    elapsed = time.perf_counter() - start
    first = orjson.loads(raw)
    if first.get("type") != "overview":
        await ws.close()
        raise RuntimeError(f"overview socket of {region}: first frame {str(first)[:300]}")
    return Viewer(region, measuring, ws, elapsed, first, len(raw))


async def read_viewer(viewer: Viewer, matcher: Matcher) -> None:
    with contextlib.suppress(Exception):  # closed at the end of its phase
        while True:
            raw = await viewer.ws.recv(decode=False)
            at = time.perf_counter()
            viewer.frames += 1
            viewer.bytes += len(raw)
            if not viewer.measuring and not viewer.track:
                continue
            frame = orjson.loads(raw)
            if frame.get("type") != "halls":
                viewer.heartbeats += frame.get("type") == "heartbeat"
                continue
            viewer.view.update({line["hall"]: (line["waiting"], line["windows_open"]) for line in frame["halls"]})
            if not viewer.measuring:
                continue
            viewer.delivery_ms.append(time.time() * 1000 - frame["at"])
            viewer.ats.append(int(frame["at"]))
            viewer.sizes.append(len(raw))
            viewer.lines.append(len(frame["halls"]))
            for line in frame["halls"]:
                matcher.on_line(line["hall"], int(line["waiting"]), at)


async def close_viewers(viewers: Sequence[Viewer]) -> None:
    for viewer in viewers:
        if viewer.task is not None:
            viewer.task.cancel()
    await asyncio.gather(*(v.ws.close() for v in viewers), return_exceptions=True)
    await asyncio.gather(*(v.task for v in viewers if v.task is not None), return_exceptions=True)


async def read_display(ws: ClientConnection, hall: str, matcher: Matcher) -> None:
    with contextlib.suppress(Exception):
        while True:
            raw = await ws.recv(decode=False)
            at = time.perf_counter()
            message = orjson.loads(raw)
            kind = message.get("type")
            if kind in ("ticket.issued", "ticket.called"):
                matcher.on_display(hall, kind, str(message.get("number")), at)


# -- the load ----------------------------------------------------------------------------------------------------
class HttpError(Exception):
    """A request that got no whole reply (connection closed, reset or timed out)."""


@dataclass
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


class Http:
    """HTTP/1.1 to the server over kept-alive connections, requests written and replies read by hand. httpx's async
    client cost about 4 ms of CPU a request here (more than the server's own work), so at 200 requests/s the load
    generator, not the server, set the pace; this costs a few hundred microseconds."""

    IDLE_S = 3.0  # uvicorn closes a connection idle for 5 s: one idle longer than this is not used again

    def __init__(self, host: str, port: int, timeout_s: float = 60.0) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        now = time.monotonic()
        while self.idle:
            reader, writer, since = self.idle.pop()
            if now - since < self.IDLE_S and not reader.at_eof():
                return reader, writer
            writer.close()
        return await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, auth: str, body: Any = None) -> Reply:
        content = b"" if body is None else orjson.dumps(body)
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAuthorization: {auth}\r\n"
                f"Accept: application/json\r\nContent-Length: {len(content)}\r\n")
        if body is not None:
            head += "Content-Type: application/json\r\n"
        reader, writer = await self._connection()
        try:
            writer.write(head.encode() + b"\r\n" + content)
            async with asyncio.timeout(self.timeout_s):
                raw = await reader.readuntil(b"\r\n\r\n")
                lines = raw.decode("latin-1").split("\r\n")
                status = int(lines[0].split(" ", 2)[1])
                fields = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                if fields.get("transfer-encoding", "").lower() == "chunked":
                    data = b""
                    while size := int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16):
                        data += (await reader.readexactly(size + 2))[:-2]
                    await reader.readuntil(b"\r\n")
                else:
                    data = await reader.readexactly(int(fields.get("content-length", "0")))
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            writer.close()
            raise HttpError(f"{method} {path}: {type(exc).__name__} {exc}") from exc
        if fields.get("connection", "").lower() == "close":
            writer.close()
        else:
            self.idle.append((reader, writer, time.monotonic()))
        return Reply(status, data)

    async def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()
        self.idle = []


@dataclass
class Hall:
    spec: HallSpec
    auth: str  # the Authorization header: the hall's manager token
    waiting: int = 0
    windows: dict[str, str] = field(default_factory=dict)
    busy: bool = False
    pending: Sample | None = None


class Driver:
    """Issue, call-next, start and finish at random halls, at a set rate, each hall one request at a time."""

    def __init__(self, client: Http, halls: list[Hall], samples: list[Hall], matcher: Matcher,
                 rand: random.Random) -> None:
        self.client, self.halls, self.sample_halls = client, halls, samples
        self.matcher, self.rand = matcher, rand
        self.reset()

    def reset(self) -> None:
        self.done: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.api_ms: dict[str, list[float]] = {}
        self.touched: list[tuple[float, str]] = []
        self.samples: list[Sample] = []
        self.skipped = self.samples_skipped = self.missing = 0

    def next_op(self, hall: Hall) -> tuple[str, str]:
        window = self.rand.choice(sorted(hall.windows))
        state = hall.windows[window]
        if state == "calling":
            return "start", window
        if state == "serving":
            return "finish", window
        if state != "idle":
            return "open", window
        if hall.waiting > 0 and (hall.waiting >= 3 or self.rand.random() < 0.5):
            return "call-next", window
        return "issue", window

    async def act(self, hall: Hall, sampled: bool) -> None:
        op, window = self.next_op(hall)
        base = f"/api/v1/halls/{hall.spec.id}"
        path, body, ok = f"{base}/windows/{window}/{op}", None, 200
        if op == "issue":
            path, body, ok = f"{base}/tickets", {"service": self.rand.choice(CODES)}, 201
        elif op == "finish":
            body = {"outcome": "done"}
        sent = time.perf_counter()
        try:
            reply = await self.client.request("POST", path, hall.auth, body)
        except HttpError as exc:
            self.errors[f"{op} {type(exc).__name__}"] += 1
            await self.resync(hall)
            return
        replied = time.perf_counter()
        self.api_ms.setdefault(op, []).append((replied - sent) * 1000)
        if reply.status != ok:
            self.errors[f"{op} {reply.status} {reply.text[:80]}"] += 1
            await self.resync(hall)
            return
        self.done[op] += 1
        self.touched.append((replied, hall.spec.id))
        kind, number = None, ""
        if op == "issue":
            hall.waiting += 1
            kind, number = "ticket.issued", str(reply.json()["number"])
        elif op == "call-next":
            ticket = reply.json()["ticket"]
            if ticket is None:
                hall.waiting = 0
            else:
                hall.waiting -= 1
                hall.windows[window] = "calling"
                kind, number = "ticket.called", str(ticket["number"])
        else:
            hall.windows[window] = {"start": "serving", "finish": "idle", "open": "idle"}[op]
        if sampled and kind is not None:
            sample = Sample(hall.spec.id, kind, number, hall.waiting, sent, replied, self.matcher.watching)
            hall.pending = sample
            self.samples.append(sample)
            self.matcher.replied(sample)

    async def resync(self, hall: Hall) -> None:
        """After a refused or failed request: what the hall really has (its waiting, its windows' states)."""
        with contextlib.suppress(HttpError, KeyError, ValueError):
            snap = (await self.client.request("GET", f"/api/v1/halls/{hall.spec.id}/snapshot", hall.auth)).json()
            hall.waiting = sum(int(s["waiting"]) for s in snap["services"])
            hall.windows = {str(w["id"]): str(w["state"]) for w in snap["windows"]}

    async def _run(self, hall: Hall, sampled: bool) -> None:
        """One action at the hall, which ``_pick`` marked busy: no other action is picked for it meanwhile."""
        try:
            await self.act(hall, sampled)
        finally:
            hall.busy = False

    def _pick(self, halls: list[Hall], sampled: bool) -> Hall | None:
        now = time.perf_counter()
        for _ in range(20):
            hall = self.rand.choice(halls)
            if hall.busy:
                continue
            if sampled and hall.pending is not None:
                if not hall.pending.done():
                    if now - hall.pending.replied < SAMPLE_TIMEOUT_S:
                        continue
                    self.missing += 1
                    self.matcher.forget(hall.pending)
                hall.pending = None
            hall.busy = True  # now, not when its task starts: a hall picked twice in one pass would race itself
            return hall
        return None

    async def drive(self, rate: float, sample_rate: float, seconds: float) -> float:
        """Run the load for ``seconds``; the seconds it took, the last requests awaited."""
        load_rate = max(0.0, rate - sample_rate)
        tasks: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        n_load = n_sample = 0
        while (now := time.perf_counter()) - start < seconds:
            for _ in range(int((now - start) * load_rate) - n_load):
                n_load += 1
                hall = None if len(tasks) >= MAX_IN_FLIGHT else self._pick(self.halls, False)
                if hall is None:
                    self.skipped += 1
                    continue
                task = asyncio.create_task(self._run(hall, False))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            for _ in range(int((now - start) * sample_rate) - n_sample):
                n_sample += 1
                hall = self._pick(self.sample_halls, True)
                if hall is None:
                    self.samples_skipped += 1
                    continue
                task = asyncio.create_task(self._run(hall, True))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.sleep(0.004)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return time.perf_counter() - start

    async def settle_samples(self, within_s: float = SAMPLE_TIMEOUT_S) -> None:
        """Wait for the phase's samples to be seen; those not seen by then count as missing."""
        for _ in range(int(within_s / 0.05)):
            if all(s.done() for s in self.samples):
                break
            await asyncio.sleep(0.05)
        for hall in self.sample_halls:
            if hall.pending is not None:
                if not hall.pending.done():
                    self.missing += 1
                    self.matcher.forget(hall.pending)
                hall.pending = None


# -- the run -----------------------------------------------------------------------------------------------------
@dataclass
class Context:
    server: Server
    secret: bytes
    plan: Layout
    client: Http
    driver: Driver
    matcher: Matcher
    redis_pid: int | None
    county_token: str
    profile_dir: Path | None = None

    def region_token(self, region: str) -> str:
        hall = next((h.id for h in self.plan.halls if h.region == region), self.plan.halls[0].id)
        return make_token(self.secret, hall, "manager", region=region)


def cpu_now(ctx: Context) -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    busy, _ = machine_busy_s()
    return {"worker": proc_cpu_s(ctx.server.worker_pid(), children=False),
            "redis": proc_cpu_s(ctx.redis_pid, children=False) if ctx.redis_pid else 0.0,
            "client": own.ru_utime + own.ru_stime, "machine": busy, "wall": time.monotonic()}


def viewer_set(spec: str, plan: Layout) -> list[str]:
    """The regions of a viewer set's sockets, the measuring county socket first: ``towns``, one on the county and
    one on each town; ``regions``, one on every region of the county (county, towns, villages); a number, that many
    on the county."""
    if spec == "towns":
        return [COUNTY, *plan.towns]
    if spec == "regions":
        return [COUNTY, *(r["id"] for r in plan.regions if r["kind"] in ("town", "village"))]
    return [COUNTY] * int(spec)


async def open_viewers(ctx: Context, regions: Sequence[str]) -> list[Viewer]:
    viewers: list[Viewer] = []
    for i, region in enumerate(regions):  # one by one: each connect timed alone
        token = ctx.county_token if region == COUNTY else ctx.region_token(region)
        viewer = await open_viewer(ctx.server.ws_url, region, token, measuring=i == 0)
        viewer.task = asyncio.create_task(read_viewer(viewer, ctx.matcher))
        viewers.append(viewer)
    return viewers


async def get_overview(ctx: Context) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    reply = await ctx.client.request("GET", f"/api/v1/regions/{COUNTY}/overview", f"Bearer {ctx.county_token}")
    if reply.status != 200:
        raise RuntimeError(f"GET /overview: {reply.status} {reply.text[:300]}")
    return time.perf_counter() - start, reply.json()


async def compare(ctx: Context, view: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """A page's picture of the halls (waiting, windows open) against a fresh read (``GET /overview``), hall by
    hall, with the load stopped; and the fresh read against the load's own count of each hall's waiting."""
    _, fresh = await get_overview(ctx)
    now = {line["hall"]: (line["waiting"], line["windows_open"]) for line in fresh["halls"]}
    model = {h.spec.id: h.waiting for h in ctx.driver.halls + ctx.driver.sample_halls}
    differ = [h for h in now if view.get(h) != now[h]]
    return {"halls": len(now), "differ": len(differ),
            "fresh_matches_load": sum(1 for h, (waiting, _) in now.items() if waiting == model.get(h)),
            "shown_waiting": sum(w for w, _ in view.values()), "fresh_waiting": fresh["totals"]["waiting"],
            "examples": [{"hall": h, "shown": view.get(h), "fresh": now[h]} for h in differ[:3]]}


async def stale_check(ctx: Context) -> dict[str, Any]:
    """With the load stopped and nobody watching for two ticks: does a new viewer's first frame show the halls as
    they are?"""
    await asyncio.sleep(STALE_WAIT_S)
    viewer = await open_viewer(ctx.server.ws_url, COUNTY, ctx.county_token)
    await close_viewers([viewer])
    return await compare(ctx, viewer.view)


async def join_under_load(ctx: Context, rate: float, seconds: float) -> dict[str, Any]:
    """A county socket that joins halfway through ``seconds`` of load while nobody else watches: once the load has
    stopped and two ticks have passed, does its picture (first frame and every change after) match the halls?"""
    async def join_midway() -> Viewer:
        await asyncio.sleep(seconds / 2)
        viewer = await open_viewer(ctx.server.ws_url, COUNTY, ctx.county_token)
        viewer.track = True
        viewer.task = asyncio.create_task(read_viewer(viewer, ctx.matcher))
        return viewer

    joining = asyncio.create_task(join_midway())
    await ctx.driver.drive(rate, 0.0, seconds)
    viewer = await joining
    await asyncio.sleep(STALE_WAIT_S)
    result = await compare(ctx, viewer.view)
    await close_viewers([viewer])
    return result | {"join_ms": viewer.connect_s * 1000}


def start_profile(pid: int, seconds: float, path: Path) -> subprocess.Popen[bytes]:
    """py-spy on the worker for the load: running Python only (--gil), without pausing it (--nonblocking)."""
    cmd = [str(VENV_BIN / "py-spy"), "record", "--pid", str(pid), "--gil", "--nonblocking", "--rate",
           str(PROFILE_HZ), "--duration", str(max(1, int(seconds))), "--format", "raw", "-o", str(path)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


def read_profile(spy: subprocess.Popen[bytes], path: Path) -> dict[str, Any] | None:
    """The share of the worker's samples the overview took, and its parts; None if py-spy wrote nothing."""
    try:
        spy.wait(timeout=60)
    except subprocess.TimeoutExpired:
        spy.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
        spy.wait(timeout=30)
    if not path.exists():
        return None
    total = watch = 0
    parts: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        if WATCH_FILE in stack:
            watch += n
            for name, frame in PARTS:
                if frame in stack:
                    parts[name] += n
    return {"samples": total, "overview": watch, "share": watch / total if total else None, "parts": dict(parts)}


def summary(values_s: Sequence[float]) -> dict[str, float | int | None]:
    ms = [v * 1000 for v in values_s]
    return {"n": len(ms), "p50": pct(ms, 50), "p90": pct(ms, 90), "p99": pct(ms, 99), "max": max(ms, default=None)}


async def phase(ctx: Context, rate: float, spec: str, seconds: float, sample_rate: float) -> dict[str, Any]:
    regions = viewer_set(spec, ctx.plan)
    viewers = await open_viewers(ctx, regions)
    ctx.matcher.watching = bool(viewers)
    ctx.matcher.last_line.clear()
    ctx.matcher.shown = {line["hall"]: int(line["waiting"]) for line in viewers[0].first["halls"]} if viewers else {}
    await asyncio.sleep(SETTLE_S)
    for viewer in viewers:  # frames of the load only
        viewer.frames = viewer.bytes = viewer.heartbeats = 0
        viewer.sizes, viewer.lines, viewer.delivery_ms, viewer.ats = [], [], [], []
    ctx.driver.reset()
    raw = spy = None
    if ctx.profile_dir is not None:
        raw = ctx.profile_dir / f"profile-{rate:g}-{spec}.txt"
        spy = start_profile(ctx.server.worker_pid(), seconds, raw)
    before = cpu_now(ctx)
    took = await ctx.driver.drive(rate, sample_rate, seconds)
    after = cpu_now(ctx)
    profile = await asyncio.to_thread(read_profile, spy, raw) if spy is not None and raw is not None else None
    await ctx.driver.settle_samples()
    converged = None
    if viewers:  # two ticks after the load: the page's picture against the halls
        await asyncio.sleep(STALE_WAIT_S)
        converged = await compare(ctx, viewers[0].view)
    await close_viewers(viewers)
    ctx.matcher.watching = False
    d = ctx.driver
    wall = after["wall"] - before["wall"]
    events = sum(d.done.values())
    per_s = {k: (after[k] - before[k]) / wall for k in ("worker", "redis", "client", "machine")}
    buckets: dict[int, set[str]] = {}
    for at, hall in d.touched:
        buckets.setdefault(int(at), set()).add(hall)
    full = [len(b) for sec, b in buckets.items() if min(buckets) < sec < max(buckets)]
    samples = d.samples
    result: dict[str, Any] = {
        "rate": rate, "viewers": spec, "sockets": len(viewers), "regions": len(set(regions)), "seconds": took,
        "events": events, "events_per_s": events / took, "ops": dict(d.done), "errors": dict(d.errors),
        "skipped": d.skipped, "samples_skipped": d.samples_skipped,
        "worker_ms_s": per_s["worker"] * 1000, "worker_us_event": per_s["worker"] * 1e6 / max(events / took, 1e-9),
        "redis_ms_s": per_s["redis"] * 1000, "client_ms_s": per_s["client"] * 1000,
        "machine_cores": per_s["machine"],
        "halls_touched_per_s": statistics.mean(full) if full else None,
        "api_ms": {op: {"p50": pct(v, 50), "p99": pct(v, 99)} for op, v in sorted(d.api_ms.items())},
        "display": summary([s.after_reply(s.display_at) for s in samples if s.display_at is not None]),
        "display_from_send": summary([s.display_at - s.sent for s in samples if s.display_at is not None]),
        "display_missing": sum(1 for s in samples if s.display_at is None),
        "display_early": sum(1 for s in samples if s.display_at is not None and s.display_at < s.replied),
        "samples": len(samples), "missing": d.missing,
        "connect_ms": [v.connect_s * 1000 for v in viewers], "first_bytes": [v.first_bytes for v in viewers],
        "converged": converged, "profile": profile,
    }
    if viewers:
        main = viewers[0]
        gaps = [(b - a) for a, b in zip(main.ats, main.ats[1:], strict=False)]
        seen = [s for s in samples if s.watched and s.overview_at is not None]
        unseen = [s for s in samples if s.watched and s.overview_at is None]
        county = [v for v in viewers if v.region == COUNTY]
        result.update({
            "overview": summary([s.after_reply(s.overview_at) for s in seen if s.overview_at is not None]),
            "overview_from_send": summary([s.overview_at - s.sent for s in seen if s.overview_at is not None]),
            "overview_early": sum(1 for s in seen if s.overview_at is not None and s.overview_at < s.replied),
            "overview_missing": len(unseen),
            # never sent because the socket already showed that count: its line of the hall was stale
            "overview_missing_shown": sum(1 for s in unseen if ctx.matcher.shown.get(s.hall) == s.expected),
            "overview_issue": summary([s.after_reply(s.overview_at) for s in seen
                                       if s.kind == "ticket.issued" and s.overview_at is not None]),
            "overview_call": summary([s.after_reply(s.overview_at) for s in seen
                                      if s.kind == "ticket.called" and s.overview_at is not None]),
            "frames_per_s": len(main.sizes) / took, "frame_bytes": {"p50": pct(main.sizes, 50), "mean": (
                statistics.mean(main.sizes) if main.sizes else None), "max": max(main.sizes, default=None)},
            "lines_per_frame": statistics.mean(main.lines) if main.lines else None,
            "delivery_ms": {"p50": pct(main.delivery_ms, 50), "p99": pct(main.delivery_ms, 99)},
            "frame_gap_ms": {"mean": statistics.mean(gaps) if gaps else None, "max": max(gaps, default=None)},
            "frames_per_socket": [min(v.frames for v in county), max(v.frames for v in county)],
            "bytes_per_s_all": sum(v.bytes for v in viewers) / took,
        })
    return result


async def idle(ctx: Context, spec: str, seconds: float) -> dict[str, Any]:
    """The worker's CPU with no load at all: what 500 halls cost standing still, with and without a viewer."""
    viewers = await open_viewers(ctx, viewer_set(spec, ctx.plan))
    await asyncio.sleep(SETTLE_S)
    before = cpu_now(ctx)
    await asyncio.sleep(seconds)
    after = cpu_now(ctx)
    await close_viewers(viewers)
    wall = after["wall"] - before["wall"]
    return {"viewers": spec, "worker_ms_s": (after["worker"] - before["worker"]) * 1000 / wall,
            "redis_ms_s": (after["redis"] - before["redis"]) * 1000 / wall,
            "machine_cores": (after["machine"] - before["machine"]) / wall}


async def herd(ctx: Context, sockets: int) -> dict[str, Any]:
    """``sockets`` county sockets connecting at once while nobody watches (a county's managers opening the page at
    8:30): until each has its first frame, and the worker's CPU for them all."""
    before = proc_cpu_s(ctx.server.worker_pid(), children=False)
    start = time.perf_counter()
    viewers = await asyncio.gather(*(open_viewer(ctx.server.ws_url, COUNTY, ctx.county_token)
                                     for _ in range(sockets)))
    took = time.perf_counter() - start
    cpu = proc_cpu_s(ctx.server.worker_pid(), children=False) - before
    await close_viewers(viewers)
    await asyncio.sleep(SETTLE_S)  # a tick with nobody watching
    return {"sockets": sockets, "all_ms": took * 1000, "connect_ms": sorted(v.connect_s * 1000 for v in viewers),
            "worker_cpu_ms": cpu * 1000}


async def first_frames(ctx: Context) -> dict[str, Any]:
    """The county's first frame cold (every hall read), then warm, and ``GET /overview`` (always every hall); a
    herd of cold sockets, and one cold socket alone again for its CPU."""
    cold = await open_viewer(ctx.server.ws_url, COUNTY, ctx.county_token)
    warm = [await open_viewer(ctx.server.ws_url, COUNTY, ctx.county_token) for _ in range(3)]
    town = await open_viewer(ctx.server.ws_url, ctx.plan.towns[0], ctx.region_token(ctx.plan.towns[0]))
    await close_viewers([cold, *warm, town])
    gets = []
    for _ in range(3):
        seconds, body = await get_overview(ctx)
        gets.append(seconds)
    await asyncio.sleep(SETTLE_S)
    alone, crowd = await herd(ctx, 1), await herd(ctx, HERD)
    return {"alone": alone, "herd": crowd, "cold_ms": cold.connect_s * 1000,
            "cold_bytes": cold.first_bytes, "halls": len(cold.first["halls"]),
            "warm_ms": [v.connect_s * 1000 for v in warm], "warm_bytes": warm[0].first_bytes,
            "town_ms": town.connect_s * 1000, "town_bytes": town.first_bytes, "town_halls": len(town.first["halls"]),
            "get_ms": [s * 1000 for s in gets], "get_halls": len(body["halls"])}


async def open_windows(client: Http, halls: Sequence[Hall]) -> None:
    turns = asyncio.Semaphore(8)

    async def one(hall: Hall, window: str) -> None:
        async with turns:
            reply = await client.request("POST", f"/api/v1/halls/{hall.spec.id}/windows/{window}/open", hall.auth)
        if reply.status not in (200, 409):
            raise RuntimeError(f"opening window {window} of {hall.spec.id}: {reply.status} {reply.text}")
        hall.windows[window] = "idle"

    await asyncio.gather(*(one(h, str(w)) for h in halls for w in range(1, h.spec.windows + 1)))


async def measure(server: Server, secret: bytes, plan: Layout, args: argparse.Namespace,
                  redis_pid: int | None, work: Path) -> dict[str, Any]:
    rand = random.Random(args.seed)
    figures: dict[str, Any] = {}
    client = Http("127.0.0.1", server.port)
    try:
        halls = [Hall(h, f"Bearer {make_token(secret, h.id, 'manager')}") for h in plan.halls]
        start = time.perf_counter()
        await open_windows(client, halls)
        figures["open_windows_s"] = time.perf_counter() - start
        figures["windows"] = sum(h.windows for h in plan.halls)
        print(f"opened {figures['windows']} windows in {figures['open_windows_s']:.1f} s", flush=True)
        sample_ids = {h.id for h in plan.villages()[:args.sample_halls]}
        samples = [h for h in halls if h.spec.id in sample_ids]
        matcher = Matcher()
        driver = Driver(client, [h for h in halls if h.spec.id not in sample_ids], samples, matcher, rand)
        county_token = make_token(secret, plan.halls[0].id, "manager", region=COUNTY)
        ctx = Context(server, secret, plan, client, driver, matcher, redis_pid, county_token,
                      work if args.profile else None)
        displays = []
        for hall in samples:
            token = make_token(secret, hall.spec.id, "display")
            ws = await connect(f"{server.ws_url}/api/v1/halls/{hall.spec.id}/ws/display?token={token}", proxy=None,
                               max_size=None, open_timeout=60, close_timeout=2, compression=None)
            displays.append((ws, asyncio.create_task(read_display(ws, hall.spec.id, matcher))))
        try:
            figures["first_frame"] = first = await first_frames(ctx)
            print(f"first frame: cold {first['cold_ms']:.0f} ms, {first['cold_bytes']:,} bytes, {first['halls']} "
                  f"halls; warm {', '.join(f'{v:.0f}' for v in first['warm_ms'])} ms; GET /overview "
                  f"{', '.join(f'{v:.0f}' for v in first['get_ms'])} ms", flush=True)
            figures["idle"] = [await idle(ctx, spec, args.idle_seconds) for spec in ("0", "1")]
            print("idle: " + "; ".join(f"{i['viewers']} viewers {i['worker_ms_s']:.1f} ms/s"
                                       for i in figures["idle"]), flush=True)
            figures["phases"] = phases = []
            sample_rate = min(args.sample_rate, min(args.rates) / 4)
            figures["sample_rate"] = sample_rate
            for rate in args.rates:
                for spec in args.viewers:
                    result = await phase(ctx, rate, spec, args.seconds, sample_rate)
                    if spec == "0":
                        result["stale"] = await stale_check(ctx)
                        rounds = [await join_under_load(ctx, rate, JOIN_LOAD_S) for _ in range(args.join_rounds)]
                        result["join_under_load"] = {
                            "rounds": len(rounds), "halls": rounds[0]["halls"],
                            "differ": sum(r["differ"] for r in rounds), "per_round": [r["differ"] for r in rounds],
                            "join_ms": [r["join_ms"] for r in rounds],
                            "examples": [e for r in rounds for e in r["examples"]][:3]}
                    phases.append(result)
                    print(line_of(result), flush=True)
        finally:
            for ws, task in displays:
                task.cancel()
                with contextlib.suppress(Exception):
                    await ws.close()
    finally:
        await client.close()
    return figures


def _f(value: Any, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def line_of(r: dict[str, Any]) -> str:
    over = r.get("overview") or {}
    text = (f"rate {r['rate']:g}/s viewers {r['viewers']}: {r['events_per_s']:.0f} events/s, worker "
            f"{r['worker_ms_s']:.0f} ms/s ({r['worker_us_event']:.0f} µs/event), redis {r['redis_ms_s']:.0f} ms/s; "
            f"display p50/p99 {_f(r['display']['p50'])}/{_f(r['display']['p99'])} ms")
    if over:
        text += (f"; overview p50/p99 {_f(over['p50'])}/{_f(over['p99'])} ms ({over['n']} samples, "
                 f"{r['overview_missing']} missing), {r['frames_per_s']:.2f} frames/s of "
                 f"{_f(r['frame_bytes']['mean'])} bytes")
    for key in ("converged", "stale", "join_under_load"):
        if r.get(key):
            text += f"; {key}: {r[key]['differ']} of {r[key]['halls']} halls differ"
            if key == "join_under_load":
                text += f" (rounds: {r[key]['per_round']})"
    if r["errors"]:
        text += f"; errors {r['errors']}"
    return text


# -- the results file ---------------------------------------------------------------------------------------------
def agreement(who: str, c: dict[str, Any]) -> str:
    """A page's picture against a fresh read, in words."""
    text = (f"{who} {STALE_WAIT_S:g} s after the load, against a fresh `GET /overview`: "
            f"**{c['differ']} of {c['halls']} halls differ** (waiting in total {c['shown_waiting']} shown, "
            f"{c['fresh_waiting']} read; the fresh read agrees with the load's own count in {c['fresh_matches_load']} "
            "halls)")
    return text + (f", e.g. {c['examples']}" if c["examples"] else "")


def baseline(phases: list[dict[str, Any]], rate: float) -> float | None:
    zero = [p["worker_ms_s"] for p in phases if p["rate"] == rate and p["viewers"] == "0"]
    return statistics.mean(zero) if zero else None


def run_summary(f: dict[str, Any]) -> dict[str, Any]:
    """A run in one line of the history: per rate, the worker's CPU by viewer set, the profiled overview share of
    it, the overview's p99 on one county socket, and halls left stale by a join under load."""
    rates: dict[str, Any] = {}
    for p in f["phases"]:
        r = rates.setdefault(f"{p['rate']:g}", {"worker": {}, "profiled": {}, "p99": None, "join_stale": 0})
        zero = baseline(f["phases"], p["rate"])
        r["worker"].setdefault(p["viewers"], round(zero if p["viewers"] == "0" and zero else p["worker_ms_s"]))
        prof = p.get("profile") or {}
        if prof.get("share") is not None and p["viewers"] != "0":
            r["profiled"][p["viewers"]] = round(prof["share"] * p["worker_ms_s"])
        if p["viewers"] == "1" and p.get("overview"):
            r["p99"] = p["overview"]["p99"]
        r["join_stale"] += (p.get("join_under_load") or {}).get("differ", 0)
    return {"at": f["at"], "commit": f["commit"], "halls": f["halls"], "rates": rates}


def history_rows(runs: list[dict[str, Any]]) -> list[str]:
    rows = ["| run | code | halls | rate | worker CPU ms/s by viewers | profiled overview ms/s by viewers | overview "
            "p99 ms (1 socket) | halls stale after a join under load |", "|---|---|---:|---:|---|---|---:|---:|"]
    for run in runs:
        for rate, r in run["rates"].items():
            worker = ", ".join(f"{v}: {ms}" for v, ms in r["worker"].items())
            profiled = ", ".join(f"{v}: {ms}" for v, ms in r["profiled"].items()) or "–"
            rows.append(f"| {run['at']} | {run['commit']} | {run['halls']} | {rate} | {worker} | {profiled} | "
                        f"{_f(r['p99'])} | {r['join_stale']} |")
    return rows


def write_results(path: Path, f: dict[str, Any]) -> None:
    m = f["machine"]
    first = f["first_frame"]
    notes = ""
    history: list[dict[str, Any]] = []
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if NOTES_START in old and NOTES_END in old:
            notes = old.split(NOTES_START, 1)[1].split(NOTES_END, 1)[0].strip("\n")
        with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
            history = json.loads(old.split(HISTORY_MARK, 1)[1].split(" -->", 1)[0])
        with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
            history.append(run_summary(json.loads(old.split(FIGURES_MARK, 1)[1].split(" -->", 1)[0])))
    out = [
        f"# 区域总览 live at {f['halls']} halls: update latency, CPU per event, first frame",
        "",
        "Command (from the repository root):",
        "",
        "```",
        f".venv/bin/{f['command']}",
        "```",
        "",
        f"Run {f['at']} on {m['cpu']}, {m['cores']} cores, {m['ram']} RAM, {m['os']}, Python {m['python']}; "
        f"{m['redis']}; code {f['commit']}. **A shared, noisy VM**: two cores that other people's test runs use "
        f"too (load average {m['load average at start']} at the start); the CPU columns below say how busy the "
        "whole machine was in each phase. `hallq serve --workers 1` pinned to core 0, this load generator to core "
        f"1 ({f['pinning']}), Redis floating.",
        "",
        f"The county: {f['halls']} halls ({f['levels']}) below {f['towns']} towns and {f['villages']} villages "
        f"(network file of {f['regions']} regions), {f['windows']} windows, every hall a file of its own with three "
        f"services and no catalog. Start-up of `hallq serve` with all of them: **{f['startup_s']:.1f} s** "
        f"(worker CPU {f['startup_cpu_s']:.1f} s); opening every window through the API: {f['open_windows_s']:.1f} s.",
        "",
        "## First frame",
        "",
        "| what | ms | bytes | halls |",
        "|---|---:|---:|---:|",
        f"| county socket, the first (every hall read: {first['halls']} snapshots, 16 at a time, and the 差评 "
        "cases) "
        f"| {first['cold_ms']:.0f} | {first['cold_bytes']:,} | {first['halls']} |",
        f"| county socket, warm (the county watched by the first: its lines current), 3 connects | "
        f"{' / '.join(f'{v:.0f}' for v in first['warm_ms'])} | {first['warm_bytes']:,} | {first['halls']} |",
        f"| a town's socket, warm | {first['town_ms']:.0f} | {first['town_bytes']:,} | {first['town_halls']} |",
        f"| `GET /regions/{{county}}/overview` (reads every hall each time), 3 requests | "
        f"{' / '.join(f'{v:.0f}' for v in first['get_ms'])} | | {first['get_halls']} |",
        f"| one county socket while nobody watches (every hall read again); worker CPU "
        f"{first['alone']['worker_cpu_ms']:.0f} ms | {first['alone']['all_ms']:.0f} | | {first['halls']} |",
        f"| {first['herd']['sockets']} county sockets at once while nobody watches, until all have it "
        f"(each: {_f(pct(first['herd']['connect_ms'], 0))}-{_f(max(first['herd']['connect_ms']))} ms); worker CPU "
        f"{first['herd']['worker_cpu_ms']:.0f} ms | {first['herd']['all_ms']:.0f} | | {first['halls']} |",
        "",
        "Connect-to-first-frame at the start of each load phase (sockets connected one after the other, no load "
        "running; the first joins while nobody watches and reads every hall, the others find them watched): "
        + "; ".join(f"rate {p['rate']:g}, {p['viewers']}: first {p['connect_ms'][0]:.0f} ms, the others median "
                    f"{_f(pct(p['connect_ms'][1:], 50))} ms, max {_f(max(p['connect_ms'][1:]))} ms"
                    for p in f["phases"] if len(p["connect_ms"]) > 1) + ".",
        "",
        "## Update latency and CPU under load",
        "",
        f"{f['seconds']:g} s of load per phase. Events are the API actions that succeeded (issue, call-next, start, "
        "finish: one stream event each) at random halls, open loop. *Overview*: from the API reply of an issue or "
        "call-next at a sample hall to the first frame on the first county socket whose line of that hall shows "
        f"the new waiting count; *display*: the same action's `ticket.issued`/`ticket.called` on the hall's lobby "
        f"display socket. {f['sample_halls']} sample halls (village stations, one display socket each, driven by "
        f"the sampler alone: {f['sample_rate']:g} actions/s of the rate). Worker CPU: utime+stime of the serving "
        "process over the load; Δ: against the mean of the phases nobody watched at the same rate. *Profiled*: "
        "with `--profile`, the share of the worker's py-spy samples (running Python, 200 Hz) with "
        "`floor/regions/watch.py` on the stack, and that share of its CPU (a lower bound: the snapshots' replies are "
        "parsed by the Redis connection's reader, outside that stack).",
        "",
        "| rate | viewers (sockets / regions) | events/s | worker CPU ms/s | µs/event | Δ ms/s | Δ µs/event | "
        "Redis ms/s | machine busy (cores) | overview after reply p50 / p90 / p99 ms (n) | display after reply "
        "p50 / p99 ms | display after send p50 / p99 ms | frames/s | frame bytes mean / max | lines/frame | "
        "halls touched/s | profiled: overview % of worker / ≈ ms/s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---|---:|---:|---|",
    ]
    for p in f["phases"]:
        base = baseline(f["phases"], p["rate"])
        watched = p["viewers"] != "0"
        delta = None if base is None or not watched else p["worker_ms_s"] - base
        over = p.get("overview")
        missing = f", {p['overview_missing']} never shown" if p.get("overview_missing") else ""
        overview = "–" if not over else (f"{_f(over['p50'])} / {_f(over['p90'])} / {_f(over['p99'])} "
                                         f"({over['n']}{missing})")
        who = "nobody" if not watched else f"{p['viewers']} ({p['sockets']} / {p['regions']})"
        display, sent = p["display"], p["display_from_send"]
        prof = p.get("profile") or {}
        profiled = "–" if prof.get("share") is None else (f"{prof['share']:.1%} / "
                                                          f"{prof['share'] * p['worker_ms_s']:.0f}")
        out.append(
            f"| {p['rate']:g} | {who} | {p['events_per_s']:.1f} | {p['worker_ms_s']:.0f} | "
            f"{p['worker_us_event']:.0f} | {_f(delta)} | "
            f"{_f(None if delta is None else delta * 1000 / p['events_per_s'])} | "
            f"{p['redis_ms_s']:.0f} | {p['machine_cores']:.2f} | {overview} | {_f(display['p50'])} / "
            f"{_f(display['p99'])} | {_f(sent['p50'], 1)} / {_f(sent['p99'], 1)} | {_f(p.get('frames_per_s'), 2)} | "
            f"{_f((p.get('frame_bytes') or {}).get('mean'))} / {_f((p.get('frame_bytes') or {}).get('max'))} | "
            f"{_f(p.get('lines_per_frame'), 1)} | {_f(p['halls_touched_per_s'])} | {profiled} |")
    idle = "; ".join(f"{'nobody' if i['viewers'] == '0' else i['viewers'] + ' county socket'} watching "
                     f"{i['worker_ms_s']:.1f} ms/s (Redis {i['redis_ms_s']:.1f} ms/s, machine {i['machine_cores']:.2f} "
                     "cores)" for i in f["idle"])
    out += ["", f"No load at all ({f['idle_seconds']:g} s each), the worker: {idle}.", "",
            "Per phase, more: API reply p50/p99 by action; the overview from the reply split by action, and from "
            "the request sent; screens read before the reply was (counted 0 after the reply); the frame's delivery "
            "(its `at`, stamped as the worker renders it, to its reading here); the gap between consecutive frames "
            "(the tick's period plus the tick's own duration); the county sockets' frame counts (min-max: every "
            "socket gets every frame); samples not shown within 5 s; errors.", ""]
    for p in f["phases"]:
        api = ", ".join(f"{op} {_f(v['p50'], 1)}/{_f(v['p99'], 1)}" for op, v in p["api_ms"].items())
        text = f"- rate {p['rate']:g}, {p['viewers']} viewers: API ms {api}"
        if p.get("overview"):
            text += (f"; overview after issue p50/p99 {_f(p['overview_issue']['p50'])}/"
                     f"{_f(p['overview_issue']['p99'])} ms, after call-next {_f(p['overview_call']['p50'])}/"
                     f"{_f(p['overview_call']['p99'])} ms, from the request sent {_f(p['overview_from_send']['p50'])}/"
                     f"{_f(p['overview_from_send']['p99'])} ms, read before the reply {p['overview_early']}; never "
                     f"shown {p['overview_missing']} (of them the socket already showed that count: "
                     f"{p['overview_missing_shown']}); delivery p50/p99 {_f(p['delivery_ms']['p50'], 1)}/"
                     f"{_f(p['delivery_ms']['p99'], 1)} ms; frame gap mean/max {_f(p['frame_gap_ms']['mean'])}/"
                     f"{_f(p['frame_gap_ms']['max'])} ms; frames per county socket {p['frames_per_socket'][0]}-"
                     f"{p['frames_per_socket'][1]}; {p['bytes_per_s_all'] / 1024:,.0f} KiB/s to all sockets")
        if p.get("profile") and p["profile"]["samples"]:
            prof = p["profile"]
            parts = ", ".join(f"{name} {n / prof['samples']:.1%}" for name, n in prof["parts"].items())
            text += (f"; profile: {prof['overview']} of {prof['samples']} worker samples under the overview "
                     f"({prof['share']:.1%}{': ' + parts if parts else ''})")
        text += (f"; display read before the reply {p['display_early']} of {p['display']['n']}; this process "
                 f"{p['client_ms_s']:.0f} ms/s CPU; samples {p['samples']}, not shown within 5 s {p['missing']}, "
                 f"skipped {p['samples_skipped']}; load actions skipped {p['skipped']}; errors {p['errors'] or 'none'}")
        if p.get("converged"):
            text += f". {agreement('The first county socket', p['converged'])}"
        if p.get("stale"):
            text += (f". Stale check (load stopped, nobody watching for {STALE_WAIT_S:g} s, then a county socket): "
                     + agreement("its first frame", p["stale"]))
        if p.get("join_under_load"):
            j = p["join_under_load"]
            text += (f". **Join under load** ({j['rounds']} rounds of {JOIN_LOAD_S:g} s of load at the same rate, a "
                     f"county socket joining halfway while nobody else watched, "
                     f"{' / '.join(f'{v:.0f}' for v in j['join_ms'])} ms to its first frame; its picture "
                     f"{STALE_WAIT_S:g} s after the load against a fresh `GET /overview`): halls that differ, per "
                     f"round: {' / '.join(str(v) for v in j['per_round'])} of {j['halls']}"
                     + (f", e.g. {j['examples']}" if j["examples"] else ""))
        out.append(text + ".")
    problems = f.get("server_log_problems") or []
    out += ["", f"Server log problems: {'; '.join(problems) if problems else 'none'}.", "",
            "## What it means", "", NOTES_START, notes or "(notes by hand go here; a new run keeps them)", NOTES_END,
            ""]
    if history:
        out += ["## Earlier runs", "", "Each run's figures in one line per rate (the newest run is the one above).",
                "", *history_rows(history), ""]
    out += [f"{HISTORY_MARK}{json.dumps(history, ensure_ascii=False, default=str)} -->",
            f"{FIGURES_MARK}{json.dumps(f, ensure_ascii=False, default=str)} -->", ""]
    path.write_text("\n".join(out), encoding="utf-8")
    print(f"wrote {path}")


# -- main ----------------------------------------------------------------------------------------------------------
def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--halls", type=int, default=500)
    parser.add_argument("--towns", type=int, default=25)
    parser.add_argument("--seconds", type=float, default=30.0, help="load per phase")
    parser.add_argument("--rates", default="50,200", help="events/s over every hall, comma-separated")
    parser.add_argument("--viewers", default="0,1,10,50,towns,regions,0",
                        help="viewer sets, one phase each per rate: a number of county sockets; towns (the county "
                             "and each town); regions (every region of the county, villages too)")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="no load, nobody / one viewer")
    parser.add_argument("--join-rounds", type=int, default=JOIN_ROUNDS,
                        help="joins under load after each phase nobody watched")
    parser.add_argument("--sample-halls", type=int, default=50)
    parser.add_argument("--sample-rate", type=float, default=10.0, help="actions/s of the sampler (of the rate)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--start-timeout", type=float, default=900.0)
    parser.add_argument("--no-pin", action="store_true", help="leave the server and this process unpinned")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--json", type=Path, help="every figure, as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (hall files, server log)")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy on the worker in each load phase: the overview's share of its CPU")
    args = parser.parse_args(argv)
    args.rates = [float(r) for r in str(args.rates).split(",") if r]
    args.viewers = [v.strip() for v in str(args.viewers).split(",") if v.strip()]
    for v in args.viewers:
        if v not in ("towns", "regions") and not v.isdigit():
            parser.error(f"--viewers: {v!r} is neither a number nor towns or regions")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    raise_fd_limit()
    plan = layout(args.halls, args.towns)
    args.sample_halls = min(args.sample_halls, len(plan.villages()))
    if args.sample_halls < 1:
        raise SystemExit("no village station to sample: use more halls")
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2
    machine = describe(REDIS_URL)
    machine.pop("locust", None)
    if pin:
        os.sched_setaffinity(0, {1})
    work = Path(tempfile.mkdtemp(prefix="hallq-region-overview-"))
    prefix = f"hqbench-ov-{uuid.uuid4().hex[:8]}"
    secret = secrets.token_hex(16)
    network, paths = write_files(work / "halls", plan)
    env = {**clean_env(), "HALLQ_HOME": str(work), "HALLQ_KEY_PREFIX": prefix, "HALLQ_SECRET": secret,
           "HALLQ_REDIS_URL": REDIS_URL, "HALLQ_HALLS": os.pathsep.join(str(p) for p in paths),
           "HALLQ_NETWORK": str(network), "HALLQ_DATABASE_URL": f"sqlite:///{work / 'hallq.db'}",
           "HALLQ_KIOSK_LIMIT": "0", "PYTHONUNBUFFERED": "1"}
    redis_client = redis_pkg.Redis.from_url(REDIS_URL)
    redis_pid: int | None = None
    with contextlib.suppress(redis_pkg.RedisError, KeyError, ValueError):
        redis_pid = int(redis_client.info("server")["process_id"])
        if not Path(f"/proc/{redis_pid}").exists():
            redis_pid = None  # another machine's (or container's) Redis: its CPU is not ours to read
    figures: dict[str, Any] = {
        "halls": args.halls, "towns": len(plan.towns),
        "villages": sum(1 for r in plan.regions if r["kind"] == "village"),
        "regions": len(plan.regions), "levels": ", ".join(f"{n} {lvl}" for lvl, n in Counter(
            h.level for h in plan.halls).items()),
        "seconds": args.seconds, "idle_seconds": args.idle_seconds, "sample_halls": args.sample_halls,
        "machine": machine, "commit": git_commit(ROOT),
        "pinning": "pinned" if pin else "not pinned", "at": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "command": " ".join(["python -m loadtest.region_overview", *(argv if argv is not None else sys.argv[1:])])}
    print(f"[region-overview] {args.halls} halls in {work}; starting hallq serve (prefix {prefix})", flush=True)
    server: Server | None = None
    try:
        server, figures["startup_s"] = start_server(work, env, "0" if pin else None, args.start_timeout)
        figures["startup_cpu_s"] = proc_cpu_s(server.worker_pid(), children=False)
        print(f"hallq serve up in {figures['startup_s']:.1f} s", flush=True)
        figures.update(asyncio.run(measure(server, secret.encode(), plan, args, redis_pid, work)))
    finally:
        if server is not None:
            server.stop()
            figures["server_log_problems"] = server_log_problems(server.log())
        delete_prefix(redis_client, prefix)
        redis_client.close()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    write_results(args.out, figures)
    failed = sum(sum(p["errors"].values()) for p in figures["phases"])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
