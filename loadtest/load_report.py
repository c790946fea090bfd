"""Reading what Locust left behind and writing ``loadtest/results/<scenario>.md``.

Counts and failures come from Locust's CSV files. Percentiles come from the raw samples every Locust process
kept (``loadtest.calls.Samples``): Locust's own rounds to whole milliseconds, too coarse to hold a
call-to-screen latency of a few milliseconds against its floor. A scenario's warm-up is kept apart: its
requests are taken out of Locust's counts, and its percentiles are reported on their own.

Every results file ends with its figures as JSON in an HTML comment. A new run of the same scenario carries
the old figures into a history table, which is how before/after stays in the file as the server improves.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from floor.http.timings import LAG as SERVER_LOOP_LAG

from .calls import LOOP_LAG, Merged, percentile

SUMMARY_MARK = "hallq-load-summary"
HISTORY_KEEP = 12


@dataclass
class Row:
    kind: str  # GET, POST, WS
    name: str
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float
    max: float
    samples: int  # raw samples behind the percentiles (successful requests)


@dataclass
class Run:
    """One Locust run against one server: hallq itself or a floor."""

    label: str
    rows: list[Row]
    failures: list[dict[str, str]]  # Locust's _failures.csv
    errors: list[dict[str, str]]  # Locust's _exceptions.csv: errors in user code
    counters: dict[str, int]
    measured_s: float
    exit_code: int
    command: str = ""
    loop_lag: list[float] = field(default_factory=list)  # the load generator's own loop lag, ms, sorted
    warmup_s: float = 0.0
    warmup_rows: list[Row] = field(default_factory=list)  # the warm-up's successful requests (failures: above)

    def row(self, name: str) -> Row | None:
        return next((r for r in self.rows if r.name == name), None)

    @property
    def failure_count(self) -> int:
        return sum(r.failures for r in self.rows) + sum(int(e.get("Count", 0) or 0) for e in self.errors)

    @property
    def http_rps(self) -> float:
        return sum(r.rps for r in self.rows if r.kind != "WS")

    def rps(self, name: str) -> float:
        row = self.row(name)
        return row.rps if row else 0.0


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _num(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "", "N/A") else math.nan
    except ValueError:
        return math.nan


def _row(rec: Mapping[str, str], values: list[float], requests: int, failures: int, seconds: float) -> Row:
    """One endpoint's line: percentiles from its raw samples (sorted), or Locust's own where it has none."""
    pcts = ([percentile(values, q) for q in (50, 95, 99)] if values
            else [_num(rec["50%"]), _num(rec["95%"]), _num(rec["99%"])])
    return Row(kind=rec["Type"], name=rec["Name"], requests=requests, failures=failures,
               rps=requests / seconds if seconds > 0 else _num(rec["Requests/s"]),
               p50=pcts[0], p95=pcts[1], p99=pcts[2],
               max=values[-1] if values else _num(rec["Max Response Time"]), samples=len(values))


def read_run(label: str, csv_prefix: Path, samples: Merged, measured_s: float, exit_code: int,
             command: str = "", warmup_s: float = 0.0) -> Run:
    rows: list[Row] = []
    warmup_rows: list[Row] = []
    for rec in read_csv(Path(f"{csv_prefix}_stats.csv")):
        if rec["Name"] == "Aggregated":
            continue
        early = sorted(samples.warmup.get(rec["Name"], []))
        if early and warmup_s > 0:
            warmup_rows.append(_row(rec, early, len(early), 0, warmup_s))
        # Locust counted from the gate on; failures stay in, whatever their moment.
        count = int(rec["Request Count"]) - len(early)
        if count <= 0:
            continue  # an entry Locust keeps after --reset-stats for requests made only before it
        values = sorted(samples.values.get(rec["Name"], []))
        rows.append(_row(rec, values, count, int(rec["Failure Count"]), measured_s))
    rows.sort(key=lambda r: (r.kind == "WS", r.name))
    warmup_rows.sort(key=lambda r: (r.kind == "WS", r.name))
    return Run(label, rows, read_csv(Path(f"{csv_prefix}_failures.csv")),
               read_csv(Path(f"{csv_prefix}_exceptions.csv")), dict(samples.counters), measured_s, exit_code, command,
               sorted(samples.values.get(LOOP_LAG, [])), warmup_s, warmup_rows)


TIMELINE_NAMES = ("POST /tickets", "POST /windows/{w}/call-next")
TIMELINE_STEP_S = 10  # Locust's "current" percentiles cover the last 10 s: one line per window, none overlapping


def timeline(history_csv: Path, measured_s: float, names: Sequence[str] = TIMELINE_NAMES,
             warmup_s: float = 0.0) -> list[str]:
    """The warm-up and the measuring window in 10-second steps, from Locust's stats history: whether the tail is
    steady or the run's p99 comes from a few bad stretches (the start, when every window calls at once, above all)."""
    by_name: dict[str, list[dict[str, str]]] = {}
    for rec in read_csv(history_csv):
        if rec["Name"] in names:
            by_name.setdefault(rec["Name"], []).append(rec)
    if not all(by_name.get(n) for n in names):
        return []
    end = max(int(rec["Timestamp"]) for recs in by_name.values() for rec in recs)
    start = end - measured_s - warmup_s
    head = "| seconds in | " + " | ".join(f"{n} req/s | p50 ms | p99 ms" for n in names) + " |"
    lines = [head, "|---:|" + "---:|---:|---:|" * len(names)]
    for t in range(int(start) + TIMELINE_STEP_S, end + 1, TIMELINE_STEP_S):
        cells = []
        for n in names:
            rec = min(by_name[n], key=lambda r: abs(int(r["Timestamp"]) - t))
            cells.append(f"{_num(rec['Requests/s']):,.0f} | {ms(_num(rec['50%']))} | {ms(_num(rec['99%']))}")
        seconds_in = t - int(start)
        lines.append(f"| {seconds_in}{' (warm-up)' if seconds_in <= warmup_s else ''} | " + " | ".join(cells) + " |")
    return lines


