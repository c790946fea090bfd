"""The locustfile of the hallq load suite: who uses a hall, and how their experience is measured.

Never import this module outside Locust: importing locust monkey-patches the standard library with gevent.
``loadtest.run`` starts Locust on it as a subprocess, with the plan (``loadtest.plan.Plan``) as JSON in
``HALLQ_LOAD_PLAN`` and the server's token secret in ``HALLQ_LOAD_SECRET``.

Users of a hall:
- ``Guide`` and ``Kiosk`` take numbers, at a fixed rate or replaying a synthetic day.
- ``Window``: staff at one window each, looping call-next -> (walk-up) -> start -> handling -> finish, with the
  workload's handling times divided by the plan's time scale; sometimes the citizen does not come (no-show).
- ``Display``: a lobby screen on ``/ws/display``; ``Phone``: a citizen who takes a number and follows it on
  ``/ws/ticket/{id}`` until it is done. Both report, for every call, the time from the call-next response to
  their receipt as request type ``WS`` named ``call-to-screen display`` / ``call-to-screen phone``, pairing the
  two by the number and window called (``loadtest.calls.call_key``): neither feed carries the ticket id.
- ``Manager``: polls the snapshot.
Floors (``loadtest.floors``): ``JsonFloor`` hits ``GET /json``; ``FloorTrigger`` and ``FloorScreen`` measure a raw
broadcast exactly as ``Window`` and ``Display`` measure hallq.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import gevent
import orjson
import websocket
from gevent.event import AsyncResult, Event
from locust import FastHttpUser, User, between, constant, constant_throughput, events, task
from locust.runners import STATE_CLEANUP, STATE_STOPPED, STATE_STOPPING, MasterRunner

from floor.cli import KEEP_ALIVE_S as SERVER_KEEP_ALIVE_S
from floor.http.auth import make_token
from loadtest.calls import LOOP_LAG, CallClock, Samples, call_key
from loadtest.plan import (
    SECRET_ENV,
    Plan,
    Visit,
    day_schedule,
    global_index,
    hall_of,
    handling_s,
    pick_priority,
    pick_service,
    walk_up_s,
    window_of,
)
from loadtest.wsframes import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, FrameReader, client_frame

PLAN = Plan.from_env()
SECRET = os.environ[SECRET_ENV].encode()
CONNECT_TIMEOUT_S = 30.0
# hallq sends a heartbeat every 15 s: three missed ones mean a dead socket. The floor sends none.
HALLQ_READ_TIMEOUT_S = 50.0
CALLED_MARK = b'"ticket.called"'
EVENT_ID_MARK = b'"event_id":"'
DONE_MARKS = (b'"status":"done"', b'"status":"missed"', b'"status":"cancelled"')

CLOCK = CallClock()
SAMPLES = Samples()
GATE = Event()  # open once spawning completes (plans with gate_on_spawn), else at test start
_counters: dict[str, itertools.count[int]] = {}
# t0: when the load began (the gate); measuring: when the measured window began (after any warm-up)
_state: dict[str, float] = {"t0": 0.0, "measuring": 0.0, "connecting": 0}
live: dict[str, int] = {}  # open websockets by kind (display, phone, floor)
_visits: dict[str, deque[Visit]] = {}
_env: Any = None


def _init(environment: Any, **_: Any) -> None:
    global _env
    _env = environment


# -- process-wide plumbing ---------------------------------------------------------------------
def _test_start(environment: Any, **_: Any) -> None:
    _state["t0"] = _state["measuring"] = time.perf_counter()
    if not PLAN.gate_on_spawn:
        GATE.set()


def _spawned(user_count: int, **_: Any) -> None:
    if PLAN.gate_on_spawn and not GATE.is_set():
        gevent.spawn(_open_gate)
    if not _state.get("watching"):
        _state["watching"] = 1
        gevent.spawn(_watch_lag)


def _open_gate(limit_s: float = 60.0) -> None:
    # Every user has started, but the last screens may still be in their handshake: wait for them too.
    deadline = time.perf_counter() + limit_s
    while _state["connecting"] > 0 and time.perf_counter() < deadline:
        gevent.sleep(0.1)
    SAMPLES.reset()  # Locust has reset its stats at spawning_complete too (--reset-stats)
    _state["t0"] = _state["measuring"] = time.perf_counter()
    GATE.set()
    if PLAN.warmup_s > 0:
        gevent.spawn_later(PLAN.warmup_s, _end_warmup)


def _end_warmup() -> None:
    """The load has settled (queues formed, windows busy): from here on it is measured."""
    if _env is not None:
        _flush(_env)  # screen receipts of the warm-up still waiting to be logged belong to it
    SAMPLES.end_warmup()
    _state["measuring"] = time.perf_counter()


def _watch_lag(every_s: float = 0.005) -> None:
    """How late this process wakes from a short sleep: every response it reads waits at least that long, so
    its figures include its own delays, which the report sets beside the server's."""
    while True:
        asked = time.perf_counter()
        gevent.sleep(every_s)
        SAMPLES.add(LOOP_LAG, max(0.0, (time.perf_counter() - asked - every_s) * 1000))


