"""Bad input the fuzzer does not reach well (issue 7): oversized and non-JSON bodies, wrong types, unicode edge cases,
unknown and odd ids in every path parameter, and garbage on every websocket channel.

Each refusal is a 4xx in api.md's error shape, never a 5xx or a traceback in the server's log, and changes nothing:
the hall's event stream is the same after it as before.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any, get_args

import httpx
import orjson
import pytest
from pydantic import BaseModel
from websockets.exceptions import ConnectionClosed

from floor.app import ENDPOINTS as EVERY_ENDPOINT
from floor.http.kit import MAX_BODY, Endpoint
from tests.server.conftest import NO_SHOW_AT_ONCE, HallApi, SharedServer, assert_error, recv_json, ws_connect
from tests.server.test_appointments import booking_body, person

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)
HALL_POLICY = NO_SHOW_AT_ONCE  # the shared server's halls (see tests/server/conftest.py)

# A hall's endpoints; a region's (an unknown region, a hall's token there) are tests/server/test_regions.py's.
ENDPOINTS = [ep for ep in EVERY_ENDPOINT if ep.scope == "hall"]
BODY_ENDPOINTS = [ep for ep in ENDPOINTS if ep.body is not None]
WINDOW = "5"
# A request each body endpoint accepts, so that one changed field is what a refusal is about.
VALID: dict[str, dict[str, Any]] = {
    "/tickets": {"service": "SOC"},
    "/tickets/{ticket}/pin": {"reason": "old and unwell"},
    "/windows/{w}/services": {"services": ["SOC", "HUK"]},
    "/windows/{w}/pause": {"reason": "lunch"},
    "/windows/{w}/call": {"ticket": "{ticket}", "reason": "came back"},
    "/windows/{w}/finish": {},
    "/windows/{w}/transfer": {"to_service": "HUK"},
    "/windows/{w}/requeue": {"ticket": "{ticket}"},
    "/appointments": booking_body(),
    "/appointments/check-in": {"code": "000000"},
    "/appointment-blocks/lift": {"id_number": person(1)},
    "/tickets/{ticket}/rating": {"score": 4, "source": "pad"},
    "/cases/{ticket}/callback": {"note": "called back", "reached": True},
    "/cases/{ticket}/fix": {"note": "fixed"},
    "/cases/{ticket}/feedback": {"note": "told", "satisfied": True},
    "/cases/{ticket}/review": {"kind": "appeal", "outcome": "dismissed"},
    "/displays/voice": {"display": "tv-1", "speaking": False, "problem": "no voice"},
    "/session": {"username": "nobody", "password": "not-a-password"},
    "/session/password": {"current": "not-a-password", "new": "another-password"},
    "/session/window": {"window": WINDOW},
    "/accounts": {"username": "bad-input", "display_name": "王芳", "role": "staff", "password": "a-good-password"},
    "/accounts/{username}": {"display_name": "王芳"},
    "/keys": {"name": "bank kiosk", "role": "kiosk"},
    "/pairing/{code}/device": {"name": "lobby tv", "role": "display"},
    "/setup/services/{code}": {"version": 1, "service": {"code": "PET", "letter": "P", "name_zh": "宠物登记",
                                                         "name_en": "Pets"}},
    "/setup/windows/{window}": {"version": 1, "window": {"id": "13", "name": "13号窗口", "services": ["SOC"]}},
    "/setup/calendar": {"version": 1, "hours": ["08:30-12:00", "14:00-17:30"]},
    "/setup/import": {"version": 1, "toml": "id = 'demo'"},
    "/setup/authorised": {"version": 1, "authorised": ["SOC"]},
}
UNICODE_ODDITIES = {
    "rtl": "\u202eCOS\u200f",
    "emoji": "😀🏛️",
    "cjk": "社保",
    "combining": "S\u0301OC",
    "bom": "\ufeffSOC",
}


def by_path(ep: Endpoint) -> str:
    return f"{ep.method} {ep.path}"


def test_every_body_endpoint_has_a_valid_request_here() -> None:
    assert sorted(VALID) == sorted(ep.path for ep in BODY_ENDPOINTS)


@pytest.fixture(autouse=True)
def no_traceback(shared_server: SharedServer) -> Iterator[None]:
    """Whatever a test sends, the server's log gains no traceback (a 500 or a crashed websocket leaves one)."""
    seen = len(shared_server.server.stderr())
    yield
    new = shared_server.server.stderr()[seen:]
    assert "Traceback" not in new, new[-4000:]


