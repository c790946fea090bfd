"""Run one load scenario headless against a freshly started server, measure the floors, write the results.

    .venv/bin/python -m loadtest.run <scenario> [--workers N] [--duration S] [--smoke] [--profile]
                                                [--no-floors] [--out FILE] [--json FILE] [--keep]

Scenarios: see ``loadtest/scenarios.py`` (``--list``). Steps:

1. A temporary HALLQ_HOME with its own SQLite file, Redis key prefix and secret; hall files for the scenario.
2. ``hallq serve --workers N`` pinned to core 0 (one worker; with more, the server gets every core), started
   and awaited on /healthz; every window opened, so every service has an open window before the first ticket.
3. Locust headless on ``loadtest/users.py``, pinned to core 1, with the plan in its environment; with
   ``--profile``, py-spy records the server meanwhile.
4. The server stopped (SIGTERM) and the prefix's keys deleted; then the floors at the same load, each against
   its own fresh server with the same workers and pinning: a bare Starlette JSON endpoint and a raw websockets
   broadcast (``loadtest/floors.py``).
5. ``loadtest/results/<scenario>.md`` (``--profile``: ``<scenario>-profile.md`` and a flame graph; ``--smoke``:
   only where ``--out`` says), the figures printed too. Exit status 1 on any failure; timing targets are
   reported, never enforced.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import resource
import secrets
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis as redis_pkg

from floor.http import timings
from floor.http.auth import make_token
from queue_engine.keys import HallKeys

from . import pyspy
from .calls import merge_samples
from .load_halls import hall_id, write_halls
from .load_report import Report, Run, as_json, previous_summaries, read_run, timeline
from .machine import CpuMeter, describe, git_commit
from .plan import PLAN_ENV, SECRET_ENV, FloorPlan, Plan, users_for_rate
from .scenarios import SCENARIOS, Scenario, smoke, with_duration

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "loadtest" / "results"
VENV_BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("HALLQ_REDIS_URL", "redis://127.0.0.1:6379/0")
START_TIMEOUT_S = 180.0  # 200 halls are prepared one by one at start-up
STOP_TIMEOUT_S = 15.0
FLOOR_S = 60.0  # how long each floor is measured (at most the scenario's own measured time)
PER_USER_RPS = 20.0  # HTTP floor users each make at most this many requests per second
NOISY_CORES = 0.25  # other people's CPU use above which a run is marked noisy in its history line


def log(message: str) -> None:
    print(f"[load] {message}", flush=True)


def free_port(count: int = 1) -> int:
    """A port such that it and the ``count - 1`` after it are free now."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if port + count < 65535 and all(_free(port + i) for i in range(count)):
            return port
    raise RuntimeError("no free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def raise_fd_limit() -> int:
    """Every socket is a file descriptor, in Locust and in the server: take the hard limit (children inherit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def pinned(cmd: list[str], cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus, *cmd] if cpus and shutil.which("taskset") else cmd


# -- servers ---------------------------------------------------------------------------------------
@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    out: Path
    err: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.err.read_text(encoding="utf-8", errors="replace") + self.out.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)  # the group we started
                self.process.wait(timeout=STOP_TIMEOUT_S)


def start_server(name: str, cmd: list[str], port: int, home: Path, env: dict[str, str],
                 ready: Callable[[Server, httpx.Client], bool]) -> Server:
    out, err = home / f"{name}.out", home / f"{name}.err"
    with out.open("wb") as o, err.open("wb") as e:
        process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=o, stderr=e, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    server = Server(name, process, port, out, err)
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode} at start:\n{server.log_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if ready(server, client):
                    return server
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"{name} did not come up in {START_TIMEOUT_S:.0f} s:\n{server.log_text()[-3000:]}")
            time.sleep(0.1)


def workers_up(path: str, workers: int) -> Callable[[Server, httpx.Client], bool]:
    def ready(server: Server, client: httpx.Client) -> bool:
        # Every worker has said so, or a first answer from one worker would let the load start half-served.
        started = server.err.read_text(errors="replace").count("Application startup complete")
        return started >= workers and client.get(server.base_url + path).status_code == 200

    return ready


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("HALLQ_", "LOCUST_"))}


# -- Locust ----------------------------------------------------------------------------------------
@dataclass
class LocustJob:
    label: str
    plan: Plan
    secret: str
    host: str
    users: int
    spawn_rate: float
    duration_s: float
    cpus: str | None
    work: Path
    reset_stats: bool


def run_locust(job: LocustJob, on_start: Callable[[subprocess.Popen[bytes]], None] | None = None
               ) -> tuple[Run, float]:
    """Run Locust to the end; (its results, its CPU seconds)."""
    samples_dir = job.work / f"{job.label}-samples"
    samples_dir.mkdir(parents=True, exist_ok=True)
    plan = replace(job.plan, samples_dir=str(samples_dir))
    csv_prefix = job.work / f"{job.label}"
    classes = [name for name, n in plan.counts.items() if n > 0]
    cmd = [str(VENV_BIN / "locust"), "-f", str(ROOT / "loadtest" / "users.py"), "--headless",
           "-u", str(job.users), "-r", f"{job.spawn_rate:g}", "-t", f"{math.ceil(job.duration_s)}s",
           "--host", job.host, "--csv", str(csv_prefix), "--only-summary", "--exit-code-on-error", "1",
           "--stop-timeout", "0", "--loglevel", "WARNING", "--csv-full-history"]
    if plan.processes > 1:
        cmd += ["--processes", str(plan.processes)]
    if job.reset_stats:
        cmd.append("--reset-stats")
    cmd += classes
    env = {**clean_env(), PLAN_ENV: plan.to_json(), SECRET_ENV: job.secret, "PYTHONUNBUFFERED": "1"}
    out, err = job.work / f"{job.label}-locust.out", job.work / f"{job.label}-locust.err"
    log(f"{job.label}: locust, {job.users:,} users for {job.duration_s:.0f} s")
    with out.open("wb") as o, err.open("wb") as e:
        process = subprocess.Popen(pinned(cmd, job.cpus), cwd=ROOT, env=env, stdout=o, stderr=e,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        meter = TreeSampler(process.pid)
        if on_start is not None:
            on_start(process)
        try:
            code = process.wait(timeout=job.duration_s + 180)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            code = process.wait()
            log(f"{job.label}: locust did not stop in time and was killed")
        # With --processes the master can exit before its workers have written their samples: wait for the group.
        wait_group_gone(process.pid, 60.0)
    cpu_s = meter.stop()
    merged = merge_samples(sorted(samples_dir.glob("samples-*.json")))
    measured = merged.elapsed_s or job.duration_s
    command = shlex.join(pinned(cmd, job.cpus)).replace(str(ROOT) + "/", "")
    run = read_run(job.label, csv_prefix, merged, measured, code, command, plan.warmup_s)
    if code != 0 and run.failure_count == 0:
        log(f"{job.label}: locust exited with {code}; its stderr ends:\n{err.read_text(errors='replace')[-2000:]}")
    return run, cpu_s


class TreeSampler:
    """CPU seconds of a process tree that may end on its own (Locust): each process' latest reading, taken every
    half second by a thread, summed at the end. Forked Locust workers are not reaped into our own rusage."""

    def __init__(self, root: int) -> None:
        import threading

        self.root = root
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        from .machine import descendants, proc_cpu_s

        while not self._stop.wait(0.5):
            for pid in descendants(self.root):
                self.seen[pid] = max(self.seen.get(pid, 0.0), proc_cpu_s(pid, children=False))

    def stop(self) -> float:
        self._stop.set()
        self.thread.join()
        return sum(self.seen.values())


def wait_group_gone(pgid: int, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


# -- the run -----------------------------------------------------------------------------------------
@dataclass
class Options:
    scenario: Scenario
    workers: int
    smoke: bool
    profile: bool
    floors: bool
    out: Path
    json_out: Path | None
    keep: bool
    command: str
    server_env: dict[str, str]
    archiver_cpus: set[int] | None = None


def pinning(workers: int) -> tuple[str | None, str | None, str]:
    """(server cpus, Locust cpus, a sentence saying so)."""
    if (os.cpu_count() or 1) < 2:
        return None, None, "no pinning (one CPU)"
    if workers == 1:
        return "0", "1", "server pinned to core 0 (taskset -c 0), Locust to core 1; Redis unpinned"
    return None, None, f"{workers} workers: the server gets both cores, nothing pinned (Locust shares them)"


def stream_lengths(client: redis_pkg.Redis, prefix: str, halls: Sequence[str]) -> int:
    pipe = client.pipeline(transaction=False)
    for h in halls:
        pipe.xlen(HallKeys(h, prefix).events)
    return sum(int(n) for n in pipe.execute())


def archived_count(database: Path) -> int:
    """Events the archive process has committed to the server's SQLite record so far."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)) as db:
        return int(db.execute("SELECT count(*) FROM ticket_events").fetchone()[0])


@dataclass(frozen=True)
class ArchiveLag:
    behind: int  # events in the streams but not yet in SQL when the load stopped
    caught_up_s: float | None  # how long after the load the record held every event; None: not within the wait


def archive_lag(client: redis_pkg.Redis, prefix: str, halls: Sequence[str], database: Path,
                wait_s: float = 180.0) -> ArchiveLag:
    """How far the SQL record trailed the halls' streams when the load stopped, and how long it took to catch up.
    The archive process runs at a lower priority than the web workers, so under saturation it falls behind."""
    total = stream_lengths(client, prefix, halls)
    start = time.monotonic()
    behind = total - archived_count(database)
    while archived_count(database) < total:
        if time.monotonic() - start > wait_s:
            return ArchiveLag(behind, None)
        time.sleep(0.5)
    return ArchiveLag(behind, time.monotonic() - start if behind > 0 else 0.0)


def delete_prefix(client: redis_pkg.Redis, prefix: str) -> None:
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"{prefix}:*", count=2000):
        batch.append(key)
        if len(batch) >= 1000:
            client.delete(*batch)
            batch = []
    if batch:
        client.delete(*batch)