def _sample(name: str, response_time: float, exception: BaseException | None, **_: Any) -> None:
    if exception is None:
        SAMPLES.add(name, response_time)


def _dump(environment: Any, **_: Any) -> None:
    if PLAN.samples_dir and not isinstance(environment.runner, MasterRunner):
        _flush(environment)
        SAMPLES.dump(Path(PLAN.samples_dir) / f"samples-{os.getpid()}.json",
                     time.perf_counter() - _state["measuring"])


def claim(user: User, kind: str) -> int:
    """This user's index among all users of ``kind`` over every Locust process."""
    local = next(_counters.setdefault(kind, itertools.count()))
    return global_index(local, getattr(user.environment.runner, "worker_index", 0), PLAN.processes)


def elapsed_s() -> float:
    return time.perf_counter() - _state["t0"]


def issuing_over() -> bool:
    return PLAN.issue_for_s is not None and elapsed_s() > PLAN.issue_for_s


def stopping(user: User) -> bool:
    runner = user.environment.runner
    return runner is None or runner.state in (STATE_STOPPING, STATE_STOPPED, STATE_CLEANUP)


def report(user: User, name: str, ms: float, length: int, exception: BaseException | None = None) -> None:
    user.environment.events.request.fire(request_type="WS", name=name, response_time=ms, response_length=length,
                                         exception=exception, context={})


# Screen receipts waiting to be handed to Locust's statistics. A call reaches every screen of a hall at once and
# this process reads them one after the other: logging each into the stats in line would put that bookkeeping
# into the latency of every screen read after it. The receipt time is taken at the read; the rest can wait.
_pending: list[tuple[str, float, int]] = []
FLUSH_EVERY_S = 0.05


def report_later(name: str, ms: float, length: int) -> None:
    _pending.append((name, ms, length))


def _flush(environment: Any) -> None:
    batch = _pending[:]
    del _pending[:]
    fire = environment.events.request.fire
    for name, ms, length in batch:
        fire(request_type="WS", name=name, response_time=ms, response_length=length, exception=None, context={})


def _flush_forever(environment: Any) -> None:
    while True:
        gevent.sleep(FLUSH_EVERY_S)
        if _pending:
            _flush(environment)


def _start_flusher(environment: Any, **_: Any) -> None:
    if not isinstance(environment.runner, MasterRunner):
        gevent.spawn(_flush_forever, environment)


def report_early(user: User, receipts: list[tuple[str, int]]) -> None:
    # Screens that read the call before the window read its response: 0 ms (see loadtest.calls).
    for name, length in receipts:
        SAMPLES.count(f"early {name}")
        report(user, name, 0.0, length)


def stagger(user: Any, within_s: float) -> None:
    """Before a user's first action: a random pause, so that users started together (or released together by
    the gate) do not all act in the same millisecond, which no hall's staff and citizens do."""
    if not getattr(user, "_staggered", False):
        user._staggered = True
        gevent.sleep(random.uniform(0, within_s))


def headers(hall: str, role: str, window: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(SECRET, hall, role, window)}"}


def listen(hook: Any, handler: Callable[..., None]) -> None:
    hook.add_listener(handler)  # through Any: locust's EventHook.add_listener is untyped


listen(events.init, _init)
listen(events.test_start, _test_start)
listen(events.spawning_complete, _spawned)
listen(events.request, _sample)
listen(events.test_stop, _dump)
listen(events.test_start, _start_flusher)