@pytest.fixture
async def hall(api: HallApi) -> HallApi:
    """A hall with window 5 open and one waiting ticket (api.issued[0])."""
    await api.open(WINDOW)
    await api.issue("SOC")
    return api


@contextlib.contextmanager
def changes_nothing(api: HallApi) -> Iterator[None]:
    before = api.server.events(api.hall)
    yield
    after = api.server.events(api.hall)
    assert after == before, f"a refused request left events: {after[len(before):]}"


def path_of(ep: Endpoint, api: HallApi, **ids: str) -> str:
    values = {"w": WINDOW, "ticket": api.issued[0]["id"] if api.issued else "x", **ids}
    path = ep.path
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


def valid_body(ep: Endpoint, api: HallApi) -> dict[str, Any]:
    body = dict(VALID[ep.path])
    if body.get("ticket") == "{ticket}":
        body["ticket"] = api.issued[0]["id"]
    return body


async def post_raw(api: HallApi, ep: Endpoint, content: bytes) -> httpx.Response:
    """``content`` as the body of ``ep`` (ids of this hall in its path), sent by a manager, or by the one role that
    may send it when a manager may not (a display's report of its voice)."""
    role = "manager" if not ep.roles or "manager" in ep.roles else ep.roles[0]
    return await api.client.request(ep.method, api.path(path_of(ep, api)), content=content,
                                    headers={**api.auth(role), "Content-Type": "application/json"})


def fields_of(error: dict[str, Any]) -> list[str]:
    return [f["field"] for f in error.get("fields", [])]


def string_fields(model: type[BaseModel]) -> list[tuple[str, bool]]:
    """(name, is a list of strings) of every text field of a request body."""
    found = []
    for name, info in model.model_fields.items():
        annotation = str(info.annotation)
        if "Literal" in annotation:
            continue
        if "list" in annotation:
            found.append((name, True))
        elif "str" in annotation:
            found.append((name, False))
    return found


# -- bodies ------------------------------------------------------------------------------------
async def test_a_body_over_64_kib_is_413_and_changes_nothing(hall: HallApi) -> None:
    for ep in BODY_ENDPOINTS:
        body = {**valid_body(ep, hall), "padding": "x" * (MAX_BODY + 1)}
        with changes_nothing(hall):
            error = assert_error(await post_raw(hall, ep, orjson.dumps(body)), 413, "body_too_large")
        assert "64 KiB" in error["message"]


