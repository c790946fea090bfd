"""One morning, the same figures on every screen: the window's console (GET /windows/{w}/today), the dashboard
(GET /stats/today) and the report of the day (GET /reports) count 过号, served, issued and the average wait alike,
per window, per service and in total, and as worked out by hand.

The server's clock stands where the test sets it (HALLQ_CLOCK_FILE), so every wait is known to the second. Each
no-show is marked after a recall and more than a minute after its call, as a hall's no-show rule may ask.

Monday 2026-11-23, windows 1 and 2 open at 09:00, when A, B, C, F, E, G (社保医保) and D (户籍) are issued, and H:

    H  cancelled at 09:05
    A  called @1 09:02:01 (wait 121), served
    B  called @1 09:10:00 (wait 600), recalled, no-show 09:11:10; came back, called back @1 09:15:00 and served:
       served, not 过号, and its wait stays 600 (its first call)
    C  called @1 09:11:10 (wait 670), served
    F  called @1 09:20:00 (wait 1200), recalled, no-show 09:21:10: 过号
    E  called @2 09:21:10 (wait 1270), served
    G  called @2 09:30:02 (wait 1802), recalled, no-show 09:31:12: 过号
    D  still waiting
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MONDAY_9AM
from tests.server.conftest import HallApi, ServerClock, ServerFactory

FIGURES = ("issued", "served", "missed", "avg_wait_s")
WINDOW_1 = {"issued": 4, "served": 3, "missed": 1, "avg_wait_s": 648}  # (121 + 600 + 670 + 1200) / 4
WINDOW_2 = {"issued": 2, "served": 1, "missed": 1, "avg_wait_s": 1536}  # (1270 + 1802) / 2
SOC = {"issued": 7, "served": 4, "missed": 2, "avg_wait_s": 944}  # every called ticket is 社保医保
TOTALS = {"issued": 8, "served": 4, "missed": 2, "avg_wait_s": 944}  # (121+600+670+1200+1270+1802) / 6 = 943.8


@pytest.fixture
async def morning(live_server: ServerFactory, tmp_path: Path) -> AsyncIterator[HallApi]:
    clock = ServerClock(tmp_path / "clock", MONDAY_9AM)

    def at(h: int, m: int, s: int = 0) -> None:
        clock.set(MONDAY_9AM.replace(hour=h, minute=m, second=s))

    server = live_server(extra_env=clock.env)
    async with server.client() as client:
        api = HallApi(server, client, "demo")
        await api.open("1", "2")
        a, b, c, f, e, g = [await api.issue("SOC") for _ in range(6)]
        await api.issue("HUK")  # D
        h = await api.issue("SOC")

        async def call_next(window: str, expected: dict[str, Any]) -> None:
            called = (await api.window_op(window, "call-next"))["ticket"]
            assert called["id"] == expected["id"], (called["number"], expected["number"])

        async def no_show(window: str) -> None:
            clock.advance(30)
            await api.window_op(window, "recall")
            clock.advance(40)
            await api.window_op(window, "no-show")

        async def serve(window: str, until: tuple[int, int]) -> None:
            await api.window_op(window, "start")
            at(9, *until)
            await api.window_op(window, "finish", {"outcome": "done"})

        at(9, 2, 1)
        await call_next("1", a)
        at(9, 5)
        await api.ok("POST", f"/tickets/{h['id']}/cancel", role="guide")
        await serve("1", (10, 0))
        await call_next("1", b)
        await no_show("1")  # 09:11:10
        await call_next("1", c)
        await serve("1", (15, 0))
        # B comes back: the window that called it serves it straight from its no-shows.
        await api.window_op("1", "call", {"ticket": b["id"], "reason": "过号群众返回"})
        await serve("1", (20, 0))
        await call_next("1", f)
        await no_show("1")  # 09:21:10
        await call_next("2", e)
        await serve("2", (30, 1))
        at(9, 30, 2)
        await call_next("2", g)
        await no_show("2")  # 09:31:12
        assert clock.now() == MONDAY_9AM + timedelta(minutes=31, seconds=12)
        yield api


async def recorded(api: HallApi) -> dict[str, Any]:
    """/stats/today once the record holds every event (``unrecorded`` 0 and the last no-show in it)."""
    for _ in range(150):
        stats: dict[str, Any] = await api.ok("GET", "/stats/today")
        if stats["unrecorded"] == 0 and stats["totals"]["missed"] == TOTALS["missed"]:
            return stats
        await asyncio.sleep(0.1)
    pytest.fail("the archiver did not record the morning within 15 s")


def pick(figures: dict[str, Any]) -> dict[str, Any]:
    return {name: figures[name] for name in FIGURES}


async def test_the_console_the_dashboard_and_the_report_count_the_morning_alike(morning: HallApi) -> None:
    api = morning
    stats = await recorded(api)
    consoles = {w: await api.ok("GET", f"/windows/{w}/today", role="staff", window=w) for w in ("1", "2")}
    by_window = await api.ok("GET", "/reports", params={"by": "window"})
    by_service = await api.ok("GET", "/reports", params={"by": "service"})
    assert by_window["from"] == by_window["to"] == "2026-11-23"

    report_windows = {r["key"]: r for r in by_window["rows"]}
    dashboard_windows = {w["id"]: w for w in stats["windows"]}
    for window, expected in (("1", WINDOW_1), ("2", WINDOW_2)):
        seen = {"console": pick(consoles[window]), "dashboard": pick(dashboard_windows[window]),
                "report": pick(report_windows[window])}
        assert seen == {screen: expected for screen in seen}, window

    soc = {"dashboard": pick(next(s for s in stats["services"] if s["code"] == "SOC")),
           "report": pick(next(r for r in by_service["rows"] if r["key"] == "SOC"))}
    assert soc == {"dashboard": SOC, "report": SOC}
    totals = {"dashboard": pick(stats["totals"]), "report by window": pick(by_window["totals"]),
              "report by service": pick(by_service["totals"])}
    assert totals == {screen: TOTALS for screen in totals}


async def test_every_ticket_is_served_missed_cancelled_or_unfinished_once(morning: HallApi) -> None:
    """B, marked a no-show and served after, is served only: 过号 counts tickets, not no-show marks."""
    api = morning
    stats = await recorded(api)
    report = await api.ok("GET", "/reports")
    for figures in (stats["totals"], report["totals"]):
        parts = (figures["served"], figures["missed"], figures["cancelled"], figures["unfinished"])
        assert parts == (4, 2, 1, 1)
        assert sum(parts) == figures["issued"]
        assert figures["no_show_rate"] == 0.3333  # 2 / (4 + 2)