# -- screens -------------------------------------------------------------------------------------
CallOf = Callable[[dict[str, Any]], str]  # a screen's call message -> the call it is (the window's ``call_key``)


def hallq_call(hall: str) -> CallOf:
    """A hallq screen's call: a display or phone is told the number and the window, never the ticket id."""
    return lambda message: call_key(hall, str(message.get("number")), str(message.get("window")))


class ScreenFeed:
    """One websocket of a screen: connects, reads every frame cheaply, reports calls, reconnects on a drop."""

    def __init__(self, user: User, kind: str, url: Callable[[str | None], str], call_of: CallOf, *, resume: bool,
                 read_timeout_s: float | None) -> None:
        self.user, self.kind, self.url, self.resume, self.read_timeout_s = user, kind, url, resume, read_timeout_s
        self.call_of = call_of
        self.name = f"call-to-screen {kind}"
        self.last_id: str | None = None
        self.ws: Any = None

    def connect(self) -> None:
        _state["connecting"] += 1
        try:
            self._connect()
        finally:
            _state["connecting"] -= 1

    def _connect(self) -> None:
        while True:
            started = time.perf_counter()
            try:
                self.ws = websocket.create_connection(self.url(self.last_id), timeout=CONNECT_TIMEOUT_S,
                                                      skip_utf8_validation=True, enable_multithread=False)
            except Exception as exc:
                report(self.user, f"ws connect {self.kind}", (time.perf_counter() - started) * 1000, 0, exc)
                gevent.sleep(1.0)
                continue
            report(self.user, f"ws connect {self.kind}", (time.perf_counter() - started) * 1000, 0)
            live[self.kind] = live.get(self.kind, 0) + 1
            SAMPLES.peak(f"peak live {self.kind}", live[self.kind])
            return

    def close(self) -> None:
        if self.ws is not None:
            live[self.kind] -= 1
            with contextlib.suppress(Exception):  # already gone
                self.ws.sock.close()
            self.ws = None

    def follow(self, until: Callable[[bytes], bool] | None = None) -> None:
        """Read until ``until(message)`` is true (never, without one), reconnecting after drops."""
        while True:
            if self.ws is None:
                self.connect()
            outcome = self._watch(until)
            if outcome is None:
                return
            self.close()
            if stopping(self.user):
                return
            report(self.user, f"ws drop {self.kind}", 0.0, 0, outcome)

    def _watch(self, until: Callable[[bytes], bool] | None) -> BaseException | None:
        """Read the socket from a libev watcher's callback until the feed ends: None when ``until`` said so, else
        why the socket is gone.

        Why a callback and not ``recv`` in this greenlet: a callback runs in gevent's hub without switching
        greenlets, which makes a read of one message about 40% cheaper; with thousands of screens reading every
        call, that is the difference between measuring the server and measuring this process' queue.
        """
        fd = self.ws.sock.fileno()  # gevent keeps the descriptor non-blocking underneath
        reader, clock, name, msgs, call_of = FrameReader(), CLOCK, self.name, f"messages {self.kind}", self.call_of
        ended: AsyncResult = AsyncResult()
        last_read = [time.perf_counter()]

        def on_readable() -> None:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return
            except OSError as exc:
                ended.set(exc)
                return
            now = last_read[0] = time.perf_counter()
            if not data:
                ended.set(ConnectionError("the server closed the connection"))
                return
            frames = reader.feed(data)
            SAMPLES.count(msgs, len(frames))
            for frame in frames:
                payload = frame.payload
                if frame.opcode == OP_TEXT:
                    if CALLED_MARK in payload:
                        ms = clock.screen_read(call_of(orjson.loads(payload)), now, name, len(payload))
                        if ms is not None:
                            report_later(name, ms, len(payload))
                    if self.resume:
                        at = payload.find(EVENT_ID_MARK)
                        if at >= 0:
                            begin = at + len(EVENT_ID_MARK)
                            self.last_id = payload[begin:payload.index(b'"', begin)].decode()
                    if until is not None and until(payload):
                        ended.set(True)
                        return
                elif frame.opcode == OP_PING:
                    os.write(fd, client_frame(OP_PONG, payload))  # a few bytes: never blocks in practice
                elif frame.opcode == OP_CLOSE:
                    code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                    SAMPLES.count(f"closed {code} {self.kind}")
                    ended.set(ConnectionError(f"the server closed the websocket with code {code}"))
                    return

        watcher = gevent.get_hub().loop.io(fd, 1)
        watcher.start(on_readable)
        try:
            while not ended.ready():
                ended.wait(timeout=5.0)
                silent_s = time.perf_counter() - last_read[0]
                if not ended.ready() and self.read_timeout_s is not None and silent_s > self.read_timeout_s:
                    return TimeoutError(f"nothing read for {silent_s:.0f} s")
            return None if ended.value is True else cast(BaseException, ended.value)
        finally:
            watcher.stop()
            watcher.close()