async def test_a_body_is_refused_once_it_passes_64_kib_without_waiting_for_the_rest(hall: HallApi) -> None:
    """A chunked body (no Content-Length to trust) that never ends: the answer comes as soon as 64 KiB are in,
    so a client cannot make the server hold an unbounded body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", hall.server.port)
    try:
        head = (f"POST {hall.path('/tickets')} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: {hall.auth('guide')['Authorization']}\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"1" * 16384
        start = b'{"service": "SOC", "phone": "'
        writer.write(head.encode() + b"%x\r\n%s\r\n" % (len(start), start))
        for _ in range(MAX_BODY // len(chunk) + 2):
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()  # and no last chunk: the body is never finished
        with changes_nothing(hall):
            status_line = await asyncio.wait_for(reader.readline(), 10)
            assert status_line.split()[1] == b"413", status_line
            headers = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        length = int(next(line.split(b":")[1] for line in headers.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        body = orjson.loads(await asyncio.wait_for(reader.readexactly(length), 10))
        assert body["error"]["code"] == "body_too_large"
    finally:
        writer.close()


async def test_a_client_gone_before_its_body_ended_leaves_no_trace(hall: HallApi) -> None:
    """Content-Length promises 200 bytes, 40 come, then the client hangs up: nothing is done and nothing logged
    as a server error (the autouse fixture checks the log)."""
    head = (f"POST {hall.path('/tickets')} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {hall.auth('guide')['Authorization']}\r\nContent-Type: application/json\r\n"
            "Content-Length: 200\r\n\r\n")
    with changes_nothing(hall):
        _, writer = await asyncio.open_connection("127.0.0.1", hall.server.port)
        writer.write(head.encode() + b'{"service": "SOC", "channel": "guide"')
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.5)  # the server notices the hang-up
        await hall.snapshot()  # and serves on


@pytest.mark.parametrize("content", [b"SOC", b'{"service": "SOC"', b"\xff\xfe{}", b"{'service': 'SOC'}", b"\x00",
                                     b"NaN", b'{"a": 1e999999}', b"[" * 5000 + b"]" * 5000],
                         ids=["word", "cut-off", "not-utf8", "single-quotes", "nul", "nan", "huge-number", "deep"])
async def test_a_body_that_is_not_json_is_422(hall: HallApi, content: bytes) -> None:
    for ep in BODY_ENDPOINTS:
        with changes_nothing(hall):
            assert_error(await post_raw(hall, ep, content), 422, "invalid_request")


async def test_json_of_the_wrong_type_at_the_top_is_422(hall: HallApi) -> None:
    for ep in BODY_ENDPOINTS:
        for top in ([], ["SOC"], "SOC", 5, 1.5, True, None):
            with changes_nothing(hall):
                assert_error(await post_raw(hall, ep, orjson.dumps(top)), 422, "invalid_request")


@pytest.mark.parametrize("ep", BODY_ENDPOINTS, ids=by_path)
async def test_a_field_of_the_wrong_type_is_422_naming_it(hall: HallApi, ep: Endpoint) -> None:
    assert ep.body is not None
    for name, info in ep.body.model_fields.items():
        is_list = "list" in str(info.annotation)
        wrongs = (123, 4.5, True, {"a": 1}, "SOC" if is_list else ["SOC"])
        takes_bool = info.annotation is bool or bool in get_args(info.annotation)
        takes_int = info.annotation is int
        # True is right for a flag, and 123 for a number (the set-up's version): not a wrong type there.
        for wrong in [w for w in wrongs if not (takes_bool and isinstance(w, bool))
                      and not (takes_int and type(w) is int)]:
            with changes_nothing(hall):
                reply = await post_raw(hall, ep, orjson.dumps({**valid_body(ep, hall), name: wrong}))
                error = assert_error(reply, 422, "invalid_request")
            assert any(f.split(".")[0] == name for f in fields_of(error)), (name, wrong, error)
            assert name in error["message"], error


@pytest.mark.parametrize("ep", BODY_ENDPOINTS, ids=by_path)
async def test_control_characters_in_any_text_field_are_422(hall: HallApi, ep: Endpoint) -> None:
    """A NUL would be refused by PostgreSQL and stop the hall's archive; a line break breaks a screen's one line."""
    assert ep.body is not None
    for text in ("a\u0000b", "a\nb", "tab\there", "\u0007bell", "c1\u0085x"):
        for name, is_list in string_fields(ep.body):
            value: Any = [text] if is_list else text
            with changes_nothing(hall):
                reply = await post_raw(hall, ep, orjson.dumps({**valid_body(ep, hall), name: value}))
                error = assert_error(reply, 422, "invalid_request")
            assert any(f.split(".")[0] == name for f in fields_of(error)), (name, text, error)


async def test_a_lone_surrogate_is_422(hall: HallApi) -> None:
    """\\ud800 escaped in JSON is valid JSON text but no character: it could never be stored or shown."""
    for ep in BODY_ENDPOINTS:
        assert ep.body is not None
        await _lone_surrogates(hall, ep, ep.body)


async def _lone_surrogates(hall: HallApi, ep: Endpoint, model: type[BaseModel]) -> None:
    for name, is_list in string_fields(model):
        text = b'"a\\ud800b"'
        value = b"[" + text + b"]" if is_list else text
        content = orjson.dumps(valid_body(ep, hall))[:-1].lstrip(b"{")
        raw = b"{" + (content + b"," if content else b"") + b'"' + name.encode() + b'":' + value + b"}"
        with changes_nothing(hall):
            assert_error(await post_raw(hall, ep, raw), 422, "invalid_request")


async def test_a_very_long_string_in_any_text_field_is_422_naming_it(hall: HallApi) -> None:
    long = "长" * 20_000
    for ep in BODY_ENDPOINTS:
        assert ep.body is not None
        for name, is_list in string_fields(ep.body):
            body = {**valid_body(ep, hall), name: [long] if is_list else long}
            with changes_nothing(hall):
                error = assert_error(await post_raw(hall, ep, orjson.dumps(body)), 422, "invalid_request")
            assert any(f.split(".")[0] == name for f in fields_of(error)), (name, error)
            assert len(error["message"]) < 300, "the message repeats the input"


async def test_a_reason_keeps_rtl_marks_emoji_and_cjk_as_sent(hall: HallApi) -> None:
    for text in UNICODE_ODDITIES.values():
        window = await hall.window_op(WINDOW, "pause", {"reason": text})
        assert window["state"] == "paused"
        assert window["reason"] == text.strip()
        assert hall.server.events(hall.hall)[-1][1] == "window.paused"
        await hall.window_op(WINDOW, "resume")


async def test_odd_unicode_where_a_code_or_id_belongs_is_a_clear_404_or_422(hall: HallApi) -> None:
    for text in UNICODE_ODDITIES.values():
        await _odd_codes(hall, text)


async def _odd_codes(hall: HallApi, text: str) -> None:
    ticket = (await hall.issue("SOC"))["id"]
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("guide", "/tickets", {"service": text}, 404, "unknown_service"),
        ("guide", "/tickets", {"service": "SOC", "id_number": text}, 422, "invalid_request"),
        ("guide", "/tickets", {"service": "SOC", "phone": text}, 422, "invalid_request"),
        ("manager", f"/windows/{WINDOW}/services", {"services": [text]}, 404, "unknown_service"),
        ("manager", f"/windows/{WINDOW}/call", {"ticket": text, "reason": "x"}, 404, "unknown_ticket"),
    ]
    for role, path, body, status, code in cases:
        with changes_nothing(hall):
            reply = await hall.request("POST", path, role=role, json=body)
            assert_error(reply, status, code)
    await hall.window_op(WINDOW, "call", {"ticket": ticket, "reason": "x"})
    for body in ({"to_service": text}, {"to_window": text}):
        with changes_nothing(hall):
            reply = await hall.request("POST", f"/windows/{WINDOW}/transfer", json=body)
            assert_error(reply, 404, "unknown_service" if "to_service" in body else "unknown_window")
    await hall.window_op(WINDOW, "no-show")


async def test_an_idempotency_key_of_utf8_bytes_still_returns_the_same_ticket(hall: HallApi) -> None:
    key = "取号-😀-\u202e".encode()
    headers = {**{name.encode(): value.encode() for name, value in hall.auth("guide").items()}, b"Idempotency-Key": key}
    first = await hall.client.post(hall.path("/tickets"), json={"service": "HUK"}, headers=headers)
    assert first.status_code == 201, first.text
    with changes_nothing(hall):
        again = await hall.client.post(hall.path("/tickets"), json={"service": "HUK"}, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]


async def test_a_very_long_idempotency_key_is_422(hall: HallApi) -> None:
    with changes_nothing(hall):
        reply = await hall.client.post(hall.path("/tickets"), json={"service": "SOC"},
                                       headers={**hall.auth("guide"), "Idempotency-Key": "k" * 8000})
        error = assert_error(reply, 422, "invalid_request")
    assert "Idempotency-Key" in error["message"]


# -- query parameters --------------------------------------------------------------------------
async def test_queue_limit_that_is_not_a_plain_number_is_422(api: HallApi) -> None:
    # "²" and "٣" pass str.isdigit(); int() refuses the first and a number of 5,000 digits
    for limit in ("²", "٣", "9" * 5000, "-1", "1e2", " 5", "0x10", "501", "0"):
        error = assert_error(await api.request("GET", "/queue", params={"limit": limit}), 422, "invalid_request")
        assert "limit" in error["message"]


async def test_an_unknown_query_parameter_is_422_naming_it(api: HallApi) -> None:
    error = assert_error(await api.request("GET", "/queue", params={"limt": "5"}), 422, "invalid_request")
    assert fields_of(error) == ["limt"]
    assert "limit" in error["message"]  # what it could have meant
    assert_error(await api.request("POST", f"/windows/{WINDOW}/open", params={"force": "1"}), 422, "invalid_request")
    await api.ok("GET", "/queue", params={"limit": "5", "service": "SOC"})


# -- path parameters ---------------------------------------------------------------------------
ODD_IDS = {
    "unknown": "99",
    "encoded-slash": "5%2Fopen",
    "dot-dot": "..",
    "dot": ".",
    "long": "7" * 3000,
    "nul": "%00",
    "rtl": "%E2%80%AE5",
    "emoji": "%F0%9F%98%80",
    "bad-percent": "%ZZ",
    "space": "5%20",
    "lone-surrogate-utf8": "%ED%A0%80",
    "invalid-utf8": "%FF",
}
# Ids that become another address: the router decodes %2F to a slash and the client drops dot segments, so
# "5%2Fopen" in GET /windows/{w} is GET /windows/5/open, which only takes POST.
REROUTED = ("5%2Fopen", ".", "..")
PATH_ENDPOINTS = [ep for ep in ENDPOINTS if "{" in ep.path]
# A PUT of the set-up names what it creates or replaces: an id nothing has yet is no lookup that fails.
PUT_ENDPOINTS = [ep for ep in PATH_ENDPOINTS if ep.method == "PUT"]
LOOKUP_ENDPOINTS = [ep for ep in PATH_ENDPOINTS if ep.method != "PUT"]
# What each kind of id in a path is called when nothing has it.
UNKNOWN = {"w": "unknown_window", "ticket": "unknown_ticket", "appointment": "unknown_appointment",
           "delivery": "unknown_delivery", "item": "unknown_item", "bundle": "unknown_service",
           "chart": "unknown_chart", "username": "unknown_account", "key": "unknown_key",
           "code": "unknown_code", "window": "unknown_window"}
# The set-up names a service by {code} too; an unknown one is an unknown service.
UNKNOWN_SETUP = {"/setup/services/{code}": "unknown_service"}


def unknown_code(path: str) -> str:
    if path in UNKNOWN_SETUP:
        return UNKNOWN_SETUP[path]
    if path.startswith("/cases/"):
        return "unknown_case"  # a case is known by its rated ticket's id
    return next(code for name, code in UNKNOWN.items() if "{" + name + "}" in path)


async def test_unknown_or_odd_window_and_ticket_ids_are_404_everywhere(hall: HallApi) -> None:
    for odd in ODD_IDS.values():
        await _odd_window_and_ticket(hall, odd)


async def _odd_window_and_ticket(hall: HallApi, odd: str) -> None:
    for ep in PUT_ENDPOINTS:  # refused, saying why, and nothing made of an odd id
        url = hall.path(path_of(ep, hall, **dict.fromkeys(UNKNOWN, odd)))
        with changes_nothing(hall):
            reply = await hall.client.request(ep.method, url, json=valid_body(ep, hall), headers=hall.auth("admin"))
            assert reply.status_code in (404, 405, 422), (ep.method, url[:120], reply.status_code, reply.text[:300])
            assert_error(reply, reply.status_code, reply.json()["error"]["code"])
    for ep in LOOKUP_ENDPOINTS:
        body = valid_body(ep, hall) if ep.body else None
        url = hall.path(path_of(ep, hall, **dict.fromkeys(UNKNOWN, odd)))
        with changes_nothing(hall):
            # An admin may call every endpoint (only it may resend a webhook).
            reply = await hall.client.request(ep.method, url, json=body, headers=hall.auth("admin"))
            expected = unknown_code(ep.path)
            allowed = {404: (expected, "not_found"), 405: ("method_not_allowed",) if odd in REROUTED else ()}
            if odd in REROUTED and ep.method == "GET" and reply.status_code == 200:
                continue  # the client folded "/catalog/items/.." into "/catalog": another reading, harmless
            assert reply.status_code in allowed, (ep.method, url[:120], reply.status_code, reply.text[:300])
            error = assert_error(reply, reply.status_code, reply.json()["error"]["code"])
            assert error["code"] in allowed[reply.status_code], (ep.method, url[:120], error)


async def test_unknown_or_odd_hall_ids_are_404_everywhere(hall: HallApi) -> None:
    for odd in ("no-such-hall", *ODD_IDS.values()):
        await _odd_hall(hall, odd)


async def _odd_hall(hall: HallApi, odd: str) -> None:
    for ep in ENDPOINTS:
        url = f"/api/v1/halls/{odd}" + path_of(ep, hall)
        body = valid_body(ep, hall) if ep.body else None
        with changes_nothing(hall):
            reply = await hall.client.request(ep.method, url, json=body, headers=hall.auth("manager"))
            allowed = {404: ("unknown_hall", "not_found"), 405: ("method_not_allowed",) if odd in REROUTED else ()}
            assert reply.status_code in allowed, (ep.method, url[:120], reply.status_code, reply.text[:300])
            error = assert_error(reply, reply.status_code, reply.json()["error"]["code"])
            assert error["code"] in allowed[reply.status_code], (ep.method, url[:120], error)


async def test_today_of_an_unknown_window_is_404(api: HallApi) -> None:
    assert_error(await api.request("GET", "/windows/99/today"), 404, "unknown_window")


async def test_a_token_with_non_ascii_characters_is_401(api: HallApi) -> None:
    for token in ("hq1.é.ü", "hq1.eyJoIjoiZGVtbyJ9.签名"):
        reply = await api.client.get(api.path("/snapshot"),
                                     headers={b"Authorization": f"Bearer {token}".encode()})
        assert_error(reply, 401, "bad_token")


# -- websockets --------------------------------------------------------------------------------
def channel_url(api: HallApi, channel: str) -> str:
    server = api.server
    if channel == "display":
        return server.ws_url("display", server.token("display", hall=api.hall), api.hall)
    if channel == "console":
        return server.ws_url("console", server.token("staff", WINDOW, api.hall), api.hall, window=WINDOW)
    if channel == "dashboard":
        return server.ws_url("dashboard", server.token("manager", hall=api.hall), api.hall)
    return server.ws_url(f"ticket/{api.issued[0]['id']}", None, api.hall)


async def next_call(ws: Any, within_s: float = 10.0) -> dict[str, Any]:
    while True:
        message = await recv_json(ws, within_s)
        if message.get("type") == "ticket.called":
            return message


GARBAGE: dict[str, str | bytes] = {
    "not-json": "call next please",
    "json-command": '{"type": "ticket.called", "number": "A001", "window": "5"}',
    "binary": bytes(range(256)) * 4,
    "invalid-utf8-binary": b"\xff\xfe\xfd",
    "nul-text": "\x00" * 100,
    "empty": "",
}


CHANNELS = ("display", "console", "dashboard", "ticket")


@pytest.mark.parametrize("frame", GARBAGE.values(), ids=GARBAGE.keys())
async def test_garbage_frames_are_ignored_and_every_screen_still_hears_the_next_call(
    hall: HallApi, frame: str | bytes,
) -> None:
    for channel in CHANNELS:
        await _garbage_then_call(hall, channel, frame)
        await hall.window_op(WINDOW, "no-show")
        await hall.issue("SOC")  # the next call's ticket; the phone follows hall.issued[0], now missed


async def _garbage_then_call(hall: HallApi, channel: str, frame: str | bytes) -> None:
    before = hall.server.events(hall.hall)
    async with ws_connect(channel_url(hall, "display")) as good, ws_connect(channel_url(hall, channel)) as bad:
        for _ in range(3):
            await bad.send(frame)
        await bad.ping()
        assert hall.server.events(hall.hall) == before  # a frame from a screen never acts
        called = await hall.window_op(WINDOW, "call-next")
        number = called["ticket"]["number"]
        assert (await next_call(good))["number"] == number
        assert (await next_call(bad))["number"] == number  # the sender was ignored, not dropped
    new = [kind for _, kind in hall.server.events(hall.hall)[len(before):]]
    assert new == ["ticket.called"]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_an_oversized_frame_closes_only_that_socket_with_1009(hall: HallApi, channel: str) -> None:
    before = hall.server.events(hall.hall)
    async with ws_connect(channel_url(hall, "display")) as good, ws_connect(channel_url(hall, channel)) as bad:
        await bad.send("x" * (64 * 1024 + 1))
        await until_closed(bad)
        assert bad.close_code == 1009, (bad.close_code, bad.close_reason)
        assert hall.server.events(hall.hall) == before
        called = await hall.window_op(WINDOW, "call-next")
        assert (await next_call(good))["number"] == called["ticket"]["number"]


async def until_closed(ws: Any, within_s: float = 10.0) -> None:
    """Read and drop what the server still sends until it closes the socket (a TimeoutError if it never does)."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), within_s)


