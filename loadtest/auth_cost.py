"""What checking a session cookie or a token costs the hot path, against the code from before accounts existed.

    .venv/bin/python -m loadtest.auth_cost [--rounds 5] [--duration 15] [--issue-rate 90] [--window-rate 132]
                                          [--no-saturate] [--before /tmp/hallq-before] [--out FILE]

Three servers, each a fresh ``python -m floor.cli serve --demo`` with its own HALLQ_HOME, SQLite file, secret,
Redis key prefix and port, pinned to core 0 (Locust to core 1, Redis floats), all 12 windows of the demo hall
opened first:

- ``old``: the checkout from before accounts (``--before``, run from its own directory with PYTHONPATH set to
  it; checked by importing its packages the same way), bearer tokens;
- ``token``: this code, bearer tokens (a guide's, and a staff token for each window);
- ``cookie``: this code, people signed in: the ``guide`` account issues, ``s01`` .. ``s12`` each took window 1 ..
  12 with ``POST /session/window`` and send their session cookie and ``X-CSRF-Token`` on every write.

Locust (``loadtest/auth_cost_users.py``) offers the same fixed load to each, below capacity: 12 guides issuing
``--issue-rate`` tickets/s in all, 12 windows calling next ``--window-rate`` times/s in all and finishing what they
called. The modes take turns in interleaved rounds, each round in another order, so slow minutes of the shared
machine fall on all three; the latencies of every round are pooled per mode (and each round's ratio new/old is
kept: their median is the figure least swayed by other people's work). Then one saturated round per mode
(hot_path.py's rates: 600 tickets/s and 1,200 calls/s offered) gives each one's capacity. Also measured: the
worker's own time per request (``HALLQ_TIMINGS_FILE``), its CPU time per request, and, in a process of each code
with no server at all, what one call of ``floor.http.kit.authenticate`` costs: the check alone, free of the noise.

Prints the table and writes ``loadtest/results/auth-cost.md``, keeping earlier runs in its history table. The
target, new code no more than 5% slower than old on the hot path, is reported, never enforced. Every server,
temporary directory and Redis key prefix is removed afterwards, on failure too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import resource
import secrets
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import redis as redis_pkg

from floor.http import timings
from floor.http.auth import make_token

from .machine import describe, machine_busy_s, proc_cpu_s, tree_cpu_s
from .run import REDIS_URL, ROOT, Server, clean_env, delete_prefix, free_port, pinned

RESULTS = ROOT / "loadtest" / "results" / "auth-cost.md"
LOCUSTFILE = ROOT / "loadtest" / "auth_cost_users.py"
PYTHON = Path(sys.executable)
HALL = "demo"
WINDOWS = 12
PASSWORD = "hallq-demo-2026"  # floor.accounts.setup.DEMO_PASSWORD (not imported: the old code has no accounts)
ISSUE, CALL_NEXT = "POST /tickets", "POST call-next"
INSIDE = {ISSUE: "POST /tickets", CALL_NEXT: "POST /windows/{w}/call-next"}  # the worker's names for them
SATURATE_RATES = (50.0, 100.0)  # per user, as hot_path.py: more than one worker can serve
TARGET = 1.05
SUMMARY_MARK = "hallq-auth-cost"
SERVER_CPUS, LOCUST_CPUS = ("0", "1") if (os.cpu_count() or 1) >= 2 else (None, None)


def log(message: str) -> None:
    print(f"[auth-cost] {message}", flush=True)


@dataclass(frozen=True)
class Mode:
    name: str
    root: Path  # the code the server runs
    auth: str  # token | cookie
    what: str


@dataclass
class Result:
    """One mode's run: a server, a Locust run against it."""

    mode: str
    round: str  # "1", "2"...; "sat" for the saturated one
    samples: dict[str, list[float]]  # Locust's latencies (ms, sorted) by request name, after the warm-up
    inside: dict[str, list[float]]  # the worker's own time per request (floor.http.timings), by Locust's name
    measured_s: float
    requests: int  # every request Locust sent, warm-up included (what the CPU time is divided by)
    failures: int
    worker_cpu_s: float  # the server's main process: with one worker, uvicorn serves in it
    server_cpu_s: float  # its whole tree: the worker and the archive process
    others_cores: float  # CPU of everything but the server, Locust and Redis while Locust ran, in cores