def ws_base(host: str | None) -> str:
    return "ws" + (host or "").removeprefix("http")


class Display(User):
    """A lobby screen: follows every event of its hall for the whole run."""

    fixed_count = PLAN.counts.get("Display", 0)
    wait_time = constant(0)

    def on_start(self) -> None:
        self.hall = hall_of(claim(self, "Display"), PLAN)
        token = make_token(SECRET, self.hall, "display")
        base = f"{ws_base(self.host)}/api/v1/halls/{self.hall}/ws/display?token={token}"
        self.feed = ScreenFeed(self, "display", lambda since: base + (f"&since={since}" if since else ""),
                               hallq_call(self.hall), resume=True, read_timeout_s=HALLQ_READ_TIMEOUT_S)
        self.feed.connect()

    def on_stop(self) -> None:
        self.feed.close()

    @task
    def watch(self) -> None:
        self.feed.follow()


# -- HTTP users ----------------------------------------------------------------------------------
def ok(response: Any) -> bool:
    return 200 <= (response.status_code or 0) < 300


KEEP_ALIVE_S = SERVER_KEEP_ALIVE_S - 1  # close before the server does: a request never meets a connection it closed


class HallqHttpUser(FastHttpUser):
    """A FastHttpUser that opens a new connection after 4 s without a request.

    A window is idle longer than uvicorn's 5 s keep-alive while it serves a citizen. A request sent on such a
    connection at the moment the server closes it fails ("connection closed"), and a POST is never retried;
    browsers avoid this race by retrying on a fresh socket. Dropping the idle connection first avoids it
    without ever sending a POST twice.
    """

    abstract = True

    def fresh(self) -> Any:
        now = time.monotonic()
        if now - getattr(self, "_last_request", now) >= KEEP_ALIVE_S:
            self.client.client.clientpool.close()
        self._last_request = now
        return self.client


class Window(HallqHttpUser):
    """Staff at one window: call, wait for the citizen, serve, finish; poll briefly when nobody waits."""

    fixed_count = PLAN.counts.get("Window", 0)
    wait_time = constant(0)

    def on_start(self) -> None:
        self.rng = random.Random()
        slot = window_of(claim(self, "Window"), PLAN)
        self.slot = slot
        if slot is None:
            return
        hall, window = slot
        self.base = f"/api/v1/halls/{hall}/windows/{window}"
        self.auth = headers(hall, "staff", window)
        with self.client.post(f"{self.base}/open", headers=self.auth, name="POST /windows/{w}/open",
                              catch_response=True) as r:
            if r.status_code == 409 and b"window_already_open" in (r.content or b""):
                r.success()  # the runner opened every window before the load began

    def recover(self) -> None:
        """The window still holds a ticket this user lost track of (an earlier request failed after the server
        had acted): finish or release it, or every later call-next would be refused too. The failure that caused
        it is already counted."""
        r = self.fresh().get(self.base, headers=self.auth, name="GET /windows/{w} (recovery)")
        state = orjson.loads(r.content).get("state") if ok(r) else None
        if state == "calling":
            self.post("no-show")
        elif state == "serving":
            self.post("finish", {"outcome": "done"})

    def post(self, op: str, body: Any = None) -> Any:
        return self.fresh().post(f"{self.base}/{op}", headers=self.auth, json=body, name=f"POST /windows/{{w}}/{op}")

    @task
    def serve_next(self) -> None:
        if self.slot is None:
            gevent.sleep(60)  # more window users than windows: nothing to do
            return
        GATE.wait()
        stagger(self, 1.0)
        r = self.post("call-next")
        now = time.perf_counter()
        if not ok(r):
            if r.status_code == 409 and b"window_busy" in (r.content or b""):
                self.recover()
            gevent.sleep(0.5)
            return
        ticket = orjson.loads(r.content)["ticket"]
        if ticket is None:
            gevent.sleep(self.rng.uniform(0.2, 0.5))
            return
        report_early(self, CLOCK.call_read(call_key(self.slot[0], ticket["number"], ticket["window"]), now))
        SAMPLES.count("calls")
        gevent.sleep(walk_up_s(self.rng, PLAN.time_scale))
        if self.rng.random() < PLAN.no_show:
            self.post("no-show")
            return
        if ok(self.post("start")):
            gevent.sleep(handling_s(self.rng, ticket["service"], PLAN.time_scale))
            self.post("finish", {"outcome": "done"})