def open_windows(base_url: str, secret: str, halls: Sequence[str], windows: int) -> None:
    with httpx.Client(base_url=base_url, timeout=30.0, trust_env=False) as client:
        for h in halls:
            token = make_token(secret.encode(), h, "manager")
            for w in range(1, windows + 1):
                r = client.post(f"/api/v1/halls/{h}/windows/{w}/open", headers={"Authorization": f"Bearer {token}"})
                if r.status_code not in (200, 409):
                    raise RuntimeError(f"opening window {w} of {h}: {r.status_code} {r.text}")


def repin_archiver(server_pid: int, cpus: set[int]) -> int:
    """Move the server's archiver subprocess (``hallq archive``) to other cores: an experiment, to see what it
    costs the web worker when they share one core."""
    from .machine import descendants

    moved = 0
    for pid in descendants(server_pid):
        with contextlib.suppress(OSError):
            if b" archive" in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" "):
                os.sched_setaffinity(pid, cpus)
                moved += 1
    return moved


_CHAIN = ("Traceback", "During handling", "The above exception")


def server_log_problems(text: str) -> list[str]:
    """Distinct errors in the server's log, most frequent first: a traceback (with its chained ones) as the line
    that introduced it and the exception it ends with; other ERROR lines as they are."""
    lines = text.splitlines()
    found: Counter[str] = Counter()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("Traceback"):
            context = next((ln for ln in reversed(lines[max(0, i - 2):i]) if not ln.startswith("future:")), "")
            j, last = i, "?"
            while j < len(lines):
                ln = lines[j]
                if not ln or ln.startswith((" ", *_CHAIN)):
                    j += 1
                    continue
                last = ln  # an exception line; the chain goes on if "During handling…" follows
                if j + 2 < len(lines) and not lines[j + 1] and lines[j + 2].startswith(_CHAIN[1:]):
                    j += 1
                    continue
                break
            found[re.sub(r"Task-\d+", "Task-N", f"{context.strip()} -> {last}")[:300]] += 1
            i = j + 1
            continue
        if line.startswith(("ERROR", "CRITICAL")) and lines[i + 1:i + 2] != ["Traceback (most recent call last):"]:
            found[line[:300]] += 1
        i += 1
    return [f"{n} x {problem}" for problem, n in found.most_common(8)]