# The figures of a mode (one round, or its rounds pooled), by name; the tables pick their columns from these.
LATENCY = ("issue p50", "issue p90", "issue p99", "call-next p50", "call-next p90", "call-next p99")
INSIDE_FIGS = ("in issue p50", "in issue p90", "in issue p99", "in call-next p50", "in call-next p90",
               "in call-next p99")
CPU = ("worker CPU µs/req", "server CPU µs/req")
JUDGED = ("issue p50", "issue p90", "call-next p50", "call-next p90", "worker CPU µs/req")


def figures(results: Sequence[Result]) -> dict[str, float]:
    """The figures of ``results`` pooled: every sample of every round, CPU time over every request."""
    out: dict[str, float] = {}
    measured = sum(r.measured_s for r in results)
    out["req/s"] = sum(len(v) for r in results for v in r.samples.values()) / measured if measured else math.nan
    for prefix, source in (("", "samples"), ("in ", "inside")):
        for label, name in (("issue", ISSUE), ("call-next", CALL_NEXT)):
            values = sorted(x for r in results for x in getattr(r, source).get(name, []))
            for q in (50, 90, 99):
                out[f"{prefix}{label} p{q}"] = pct(values, q)
    requests = sum(r.requests for r in results)
    out["worker CPU µs/req"] = sum(r.worker_cpu_s for r in results) / requests * 1e6 if requests else math.nan
    out["server CPU µs/req"] = sum(r.server_cpu_s for r in results) / requests * 1e6 if requests else math.nan
    out["failures"] = sum(r.failures for r in results)
    out["others' CPU"] = statistics.mean(r.others_cores for r in results) if results else math.nan
    return out


