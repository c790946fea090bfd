"""Security headers on every HTTP answer, the pages' strict Content-Security-Policy, and JSON bodies sent as
application/json only (415 otherwise), over real HTTP against ``hallq serve``.

The policy checked is written here by hand (never read from ``floor.http.headers``): every answer says nosniff,
no-referrer and refuses to be framed; an HTML answer also allows scripts and styles from our own files only. The
two pages the desk prints from a frame of its own (``/t/{id}/print``, the notice) may be framed by our own pages,
and only those. Which pages and assets exist is read from the app's rooms, so a new page or asset is covered.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from floor.app import ROOMS
from tests.server.conftest import HallApi, assert_error, has_chinese

PAGES = sorted(name for room in ROOMS for name in room.pages)
ASSETS = sorted((room.name, path.relative_to(room.assets).as_posix())
                for room in ROOMS if room.assets is not None
                for path in Path(room.assets).rglob("*") if path.is_file())
PRINTED_FROM_A_FRAME = ("notice",)  # of PAGES; and the ticket's print page
# Directive -> its sources, as the pages need them and no more.
PAGE_POLICY = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'none'"},
    "form-action": {"'self'"},
}
UNSAFE = ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'strict-dynamic'", "*", "http:", "https:")


def policy(reply: httpx.Response) -> dict[str, set[str]]:
    values = reply.headers.get_list("content-security-policy")
    assert len(values) == 1, (str(reply.url), values)
    directives: dict[str, set[str]] = {}
    for part in values[0].split(";"):
        name, *sources = part.split()
        assert name not in directives, (str(reply.url), values)
        directives[name] = set(sources)
    return directives


def assert_common(reply: httpx.Response, *, framed_by_self: bool = False) -> None:
    where = f"{reply.request.method} {reply.url.path} ({reply.status_code})"
    assert reply.headers.get("x-content-type-options") == "nosniff", where
    assert reply.headers.get("referrer-policy") == "no-referrer", where
    assert reply.headers.get_list("x-frame-options") == ["SAMEORIGIN" if framed_by_self else "DENY"], where
    assert policy(reply).get("frame-ancestors") == ({"'self'"} if framed_by_self else {"'none'"}), where


def assert_page(reply: httpx.Response, *, framed_by_self: bool = False) -> None:
    assert reply.headers["content-type"].startswith("text/html"), reply.url
    assert_common(reply, framed_by_self=framed_by_self)
    directives = policy(reply)
    for name, sources in PAGE_POLICY.items():
        assert directives.get(name) == sources, (str(reply.url), name, directives.get(name))
    for sources in directives.values():
        assert not sources & set(UNSAFE), (str(reply.url), directives)
    assert_no_inline_code(reply)


def assert_not_html(reply: httpx.Response) -> None:
    assert not reply.headers.get("content-type", "").startswith("text/html"), reply.url
    assert_common(reply)


INLINE = [
    (re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"<style\b", re.I), "a <style> block"),
    (re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I), "a style= attribute"),
    (re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I), "an on*= handler"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def assert_no_inline_code(reply: httpx.Response) -> None:
    """What the policy would refuse in the browser, found in the HTML as served (templates and Python-built)."""
    text = re.sub(r"<!--.*?-->", "", reply.text, flags=re.S)
    found = [(what, m.group(0)[:80]) for pattern, what in INLINE for m in pattern.finditer(text)]
    assert not found, (str(reply.url), found)


# -- pages ---------------------------------------------------------------------------------------------------------
async def test_every_page_carries_the_strict_policy_and_refuses_other_origins_frames(api: HallApi) -> None:
    assert {"guide", "kiosk", "display", "console", "dashboard", "notice"} <= set(PAGES), PAGES
    for name in PAGES:
        reply = await api.client.get(f"/halls/{api.hall}/{name}")
        assert reply.status_code == 200, name
        assert_page(reply, framed_by_self=name in PRINTED_FROM_A_FRAME)
    for path in ("/", "/api/v1/docs", f"/halls/{api.hall}/no-such-page", "/halls/no-such-hall/console",
                 "/t/20261123-000000000000", "/t/20261123-000000000000/print"):
        reply = await api.client.get(path)
        assert reply.status_code in (200, 404), path
        assert_page(reply, framed_by_self=path.endswith("/print"))


async def test_phone_and_print_pages_carry_the_policy(api: HallApi) -> None:
    await api.open("1")
    ticket = await api.issue("SOC")
    phone = await api.client.get(f"/t/{ticket['id']}")
    assert phone.status_code == 200
    assert_page(phone)  # the phone page's address is the ticket's capability: never framed, never a referrer
    printed = await api.client.get(f"/t/{ticket['id']}/print?lang=en")
    assert printed.status_code == 200
    assert_page(printed, framed_by_self=True)  # the guide desk and kiosk print it from a frame of their own
    qr = await api.client.get(f"/t/{ticket['id']}/qr.svg")  # the code, or its refusal without the ticket's key
    assert_not_html(qr)


async def test_every_asset_of_every_room_carries_the_headers(api: HallApi) -> None:
    rooms = {room for room, _ in ASSETS}
    assert {"floor", "tickets", "displays", "console"} <= rooms, rooms
    for room, name in ASSETS:
        reply = await api.client.get(f"/assets/{room}/{name}")
        assert reply.status_code == 200, (room, name)
        assert_not_html(reply)
        if name.endswith(".js"):
            assert "javascript" in reply.headers["content-type"], (room, name)
    favicon = await api.client.get("/favicon.ico")
    assert favicon.status_code == 200
    assert_not_html(favicon)
    # Revalidated: a 304 still says nosniff and DENY.
    etag = (await api.client.get("/assets/floor/hallq.js")).headers["etag"]
    again = await api.client.get("/assets/floor/hallq.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers.get("x-content-type-options") == "nosniff"
    assert again.headers.get("x-frame-options") == "DENY"


async def test_api_answers_and_refusals_carry_the_headers(api: HallApi) -> None:
    await api.open("5")
    answers = [
        await api.request("GET", "/config", role="guide"),  # the fast path
        await api.request("GET", "/snapshot", role=None),  # 401 on the fast path
        await api.request("GET", "/stats/today", role="guide"),  # 403
        await api.request("POST", "/tickets", role="guide", json={"service": "NOPE"}),  # a refusal of the engine
        await api.client.get("/api/v1/halls/no-such-hall/snapshot"),
        await api.client.get("/api/v1/nothing-here"),  # Starlette's 404
        await api.client.get("/no/such/address"),
        await api.client.delete(api.path("/snapshot")),  # 405
        await api.client.get("/api/v1/openapi.json"),
        await api.client.get("/healthz"),
    ]
    assert [a.status_code for a in answers] == [200, 401, 403, 404, 404, 404, 404, 405, 200, 200], \
        [(a.url.path, a.status_code) for a in answers]
    for reply in answers:
        assert reply.headers["content-type"].startswith("application/json"), reply.url
        assert_not_html(reply)
    head = await api.client.head(f"/halls/{api.hall}/console")
    assert head.status_code == 200
    assert_common(head)


# -- JSON bodies: application/json only ---------------------------------------------------------------------------
BODY = b'{"service": "SOC"}'


@pytest.mark.parametrize("content_type", [
    "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/jsonp", "text/json", None,
])
async def test_a_body_not_sent_as_json_is_415(api: HallApi, content_type: str | None) -> None:
    """What a page of another site can post without asking (a form, text/plain, a typeless blob) never reaches
    an endpoint, whatever the body says."""
    await api.open("5")
    headers = api.auth("guide") | ({"Content-Type": content_type} if content_type else {})
    reply = await api.client.post(api.path("/tickets"), content=BODY, headers=headers)
    error = assert_error(reply, 415, "unsupported_media_type")
    assert "application/json" in error["message"], error
    assert has_chinese(error["message"]), error
    english = await api.client.post(api.path("/tickets"), content=BODY, headers=headers | {"Accept-Language": "en"})
    assert "application/json" in assert_error(english, 415, "unsupported_media_type")["message"]
    assert_not_html(reply)
    assert (await api.ok("GET", "/queue", role="guide"))["tickets"] == [], "a refused body issued a ticket"
    # The same body as JSON is issued; a public endpoint with a body refuses a form just the same.
    for good in ("application/json", "Application/JSON; charset=utf-8"):
        issued = await api.client.post(api.path("/tickets"), content=BODY,
                                       headers=api.auth("guide") | {"Content-Type": good})
        assert issued.status_code == 201, (good, issued.text)
    rating = await api.client.post(api.path(f"/tickets/{issued.json()['id']}/rating"),
                                   content=b'{"score": 5, "source": "pad"}', headers={"Content-Type": "text/plain"})
    assert_error(rating, 415, "unsupported_media_type")


async def test_requests_without_a_body_are_not_refused_for_its_type(api: HallApi) -> None:
    """No body, no media type to check: endpoints without a body model, and a body whose fields are all optional
    (finish: the outcome defaults to done)."""
    await api.ok("POST", "/windows/5/open")
    await api.issue("SOC")
    await api.ok("POST", "/windows/5/call-next", role="staff", window="5")
    await api.ok("POST", "/windows/5/start", role="staff", window="5")
    await api.ok("POST", "/windows/5/finish", role="staff", window="5")  # FinishIn: outcome defaults
    # With a body, the same endpoint refuses text/plain like any other.
    reply = await api.client.post(api.path("/windows/5/finish"), content=b'{"outcome": "done"}',
                                  headers=api.auth("manager") | {"Content-Type": "text/plain"})
    assert_error(reply, 415, "unsupported_media_type")
