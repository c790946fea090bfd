"""What the pages stand on, over real HTTP and websockets: page routes, the phone feed, QR codes, and the
endpoints added for the faces of the hall (whoami, config search terms, queue lists, today's figures)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import Awaitable, Callable
from typing import Any

import segno

from tests.server.conftest import NO_SHOW_AT_ONCE, HallApi, assert_error, recv_json, ws_connect
from tests.server.test_auth import refused

HALL_POLICY = NO_SHOW_AT_ONCE  # the shared server's halls mark a no-show at once (tests/server/conftest.py)


async def eventually(check: Callable[[], Awaitable[Any]], within_s: float = 10.0) -> Any:
    """The SQL record trails the stream by the archiver's lag: ask again until the answer holds."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        try:
            return await check()
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


# -- pages ---------------------------------------------------------------------------------------
async def test_hall_pages_are_served_with_the_hall_filled_in(api: HallApi) -> None:
    for page in ("guide", "kiosk", "display", "console", "dashboard"):
        reply = await api.client.get(f"/halls/{api.hall}/{page}")
        assert reply.status_code == 200, page
        assert reply.headers["content-type"].startswith("text/html")
        assert f'name="hallq-hall" content="{api.hall}"' in reply.text, page
        assert "__HALL__" not in reply.text
        assert reply.headers["cache-control"] == "no-cache"


async def test_unknown_hall_or_page_is_a_friendly_404(api: HallApi) -> None:
    for path in ("/halls/no-such-hall/guide", f"/halls/{api.hall}/no-such-page"):
        reply = await api.client.get(path)
        assert reply.status_code == 404, path
        assert "<h1>" in reply.text
        assert reply.headers["content-type"].startswith("text/html")


async def test_index_lists_every_hall_with_links_to_its_pages(api: HallApi) -> None:
    reply = await api.client.get("/")
    assert reply.status_code == 200
    assert f'href="/halls/{api.hall}/display"' in reply.text
    assert f'href="/halls/{api.hall}/console"' in reply.text


async def test_the_managers_pages_are_served_joined_by_their_nav_and_listed_at_the_front_door(api: HallApi) -> None:
    """Issue 22, item 8: bookings, windows' skills, webhooks and the audit log each have a page, with its script and
    styles, the nav of the managers' pages (also on the dashboard, reports and cases), and a link at the front door."""
    scripts = {"bookings": "/assets/appointments/bookings.js", "windows": "/assets/hall/windows.js",
               "webhooks": "/assets/notify/webhooks.js", "audit": "/assets/audit/audit.js"}
    front_door = (await api.client.get("/")).text
    for page, script in scripts.items():
        reply = await api.client.get(f"/halls/{api.hall}/{page}")
        assert reply.status_code == 200, page
        assert f'name="hallq-hall" content="{api.hall}"' in reply.text, page
        assert f'<script type="module" src="{script}"></script>' in reply.text, page
        assert f'href="/halls/{api.hall}/{page}"' in front_door, page
        for asset, kind in ((script, "javascript"), (script.removesuffix(".js") + ".css", "text/css")):
            served = await api.client.get(asset)
            assert served.status_code == 200, asset
            assert kind in served.headers["content-type"], asset
    for page in ("dashboard", "reports", "cases", *scripts):
        assert '<nav id="manager-nav"></nav>' in (await api.client.get(f"/halls/{api.hall}/{page}")).text, page
    for asset in ("manager-nav.js", "manager-nav.css", "manager.css"):
        assert (await api.client.get(f"/assets/floor/{asset}")).status_code == 200, asset
    nav = (await api.client.get("/assets/floor/manager-nav.js")).text
    for page in ("dashboard", "reports", "cases", *scripts):
        assert f'["{page}", ' in nav, page


async def test_assets_of_every_room_are_served(api: HallApi) -> None:
    for path, kind in (("/assets/floor/hallq.js", "javascript"), ("/assets/floor/hallq.css", "text/css"),
                       ("/assets/displays/display.js", "javascript"), ("/assets/console/console.js", "javascript")):
        reply = await api.client.get(path)
        assert reply.status_code == 200, path
        assert kind in reply.headers["content-type"], (path, reply.headers["content-type"])
    assert (await api.client.get("/assets/floor/../settings.py")).status_code == 404


async def test_phone_and_print_pages_find_the_ticket_s_hall(api: HallApi) -> None:
    await api.open("1")
    ticket = await api.issue("SOC")
    for path in (f"/t/{ticket['id']}", f"/t/{ticket['id']}/print"):
        reply = await api.client.get(path)
        assert reply.status_code == 200, path
        assert f'name="hallq-hall" content="{api.hall}"' in reply.text
        assert f'name="hallq-ticket" content="{ticket["id"]}"' in reply.text
    for bad in ("/t/20261123-000000000000", "/t/%3Cscript%3E", "/t/20261123-000000000000/print"):
        reply = await api.client.get(bad)
        assert reply.status_code == 404, bad
        assert "号票不存在" in reply.text