def start_profiler(pid: int, duration_s: float, out_stem: Path, work: Path) -> list[subprocess.Popen[bytes]]:
    """Two py-spy recorders of the server and its subprocesses: collapsed stacks for the summary, an SVG flame
    graph to look at. Only threads holding the GIL are sampled (--gil): where Python really spent CPU.
    Non-blocking, so the server is not paused to be read."""
    spy = str(VENV_BIN / "py-spy")
    common = ["--pid", str(pid), "--subprocesses", "--gil", "--nonblocking", "--rate", "100",
              "--duration", str(math.ceil(duration_s))]
    procs = []
    for fmt, path in (("raw", work / "profile.txt"), ("flamegraph", out_stem.with_suffix(".svg"))):
        with (work / f"py-spy-{fmt}.log").open("wb") as logf:
            procs.append(subprocess.Popen([spy, "record", *common, "--format", fmt, "-o", str(path)],
                                          stdout=logf, stderr=subprocess.STDOUT, start_new_session=True))
    return procs


def run_hallq(opts: Options, work: Path, redis_client: redis_pkg.Redis) -> tuple[Run, dict[str, Any]]:
    s = opts.scenario
    halls = [hall_id(i) for i in range(s.halls)]
    paths = write_halls(work / "halls", s.halls, s.windows_per_hall)
    prefix, secret = f"hqload-{uuid.uuid4().hex[:10]}", secrets.token_hex(24)
    home = work / "home"
    home.mkdir()
    server_cpus, locust_cpus, pin_text = pinning(opts.workers)
    env = {**clean_env(), "HALLQ_HOME": str(home), "HALLQ_KEY_PREFIX": prefix, "HALLQ_SECRET": secret,
           "HALLQ_REDIS_URL": REDIS_URL, "HALLQ_HALLS": os.pathsep.join(str(p) for p in paths),
           "HALLQ_DATABASE_URL": f"sqlite:///{home / 'hallq.db'}", "PYTHONUNBUFFERED": "1",
           # A simulated kiosk issues a hall's share of the rate (a ticket every ~2 s), faster than a person
           # at a real one; the per-device limit is tested in tests/server/test_rate_limit.py.
           "HALLQ_KIOSK_LIMIT": "0", "HALLQ_TIMINGS_FILE": str(work / "timings"), **opts.server_env}
    port = free_port()
    cmd = pinned([str(VENV_BIN / "hallq"), "serve", "--host", "127.0.0.1", "--port", str(port),
                  "--workers", str(opts.workers)], server_cpus)
    log(f"starting hallq serve --workers {opts.workers} with {s.halls} hall(s) of {s.windows_per_hall} windows")
    server = start_server("hallq", cmd, port, home, env, workers_up("/healthz", opts.workers))
    meta: dict[str, Any] = {"pinning": pin_text}
    try:
        if opts.archiver_cpus is not None:
            moved = repin_archiver(server.process.pid, opts.archiver_cpus)
            meta["pinning"] += f"; archiver process moved to cores {sorted(opts.archiver_cpus)} ({moved} process)"
        open_windows(server.base_url, secret, halls, s.windows_per_hall)
        events_before = stream_lengths(redis_client, prefix, halls)
        redis_pid = int(redis_client.info("server")["process_id"])
        plan = Plan(halls=tuple(halls), windows_per_hall=s.windows_per_hall, counts=s.counts(),
                    time_scale=s.time_scale, issue_rate=s.issue_rate, issue_for_s=s.issue_for_s,
                    day_tickets=s.day_tickets, no_show=s.no_show, gate_on_spawn=s.gate_on_spawn,
                    warmup_s=s.warmup_s, processes=s.locust_processes)
        meter = CpuMeter({"hallq serve": server.process.pid, "redis": redis_pid})
        spies: list[subprocess.Popen[bytes]] = []

        def profile(_: subprocess.Popen[bytes]) -> None:
            if opts.profile:
                spies.extend(start_profiler(server.process.pid, s.duration_s, opts.out, work))

        job = LocustJob("hallq", plan, secret, server.base_url, s.users, s.spawn_rate or s.users, s.duration_s,
                        locust_cpus, work, s.gate_on_spawn)
        run, locust_cpu = run_locust(job, profile)
        ended = time.time()
        meta["cpu"] = meter.finish({"locust": locust_cpu})
        for spy in spies:
            try:
                spy.wait(timeout=60)
            except subprocess.TimeoutExpired:
                spy.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
                spy.wait(timeout=30)
        events = stream_lengths(redis_client, prefix, halls) - events_before
        meta["events"] = events
        meta["archive"] = archive_lag(redis_client, prefix, halls, home / "hallq.db")
        if server.process.poll() is not None:
            run.errors.append({"Count": "1", "Message": f"the server exited with {server.process.returncode}"})
    finally:
        server.stop()
        delete_prefix(redis_client, prefix)
    meta["server_log_problems"] = server_log_problems(server.log_text())
    # The workers write their timings as they stop; keep the samples of Locust's measuring window.
    meta["inside"] = timings.read(sorted(work.glob("timings.*.json")), ended - run.measured_s, ended)
    meta["timeline"] = timeline(work / "hallq_stats_history.csv", run.measured_s, warmup_s=run.warmup_s)
    if opts.profile:
        raw = work / "profile.txt"
        meta["profile"] = pyspy.load(raw) if raw.exists() else None
    return run, meta


