"""The archiver runs beside the server in a process of its own (``hallq archive``): the server starts it, starts it
again when it dies, and stops it on the way out; killed mid-day, the record still ends up equal to the stream."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from floor.sql.db import TicketEventRow, make_sql_engine
from tests.server.conftest import HallApi, LiveServer, ServerFactory

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)


def archiver_pids(server: LiveServer) -> list[int]:
    found = subprocess.run(["pgrep", "-f", f"floor.cli archive --parent {server.process.pid}"],
                           capture_output=True, text=True, check=False)
    return [int(pid) for pid in found.stdout.split()]


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie, until whoever inherited it reaps it, has stopped running all the same.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


async def archived(server: LiveServer) -> list[tuple[str, str]]:
    sql = make_sql_engine(f"sqlite:///{server.home / 'hallq.db'}")
    try:
        with Session(sql) as session:
            rows = session.scalars(select(TicketEventRow).where(TicketEventRow.hall == "demo")
                                   .order_by(TicketEventRow.stream_ms, TicketEventRow.stream_seq)).all()
            return [(r.stream_id, r.type) for r in rows]
    finally:
        sql.dispose()


async def wait_until(check: Callable[[], Awaitable[bool]], within_s: float = 15.0) -> None:
    deadline = time.monotonic() + within_s
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.2)


async def test_a_killed_archiver_is_started_again_and_the_record_catches_up(live_server: ServerFactory) -> None:
    server = live_server()
    async with server.client() as client:
        hall = HallApi(server, client, "demo")
        await hall.open("1")
        for _ in range(3):
            await hall.issue("SOC")

        async def one_archiver() -> bool:
            return len(archiver_pids(server)) == 1

        async def caught_up() -> bool:
            return await archived(server) == server.events()

        await wait_until(one_archiver)
        # Killed perhaps with entries read but not acknowledged: the new process adopts them at once, rather than
        # after claim_idle_ms (60 s), since the dead consumer was of this host.
        (first,) = archiver_pids(server)
        os.kill(first, signal.SIGKILL)
        for _ in range(5):  # issued while no archiver runs: the stream keeps them
            await hall.issue("HUK")

        async def replaced() -> bool:
            pids = archiver_pids(server)
            return len(pids) == 1 and pids[0] != first

        await wait_until(replaced)
        await wait_until(caught_up)
        assert len(server.events()) == 1 + 8  # window opened, eight tickets


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
async def test_the_archiver_ends_with_its_server(live_server: ServerFactory, how: signal.Signals) -> None:
    server = live_server()

    async def started() -> bool:
        return len(archiver_pids(server)) == 1

    await wait_until(started)
    (pid,) = archiver_pids(server)
    server.process.send_signal(how)  # SIGKILL: the server cannot stop it; the archiver sees it is gone
    server.process.wait(timeout=15)
    if how is signal.SIGTERM:  # stopped (and reaped) by its server on the way out, not left to notice alone
        assert not running(pid)

    async def gone() -> bool:
        return not running(pid)

    await wait_until(gone, within_s=10)


async def test_the_archiver_yields_the_cpu_to_the_server(live_server: ServerFactory) -> None:
    """On a saturated core the windows' requests come first; the record may trail (the stream keeps days)."""
    server = live_server()

    async def started() -> bool:
        return len(archiver_pids(server)) == 1

    await wait_until(started)
    (pid,) = archiver_pids(server)

    async def reniced() -> bool:  # the process lowers its own priority as it starts
        return os.getpriority(os.PRIO_PROCESS, pid) > os.getpriority(os.PRIO_PROCESS, server.process.pid)

    await wait_until(reniced)
    assert os.getpriority(os.PRIO_PROCESS, pid) - os.getpriority(os.PRIO_PROCESS, server.process.pid) == 10