async def test_qr_code_points_at_the_phone_page(api: HallApi) -> None:
    await api.open("1")
    ticket = await api.issue("SOC")
    reply = await api.client.get(f"/t/{ticket['id']}/qr.svg", params={"key": ticket["key"]})
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "image/svg+xml"
    assert 'xmlns="http://www.w3.org/2000/svg"' in reply.text  # a standalone <img> needs it
    expected = io.BytesIO()  # the phone page, with the ticket's key in its fragment (test_ticket_qr: the rest)
    segno.make(f"{api.server.base_url}/t/{ticket['id']}#key={ticket['key']}", error="m").save(
        expected, kind="svg", scale=4, border=2, xmldecl=False)
    assert reply.content == expected.getvalue()
    assert (await api.client.get("/t/bad%20id/qr.svg")).status_code == 404


# -- whoami and config -------------------------------------------------------------------------------
async def test_whoami_names_role_and_window(api: HallApi) -> None:
    staff = await api.ok("GET", "/whoami", role="staff", window="5")
    assert staff == {"hall": api.hall, "hall_name": "示范县政务服务中心", "role": "staff", "window": "5",
                     "window_name": "5号窗口", "kind": "token", "username": None, "display_name": None}
    kiosk = await api.ok("GET", "/whoami", role="kiosk")
    assert (kiosk["role"], kiosk["window"]) == ("kiosk", None)
    assert_error(await api.request("GET", "/whoami", role=None), 401, "no_token")


async def test_config_carries_pinyin_to_search_services_by(api: HallApi) -> None:
    config = await api.ok("GET", "/config", role="guide")
    soc = next(s for s in config["services"] if s["code"] == "SOC")
    assert (soc["pinyin"], soc["initials"]) == ("shebaoyibao", "sbyb")


# -- queue lists ----------------------------------------------------------------------------------
async def test_queue_lists_waiting_tickets_in_calling_order(api: HallApi) -> None:
    await api.open("1")
    first = await api.issue("SOC")
    second = await api.issue("HUK")
    green = await api.issue("SOC", priority="green")
    whole = await api.ok("GET", "/queue", role="guide")
    assert next(t["number"] for t in whole["tickets"]) == green["number"]
    assert {t["id"] for t in whole["tickets"]} == {first["id"], second["id"], green["id"]}
    soc = await api.ok("GET", "/queue", params={"service": "SOC"})
    assert [t["id"] for t in soc["tickets"]] == [green["id"], first["id"]]
    line = soc["tickets"][0]
    assert (line["priority"], line["service_name"], line["transferred"]) == ("green", "社保医保", False)
    assert line["waited_s"] >= 0
    assert len((await api.ok("GET", "/queue", params={"limit": "1"}))["tickets"]) == 1


async def test_queue_refuses_bad_limits_unknown_services_and_other_roles(api: HallApi) -> None:
    for limit in ("0", "501", "ten", "-1"):
        assert_error(await api.request("GET", "/queue", params={"limit": limit}), 422, "invalid_request")
    assert_error(await api.request("GET", "/queue", params={"service": "NOPE"}), 404, "unknown_service")
    for role in ("kiosk", "display"):
        assert_error(await api.request("GET", "/queue", role=role), 403, "wrong_role")


async def test_window_waiting_is_call_order_and_lists_its_no_shows(api: HallApi) -> None:
    await api.open("1", "12")
    tickets = [await api.issue(s) for s in ("INFO", "SOC", "HUK", "SOC")]
    waiting = await api.ok("GET", "/windows/12/waiting", role="staff", window="12")
    assert waiting["tickets"][0]["id"] == tickets[0]["id"]  # INFO is window 12's primary service
    assert waiting["misses"] == []
    called = (await api.window_op("12", "call-next"))["ticket"]
    assert called["id"] == tickets[0]["id"]
    await api.window_op("12", "no-show")
    after = await api.ok("GET", "/windows/12/waiting", role="staff", window="12")
    assert [m["id"] for m in after["misses"]] == [tickets[0]["id"]]
    assert after["misses"][0]["status"] == "missed"
    assert [t["id"] for t in after["tickets"]] == [t["id"] for t in waiting["tickets"][1:]]
    assert_error(await api.request("GET", "/windows/12/waiting", role="staff", window="1"), 403, "wrong_window")