def run_json_floor(opts: Options, work: Path, rate: float, duration_s: float) -> Run:
    server_cpus, locust_cpus, _ = pinning(opts.workers)
    port = free_port()
    home = work / "floor-json"
    home.mkdir()
    cmd = pinned([sys.executable, "-m", "loadtest.floors", "json", "--port", str(port),
                  "--workers", str(opts.workers)], server_cpus)
    server = start_server("floor-json", cmd, port, home, {**clean_env(), "PYTHONUNBUFFERED": "1"},
                          workers_up("/json", opts.workers))
    try:
        processes = opts.scenario.locust_processes
        users = max(processes, users_for_rate(rate, PER_USER_RPS))
        plan = Plan(halls=("floor",), windows_per_hall=0, counts={"JsonFloor": users}, processes=processes,
                    floor=FloorPlan(json_rate=rate))
        run, _ = run_locust(LocustJob("floor-json", plan, "-", server.base_url, users, users, duration_s,
                                      locust_cpus, work, False))
    finally:
        server.stop()
    return run


def run_broadcast_floor(opts: Options, work: Path, rate: float, call_share: float, duration_s: float) -> Run:
    s = opts.scenario
    server_cpus, locust_cpus, _ = pinning(opts.workers)
    port = free_port(opts.workers)
    ports = tuple(port + i for i in range(opts.workers))
    home = work / "floor-ws"
    home.mkdir()
    cmd = pinned([sys.executable, "-m", "loadtest.floors", "broadcast", "--port", str(port),
                  "--workers", str(opts.workers)], server_cpus)

    def ready(_: Server, client: httpx.Client) -> bool:
        return all(client.get(f"http://127.0.0.1:{p}/healthz").status_code == 200 for p in ports)

    server = start_server("floor-ws", cmd, port, home, {**clean_env(), "PYTHONUNBUFFERED": "1"}, ready)
    try:
        processes = s.locust_processes
        screens = s.displays + s.phones
        triggers = max(processes, users_for_rate(rate, PER_USER_RPS))
        triggers += (-triggers) % processes  # a multiple: each Locust process triggers its own groups
        plan = Plan(halls=("floor",), windows_per_hall=0, counts={"FloorScreen": screens, "FloorTrigger": triggers},
                    processes=processes, gate_on_spawn=True,
                    floor=FloorPlan(ports=ports, groups=s.halls, trigger_rate=rate, call_share=call_share))
        spawn_rate = s.spawn_rate or (screens + triggers)
        spawn_s = (screens + triggers) / spawn_rate
        run, _ = run_locust(LocustJob("floor-ws", plan, "-", f"http://127.0.0.1:{port}", screens + triggers,
                                      spawn_rate, spawn_s + duration_s, locust_cpus, work, True))
    finally:
        server.stop()
    return run


