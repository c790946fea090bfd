"""A lobby display's voice as the server keeps it: a display reports whether it can speak its calls
(``POST /displays/voice``), managers list the displays seen today, mute and offline ones first (``GET /displays``).

What a report may hold is checked at the door (422 in both languages), a hall keeps only its own displays, a report
changes nothing of the hall (no event), the reports live under the hall's tag for a day, a display silent for a few
minutes is offline, yesterday's displays are not today's, and Redis down is a 503.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from displays.voice_api import MAX_DISPLAYS, OFFLINE_AFTER_S, TTL_S
from floor.http.kit import RETRY_AFTER_S
from loadtest.faults.services import PrivateRedis
from queue_engine.keys import HallKeys
from tests.conftest import MONDAY_9AM, sync_redis
from tests.server.conftest import (
    HallApi,
    ServerClock,
    ServerFactory,
    SharedServer,
    assert_error,
    has_chinese,
    start_server,
    stop_server,
)

MUTE = {"voice": None, "speaking": False, "problem": "本机无中文语音，叫号不会播报"}
SPEAKS = {"voice": "Microsoft Xiaoxiao - Chinese (Simplified, PRC)", "speaking": True, "problem": None}


def report(display: str, name: str | None = None, state: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"display": display, "name": name, **(state or SPEAKS)}


async def post(api: HallApi, body: Any, lang: str = "zh") -> httpx.Response:
    return await api.request("POST", "/displays/voice", role="display", json=body,
                             headers={"Accept-Language": lang})


async def listed(api: HallApi) -> dict[str, dict[str, Any]]:
    answer = await api.ok("GET", "/displays")
    assert answer["offline_after_s"] == OFFLINE_AFTER_S
    return {d["display"]: d for d in answer["displays"]}


async def test_a_display_reports_its_voice_and_managers_see_which_are_mute(api: HallApi) -> None:
    east, west = f"east-{uuid.uuid4().hex[:8]}", f"west-{uuid.uuid4().hex[:8]}"
    assert await listed(api) == {}  # nothing seen yet today

    reply = await post(api, report(east, "一楼大厅东", state=SPEAKS))
    assert reply.status_code == 200, reply.text
    assert reply.json()["display"] == east
    await api.ok("POST", "/displays/voice", role="display", json=report(west, None, state=MUTE))

    displays = await listed(api)
    assert set(displays) == {east, west}
    assert displays[east] | {"last_seen": None} == {
        "display": east, "name": "一楼大厅东", "voice": SPEAKS["voice"], "speaking": True, "problem": None,
        "mute": False, "offline": False, "last_seen": None}
    assert displays[west]["mute"] is True
    assert displays[west]["problem"] == MUTE["problem"]
    assert displays[west]["voice"] is None
    assert displays[west]["name"] is None
    assert displays[east]["last_seen"].endswith("+08:00")  # the hall's time, as every time of the API
    # Mute first: a manager reads the list from the top.
    assert [d["display"] for d in (await api.ok("GET", "/displays"))["displays"]] == [west, east]

    # The display found its voice (a Chinese voice installed): the next report says so, and it is no longer mute.
    await api.ok("POST", "/displays/voice", role="display", json=report(west, "二楼", state=SPEAKS))
    displays = await listed(api)
    assert displays[west]["mute"] is False
    assert displays[west]["problem"] is None
    assert displays[west]["name"] == "二楼"
    assert len(displays) == 2  # the same id is the same display, however often it reports


async def test_a_report_changes_nothing_of_the_hall_and_stays_in_its_hall(
        api: HallApi, shared_server: SharedServer) -> None:
    other = shared_server.other_hall
    before = api.server.events(api.hall)
    display = f"d-{uuid.uuid4().hex[:8]}"
    await api.ok("POST", "/displays/voice", role="display", json=report(display, state=MUTE))
    assert api.server.events(api.hall) == before  # the display's own state, not the hall's: no event

    # Another hall's managers see none of it; its display token cannot report here.
    theirs = await api.client.get(f"/api/v1/halls/{other}/displays", headers=api.server.auth("manager", hall=other))
    assert display not in {d["display"] for d in theirs.json()["displays"]}
    refused = await api.client.post(api.path("/displays/voice"), json=report(display),
                                    headers=api.server.auth("display", hall=other))
    assert_error(refused, 403, "wrong_hall")


async def test_reports_live_in_redis_under_the_hall_s_tag_for_a_day(api: HallApi) -> None:
    display = f"d-{uuid.uuid4().hex[:8]}"
    await api.ok("POST", "/displays/voice", role="display", json=report(display, state=MUTE))
    last_seen = (await listed(api))[display]["last_seen"]
    key = HallKeys(api.hall, api.server.key_prefix).displays(last_seen[:10].replace("-", ""))  # its business day
    assert f"{{{api.hall}}}" in key
    client = sync_redis()
    try:
        assert display.encode() in client.hkeys(key)
        assert TTL_S - 60 <= client.ttl(key) <= TTL_S <= 26 * 3600  # a day or so, renewed by each report
    finally:
        client.close()


@pytest.mark.parametrize(("body", "field"), [
    ({"speaking": True}, "display"),
    (report(""), "display"),
    (report("has space"), "display"),
    (report("东屏"), "display"),
    (report("x" * 65), "display"),
    (report("ok", "名" * 41), "name"),
    (report("ok", "一楼\n大厅"), "name"),
    ({"display": "ok", "voice": None, "problem": None}, "speaking"),
    ({"display": "ok", "speaking": "yes"}, "speaking"),
    ({"display": "ok", "speaking": 1}, "speaking"),
    ({"display": "ok", "speaking": False, "problem": "x" * 201}, "problem"),
    ({"display": "ok", "speaking": False, "voice": ["zh"]}, "voice"),
    ({"display": "ok", "speaking": True, "volume": 5}, "volume"),
], ids=["no-id", "empty-id", "space", "not-ascii", "long-id", "long-name", "line-break", "no-speaking",
        "speaking-text", "speaking-number", "long-problem", "voice-list", "unknown-field"])
async def test_a_bad_report_is_422_naming_the_field_in_chinese_and_english(
        api: HallApi, body: dict[str, Any], field: str) -> None:
    for lang in ("zh", "en"):
        error = assert_error(await post(api, body, lang), 422, "invalid_request")
        assert field in [f["field"].split(".")[0] for f in error["fields"]], error
        assert has_chinese(error["message"]) == (lang == "zh"), error
    assert await listed(api) == {}


async def test_a_hall_takes_only_so_many_new_displays_a_day(api: HallApi) -> None:
    for n in range(MAX_DISPLAYS):
        await api.ok("POST", "/displays/voice", role="display", json=report(f"d{n}"))
    for lang in ("zh", "en"):
        error = assert_error(await post(api, report("one-too-many"), lang), 409, "too_many_displays")
        assert has_chinese(error["message"]) == (lang == "zh"), error
    await api.ok("POST", "/displays/voice", role="display", json=report("d7", state=MUTE))  # one it has still reports
    assert len(await listed(api)) == MAX_DISPLAYS


async def test_a_silent_display_goes_offline_and_yesterday_s_are_not_listed(
        live_server: ServerFactory, tmp_path: Path) -> None:
    clock = ServerClock(tmp_path / "clock", MONDAY_9AM)
    server = live_server(extra_env=clock.env)
    async with server.client() as client:
        api = HallApi(server, client, "demo")
        await api.ok("POST", "/displays/voice", role="display", json=report("quiet", "一楼", state=SPEAKS))
        await api.ok("POST", "/displays/voice", role="display", json=report("busy", "二楼", state=SPEAKS))

        clock.advance(OFFLINE_AFTER_S)  # exactly the limit: still on
        assert not (await listed(api))["quiet"]["offline"]
        clock.advance(1)
        await api.ok("POST", "/displays/voice", role="display", json=report("busy", "二楼", state=SPEAKS))
        displays = await listed(api)
        assert displays["quiet"]["offline"] is True
        assert displays["quiet"]["mute"] is False
        assert displays["quiet"]["last_seen"] == MONDAY_9AM.isoformat()
        assert displays["busy"]["offline"] is False
        assert [d["display"] for d in (await api.ok("GET", "/displays"))["displays"]] == ["quiet", "busy"]

        clock.set(MONDAY_9AM + timedelta(days=1))  # a new business day: nobody seen yet
        assert await listed(api) == {}
        await api.ok("POST", "/displays/voice", role="display", json=report("busy", "二楼", state=MUTE))
        assert set(await listed(api)) == {"busy"}


def test_redis_down_is_a_503_for_both(tmp_path: Path) -> None:
    (tmp_path / "redis").mkdir()
    redis = PrivateRedis(tmp_path / "redis").start()
    server = start_server(tmp_path / "home", f"hqtest-{uuid.uuid4().hex[:8]}",
                          extra_env={"HALLQ_REDIS_URL": redis.url})
    hall = "/api/v1/halls/demo"
    try:
        with httpx.Client(base_url=server.base_url, timeout=30.0, trust_env=False) as client:
            up = client.post(f"{hall}/displays/voice", json=report("tv-1"), headers=server.auth("display"))
            assert up.status_code == 200, up.text
            redis.shutdown_nosave()
            for lang in ("zh", "en"):
                for reply in (
                    client.post(f"{hall}/displays/voice", json=report("tv-1"),
                                headers={**server.auth("display"), "Accept-Language": lang}),
                    client.get(f"{hall}/displays", headers={**server.auth("manager"), "Accept-Language": lang}),
                ):
                    error = assert_error(reply, 503, "unavailable")
                    assert reply.headers["retry-after"] == RETRY_AFTER_S
                    assert has_chinese(error["message"]) == (lang == "zh"), error
    finally:
        stop_server(server)
        redis.close()
