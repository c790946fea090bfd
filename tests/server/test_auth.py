"""Tokens and roles (design.md section 7): who may do what, in which hall, at which window; HTTP and websockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from floor.http.auth import make_token
from tests.server.conftest import SECRET, HallApi, SharedServer, assert_error, has_chinese, recv_json, ws_connect

UNKNOWN_TICKET = "20000101-000000000000"


def tampered(token: str) -> str:
    prefix, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{prefix}.{payload}.{flipped}"


# -- HTTP --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/tickets"), ("GET", "/snapshot"), ("POST", "/windows/5/open"), ("POST", "/windows/5/call-next"),
    ("GET", "/windows/5"), ("GET", "/config"), ("GET", "/led"), ("POST", "/windows/5/services"),
    ("POST", f"/tickets/{UNKNOWN_TICKET}/cancel"),
])
async def test_no_token_is_401(api: HallApi, method: str, path: str) -> None:
    reply = await api.request(method, path, role=None, json={"service": "SOC"} if path == "/tickets" else None)
    error = assert_error(reply, 401, "no_token")
    assert "Bearer" in error["message"]


async def test_a_header_that_is_not_bearer_is_401(api: HallApi) -> None:
    token = api.server.token("manager", hall=api.hall)
    for header in (f"Basic {token}", "Bearer", token):
        reply = await api.request("GET", "/snapshot", role=None, headers={"Authorization": header})
        assert_error(reply, 401, "no_token")


async def test_a_bad_signature_is_401(api: HallApi) -> None:
    good = api.server.token("manager", hall=api.hall)
    for token in (tampered(good), make_token(b"another-secret", api.hall, "manager"), "hq1.e30.abc", "not-a-token"):
        reply = await api.request("GET", "/snapshot", role=None, headers={"Authorization": f"Bearer {token}"})
        error = assert_error(reply, 401, "bad_token")
        assert has_chinese(error["message"])
    english = await api.request("GET", "/snapshot", role=None,
                                headers={"Authorization": f"Bearer {tampered(good)}", "Accept-Language": "en"})
    assert not has_chinese(assert_error(english, 401, "bad_token")["message"])


async def test_an_expired_token_is_401(api: HallApi) -> None:
    token = make_token(SECRET.encode(), api.hall, "manager", ttl_s=-60)
    reply = await api.request("GET", "/snapshot", role=None, headers={"Authorization": f"Bearer {token}"})
    assert_error(reply, 401, "token_expired")
    fresh = make_token(SECRET.encode(), api.hall, "manager", ttl_s=3600)
    assert (await api.request("GET", "/snapshot", role=None, headers={"Authorization": f"Bearer {fresh}"})
            ).status_code == 200


async def test_a_token_of_another_hall_is_403(api: HallApi, shared_server: SharedServer) -> None:
    other = shared_server.other_hall
    assert other in api.server.halls
    foreign = api.server.auth("manager", hall=other)
    for method, path in (("GET", "/snapshot"), ("POST", "/windows/5/open"), ("GET", "/config")):
        reply = await api.request(method, path, role=None, headers=foreign)
        error = assert_error(reply, 403, "wrong_hall")
        assert other in error["message"]
    issue = await api.request("POST", "/tickets", role=None, headers=api.server.auth("guide", hall=other),
                              json={"service": "SOC"})
    assert_error(issue, 403, "wrong_hall")
    # The second hall itself is served, to its own tokens.
    own = await api.client.get(f"/api/v1/halls/{other}/snapshot", headers=foreign)
    assert own.status_code == 200, own.text
    assert own.json()["hall"] == other


async def test_no_hall_sees_another_halls_tickets(api: HallApi, shared_server: SharedServer) -> None:
    await api.open("5")
    ticket = await api.issue("SOC")
    other = shared_server.other_hall
    phone = await api.client.get(f"/api/v1/halls/{other}/tickets/{ticket['id']}")
    assert_error(phone, 404, "unknown_ticket")
    cancel = await api.client.post(f"/api/v1/halls/{other}/tickets/{ticket['id']}/cancel",
                                   headers=api.server.auth("manager", hall=other))
    assert_error(cancel, 404, "unknown_ticket")
    assert (await api.ok("GET", f"/tickets/{ticket['id']}", role=None))["status"] == "waiting"


async def test_staff_of_window_3_cannot_act_for_window_5(api: HallApi) -> None:
    await api.open("5")
    await api.issue("SOC")
    for method, path, body in (("POST", "/windows/5/call-next", None), ("POST", "/windows/5/close", None),
                               ("POST", "/windows/5/pause", {"reason": "x"}), ("GET", "/windows/5", None)):
        reply = await api.request(method, path, role="staff", window="3", json=body)
        error = assert_error(reply, 403, "wrong_window")
        assert "3" in error["message"]
        assert "5" in error["message"]
    assert (await api.ok("GET", "/windows/5"))["state"] == "idle"  # nothing happened at window 5
    assert (await api.window_op("3", "open"))["state"] == "idle"  # its own window is fine


async def test_a_display_reads_but_cannot_issue(api: HallApi) -> None:
    await api.open("5")
    reply = await api.request("POST", "/tickets", role="display", json={"service": "SOC"})
    error = assert_error(reply, 403, "wrong_role")
    assert "display" in error["message"]
    assert (await api.request("GET", "/snapshot", role="display")).status_code == 200
    assert (await api.request("GET", "/led", role="display")).status_code == 200
    assert_error(await api.request("POST", "/windows/5/call-next", role="display"), 403, "wrong_role")
    assert (await api.snapshot())["services"][0]["waiting"] == 0


async def test_a_guide_cannot_call_next(api: HallApi) -> None:
    await api.open("5")
    await api.issue("SOC")
    reply = await api.request("POST", "/windows/5/call-next", role="guide")
    error = assert_error(reply, 403, "wrong_role")
    assert "guide" in error["message"]
    assert (await api.ok("GET", "/windows/5"))["state"] == "idle"


@pytest.mark.parametrize(("role", "window", "method", "path", "body"), [
    ("kiosk", None, "POST", "/tickets/{ticket}/cancel", None),
    ("guide", None, "POST", "/tickets/{ticket}/pin", {"reason": "x"}),
    ("staff", "5", "POST", "/tickets", {"service": "SOC"}),
    ("display", None, "POST", "/tickets/{ticket}/cancel", None),
    ("guide", None, "POST", "/windows/5/services", {"services": ["SOC"]}),
    ("kiosk", None, "GET", "/led", None),
])
async def test_roles_that_may_not(api: HallApi, role: str, window: str | None, method: str, path: str,
                                  body: Any) -> None:
    await api.open("5")
    ticket = await api.issue("SOC")
    reply = await api.request(method, path.format(ticket=ticket["id"]), role=role, window=window, json=body)
    assert_error(reply, 403, "wrong_role")
    assert (await api.ok("GET", f"/tickets/{ticket['id']}", role=None))["status"] == "waiting"


async def test_roles_that_may(api: HallApi) -> None:
    assert (await api.request("POST", "/windows/5/open", role="admin")).status_code == 200
    assert (await api.request("POST", "/tickets", role="kiosk", json={"service": "SOC"})).status_code == 201
    assert (await api.request("POST", "/tickets", role="manager", json={"service": "SOC"})).status_code == 201
    ticket = await api.issue("SOC", role="guide")
    assert (await api.request("POST", f"/tickets/{ticket['id']}/cancel", role="guide")).status_code == 200
    for role in ("guide", "kiosk", "manager", "display"):
        assert (await api.request("GET", f"/tickets/{ticket['id']}", role=role)).status_code == 200, role
    assert (await api.request("GET", "/snapshot", role="manager")).status_code == 200


# -- websockets --------------------------------------------------------------------------------
async def refused(url: str) -> tuple[dict[str, Any], int | None]:
    """Connect, read the one error message, and return it with the close code."""
    async with ws_connect(url) as ws:
        message = await recv_json(ws)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    rcvd = closed.value.rcvd
    return message, rcvd.code if rcvd else None


async def test_ws_bad_token_gets_a_message_then_4401(api: HallApi) -> None:
    good = api.server.token("display", hall=api.hall)
    for token in (tampered(good), "garbage", None):
        message, code = await refused(api.server.ws_url("display", token, hall=api.hall))
        assert message["type"] == "error"
        assert message["message"]
        assert code == 4401, (token, code)


async def test_ws_wrong_role_is_4403(api: HallApi) -> None:
    for channel, role, window in (("display", "guide", None), ("display", "kiosk", None),
                                  ("dashboard", "display", None), ("console", "guide", None)):
        params = {"window": "5"} if channel == "console" else {}
        url = api.server.ws_url(channel, api.server.token(role, window, hall=api.hall), hall=api.hall, **params)
        message, code = await refused(url)
        assert message["type"] == "error"
        assert message["message"]
        assert code == 4403, (channel, role, code)


async def test_ws_console_of_another_window_or_hall_is_4403(api: HallApi, shared_server: SharedServer) -> None:
    staff3 = api.server.token("staff", "3", hall=api.hall)
    message, code = await refused(api.server.ws_url("console", staff3, hall=api.hall, window="5"))
    assert (message["type"], code) == ("error", 4403)
    foreign = api.server.token("display", hall=shared_server.other_hall)
    message, code = await refused(api.server.ws_url("display", foreign, hall=api.hall))
    assert (message["type"], code) == ("error", 4403)


async def test_ws_unknown_channel_or_hall_is_4404(api: HallApi) -> None:
    token = api.server.token("manager", hall=api.hall)
    message, code = await refused(api.server.ws_url("lobby", token, hall=api.hall))
    assert (message["type"], code) == ("error", 4404)
    assert message["message"]
    message, code = await refused(api.server.ws_url("display", token, hall="no-such-hall"))
    assert (message["type"], code) == ("error", 4404)


async def test_ws_console_without_a_window_is_4400(api: HallApi) -> None:
    token = api.server.token("manager", hall=api.hall)
    for params in ({}, {"window": "99"}):
        message, code = await refused(api.server.ws_url("console", token, hall=api.hall, **params))
        assert message["type"] == "error"
        assert "window" in message["message"]
        assert code == 4400, (params, code)


async def test_ws_a_malformed_since_is_4400(api: HallApi) -> None:
    token = api.server.token("display", hall=api.hall)
    message, code = await refused(api.server.ws_url("display", token, hall=api.hall, since="yesterday"))
    assert (message["type"], code) == ("error", 4400)
