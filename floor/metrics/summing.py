"""Every process's metrics summed from the multiprocess directory, in a helper process of the worker's own.

prometheus_client sums the files in pure Python, in time proportional to the series (each route template, status
class and bucket of the request histogram is one). Done in the worker that answers the scrape, it would hold that
worker's event loop for the whole sum; in a thread, it would hold the GIL, and the loop would wait its turn at every
socket call. So a helper process does it, started when the worker answers its first scrape and kept (its loop only
waits for the text), at a lower priority than the windows' requests, as the archive process runs. If the helper is
gone (killed), the sum is done in the worker this once and a new helper started next time.

A worker that died leaves its files: its counters and histograms stay in the sums (they counted what happened), its
``live*`` gauges (sockets open, loop lag) must not, and nothing tells the directory it died (uvicorn replaces a
killed worker without a word), so each sum first drops those of processes that are gone.

This module imports no metric of hallq's: the helper must make no file of its own in the directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

NICENESS = 10  # below the web workers, as the archive process
PARENT_CHECK_S = 1.0


def pid_of(name: str) -> int | None:
    """The process of a live gauge's file (``gauge_livesum_1234.db``), else None."""
    stem, _, ext = name.rpartition(".")
    kind, _, pid = stem.rpartition("_")
    if ext != "db" or not kind.startswith("gauge_live") or not pid.isdigit():
        return None
    return int(pid)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0 only asks whether it exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, run by someone else
        return True
    return True


def forget_dead(directory: Path) -> None:
    for name in os.listdir(directory):
        pid = pid_of(name)
        if pid is not None and not _running(pid):
            mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


def processes_text(directory: str) -> bytes:
    """The sum of every process's files, in the text format."""
    forget_dead(Path(directory))
    registry = CollectorRegistry()
    MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def _as_helper() -> None:
    """In the helper: a lower priority, and an end with the worker. A worker killed (SIGKILL) cannot stop its pool,
    whose process would wait for work forever: it watches its parent and leaves once it is gone."""
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class ProcessSums:
    """A worker's helper for sums; started on first use."""

    def __init__(self) -> None:
        self.helper: ProcessPoolExecutor | None = None

    async def text(self, directory: str) -> bytes:
        if self.helper is None:
            # spawn, not fork: the worker runs an event loop and threads, which a fork would copy half-way.
            self.helper = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                              initializer=_as_helper)
        try:
            return await asyncio.get_running_loop().run_in_executor(self.helper, processes_text, directory)
        except BrokenProcessPool:
            self.helper = None
            return processes_text(directory)
