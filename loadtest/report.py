"""What a simulated day leaves behind, and the terminal report a hall manager reads.

Chinese characters take two terminal columns, so every table pads by display width, not by len().
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from .workload import Arrival

Json = dict[str, Any]
CALL_LOG_LINES = 40

TITLE_CALLS = "叫号记录 Call log"
TITLE_SERVICES = "各业务汇总 Per service"
TITLE_WINDOWS = "各窗口 Per window"
TITLE_ESTIMATE = "预计等候误差 Wait estimate error"
TITLE_SNAPSHOT = "结束时快照 Final snapshot"


@dataclass
class TicketLog:
    """One citizen's ticket as the simulation saw it; times are epoch seconds."""

    arrival: Arrival
    ticket_id: str
    number: str
    service: str  # the service the number was taken for
    issued_s: float
    estimate_s: int | None  # estimated_wait_s the engine gave at issue
    queued_s: float  # when it (re-)entered the queue it waits in now
    final_service: str = ""  # differs from service after a transfer
    first_called_s: float | None = None
    serving_s: float | None = None
    handling_s: float | None = None  # start to finish at the window that finished it
    left_s: float | None = None  # when it gave up waiting (cancelled)
    transferred: bool = False
    status: str = ""  # the engine's status at the end

    def wait_s(self, end_s: float) -> float:
        """Wait to the first call; a ticket never called counts its wait so far (or until it left)."""
        until = self.first_called_s if self.first_called_s is not None else self.left_s or end_s
        return until - self.issued_s


@dataclass
class WindowLog:
    id: str
    name: str
    served: int = 0
    no_shows: int = 0
    transfers: int = 0
    busy_s: float = 0.0  # from a call to finish / no-show / transfer
    open_s: float = 0.0
    paused_s: float = 0.0
    pauses: list[str] = field(default_factory=list)
    opened_at: float | None = None  # set while open
    busy_since: float | None = None  # set while a ticket is at the window

    def busy_share(self) -> float:
        working = self.open_s - self.paused_s
        return self.busy_s / working if working > 0 else 0.0


@dataclass(frozen=True, slots=True)
class CallLog:
    at_s: float
    number: str
    window: str  # the window's display name, e.g. 5号窗口
    service: str  # Chinese service name
    waited_s: float | None  # since it entered the queue; None for a recall
    estimate_s: int | None
    note: str


@dataclass
class DayResult:
    hall_name: str
    date: str
    daily_tickets: int
    seed: int
    start_s: float
    end_s: float
    zone: tzinfo  # the hall's time zone
    opening_s: float  # the first session's opening, epoch seconds
    service_names: dict[str, str]
    targets: dict[str, int]
    tickets: list[TicketLog] = field(default_factory=list)
    windows: list[WindowLog] = field(default_factory=list)
    calls: list[CallLog] = field(default_factory=list)
    refused: int = 0
    snapshot: Json = field(default_factory=dict)

    def clock(self, epoch_s: float) -> str:
        return datetime.fromtimestamp(epoch_s, self.zone).strftime("%H:%M:%S")

    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for t in self.tickets:
            counts[t.status] = counts.get(t.status, 0) + 1
        return counts


# -- formatting helpers ------------------------------------------------------------------------
def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pad(text: str, cols: int, right: bool = False) -> str:
    fill = " " * max(cols - width(text), 0)
    return fill + text if right else text + fill


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> list[str]:
    """Columns sized to their widest cell, aligned by ``align`` ("l"/"r" per column; default: first left, rest right).

    A header may hold a line break ("取号\nissued"): Chinese above, English below keeps tables narrow.
    """
    depth = max(h.count("\n") + 1 for h in headers)
    split = [[""] * (depth - 1 - h.count("\n")) + h.split("\n") for h in headers]  # one-line headers sit low
    head_rows = [[h[i] for h in split] for i in range(depth)]
    cols = [max(width(r[i]) for r in [*head_rows, *rows]) for i in range(len(headers))]
    align = align or "l" + "r" * (len(headers) - 1)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(pad(c, cols[i], right=align[i] == "r") for i, c in enumerate(cells)).rstrip()

    return [*(line(h) for h in head_rows), "  ".join("-" * c for c in cols), *(line(r) for r in rows)]