def run_all(opts: Options) -> int:
    s = opts.scenario
    raise_fd_limit()
    work = Path(tempfile.mkdtemp(prefix=f"hallq-load-{s.name}-"))
    redis_client = redis_pkg.Redis.from_url(REDIS_URL)
    machine = describe(REDIS_URL)
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    ok = False
    try:
        run, meta = run_hallq(opts, work, redis_client)
        print_run(run)
        floor_json = floor_ws = None
        if opts.floors:
            floor_s = min(run.measured_s, 4.0 if opts.smoke else FLOOR_S)
            floor_json = run_json_floor(opts, work, max(run.http_rps, 1.0), floor_s)
            print_run(floor_json)
            calls = run.counters.get("calls", 0)
            events = max(int(meta["events"]), 1)
            event_rate = events / run.measured_s if run.measured_s else 1.0
            floor_ws = run_broadcast_floor(opts, work, max(event_rate, 0.5), min(1.0, calls / events), floor_s)
            print_run(floor_ws)
        report = make_report(opts, run, floor_json, floor_ws, meta, machine, date)
        history = previous_summaries(opts.out)
        opts.out.parent.mkdir(parents=True, exist_ok=True)
        opts.out.write_text(report.markdown(history), encoding="utf-8")
        if opts.json_out is not None:
            import json

            opts.json_out.write_text(json.dumps(as_json(report), indent=1, default=str), encoding="utf-8")
        for t in report.targets():
            log(f"target: {t.what}: {t.measured} -> {t.verdict.strip('*')}")
        if meta.get("profile") is not None:
            log("py-spy, top self time:\n  " + "\n  ".join(pyspy.top_lines(meta["profile"])))
        log(f"wrote {opts.out}")
        failures = run.failure_count + sum(f.failure_count for f in (floor_json, floor_ws) if f)
        codes = [r.exit_code for r in (run, floor_json, floor_ws) if r]
        ok = failures == 0 and not any(codes)
        if not ok:
            log(f"FAILED: {failures} failure(s), Locust exit codes {codes}; work files in {work}")
        return 0 if ok else 1
    finally:
        redis_client.close()
        if ok and not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"work directory kept: {work}")