def inside_section(run: Run, inside: Mapping[str, list[float]]) -> list[str]:
    """Locust's view of each endpoint beside the worker's own (``floor.http.timings``), and both event loops' lag:
    what the worker does not account for was spent before it took the request up or after its answer left."""
    lines = ["| endpoint | Locust p50 ms | Locust p99 ms | inside p50 ms | inside p95 ms | inside p99 ms | "
             "inside max ms |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in run.rows:
        values = inside.get(r.name, [])
        if r.kind == "WS" or not values:
            continue
        lines.append(f"| {r.name} | {ms(r.p50)} | {ms(r.p99)} | {ms(percentile(values, 50))} | "
                     f"{ms(percentile(values, 95))} | {ms(percentile(values, 99))} | {ms(values[-1])} |")
    for who, lag in (("the server's event loop", inside.get(SERVER_LOOP_LAG, [])),
                     ("the load generator's event loop", run.loop_lag)):
        if lag:
            lines += ["", f"Lag of {who} (how late a 5 ms sleep woke): p50 {ms(percentile(lag, 50))}, "
                          f"p99 {ms(percentile(lag, 99))}, max {ms(lag[-1])} ms ({len(lag):,} samples)."]
    return lines


# -- targets -----------------------------------------------------------------------------------
@dataclass
class Target:
    what: str
    measured: str
    met: bool | None  # None: not applicable to this run

    @property
    def verdict(self) -> str:
        return "n/a" if self.met is None else "**met**" if self.met else "**not met**"


def ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def targets(run: Run, floor: Run | None, workers: int, rps_target: float | None,
            connections_target: int | None) -> list[Target]:
    out: list[Target] = []
    rps = run.http_rps
    for name, label in (("POST /tickets", "ticket issue"), ("POST /windows/{w}/call-next", "call-next")):
        row = run.row(name)
        if row is None:
            continue
        if rps_target is None or workers != 1:
            out.append(Target(f"{label} p99 <= 25 ms at 1,000 req/s, one worker",
                              f"{ms(row.p99)} ms at {rps:,.0f} req/s, {workers} worker(s) (judged in the scenario "
                              "built for 1,000 req/s on one worker)", None))
        elif rps >= 0.95 * rps_target:
            out.append(Target(f"{label} p99 <= 25 ms at 1,000 req/s, one worker",
                              f"{ms(row.p99)} ms at {rps:,.0f} req/s", row.p99 <= 25))
        else:  # Locust's users wait for answers: a saturated server gets fewer requests than the scenario offers
            out.append(Target(f"{label} p99 <= 25 ms at 1,000 req/s, one worker",
                              f"{ms(row.p99)} ms; the server sustained only {rps:,.0f} of the ~{rps_target:,.0f} "
                              "req/s the scenario offers", False))
    if floor is not None:
        base = floor.row("call-to-screen floor")
        for kind in ("display", "phone"):
            row = run.row(f"call-to-screen {kind}")
            if row is None or base is None or not row.samples:
                continue
            ratio = row.p99 / base.p99 if base.p99 > 0 else math.inf
            out.append(Target(f"call-to-screen {kind} p99 <= 1.5x the raw broadcast floor's p99",
                              f"{ms(row.p99)} ms vs {ms(base.p99)} ms = {ratio:.2f}x", ratio <= 1.5))
    if connections_target is not None:
        live = run.counters.get("peak live display", 0) + run.counters.get("peak live phone", 0)
        drops = sum(r.requests for r in run.rows if r.name.startswith("ws drop"))
        out.append(Target(f"{connections_target:,} live websocket connections across {workers} workers, none dropped",
                          f"{live:,} connected at the peak, {drops} dropped",
                          live >= connections_target and drops == 0))
    out.append(Target("0 failures", f"{run.failure_count} failures", run.failure_count == 0))
    return out


# -- the markdown ------------------------------------------------------------------------------
def table(rows: Sequence[Row]) -> list[str]:
    lines = ["| type | name | requests | failures | req/s | p50 ms | p95 ms | p99 ms | max ms |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.kind} | {r.name} | {r.requests:,} | {r.failures:,} | {r.rps:,.1f} | {ms(r.p50)} | "
                     f"{ms(r.p95)} | {ms(r.p99)} | {ms(r.max)} |")
    return lines


def failure_lines(run: Run) -> list[str]:
    lines = [f"- {f['Method']} {f['Name']}: {f['Error']} x{f['Occurrences']}" for f in run.failures]
    lines += [f"- error in the load generator: {e.get('Message', '?')} x{e.get('Count', '?')}" for e in run.errors]
    return lines


def summary(run: Run, floor_json: Run | None, floor_ws: Run | None, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The figures a history line keeps."""

    def p99(r: Run | None, name: str) -> float | None:
        row = r.row(name) if r else None
        return round(row.p99, 2) if row else None

    return {
        "date": meta["date"], "commit": meta["commit"], "workers": meta["workers"],
        "http_rps": round(run.http_rps, 1),
        "issue_p99": p99(run, "POST /tickets"), "call_next_p99": p99(run, "POST /windows/{w}/call-next"),
        "display_p50": (round(row.p50, 2) if (row := run.row("call-to-screen display")) else None),
        "display_p99": p99(run, "call-to-screen display"), "phone_p99": p99(run, "call-to-screen phone"),
        "json_floor_p99": p99(floor_json, "GET /json (floor)"),
        "broadcast_floor_p99": p99(floor_ws, "call-to-screen floor"),
        "failures": run.failure_count, "note": meta.get("note", ""),
    }


def previous_summaries(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    m = re.search(rf"<!-- {SUMMARY_MARK} (.*?) -->", path.read_text(encoding="utf-8"), re.S)
    if not m:
        return []
    data = json.loads(m.group(1))
    history: list[dict[str, Any]] = data.get("history", [])
    return [*history, data["current"]]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return ms(value) if value < 10_000 else f"{value:,.0f}"
    return str(value)


def history_table(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    cols = [("date", "date"), ("commit", "commit"), ("workers", "workers"), ("http_rps", "HTTP req/s"),
            ("issue_p99", "issue p99"), ("call_next_p99", "call-next p99"), ("display_p50", "screen p50"),
            ("display_p99", "screen p99"), ("phone_p99", "phone p99"), ("broadcast_floor_p99", "broadcast floor p99"),
            ("json_floor_p99", "JSON floor p99"), ("failures", "failures"), ("note", "note")]
    lines = ["| " + " | ".join(title for _, title in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(e.get(key)) for key, _ in cols) + " |" for e in entries]
    return lines


@dataclass
class Report:
    scenario: Any  # loadtest.scenarios.Scenario
    meta: dict[str, Any]  # date, command, commit, workers, pinning, machine, cpu, note, …
    run: Run
    floor_json: Run | None = None
    floor_ws: Run | None = None
    profile_md: str | None = None
    extra: list[str] = field(default_factory=list)
    inside: Mapping[str, list[float]] | None = None  # the worker's own timings (floor.http.timings), by endpoint
    timeline: list[str] = field(default_factory=list)  # ``timeline``'s table

    def targets(self) -> list[Target]:
        s = self.scenario
        return targets(self.run, self.floor_ws, self.meta["workers"], s.rps_target, s.connections_target)

    def markdown(self, history: Sequence[Mapping[str, Any]]) -> str:
        s, m, run = self.scenario, self.meta, self.run
        lines = [f"# Load scenario `{s.name}`: {s.title}", "", s.about, "",
                 "Command (from the repository root):", "", "```", m["command"], "```", "",
                 f"- date: {m['date']}; code: `{m['commit']}`",
                 f"- server: `hallq serve --workers {m['workers']}`, {m['pinning']}",
                 f"- load: {s.users:,} Locust users ({', '.join(f'{k} {v:,}' for k, v in s.counts().items())}), "
                 f"{m['locust_processes']} Locust process(es); {m['phase']}",
                 f"- halls {s.halls}, windows per hall {s.windows_per_hall}, time scale {s.time_scale:g}x"]
        lines += ["", "Machine: " + "; ".join(f"{k} {v}" for k, v in m["machine"].items()), "",
                  "CPU during the load, in cores (1.0 = one core busy all along): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in m["cpu"].items())
                  + ". Other people's work on this VM shows as \"everything else\": figures taken while it is high "
                    "are noisy.", ""]
        lines += ["## hallq", "", *table(run.rows), ""]
        notes = [f"Measured over {run.measured_s:.0f} s (after every screen had connected"
                 + (f" and a warm-up of {run.warmup_s:.0f} s, reported below)." if run.warmup_s else ").")
                 if s.gate_on_spawn else f"Measured over {run.measured_s:.0f} s, spawning included.",
                 f"HTTP total {run.http_rps:,.1f} req/s."]
        early = {k.removeprefix("early "): v for k, v in run.counters.items() if k.startswith("early ")}
        if early:
            notes.append("Screens that read a call before the window had read its call-next response count as 0 ms: "
                         + ", ".join(f"{k} {v:,}" for k, v in early.items()) + ".")
        msgs = {k.removeprefix("messages "): v for k, v in run.counters.items() if k.startswith("messages ")}
        if msgs and run.measured_s:
            notes.append("Websocket messages received: " + ", ".join(
                f"{k} {v:,} ({v / run.measured_s:,.0f}/s)" for k, v in msgs.items()) + ".")
        peaks = {k.removeprefix("peak live "): v for k, v in run.counters.items() if k.startswith("peak live ")}
        if peaks:
            notes.append("Live websockets at the peak (summed over Locust processes): "
                         + ", ".join(f"{k} {v:,}" for k, v in peaks.items()) + ".")
        closes = {k: v for k, v in run.counters.items() if k.startswith("closed ")}
        if closes:
            notes.append("Close frames from the server: " + ", ".join(f"{k} x{v}" for k, v in closes.items()) + ".")
        lines += notes + self.extra + [""]
        fails = failure_lines(run)
        lines += ["Failures (the warm-up included): none." if not fails else "Failures (the warm-up included):",
                  *fails, ""]
        if run.warmup_rows:
            lines += ["## Warm-up", "",
                      f"The first {run.warmup_s:.0f} s after the gate, kept out of the figures above and of the "
                      "targets: the queues start empty and the load has not settled yet (why, for this scenario: "
                      "`warmup_s` in `loadtest/scenarios.py`). Successful requests only; failures are counted above.",
                      "",
                      *table(run.warmup_rows), ""]
        if self.timeline:
            lines += ["## Over time", "", "Locust's percentiles of the last 10 s, every 10 s from the gate on, the "
                      "warm-up marked (its stats history; whole milliseconds).", "", *self.timeline, ""]
        if self.inside:
            lines += ["## Inside the server", "",
                      "The worker timed each request itself (`HALLQ_TIMINGS_FILE`, `floor/http/timings.py`), "
                      "from taking it "
                      "up to its answer written, over the same measuring window; Locust's figures are the whole trip. "
                      "The difference was spent outside the handler: waiting for the connection to be accepted, in "
                      "socket buffers, or in either event loop.", "", *inside_section(run, self.inside), ""]
        lines += self._floors()
        lines += ["## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
        lines += [f"| {t.what} | {t.measured} | {t.verdict} |" for t in self.targets()]
        lines += ["", "Targets marked n/a do not apply to this scenario's load; the HTTP latency target is judged in "
                      "`city-platform`, the scenario built to make 1,000 requests/s.", ""]
        if self.profile_md:
            lines += ["## Where the server's time goes (py-spy)", "", self.profile_md, ""]
        current = summary(run, self.floor_json, self.floor_ws, m)
        kept = list(history)[-HISTORY_KEEP:]
        lines += ["## History", "", "Every run of this scenario written here, oldest first (p99 in ms); the last "
                  "line is this file's run.", "", *history_table([*kept, current]), ""]
        lines.append(f"<!-- {SUMMARY_MARK} {json.dumps({'current': current, 'history': kept})} -->")
        return "\n".join(lines) + "\n"

    def _floors(self) -> list[str]:
        if self.floor_json is None and self.floor_ws is None:
            return ["## Floors", "", "Not measured in this run (`--no-floors`).", ""]
        lines = ["## Floors, at the same load", ""]
        if self.floor_json is not None:
            f = self.floor_json
            lines += ["(a) A bare Starlette app (`GET /json` -> `{\"ok\": true}`) on uvicorn with hallq's options, "
                      "same workers and pinning, hit by FastHttpUser at hallq's HTTP rate: the framework's limit.",
                      "", *table(f.rows), ""]
            lines += failure_lines(f)
        if self.floor_ws is not None:
            f = self.floor_ws
            lines += ["", "(b) A raw `websockets` broadcast to as many screens, grouped like the halls, triggered at "
                      "hallq's event rate (the share of them that are calls measured); each screen reports receipt "
                      "minus the time the trigger's answer was read, as call-to-screen is measured for hallq.",
                      "", *table(f.rows), ""]
            lines += failure_lines(f)
        return [*lines, ""]


def as_json(report: Report) -> dict[str, Any]:
    """Everything measured, for the smoke test and for anyone who wants more than the markdown."""
    return {"scenario": report.scenario.name, "meta": report.meta, "run": asdict(report.run),
            "floor_json": asdict(report.floor_json) if report.floor_json else None,
            "floor_ws": asdict(report.floor_ws) if report.floor_ws else None,
            "targets": [asdict(t) for t in report.targets()]}