async def refused(url: str) -> tuple[int | None, dict[str, Any]]:
    """The close code and the error message a refused websocket gets."""
    async with ws_connect(url) as ws:
        message = await recv_json(ws)
        await until_closed(ws)
        return ws.close_code, message


async def test_a_bad_since_is_refused_with_4400(hall: HallApi) -> None:
    server = hall.server
    for since, why in [("١٧٠٠-٠", "arabic-indic digits, which \\d would pass"),
                       ("99999999999999999999-0", "beyond 64 bits"),
                       ("1-99999999999999999999", "sequence beyond 64 bits"),
                       ("-1-0", "negative"), ("1" * 5000 + "-0", "5000 digits")]:
        url = server.ws_url("display", server.token("display", hall=hall.hall), hall.hall, since=since)
        code, message = await refused(url)
        assert code == 4400, (why, code)
        assert message["type"] == "error"
        assert "since" in message["message"]


WS_REFUSALS = [
    ("halls/no-such-hall/ws/display", 4404),
    ("halls/{hall}/ws/billboard", 4404),
    ("halls/{hall}/ws/ticket/20000101-000000000000", 4404),
    ("halls/{hall}/ws/ticket/%F0%9F%98%80", 4404),
    ("halls/{hall}/ws/ticket/" + "7" * 3000, 4404),
    ("halls/{hall}/ws/console?window=99", 4400),
    ("halls/{hall}/ws/console?window=%00", 4400),
]


async def test_unknown_halls_channels_tickets_and_windows_on_websockets_are_refused(hall: HallApi) -> None:
    server = hall.server
    token = server.token("manager", hall=hall.hall)
    for path, code in WS_REFUSALS:
        joiner = "&" if "?" in path else "?"
        url = f"ws://127.0.0.1:{server.port}/api/v1/{path.format(hall=hall.hall)}{joiner}token={token}"
        with changes_nothing(hall):
            got, message = await refused(url)
        assert got == code, (path[:80], got, message)
        assert message["message"]


async def test_a_websocket_token_with_non_ascii_characters_is_refused_with_4401(hall: HallApi) -> None:
    url = hall.server.ws_url("display", "hq1.é.ü", hall.hall)
    code, _ = await refused(url)
    assert code == 4401