def make_report(opts: Options, run: Run, floor_json: Run | None, floor_ws: Run | None, meta: dict[str, Any],
                machine: dict[str, str], date: str) -> Report:
    s = opts.scenario
    phase = (f"spawn rate {s.spawn_rate:g}/s, windows and issuers start once all users are up, Locust -t "
             f"{s.duration_s:.0f} s" if s.gate_on_spawn else f"all users at once, Locust -t {s.duration_s:.0f} s")
    if s.day_tickets:
        phase += f"; replaying a {s.day_tickets}-ticket day"
    elif s.issue_rate:
        phase += f"; {s.issue_rate:g} tickets/s from guides and kiosks" + (
            f" for the first {s.issue_for_s:.0f} s" if s.issue_for_s else "")
    if opts.server_env:
        meta["pinning"] += "; server environment " + ", ".join(f"{k}={v}" for k, v in opts.server_env.items())
    others = meta.get("cpu", {}).get("everything else", 0.0)
    noisy = f"noisy: others used {others:.2f} cores" if others > NOISY_CORES else ""
    full_meta = {"date": date, "command": opts.command, "commit": git_commit(ROOT), "workers": opts.workers,
                 "locust_processes": s.locust_processes, "phase": phase, "machine": machine, **meta,
                 "note": "; ".join(n for n in ("smoke" if opts.smoke else "profiled" if opts.profile else "", noisy,
                                               f"first {run.warmup_s:.0f} s apart (warm-up)" if run.warmup_s else "")
                                   if n)}
    full_meta.pop("profile", None)
    inside = full_meta.pop("inside", None)
    over_time = full_meta.pop("timeline", [])
    extra = []
    if meta.get("events"):
        per_s = meta["events"] / max(run.measured_s + run.warmup_s, 1e-9)
        extra.append(f"Events written to the halls' streams: {meta['events']:,} ({per_s:,.1f}/s"
                     + (", the warm-up included" if run.warmup_s else "")
                     + f"); calls {run.counters.get('calls', 0):,}.")
    lag: ArchiveLag | None = full_meta.pop("archive", None)
    if lag is not None:
        caught_up = (f"it caught up {lag.caught_up_s:.1f} s later" if lag.caught_up_s is not None
                     else "it had not caught up 180 s later")
        extra.append(f"SQL record (archive process, niceness 10): when the load stopped it trailed the streams by "
                     f"{lag.behind:,} events; {caught_up}.")
        full_meta["archive_behind"] = lag.behind
        full_meta["archive_caught_up_s"] = lag.caught_up_s
    problems = meta.get("server_log_problems") or []
    extra.append("Server log: no errors." if not problems else
                 "Server log problems (distinct, most frequent first): "
                 + " / ".join(f"`{p}`" for p in problems))
    profile_md = None
    if meta.get("profile") is not None:
        svg = opts.out.with_suffix(".svg").name
        profile_md = (f"py-spy 0.4 sampled the server and its subprocesses at 100 Hz during the whole Locust run "
                      f"(`--subprocesses --gil --nonblocking`: only threads holding the GIL, i.e. running Python); "
                      f"flame graph: [{svg}]({svg}). The profiler's own CPU and its reads of the server's memory "
                      f"make this run's latencies a little worse than an unprofiled one.\n\n"
                      + pyspy.markdown(meta["profile"]))
    return Report(s, full_meta, run, floor_json, floor_ws, profile_md, extra, inside, over_time)