# -- the code under test ---------------------------------------------------------------------------
def head_commit(root: Path) -> str:
    """The checkout's HEAD, short, read from its .git (a directory or a worktree's pointer file); '?' if unread."""
    try:
        git = root / ".git"
        if git.is_file():
            git = Path(git.read_text().split("gitdir:", 1)[1].strip())
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:7]
        ref = head[5:]
        common = Path(git / (git / "commondir").read_text().strip()) if (git / "commondir").exists() else git
        for base in (git, common):
            if (base / ref).exists():
                return (base / ref).read_text().strip()[:7]
        for line in (common / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line[:7]
    except (OSError, IndexError):
        pass
    return "?"


def check_imports(root: Path) -> str:
    """Import the server's packages as its server will (cwd and PYTHONPATH = root) and refuse if any comes from
    elsewhere: the venv has this checkout installed in editable mode, which must not stand in for the old one."""
    code = "import floor, queue_engine, staff_console as s; print(floor.__file__, queue_engine.__file__, s.__file__)"
    env = {**clean_env(), "PYTHONPATH": str(root)}
    out = subprocess.run([str(PYTHON), "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True)
    files = out.stdout.split()
    if not files or not all(Path(f).resolve().is_relative_to(root.resolve()) for f in files):
        raise RuntimeError(f"the server for {root} would import {files}, not its own packages")
    return files[0]


# The check alone: ``floor.http.kit.authenticate`` as call-next runs it (a staff credential for window 1, Locust's
# headers), in a process of the code under test: microseconds a call, the best of 7 repeats.
CHECK_SNIPPET = """
import sys, time, timeit, types
from starlette.requests import Request
from floor.http import auth, kit
secret, auth_mode = b"s" * 48, sys.argv[1]
if auth_mode == "cookie":
    token = auth.issue(secret, hall="demo", role="staff", jid="a" * 24, kind="session", window="1", staff="s01",
                       expires_at=time.time() + 3600)
    csrf = auth.csrf_token(secret, "a" * 24)
    proof = [(b"cookie", f"hallq_session={token}; hallq_csrf={csrf}".encode()), (b"x-csrf-token", csrf.encode())]
else:
    token = auth.make_token(secret, "demo", "staff", window="1", staff="S01")
    proof = [(b"authorization", f"Bearer {token}".encode())]
headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"python/gevent-http-client-1.5.5"),
           (b"accept-encoding", b"gzip, deflate"), *proof, (b"content-length", b"0")]
scope = {"type": "http", "method": "POST", "path": "/api/v1/halls/demo/windows/1/call-next", "headers": headers,
         "query_string": b""}
runtime = types.SimpleNamespace(settings=types.SimpleNamespace(secret=secret), revoked={f"r{i}" for i in range(50)},
                                seen={})
def once():
    kit.authenticate(Request(scope), runtime, "demo", ("staff", "manager"), "1")
once()
n = 20000
print(min(timeit.repeat(once, number=n, repeat=7)) / n * 1e6)
"""


def check_cost(mode: Mode) -> float:
    """Microseconds one check of ``mode``'s credential takes in its own code, pinned as its server would be."""
    env = {**clean_env(), "PYTHONPATH": str(mode.root)}
    out = subprocess.run(pinned([str(PYTHON), "-c", CHECK_SNIPPET, mode.auth], SERVER_CPUS), cwd=mode.root, env=env,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


# -- one server, one Locust run --------------------------------------------------------------------
def start(mode: Mode, home: Path, prefix: str, secret: str, port: int) -> Server:
    env = {**clean_env(), "HALLQ_HOME": str(home), "HALLQ_KEY_PREFIX": prefix, "HALLQ_SECRET": secret,
           "HALLQ_REDIS_URL": REDIS_URL, "HALLQ_DATABASE_URL": f"sqlite:///{home / 'hallq.db'}",
           "HALLQ_KIOSK_LIMIT": "0", "HALLQ_TIMINGS_FILE": str(home / "timings"), "PYTHONPATH": str(mode.root),
           "PYTHONUNBUFFERED": "1"}
    cmd = pinned([str(PYTHON), "-m", "floor.cli", "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
                 SERVER_CPUS)
    out, err = home / "server.out", home / "server.err"
    with out.open("wb") as o, err.open("wb") as e:
        process = subprocess.Popen(cmd, cwd=mode.root, env=env, stdout=o, stderr=e, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    server = Server(mode.name, process, port, out, err)
    deadline = time.monotonic() + 90
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{mode.name}: the server exited with {process.returncode}:\n"
                                   f"{server.log_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(server.base_url + "/healthz").status_code == 200:
                    return server
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"{mode.name}: no answer on /healthz in 90 s:\n{server.log_text()[-3000:]}")
            time.sleep(0.1)


def prepare(mode: Mode, client: httpx.Client, secret: bytes) -> dict[str, Any]:
    """Open every window; then the credentials the Locust users send: tokens, or the cookies of people signed in."""
    manager = {"Authorization": "Bearer " + make_token(secret, HALL, "manager")}
    for w in range(1, WINDOWS + 1):
        r = client.post(f"/api/v1/halls/{HALL}/windows/{w}/open", headers=manager)
        if r.status_code not in (200, 409):
            raise RuntimeError(f"{mode.name}: opening window {w}: {r.status_code} {r.text}")
    has_accounts = client.get(f"/api/v1/halls/{HALL}/session").status_code != 404
    if has_accounts != (mode.root == ROOT):  # the old code must have no accounts, this one must
        raise RuntimeError(f"{mode.name}: GET /session {'answers' if has_accounts else 'is unknown'}: wrong code?")
    if mode.auth == "token":
        creds: dict[str, Any] = {"guide": make_token(secret, HALL, "guide")}
        creds |= {str(w): make_token(secret, HALL, "staff", window=str(w), staff=f"S{w:02d}")
                  for w in range(1, WINDOWS + 1)}
        return creds
    creds = {"guide": sign_in(client, "guide")}
    for w in range(1, WINDOWS + 1):
        first = sign_in(client, f"s{w:02d}")
        r = client.post(f"/api/v1/halls/{HALL}/session/window", json={"window": str(w)},
                        headers=cookie_headers(first))
        if r.status_code != 200:
            raise RuntimeError(f"{mode.name}: s{w:02d} taking window {w}: {r.status_code} {r.text}")
        creds[str(w)] = {"session": r.cookies["hallq_session"], "csrf": r.cookies["hallq_csrf"]}
    return creds


def sign_in(client: httpx.Client, username: str) -> dict[str, str]:
    r = client.post(f"/api/v1/halls/{HALL}/session", json={"username": username, "password": PASSWORD})
    if r.status_code != 200:
        raise RuntimeError(f"signing in {username}: {r.status_code} {r.text}")
    return {"session": r.cookies["hallq_session"], "csrf": r.cookies["hallq_csrf"]}


def cookie_headers(cred: dict[str, str]) -> dict[str, str]:
    return {"Cookie": f"hallq_session={cred['session']}; hallq_csrf={cred['csrf']}", "X-CSRF-Token": cred["csrf"]}


def children_cpu_s() -> float:
    """CPU seconds of this process' children reaped so far: Locust's, read before and after its run."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def locust_cmd(host: str, duration_s: int) -> list[str]:
    return pinned([str(PYTHON.parent / "locust"), "-f", str(LOCUSTFILE.relative_to(ROOT)), "--headless",
                   "-u", str(2 * WINDOWS), "-r", str(2 * WINDOWS), "-t", f"{duration_s}s", "--host", host,
                   "--only-summary", "--stop-timeout", "0", "--loglevel", "WARNING"], LOCUST_CPUS)


def run_locust(mode: Mode, host: str, creds: dict[str, Any], rates: tuple[float, float], duration_s: int,
               warmup_s: float, work: Path) -> dict[str, Any]:
    samples = work / "samples.json"
    env = {**clean_env(), "AUTH_COST_MODE": mode.auth, "AUTH_COST_CREDENTIALS": json.dumps(creds),
           "AUTH_COST_ISSUE_RATE": f"{rates[0]:g}", "AUTH_COST_WINDOW_RATE": f"{rates[1]:g}",
           "AUTH_COST_WARMUP_S": f"{warmup_s:g}", "AUTH_COST_SAMPLES": str(samples), "PYTHONUNBUFFERED": "1"}
    with (work / "locust.out").open("wb") as o, (work / "locust.err").open("wb") as e:
        process = subprocess.Popen(locust_cmd(host, duration_s), cwd=ROOT, env=env, stdout=o, stderr=e,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            process.wait(timeout=duration_s + 60)
        except subprocess.TimeoutExpired:
            log(f"{mode.name}: Locust did not stop in time and was killed")
        finally:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    if not samples.exists():
        raise RuntimeError(f"{mode.name}: Locust wrote no samples:\n{(work / 'locust.err').read_text()[-3000:]}")
    data: dict[str, Any] = json.loads(samples.read_text())
    return data


def measure(mode: Mode, label: str, rates: tuple[float, float], duration_s: int, warmup_s: float, work: Path,
            redis_client: redis_pkg.Redis) -> Result:
    home = work / f"{mode.name}-{label}"
    home.mkdir()
    prefix, secret, port = f"hqauth-{uuid.uuid4().hex[:10]}", secrets.token_hex(24), free_port()
    server: Server | None = None
    try:
        server = start(mode, home, prefix, secret, port)
        with httpx.Client(base_url=server.base_url, timeout=30.0, trust_env=False) as client:
            creds = prepare(mode, client, secret.encode())
        redis_pid = int(redis_client.info("server")["process_id"])
        pid = server.process.pid
        cpu0, worker0, busy0, wall0 = tree_cpu_s(pid), proc_cpu_s(pid), machine_busy_s()[0], time.monotonic()
        redis0, locust0 = proc_cpu_s(redis_pid, children=False), children_cpu_s()
        data = run_locust(mode, server.base_url, creds, rates, duration_s, warmup_s, home)
        cpu1, worker1, busy1, wall1 = tree_cpu_s(pid), proc_cpu_s(pid), machine_busy_s()[0], time.monotonic()
        redis1, locust1 = proc_cpu_s(redis_pid, children=False), children_cpu_s()
        ended = time.time()
        if server.process.poll() is not None:
            raise RuntimeError(f"{mode.name}: the server exited with {server.process.returncode} under load")
        server.stop()  # the worker writes its timings as it stops
        own = timings.read(sorted(home.glob("timings.*.json")), ended - float(data["measured_s"]), ended)
        inside = {ISSUE: own.get(INSIDE[ISSUE], []), CALL_NEXT: own.get(INSIDE[CALL_NEXT], [])}
    finally:
        if server is not None:
            server.stop()
        delete_prefix(redis_client, prefix)
        shutil.rmtree(home, ignore_errors=True)
    others = busy1 - busy0 - (cpu1 - cpu0) - (redis1 - redis0) - (locust1 - locust0)
    result = Result(mode.name, label, {k: sorted(v) for k, v in data["samples"].items()}, inside,
                    float(data["measured_s"]), int(data["requests"]), int(data["failures"]), worker1 - worker0,
                    cpu1 - cpu0, max(0.0, others) / (wall1 - wall0))
    f = figures([result])
    log(f"{label:>3} {mode.name:6}: {f['req/s']:6.1f} req/s, issue p50 {f['issue p50']:.2f} ms, call-next p50 "
        f"{f['call-next p50']:.2f} ms, worker {f['worker CPU µs/req']:.0f} µs CPU/request, {result.failures} "
        f"failures, others' CPU {result.others_cores:.2f} cores")
    return result


# -- figures ---------------------------------------------------------------------------------------
def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile of sorted ``values``, interpolated between the two nearest ranks."""
    if not values:
        return math.nan
    k = (len(values) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def ratios(new: dict[str, float], old: dict[str, float]) -> dict[str, float]:
    return {k: new[k] / old[k] if old[k] else math.nan for k in ("req/s", *LATENCY, *INSIDE_FIGS, *CPU)}


def round_ratios(new: Sequence[Result], old: Sequence[Result]) -> dict[str, float]:
    """The median over rounds of each round's ratio (the two ran a minute apart at most): less swayed than the
    pooled figures by a round on which other people's work fell."""
    pairs = [ratios(figures([n]), figures([o])) for n, o in zip(new, old, strict=True)]
    return {k: statistics.median(p[k] for p in pairs) for k in pairs[0]} if pairs else {}


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def table(columns: Sequence[str], rows: Sequence[tuple[str, dict[str, float]]],
          ratio_rows: Sequence[tuple[str, dict[str, float]]] = ()) -> list[str]:
    lines = ["| | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    lines += [f"| {name} | " + " | ".join(f"{f[c]:.0f}" if c == "failures" else _fmt(f[c]) for c in columns) + " |"
              for name, f in rows]
    lines += [f"| {name} | " + " | ".join("-" if math.isnan(r.get(c, math.nan)) else f"{r[c]:.3f}"
                                          for c in columns) + " |" for name, r in ratio_rows]
    return lines


@dataclass
class Outcome:
    modes: list[Mode]
    results: list[Result]
    checks: dict[str, float]  # mode -> µs a check takes in-process

    def of(self, mode: str, saturated: bool = False) -> list[Result]:
        return [r for r in self.results if r.mode == mode and (r.round == "sat") == saturated]

    def pooled(self, saturated: bool = False) -> dict[str, dict[str, float]]:
        return {m.name: figures(self.of(m.name, saturated)) for m in self.modes if self.of(m.name, saturated)}

    def ratio_rows(self, saturated: bool = False) -> list[tuple[str, dict[str, float]]]:
        figs, old = self.pooled(saturated), self.modes[0].name
        rows = [(f"**{m.name} / {old}**", ratios(figs[m.name], figs[old])) for m in self.modes[1:]]
        if not saturated and len(self.of(old)) > 1:
            rows += [(f"{m.name} / {old}, median of rounds", round_ratios(self.of(m.name), self.of(old)))
                     for m in self.modes[1:]]
        return rows

    def fixed_table(self, columns: Sequence[str], saturated: bool = False) -> list[str]:
        figs = self.pooled(saturated)
        return table(columns, [(m.name, figs[m.name]) for m in self.modes if m.name in figs],
                     self.ratio_rows(saturated))

    def rounds_table(self, saturated: bool = False) -> list[str]:
        columns = ("req/s", "issue p50", "issue p99", "call-next p50", "call-next p99", "worker CPU µs/req",
                   "others' CPU", "failures")
        rows = [(f"{r.round} {r.mode}", figures([r])) for r in self.results if (r.round == "sat") == saturated]
        return table(columns, rows)

    def verdicts(self) -> list[str]:
        old = self.modes[0].name
        lines = []
        for m in self.modes[1:]:
            text = f"- **{m.name}**: pooled {verdict(ratios(self.pooled()[m.name], self.pooled()[old]))}"
            if len(self.of(old)) > 1:
                text += f"; median of rounds {verdict(round_ratios(self.of(m.name), self.of(old)))}"
            lines.append(text)
        return lines

    def check_lines(self) -> list[str]:
        old = self.modes[0].name
        worker_us = self.pooled()[old]["worker CPU µs/req"]
        lines = ["| | µs a check | more than old | of old's worker CPU per request |", "|---|---:|---:|---:|"]
        for m in self.modes:
            extra = self.checks[m.name] - self.checks[old]
            lines.append(f"| {m.name} | {self.checks[m.name]:.1f} | {extra:+.1f} | {extra / worker_us:+.1%} |")
        return lines

    def spread(self, name: str) -> str:
        """The old code against itself: its rounds' p50 range, what a 5% difference has to stand out from."""
        values = [figures([r])[name] for r in self.of(self.modes[0].name)]
        return f"{min(values):.2f}-{max(values):.2f} ms ({max(values) / min(values):.2f}x)" if values else "-"


def verdict(r: dict[str, float]) -> str:
    worst = max(JUDGED, key=lambda k: r[k])
    over = [f"{k} x{r[k]:.3f}" for k in JUDGED if r[k] > TARGET]
    return ("met" if not over else "NOT met") + f" (worst: {worst} x{r[worst]:.3f}" + (
        f"; over 5%: {', '.join(over)})" if over else ")")


def worst(r: dict[str, float]) -> str:
    """For the history: met or not, and the worst judged ratio."""
    top = max(r[k] for k in JUDGED)
    return f"{'met' if top <= TARGET else 'not met'} (x{top:.2f})"


# -- the results file ------------------------------------------------------------------------------
HISTORY_COLUMNS = (("issue p50", "issue p50 ms old / token / cookie"), ("issue p99", "issue p99"),
                   ("call-next p50", "call-next p50"), ("call-next p99", "call-next p99"),
                   ("worker CPU µs/req", "worker CPU µs/req"), ("check µs", "check alone µs"),
                   ("capacity", "capacity req/s"))


def previous(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    m = re.search(rf"<!-- {SUMMARY_MARK} (.*?) -->", path.read_text(encoding="utf-8"), re.S)
    history: list[dict[str, Any]] = json.loads(m.group(1)) if m else []
    return history


def history_table(entries: Sequence[dict[str, Any]]) -> list[str]:
    lines = ["| date | commit (old) | load avg | offered req/s | " + " | ".join(t for _, t in HISTORY_COLUMNS)
             + " | target token / cookie (pooled, worst ratio) |", "|---|---|---|---:|" + "---|" * len(
                 HISTORY_COLUMNS) + "---|"]
    for e in entries:
        cells = [" / ".join("-" if v is None else _fmt(v) for v in e["figures"][k]) for k, _ in HISTORY_COLUMNS]
        lines.append(f"| {e['date']} | {e['commit']} ({e['old_commit']}) | {e['load']} | {e['offered']:.0f} | "
                     + " | ".join(cells) + f" | {e['target']} |")
    return lines


def summary(meta: dict[str, Any], out: Outcome) -> dict[str, Any]:
    figs, sat, names = out.pooled(), out.pooled(saturated=True), [m.name for m in out.modes]

    def num(value: float | None) -> float | None:
        return None if value is None or math.isnan(value) else round(value, 3)

    found = {k: [num(figs[n][k]) for n in names] for k, _ in HISTORY_COLUMNS if k in figs[names[0]]}
    found["check µs"] = [num(out.checks[n]) for n in names]
    found["capacity"] = [num(sat[n]["req/s"]) if n in sat else None for n in names]
    return {"date": meta["date"], "commit": meta["commit"], "old_commit": meta["old_commit"],
            "load": meta["load_start"], "offered": meta["offered"], "figures": found,
            "target": " / ".join(worst(ratios(figs[n], figs[names[0]])) for n in names[1:])}


def report(meta: dict[str, Any], out: Outcome, history: Sequence[dict[str, Any]]) -> str:
    lat_cols = ("req/s", *LATENCY, "failures")
    lines = [
        "# Auth cost: the hot path signed in, against the code from before accounts",
        "",
        f"Command (from the repository root; this run took {meta['wall_s'] / 60:.0f} minutes):",
        "", "```", meta["command"], "```", "",
        f"Each Locust run: `{meta['locust']}` (rates and credentials in its environment).", "",
        f"Run {meta['date']}: this checkout at HEAD `{meta['commit']}` (read from .git, uncommitted changes not "
        f"checked), the old code at `{meta['old_commit']}` "
        f"(`{meta['before']}`; its server imports `{meta['old_floor']}`).",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in meta["machine"].items()],
        f"- load average (uptime) at the end: {meta['load_end']}",
        f"- pinning: {meta['pinning']}",
        "",
        "## What was measured",
        "",
        *[f"- `{m.name}`: {m.what}" for m in out.modes],
        "",
        "Each server is a fresh `python -m floor.cli serve --demo` (own HALLQ_HOME, SQLite, secret, Redis prefix, "
        "port), all 12 windows opened first. Locust (`loadtest/auth_cost_users.py`, 12 guides and 12 windows, "
        f"FastHttpUser) offers a fixed load: {meta['issue_rate']:g} tickets/s and {meta['window_rate']:g} "
        "call-next/s in all, each call that finds a ticket followed by a finish (about "
        f"{meta['offered']:.0f} requests/s). {meta['rounds']} interleaved rounds of {meta['duration']} s per mode "
        f"(the first {meta['warmup']:g} s of each left out), each round in another order.",
        "",
        "- Latencies (ms): every raw sample, pooled over the rounds; the median of rounds is the median of each "
        "round's own ratio, new against old minutes apart.",
        "- Inside (ms): the worker's own time per request (`HALLQ_TIMINGS_FILE`), from taking it up to its "
        "answer written: the check is in it, Locust's and the sockets' time is not.",
        "- Worker CPU: the server's main process (one worker serves in it) over the Locust run, divided by every "
        "request sent in it; server CPU adds the archive process.",
        f"- Others' CPU: the machine's busy time while Locust ran less the server's, Locust's and Redis's, in "
        f"cores (of {os.cpu_count()}): other people's work on the VM.",
        "- The check alone: `floor.http.kit.authenticate` as call-next runs it (staff credential for window 1, "
        "Locust's headers, a new Request each call), timed in a process of each code pinned to core 0, best of 7.",
        "",
        f"## Fixed load ({meta['rounds']} rounds pooled)",
        "",
        *out.fixed_table(lat_cols),
        "",
        *out.fixed_table((*INSIDE_FIGS, *CPU)),
        "",
        f"Target (reported, never enforced): new code no more than {TARGET - 1:.0%} slower than old; judged on "
        f"{', '.join(JUDGED)} (p99 is shown, but on a shared 2-core VM it scatters far more than 5%):",
        "",
        *out.verdicts(),
        "",
        f"The old code against itself, its rounds' p50: issue {out.spread('issue p50')}, call-next "
        f"{out.spread('call-next p50')}.",
        "",
        "## The check alone",
        "",
        *out.check_lines(),
        "",
        "## Each round",
        "",
        *out.rounds_table(),
        "",
    ]
    if out.pooled(saturated=True):
        lines += [
            "## Saturated (one round each; req/s is the capacity)",
            "",
            f"hot_path.py's rates: {SATURATE_RATES[0] * 12:,.0f} tickets/s and {SATURATE_RATES[1] * 12:,.0f} "
            "call-next/s offered, more than one worker serves.",
            "",
            *out.fixed_table((*lat_cols, "worker CPU µs/req"), saturated=True),
            "",
            *out.rounds_table(saturated=True),
            "",
        ]
    lines += [
        "## History",
        "",
        "Every run written here, oldest first; the last line is this file's run.",
        "",
        *history_table(history),
        "",
        f"<!-- {SUMMARY_MARK} {json.dumps(list(history), ensure_ascii=False)} -->",
        "",
    ]
    return "\n".join(lines)


# -- the run ---------------------------------------------------------------------------------------
def orders(modes: Sequence[Mode], rounds: int) -> Iterator[tuple[int, list[Mode]]]:
    """Round i runs the modes rotated by i: each mode takes each place in turn."""
    for i in range(rounds):
        k = i % len(modes)
        yield i + 1, [*modes[k:], *modes[:k]]


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through every ``finally``: servers stopped, prefixes deleted


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.auth_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds at the fixed load (default 5)")
    parser.add_argument("--duration", type=int, default=15, help="seconds of Locust per mode and round (default 15)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds left out at the start of each (3)")
    parser.add_argument("--issue-rate", type=float, default=90.0, help="tickets/s in all, 12 guides (90)")
    parser.add_argument("--window-rate", type=float, default=132.0, help="call-next/s in all, 12 windows (132)")
    parser.add_argument("--no-saturate", action="store_true", help="skip the saturated round")
    parser.add_argument("--before", type=Path, default=Path("/tmp/hallq-before"), help="the checkout before accounts")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"the results file ({RESULTS.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    before = args.before.resolve()
    modes = [Mode("old", before, "token", f"the code before accounts (`{before}`), bearer tokens"),
             Mode("token", ROOT, "token", "this code, bearer tokens (guide; staff per window, naming its S01..S12)"),
             Mode("cookie", ROOT, "cookie", "this code, people signed in by cookie: `guide` issues, `s01`..`s12` "
                                            "took windows 1..12 (`POST /session/window`); X-CSRF-Token on writes")]
    old_floor = check_imports(before)
    check_imports(ROOT)
    log(f"old code: {old_floor}")
    started = time.monotonic()
    meta: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": head_commit(ROOT),
        "old_commit": head_commit(before), "before": str(before), "old_floor": old_floor,
        "machine": describe(REDIS_URL), "load_start": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "rounds": args.rounds, "duration": args.duration, "warmup": args.warmup, "issue_rate": args.issue_rate,
        "window_rate": args.window_rate, "offered": args.issue_rate * 2 + args.window_rate,
        "pinning": "server (and its archive process) on core 0 (taskset -c 0), Locust on core 1, Redis floats"
        if SERVER_CPUS else "none (one CPU)",
        "command": shlex.join([".venv/bin/python", "-m", "loadtest.auth_cost", *(argv or sys.argv[1:])]),
        "locust": shlex.join(locust_cmd("http://127.0.0.1:PORT", args.duration)).replace(str(ROOT) + "/", ""),
    }
    meta["machine"]["nproc"] = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    timed = [(m.name, check_cost(m)) for _ in range(3) for m in modes]  # interleaved, like the rounds
    checks = {m.name: min(us for name, us in timed if name == m.name) for m in modes}
    log("the check alone: " + ", ".join(f"{name} {us:.1f} µs" for name, us in checks.items()))
    fixed = (args.issue_rate / 12, args.window_rate / 12)
    results: list[Result] = []
    work = Path(tempfile.mkdtemp(prefix="hallq-authcost-"))
    redis_client = redis_pkg.Redis.from_url(REDIS_URL)
    try:
        for i, order in orders(modes, args.rounds):
            for mode in order:
                results.append(measure(mode, str(i), fixed, args.duration, args.warmup, work, redis_client))
        if not args.no_saturate:
            for mode in modes:
                results.append(measure(mode, "sat", SATURATE_RATES, args.duration, args.warmup, work, redis_client))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        redis_client.close()
    meta["wall_s"] = time.monotonic() - started
    meta["load_end"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    out = Outcome(modes, results, checks)
    history = [*previous(args.out), summary(meta, out)]
    args.out.write_text(report(meta, out, history), encoding="utf-8")
    print("\n".join(["", f"fixed load, {args.rounds} rounds pooled (ms):",
                     *out.fixed_table(("req/s", *LATENCY, "failures")), "", *out.fixed_table((*INSIDE_FIGS, *CPU)),
                     "", f"target: no more than {TARGET - 1:.0%} slower, judged on {', '.join(JUDGED)}",
                     *out.verdicts(), "", "the check alone:", *out.check_lines()]))
    if out.pooled(saturated=True):
        print("\n".join(["", "saturated (req/s = capacity):",
                         *out.fixed_table(("req/s", *LATENCY, "worker CPU µs/req"), saturated=True)]))
    print(f"\nload average {meta['load_start']} at the start, {meta['load_end']} at the end; written to {args.out}")
    return 1 if any(r.failures for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