# -- today's figures --------------------------------------------------------------------------------
async def test_window_today_counts_its_own_work(api: HallApi) -> None:
    await api.open("1", "2")
    for _ in range(3):
        await api.issue("SOC")
    for outcome in ("done", "consult"):
        await api.window_op("1", "call-next")
        await api.window_op("1", "start")
        await api.window_op("1", "finish", {"outcome": outcome})
    await api.window_op("2", "call-next")
    await api.window_op("2", "no-show")

    async def counted() -> dict[str, Any]:
        today = await api.ok("GET", "/windows/1/today", role="staff", window="1")
        assert today["served"] == 2, today
        return dict(today)

    today = await eventually(counted)
    assert today["outcomes"] == {"done": 1, "consult": 1}
    assert (today["missed"], today["window"]) == (0, "1")
    assert today["avg_wait_s"] is not None
    assert today["avg_handling_s"] is not None
    other = await api.ok("GET", "/windows/2/today", role="manager")
    assert (other["served"], other["missed"]) == (0, 1)


async def test_stats_today_counts_arrivals_per_half_hour(api: HallApi) -> None:
    await api.open("1")
    for service in ("SOC", "SOC", "TAX"):
        await api.issue(service)
    await api.window_op("1", "call-next")

    async def caught_up() -> dict[str, Any]:
        stats = await api.ok("GET", "/stats/today")
        assert stats["unrecorded"] == 0, stats["unrecorded"]
        return dict(stats)

    stats = await eventually(caught_up)  # once the answer says the record has every event, its figures are whole
    assert stats["totals"]["issued"] == 3, stats["totals"]
    assert sum(b["called"] for b in stats["half_hours"]) == 1
    assert sum(b["arrivals"] for b in stats["half_hours"]) == 3
    services = {s["code"]: s for s in stats["services"]}
    assert (services["SOC"]["issued"], services["TAX"]["issued"]) == (2, 1)
    assert_error(await api.request("GET", "/stats/today", role="guide"), 403, "wrong_role")


# -- the phone's live line --------------------------------------------------------------------------
def ticket_ws(api: HallApi, ticket_id: str) -> str:
    return f"ws://127.0.0.1:{api.server.port}/api/v1/halls/{api.hall}/ws/ticket/{ticket_id}"


async def next_status(ws: Any) -> dict[str, Any]:
    while True:
        message = await recv_json(ws)
        if message["type"] == "ticket.status":
            return dict(message["ticket"])


async def test_phone_feed_follows_the_ticket_until_its_call(api: HallApi) -> None:
    await api.open("1")
    first = await api.issue("SOC")
    mine = await api.issue("SOC")
    other_line = await api.issue("TAX")
    async with ws_connect(ticket_ws(api, mine["id"])) as ws:
        status = await next_status(ws)
        assert (status["number"], status["status"], status["ahead"]) == (mine["number"], "waiting", 1)
        await api.window_op("1", "call-next")  # calls the first
        call = await recv_json(ws)
        assert (call["type"], call["number"], call["window"]) == ("ticket.called", first["number"], "1")
        assert "ticket" not in call  # another citizen's ticket id would be the key to their phone page
        status = await next_status(ws)
        assert (status["status"], status["ahead"]) == ("waiting", 0)
        await api.window_op("1", "finish", {"outcome": "done"})
        await next_status(ws)
        await api.window_op("1", "call-next")  # now mine
        messages = [await recv_json(ws) for _ in range(2)]
        assert [m["type"] for m in messages] == ["ticket.called", "ticket.status"]
        assert (messages[0]["number"], messages[0]["window"], messages[0]["window_name"]) == (
            mine["number"], "1", "1号窗口")
        assert "ticket" not in messages[0]  # a call is the same for every phone of the line, its own included
        assert (messages[1]["ticket"]["status"], messages[1]["ticket"]["window_name"]) == ("called", "1号窗口")
        assert other_line["number"] not in {m.get("number") for m in messages}


async def test_phone_feed_ignores_other_lines(api: HallApi) -> None:
    await api.open("1")
    mine = await api.issue("SOC")
    async with ws_connect(ticket_ws(api, mine["id"])) as ws:
        await next_status(ws)
        # Under load the hub may read the window's opening and this ticket's issue after the socket joined: their
        # frames (about this ticket's own line) come first. Wait for a quiet second before the other lines move.
        with contextlib.suppress(TimeoutError):
            while True:
                await asyncio.wait_for(ws.recv(), 1.0)
        await api.issue("TAX")
        await api.issue("FUND")
        got = None
        with contextlib.suppress(TimeoutError):  # nothing about any line (a heartbeat may come: it tells nothing)
            async with asyncio.timeout(1.0):
                while got is None:
                    frame = await ws.recv()
                    got = None if json.loads(frame).get("type") == "heartbeat" else frame
        assert got is None, got


async def test_phone_feed_refuses_an_unknown_ticket(api: HallApi) -> None:
    message, code = await refused(ticket_ws(api, "20261123-000000000000"))
    assert (message["type"], code) == ("error", 4404)