def print_run(run: Run) -> None:
    log(f"{run.label}: {run.http_rps:,.1f} HTTP req/s over {run.measured_s:.0f} s, {run.failure_count} failures, "
        f"locust exit {run.exit_code}")
    for r in run.rows:
        print(f"    {r.kind:4} {r.name:34} {r.requests:>8,} req {r.failures:>5} fail {r.rps:>8,.1f}/s  "
              f"p50 {r.p50:8.1f}  p95 {r.p95:8.1f}  p99 {r.p99:8.1f} ms", flush=True)
    for f in run.failures[:10]:
        print(f"    failure: {f['Method']} {f['Name']}: {f['Error']} x{f['Occurrences']}", flush=True)
    for e in run.errors[:5]:
        print(f"    error: {e.get('Message', '?')} x{e.get('Count', '?')}", flush=True)


def parse(argv: Sequence[str] | None) -> Options:
    p = argparse.ArgumentParser(prog="python -m loadtest.run", description=__doc__.split("\n\n")[0])
    p.add_argument("scenario", nargs="?", choices=sorted(SCENARIOS))
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("--workers", type=int, help="hallq serve --workers (default: the scenario's)")
    p.add_argument("--duration", type=float, help="Locust's run time in seconds (default: the scenario's)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply the ticket rate and the time compression (the request rate follows)")
    p.add_argument("--smoke", action="store_true", help="seconds, low rate, a handful of users (CI); needs --out")
    p.add_argument("--profile", action="store_true", help="py-spy the server during the run")
    p.add_argument("--no-floors", dest="floors", action="store_false", help="skip the two floors")
    p.add_argument("--out", type=Path, help="the markdown to write (default loadtest/results/<scenario>.md)")
    p.add_argument("--json", dest="json_out", type=Path, help="also write every figure as JSON here")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, CSV, samples)")
    p.add_argument("--archiver-cpus", help="move the archiver process to these cores, e.g. 1 (an experiment)")
    p.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment for hallq serve, for experiments (e.g. HALLQ_ARCHIVE=0)")
    args = p.parse_args(argv)
    if args.list or not args.scenario:
        for s in SCENARIOS.values():
            print(f"{s.name:15} {s.title}: {s.about}")
        sys.exit(0 if args.list else 2)
    if args.smoke and args.out is None:
        p.error("--smoke writes only where --out says, never over the committed results")
    s = with_duration(SCENARIOS[args.scenario])
    if args.smoke:
        s = smoke(s)
    if args.workers:
        s = replace(s, workers=args.workers)
    if args.duration:
        s = replace(s, duration_s=args.duration)
    if args.scale != 1.0:
        # The same people working faster: tickets per second and handling speed scale together.
        s = replace(s, issue_rate=s.issue_rate * args.scale, time_scale=s.time_scale * args.scale)
    default_out = RESULTS / (f"{s.name}-profile.md" if args.profile else f"{s.name}.md")
    command = shlex.join([".venv/bin/python", "-m", "loadtest.run", *(argv if argv is not None else sys.argv[1:])])
    server_env = dict(item.split("=", 1) for item in args.server_env)
    return Options(s, s.workers, args.smoke, args.profile, args.floors, args.out or default_out, args.json_out,
                   args.keep, command, server_env,
                   {int(c) for c in args.archiver_cpus.split(",")} if args.archiver_cpus else None)


def main(argv: Sequence[str] | None = None) -> int:
    return run_all(parse(argv))


if __name__ == "__main__":
    sys.exit(main())