def throughput(total_rate: float, *classes: str) -> Any:
    """Each user's share of a rate that all users of ``classes`` make together."""
    users = sum(PLAN.counts.get(c, 0) for c in classes)
    return constant_throughput(total_rate / users) if users and total_rate > 0 else constant(1)


_ISSUERS = PLAN.counts.get("Guide", 0) + PLAN.counts.get("Kiosk", 0)
ISSUE_RATE_PER_USER = PLAN.issue_rate / _ISSUERS if _ISSUERS else 0.0


def _issuer_wait() -> Any:
    # A replayed day says itself when each ticket is due.
    return constant(0) if PLAN.day_tickets else throughput(PLAN.issue_rate, "Guide", "Kiosk")


def _next_visit(channel_kind: str) -> Visit | None:
    queue = _visits.get(channel_kind)
    if queue is None:
        # This process' share of the day, split by who issues it: kiosk tickets at kiosks, the rest (walk-ins at
        # the guide desk, appointments) at the guide desk.
        day = day_schedule(PLAN, getattr(getattr(_env, "runner", None), "worker_index", 0))
        _visits["kiosk"] = deque(v for v in day if v.channel == "kiosk")
        _visits["guide"] = deque(v for v in day if v.channel != "kiosk")
        queue = _visits[channel_kind]
    return queue.popleft() if queue else None


class Issuer(HallqHttpUser):
    abstract = True
    role = "guide"

    def on_start(self) -> None:
        self.rng = random.Random()
        self.auths = {hall: headers(hall, self.role) for hall in PLAN.halls}
        self.issued = 0

    @task
    def issue(self) -> None:
        GATE.wait()
        if not PLAN.day_tickets:
            stagger(self, 1.0 / ISSUE_RATE_PER_USER if ISSUE_RATE_PER_USER > 0 else 1.0)
        hall = self.rng.choice(PLAN.halls)
        channel, priority = self.role, pick_priority(self.rng) if self.role == "guide" else None
        if PLAN.day_tickets:
            visit = _next_visit(self.role)
            if visit is None:
                gevent.sleep(3600)  # the day is over
                return
            gevent.sleep(max(0.0, visit.due_s - elapsed_s()))
            service = visit.service
            if self.role == "guide":
                channel, priority = visit.channel, visit.priority
        else:
            if issuing_over():
                gevent.sleep(1.0)
                return
            service = pick_service(self.rng)
        extra = {"Idempotency-Key": uuid.uuid4().hex} if self.role == "guide" else {}
        self.fresh().post(f"/api/v1/halls/{hall}/tickets", headers={**self.auths[hall], **extra},
                         json={"service": service, "channel": channel, "priority": priority}, name="POST /tickets")


class Guide(Issuer):
    """The guide desk: any channel, priorities (green channel, VIP) at the workload's rates, an Idempotency-Key."""

    fixed_count = PLAN.counts.get("Guide", 0)
    wait_time = _issuer_wait()
    role = "guide"


class Kiosk(Issuer):
    fixed_count = PLAN.counts.get("Kiosk", 0)
    wait_time = _issuer_wait()
    role = "kiosk"