def mmss(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    sign, s = ("-" if seconds < 0 else ""), round(abs(seconds))
    return f"{sign}{s // 60}:{s % 60:02d}"


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def section(title: str, lines: Iterable[str]) -> list[str]:
    return ["", f"== {title} ==", *lines]


# -- sections ---------------------------------------------------------------------------------
def header(r: DayResult) -> list[str]:
    c = r.status_counts()
    return [
        f"{r.hall_name}  模拟营业日 simulated day {r.date}  {r.clock(r.start_s)[:5]}-{r.clock(r.end_s)[:5]}",
        f"日取号量 daily volume ~{r.daily_tickets}  seed {r.seed}  windows {len(r.windows)}  "
        f"tickets taken by {r.clock(r.end_s)[:5]}: {len(r.tickets)} (refused {r.refused})",
        f"结果 outcome: done {c.get('done', 0)}, no-show {c.get('missed', 0)}, left {c.get('cancelled', 0)}, "
        f"at a window {c.get('called', 0) + c.get('serving', 0)}, still waiting {c.get('waiting', 0)}",
    ]


def call_log(r: DayResult) -> list[str]:
    rows = [
        [r.clock(c.at_s), f"请{c.number}号到{c.window}", c.service, mmss(c.waited_s), mmss(c.estimate_s), c.note]
        for c in r.calls[:CALL_LOG_LINES]
    ]
    heads = ["时间\ntime", "广播\nannouncement", "业务\nservice", "已等\nwaited", "取号时预计\nest. at issue",
             "备注\nnote"]
    return [f"first {min(len(r.calls), CALL_LOG_LINES)} of {len(r.calls)} announcements", *table(heads, rows, "lllrrl")]


def _service_row(r: DayResult, code: str) -> list[str]:
    mine = [t for t in r.tickets if t.service == code]
    called = [t.wait_s(r.end_s) for t in mine if t.first_called_s is not None]
    every = [t.wait_s(r.end_s) for t in mine]
    handled = [t.handling_s for t in r.tickets if t.final_service == code and t.handling_s is not None]
    over = sum(1 for w in every if w > r.targets[code])
    return [
        r.service_names[code], str(len(mine)), str(sum(t.status == "done" for t in mine)),
        str(sum(t.status == "missed" for t in mine)), str(sum(t.transferred for t in mine)),
        str(sum(t.status == "cancelled" for t in mine)), mmss(mean(called)), mmss(percentile(called, 0.9)),
        mmss(max(every, default=None)), mmss(r.targets[code]), str(over), mmss(mean(handled)),
    ]


def services(r: DayResult) -> list[str]:
    heads = ["业务\nservice", "取号\nissued", "办结\ndone", "过号\nno-show", "转出\ntransf.", "放弃\nleft",
             "平均等候\navg wait", "P90等候\np90 wait", "最长等候\nmax wait", "目标\ntarget", "超时\nover",
             "平均办理\nhandling"]
    rows = [_service_row(r, code) for code in r.service_names]
    notes = ["waits (m:ss) run from taking the number to the first call; max and over-target also count tickets",
             "not called yet; handling is start to finish, counted under the service the ticket was finished as"]
    return [*table(heads, rows), *notes]


def windows(r: DayResult) -> list[str]:
    heads = ["窗口\nwindow", "办结\ndone", "过号\nno-show", "转出\ntransf.", "开窗\nopen h:mm", "忙碌\nbusy",
             "暂停\npaused", "暂停原因\npause reason"]
    rows = [
        [w.name, str(w.served), str(w.no_shows), str(w.transfers), mmss(w.open_s / 60), f"{w.busy_share():.0%}",
         mmss(w.paused_s), "；".join(w.pauses)]
        for w in r.windows
    ]
    notes = ["busy: share of open, unpaused time with a citizen called or at the window"]
    return [*table(heads, rows, "lrrrrrrl"), *notes]


def _error_row(label: str, pairs: Sequence[tuple[float, float]]) -> list[str]:
    errs = [est - actual for est, actual in pairs]
    mae = mean([abs(e) for e in errs])
    return [label, str(len(pairs)), mmss(mae), mmss(mean(errs)), mmss(mean([a for _, a in pairs])),
            mmss(mean([e for e, _ in pairs]))]


def estimate_pairs(r: DayResult, keep: Callable[[TicketLog], bool]) -> list[tuple[float, float]]:
    """(estimated wait at issue, actual wait to the first call) of the tickets that have been called."""
    return [(float(t.estimate_s), t.wait_s(r.end_s)) for t in r.tickets
            if t.estimate_s is not None and t.first_called_s is not None and keep(t)]


def _of_service(code: str) -> Callable[[TicketLog], bool]:
    return lambda t: t.service == code


def estimate(r: DayResult) -> list[str]:
    heads = ["范围\nscope", "n", "平均绝对误差\nMAE", "偏差\nbias", "实际平均\nactual avg", "预计平均\nest. avg"]
    rows = [
        _error_row("全部 all", estimate_pairs(r, lambda t: True)),
        _error_row("开门后取号 after opening", estimate_pairs(r, lambda t: t.issued_s >= r.opening_s)),
        *(_error_row(name, estimate_pairs(r, _of_service(code))) for code, name in r.service_names.items()),
    ]
    notes = ["bias = estimate - actual: positive means the hall promised longer waits than happened; "
             "tickets never called are left out"]
    return [*table(heads, rows), *notes]


def snapshot(r: DayResult) -> list[str]:
    snap = r.snapshot
    rows = [[r.service_names[s["code"]], str(s["waiting"]), mmss(s["longest_wait_s"]), mmss(s["estimated_wait_s"]),
             str(s["able_windows"])] for s in snap.get("services", [])]
    heads = ["业务\nservice", "等候人数\nwaiting", "最久等候\nlongest", "预计等候\nestimate", "可办窗口\nwindows"]
    states: dict[str, int] = {}
    for w in snap.get("windows", []):
        states[w["state"]] = states.get(w["state"], 0) + 1
    summary = "windows: " + ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    paused = [f"{w['id']}号 {w.get('reason', '')}" for w in snap.get("windows", []) if w["state"] == "paused"]
    if paused:
        summary += "; paused: " + ", ".join(paused)
    return [f"at {r.clock(r.end_s)}", *table(heads, rows), summary]


def render(r: DayResult, calls: bool = True) -> str:
    lines = [
        *header(r),
        *(section(TITLE_CALLS, call_log(r)) if calls else []),
        *section(TITLE_SERVICES, services(r)),
        *section(TITLE_WINDOWS, windows(r)),
        *section(TITLE_ESTIMATE, estimate(r)),
        *section(TITLE_SNAPSHOT, snapshot(r)),
    ]
    return "\n".join(lines)
