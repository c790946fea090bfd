"""``hallq archive``: the archivers of every hall in a process of their own, started and watched by ``hallq serve``.

Why not inside the web workers: copying events into SQL is Python work (SQLAlchemy) on a thread, and a thread
holding the GIL makes the event loop wait for its switch interval at every socket call, which lands on every
request under load. In a process of its own it costs the web workers nothing, and one process archives every
hall however many web workers there are.

The process ends when it is told to (SIGTERM, SIGINT) or when the server that started it is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from floor import gc_tuning
from floor.hall_files import load_halls
from floor.logs import redact_root_handlers
from floor.metrics.tickets import CountingWriter
from floor.notify.notifier import CallWords, run_notifications
from floor.record.archiver import Archiver
from floor.redis_shards import open_shards
from floor.regions.warming import keep_warm
from floor.settings import Settings
from floor.sql.db import make_sql_engine
from queue_engine.engine import Engine

log = logging.getLogger("hallq.archiver")
BATCH = 1000
PACE_S = 0.2  # the record trails the live hall by about this much under load
NICENESS = 10  # below the web workers: the record may trail the hall (the stream keeps days), the calls may not
LINGER_S = 0.05  # the first hall's batch waits this long for other halls' batches to share its transaction
RESTART_DELAY_S = 1.0


async def archive_halls(settings: Settings, call_words: CallWords, parent: int | None = None) -> None:
    """Archive every configured hall until cancelled or until ``parent`` (a process id) is gone."""
    halls = load_halls(settings)
    # Each archiver blocks a connection of its own in XREADGROUP, and redis-py's default pool stops at 100.
    redis = open_shards(settings, max_connections=2 * len(halls) + 8)
    await redis.start()
    sql = make_sql_engine(settings.database_url)
    writer = CountingWriter(sql, linger_s=LINGER_S)  # counts the tickets' moves as they reach SQL, once each
    archivers = [Archiver(Engine(redis, hall, prefix=settings.key_prefix), sql, batch_size=BATCH, pace_s=PACE_S,
                          writer=writer) for hall in halls.values()]
    for archiver in archivers:
        with contextlib.suppress(Exception):  # Redis away: the archiver waits for it, and follows the stream then
            await archiver.engine.catch_up()
    gc_tuning.settle()
    tasks = [asyncio.create_task(a.run(), name=f"archiver-{a.engine.hall.id}") for a in archivers]
    notifications = run_notifications(settings, halls, sql, call_words)  # SMS, 好差评
    tasks.append(asyncio.create_task(notifications, name="notifications"))
    if settings.network is not None:  # a region's reports read summaries of settled days: made ahead of them
        tasks.append(asyncio.create_task(keep_warm(sql, [a.engine for a in archivers]), name="report-summaries"))
    if parent is not None:
        tasks.append(asyncio.create_task(_parent_gone(parent), name="parent-watch"))
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for archiver in archivers:
            await archiver.close()
        await redis.aclose()
        sql.dispose()


async def _parent_gone(parent: int) -> None:
    # A server killed with SIGKILL cannot stop us; once we are re-parented, it is gone. Nothing signals
    # that, so it is polled.
    while os.getppid() == parent:  # noqa: ASYNC110
        await asyncio.sleep(1.0)
    log.warning("the server (pid %d) is gone; the archiver stops", parent)


def run(parent: int | None, call_words: CallWords) -> None:
    """The ``hallq archive`` command: archive until SIGTERM or SIGINT."""

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await archive_halls(Settings.from_env(), call_words, parent)

    logging.basicConfig(level=os.environ.get("HALLQ_LOG_LEVEL", "info").upper(),
                        format="%(levelname)s:     %(name)s %(message)s")
    redact_root_handlers()
    # A saturated core is shared with the server: the scheduler then serves the windows first.
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    asyncio.run(main())


class ArchiveSupervisor:
    """Keeps one ``hallq archive`` process running beside the server; restarts it if it dies."""

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._watch, name="archive-supervisor", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def _spawn(self) -> None:
        self._process = subprocess.Popen([sys.executable, "-m", "floor.cli", "archive", "--parent", str(os.getpid())],
                                         stdin=subprocess.DEVNULL)

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self._process
            if process is not None and process.poll() is not None and not self._stopping.is_set():
                log.error("the archiver process exited with %s; starting it again", process.returncode)
                time.sleep(RESTART_DELAY_S)
                if not self._stopping.is_set():
                    self._spawn()
            self._stopping.wait(0.5)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
