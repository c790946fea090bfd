"""Redis restarts without persistence: the server rebuilds the live day from its SQL record at start-up."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from floor.sql.db import TicketEventRow, make_sql_engine
from tests.server.conftest import ServerFactory, delete_prefix_sync, start_server, stop_server


def _archived(home: str) -> int:
    sql = make_sql_engine(f"sqlite:///{home}/hallq.db")
    try:
        with Session(sql) as session:
            return session.scalar(select(func.count()).select_from(TicketEventRow)) or 0
    finally:
        sql.dispose()


async def test_a_restart_after_redis_lost_the_day_resumes_it(live_server: ServerFactory) -> None:
    first = live_server()
    async with first.client() as client:
        staff, guide = first.auth("staff", "5"), first.auth("guide")
        assert (await client.post("/api/v1/halls/demo/windows/5/open", headers=staff)).status_code == 200
        numbers = [(await client.post("/api/v1/halls/demo/tickets", headers=guide, json={"service": "SOC"})).json()
                   for _ in range(5)]
        called = (await client.post("/api/v1/halls/demo/windows/5/call-next", headers=staff)).json()["ticket"]
    assert [t["number"] for t in numbers] == ["A001", "A002", "A003", "A004", "A005"]
    deadline = time.monotonic() + 15
    while _archived(str(first.home)) < len(first.events()):
        assert time.monotonic() < deadline, "the archiver did not catch up"
        await asyncio.sleep(0.2)
    stop_server(first)
    delete_prefix_sync(first.key_prefix)  # what SHUTDOWN NOSAVE and a restart leave: nothing

    second = start_server(first.home, first.key_prefix)
    try:
        async with second.client() as client:
            staff, guide, manager = second.auth("staff", "5"), second.auth("guide"), second.auth("manager")
            snapshot = (await client.get("/api/v1/halls/demo/snapshot", headers=manager)).json()
            soc = next(s for s in snapshot["services"] if s["code"] == "SOC")
            assert soc["waiting"] == 4
            window = next(w for w in snapshot["windows"] if w["id"] == "5")
            assert (window["state"], window["ticket"]) == ("calling", called["number"])
            nxt = await client.post("/api/v1/halls/demo/tickets", headers=guide, json={"service": "SOC"})
            assert nxt.json()["number"] == "A006"  # numbering goes on; nothing is issued twice
            done = await client.post("/api/v1/halls/demo/windows/5/finish", headers=staff, json={"outcome": "done"})
            assert done.json()["ticket"]["id"] == called["id"]
            again = await client.post("/api/v1/halls/demo/windows/5/call-next", headers=staff)
            assert again.json()["ticket"]["number"] == "A002"
        assert any(t == "hall.restored" for _, t in second.events())
        assert "restored it from the SQL record" in second.stderr()
    finally:
        stop_server(second)
