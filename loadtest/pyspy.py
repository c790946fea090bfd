"""py-spy during a load run: record the server, then boil the collapsed stacks down to a table a person reads.

``py-spy record --format raw`` writes one line per distinct stack: ``frame;frame;...;frame count``, root first,
each frame ``function (file:line)``; with ``--subprocesses`` the first frames name the process
(``process 123:"cmdline"``). Only stacks of threads that were running are sampled (no ``--idle``), so the
counts are where the CPU went, not where coroutines waited.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
OWN = ("floor/", "queue_engine/", "displays/", "staff_console/")
# What the server was doing, judged by the whole stack; the first rule that matches wins.
ACTIVITIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("phone feed (/ws/ticket: status reads, sends)", ("floor/tickets/phone_line.py",)),
    ("hub and display feeds (XREAD, render, fan-out, sends)", ("floor/realtime/hub.py", "displays/feed.py")),
    ("HTTP requests (uvicorn, Starlette, handlers, engine calls)",
     ("uvicorn/protocols/http/", "starlette/", "floor/http/kit.py")),
    ("websocket protocol outside the feeds (handshakes, pings)", ("uvicorn/protocols/websockets/",)),
    ("Redis replies read for any caller (reader tasks)", ("queue_engine/fcall_pipe.py", "redis/")),
)
ARCHIVER = "archiver process (SQL record)"


@dataclass(frozen=True, slots=True)
class Frame:
    func: str
    file: str

    @property
    def label(self) -> str:
        return f"{self.func} ({self.file})"

    @property
    def area(self) -> str:
        """The package a frame belongs to: its first path part, or "stdlib" for a bare module file."""
        if self.file.startswith("<"):
            return "generated"
        head, sep, _ = self.file.partition("/")
        return head if sep else "stdlib"


def parse_frame(text: str) -> Frame:
    m = _FRAME.match(text)
    return Frame(m["func"], m["file"]) if m else Frame(text, "?")


def process_label(frame: str) -> str:
    """A readable name for a ``process pid:"cmdline"`` frame."""
    cmd = frame.split(":", 1)[1].strip('"') if ":" in frame else frame
    if " archive" in cmd:
        return "archiver process"
    if "multiprocessing" in cmd:
        return "uvicorn worker"
    if " serve" in cmd:
        return "hallq serve"
    return cmd[:60]


@dataclass
class Profile:
    samples: int = 0
    by_process: Counter[str] = field(default_factory=Counter)
    self_time: Counter[Frame] = field(default_factory=Counter)
    inclusive: Counter[Frame] = field(default_factory=Counter)
    by_area: Counter[str] = field(default_factory=Counter)
    by_activity: Counter[str] = field(default_factory=Counter)

    def add(self, stack: list[str], count: int) -> None:
        procs = [f for f in stack if f.startswith("process ")]
        frames = [parse_frame(f) for f in stack if not f.startswith("process ")]
        self.samples += count
        self.by_process[process_label(procs[-1]) if procs else "?"] += count
        if not frames:
            return
        self.by_activity[activity(process_label(procs[-1]) if procs else "", frames)] += count
        leaf = frames[-1]
        self.self_time[leaf] += count
        self.by_area[leaf.area] += count
        for frame in set(frames):  # a recursive function counts once per sample
            self.inclusive[frame] += count


def activity(process: str, frames: list[Frame]) -> str:
    if process == "archiver process":
        return ARCHIVER
    files = [f.file for f in frames]
    for name, marks in ACTIVITIES:
        if any(file.startswith(marks) for file in files):
            return name
    return "event loop and everything else (uvloop, timers, idle tasks)"


def read_raw(lines: Iterable[str]) -> Profile:
    profile = Profile()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if stack and count.isdigit():
            profile.add(stack.split(";"), int(count))
    return profile


def load(path: Path) -> Profile:
    with path.open(encoding="utf-8", errors="replace") as f:
        return read_raw(f)


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"


def markdown(profile: Profile, top: int = 25) -> str:
    """Tables: samples per process, self time per package, the top self-time frames, hallq's own functions by
    inclusive time."""
    total = profile.samples
    if not total:
        return "py-spy recorded no samples.\n"
    out = [f"{total:,} samples of running threads.", "", "| process | samples | share |", "|---|---:|---:|"]
    out += [f"| {p} | {n:,} | {_pct(n, total)} |" for p, n in profile.by_process.most_common()]
    out += ["", "What the server was doing (whole stacks classified):", "", "| activity | samples | share |",
            "|---|---:|---:|"]
    out += [f"| {a} | {n:,} | {_pct(n, total)} |" for a, n in profile.by_activity.most_common()]
    out += ["", "Self time by package (where the CPU actually was):", "", "| package | self | share |",
            "|---|---:|---:|"]
    out += [f"| {a} | {n:,} | {_pct(n, total)} |" for a, n in profile.by_area.most_common(15)]
    out += ["", f"Top {top} functions by self time:", "", "| function (file) | self | share |", "|---|---:|---:|"]
    out += [f"| `{f.label}` | {n:,} | {_pct(n, total)} |" for f, n in profile.self_time.most_common(top)]
    own = [(f, n) for f, n in profile.inclusive.most_common() if f.file.startswith(OWN)][:top]
    out += ["", f"hallq's own functions by inclusive time (top {top}):", "", "| function (file) | inclusive | share |",
            "|---|---:|---:|"]
    out += [f"| `{f.label}` | {n:,} | {_pct(n, total)} |" for f, n in own]
    return "\n".join(out) + "\n"


def top_lines(profile: Profile, n: int = 12) -> list[str]:
    """The few lines printed to the terminal."""
    total = profile.samples or 1
    return [f"{100 * c / total:5.1f}%  {f.label}" for f, c in profile.self_time.most_common(n)]
