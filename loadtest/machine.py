"""The machine a run happened on, and who used its CPUs meanwhile.

Load figures mean little without both: the runs share two cores between the server, Redis and Locust, and
other people's work on the same VM shows up as noise. ``CpuMeter`` reads /proc before and after the load and
splits the CPU time between the server's processes, Locust, Redis and everything else.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path

import redis as redis_pkg

TICKS = os.sysconf("SC_CLK_TCK")


def _first(path: str, prefix: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


SERVER_CODE = ("floor", "queue_engine", "displays", "staff_console", "pyproject.toml")


def git_commit(root: Path) -> str:
    """Short HEAD, with "+ uncommitted changes" when the server code under test differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *SERVER_CODE], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return f"{head} + uncommitted changes" if dirty else head


def describe(redis_url: str) -> dict[str, str]:
    mem_kb = _first("/proc/meminfo", "MemTotal").split()[0]
    info: dict[str, str] = {
        "cpu": f'{_first("/proc/cpuinfo", "model name")} @ {_first("/proc/cpuinfo", "cpu MHz").split(".")[0]} MHz',
        "cores": f"{os.cpu_count()} (nproc {len(os.sched_getaffinity(0))})",
        "ram": f"{int(mem_kb) / 1024 / 1024:.1f} GiB" if mem_kb.isdigit() else "?",
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
    }
    try:
        client = redis_pkg.Redis.from_url(redis_url)
        server = client.info("server")
        info["redis"] = f"{server['redis_version']} on {redis_url} (same machine)"
        client.close()
    except Exception as exc:  # the report says so rather than failing the run
        info["redis"] = f"unreachable ({exc})"
    try:
        import importlib.metadata as md

        info["locust"] = md.version("locust")
    except Exception:
        info["locust"] = "?"
    info["load average at start"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return info


def proc_cpu_s(pid: int, children: bool = True) -> float:
    """CPU seconds of one process; with ``children``, also of the children it has reaped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command: state ppid ... utime (12th) stime (13th) cutime cstime.
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(root: int) -> list[int]:
    """A process and all its live descendants."""
    tree, found, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def tree_cpu_s(root: int) -> float:
    """CPU seconds of a process and all its live descendants (reaped ones count in their parent)."""
    return sum(proc_cpu_s(pid) for pid in descendants(root))


def machine_busy_s() -> tuple[float, float]:
    """(busy CPU seconds over all cores, wall-clock seconds of all cores) since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # steal included: time the VM wanted and the host gave elsewhere
    return (total - idle) / TICKS, total / TICKS


class CpuMeter:
    """CPU use between ``start()`` and ``finish()``, in cores (1.0 = one core busy all along): of the process
    trees named at the start (read while they still run), of trees measured by the caller (Locust, whose time
    the runner takes from ``getrusage`` once it has exited), and of everything else on the machine."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots
        self._begin = {name: tree_cpu_s(pid) for name, pid in roots.items()}
        self._busy = machine_busy_s()[0]
        self._wall = time.monotonic()

    def finish(self, measured_s: dict[str, float]) -> dict[str, float]:
        wall = max(time.monotonic() - self._wall, 1e-9)
        used = {name: tree_cpu_s(pid) - self._begin[name] for name, pid in self.roots.items()}
        used.update(measured_s)
        busy = machine_busy_s()[0] - self._busy
        cores = {name: s / wall for name, s in used.items()}
        cores["everything else"] = max(0.0, busy - sum(used.values())) / wall
        cores["whole machine"] = busy / wall
        return cores