class Phone(HallqHttpUser):
    """A citizen: takes a number at a kiosk and follows it on the phone page until it is done, then again."""

    fixed_count = PLAN.counts.get("Phone", 0)
    wait_time = constant(0)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.hall = hall_of(claim(self, "Phone"), PLAN)
        self.auth = headers(self.hall, "kiosk")

    @task
    def visit(self) -> None:
        GATE.wait()
        stagger(self, 2.0)
        if issuing_over():
            gevent.sleep(1.0)
            return
        r = self.fresh().post(f"/api/v1/halls/{self.hall}/tickets", headers=self.auth, name="POST /tickets",
                             json={"service": pick_service(self.rng), "channel": "kiosk"})
        if not ok(r):
            gevent.sleep(1.0)
            return
        url = f"{ws_base(self.host)}/api/v1/halls/{self.hall}/ws/ticket/{orjson.loads(r.content)['id']}"
        feed = ScreenFeed(self, "phone", lambda _since: url, hallq_call(self.hall), resume=False,
                          read_timeout_s=HALLQ_READ_TIMEOUT_S)
        try:
            feed.connect()
            feed.follow(until=lambda m: b'"ticket.status"' in m and any(d in m for d in DONE_MARKS))
        finally:
            feed.close()


class Manager(HallqHttpUser):
    fixed_count = PLAN.counts.get("Manager", 0)
    wait_time = between(*PLAN.manager_every_s)

    def on_start(self) -> None:
        self.hall = hall_of(claim(self, "Manager"), PLAN)
        self.auth = headers(self.hall, "manager")

    @task
    def snapshot(self) -> None:
        GATE.wait()
        stagger(self, PLAN.manager_every_s[1])
        self.fresh().get(f"/api/v1/halls/{self.hall}/snapshot", headers=self.auth, name="GET /snapshot")


# -- floors ----------------------------------------------------------------------------------------
class JsonFloor(FastHttpUser):
    fixed_count = PLAN.counts.get("JsonFloor", 0)
    wait_time = throughput(PLAN.floor.json_rate, "JsonFloor")

    @task
    def get_json(self) -> None:
        self.client.get("/json", name="GET /json (floor)")


class FloorScreen(User):
    """A screen of the broadcast floor: the same reader and measure as ``Display``."""

    fixed_count = PLAN.counts.get("FloorScreen", 0)
    wait_time = constant(0)

    def on_start(self) -> None:
        index = claim(self, "FloorScreen")
        ports, group = PLAN.floor.ports, index % PLAN.floor.groups
        url = f"ws://127.0.0.1:{ports[index % len(ports)]}/ws/{group}"
        # The floor's message carries its trigger's id, which the trigger records as the call.
        self.feed = ScreenFeed(self, "floor", lambda _since: url, lambda message: str(message.get("ticket")),
                               resume=False, read_timeout_s=None)
        self.feed.connect()

    def on_stop(self) -> None:
        self.feed.close()

    @task
    def watch(self) -> None:
        self.feed.follow()


class FloorTrigger(FastHttpUser):
    """Stands for the windows: each trigger is an event of one group (hall); a share of them are calls."""

    fixed_count = PLAN.counts.get("FloorTrigger", 0)
    wait_time = throughput(PLAN.floor.trigger_rate, "FloorTrigger")

    def on_start(self) -> None:
        self.rng = random.Random()
        self.seq = itertools.count()
        runner = self.environment.runner
        worker = getattr(runner, "worker_index", 0)
        # Triggers go to the groups whose screens live in this process, where their receipts can be matched.
        mine = [g for g in range(PLAN.floor.groups) if g % max(PLAN.processes, 1) == worker]
        self.groups = mine or list(range(PLAN.floor.groups))
        self.tag = f"{os.getpid()}-{id(self) & 0xFFFF:x}"

    @task
    def trigger(self) -> None:
        GATE.wait()
        group = self.rng.choice(self.groups)
        call = self.rng.random() < PLAN.floor.call_share
        seq = next(self.seq)
        for port in PLAN.floor.ports:
            event_id = f"{self.tag}-{seq}-{port}"
            r = self.client.get(f"http://127.0.0.1:{port}/trigger?g={group}&id={event_id}&call={int(call)}",
                                name="GET /trigger (floor)")
            now = time.perf_counter()
            if call and ok(r):
                report_early(self, CLOCK.call_read(event_id, now))
