"""The QR code of a printed ticket (``GET /t/{ticket}/qr.svg?key=``): the citizen's proof of holding the ticket.

It is given only for a ticket that exists and only to whoever already has the ticket's key; it carries the key in
the phone page's URL fragment; its address is HALLQ_PUBLIC_URL, or the request's own host only if that host is one
the server is known by (HALLQ_ALLOWED_HOSTS), never a Host header of the sender's choosing; and the codes the server
keeps are bounded in number and in time, whatever ids and hosts are asked for.

The server's own answers are checked over real HTTP (``hallq serve``); the cache's size and memory, which only the
server's process can see, in-process through the same app factory.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import segno

import floor.app
from floor.http.auth import ticket_key
from floor.runtime import Runtime
from floor.settings import Settings
from floor.tickets import citizen_pages
from tests.conftest import REDIS_URL
from tests.server.conftest import SECRET, HallApi, LiveServer, ServerFactory, SharedServer, assert_error, has_chinese

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

UNKNOWN_TICKET = "20261123-000000000000"
PUBLIC_URL = "https://queue.example.gov.cn"
MiB = 1024 * 1024


def expected_qr(url: str) -> bytes:
    """The SVG the server must answer for ``url``: segno with the server's options, made here independently."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False)
    return out.getvalue()


def key_of(api: HallApi, ticket: dict[str, Any]) -> str:
    return ticket_key(SECRET.encode(), api.hall, ticket["id"])


def assert_not_a_code(reply: httpx.Response) -> None:
    assert reply.headers["content-type"].startswith("application/json"), reply.headers["content-type"]
    assert b"<svg" not in reply.content


# -- over HTTP: which tickets, which keys ----------------------------------------------------------
async def test_a_ticket_that_does_not_exist_has_no_code(api: HallApi) -> None:
    """Old code: 200 and an SVG for any well-formed id."""
    for path in (f"/t/{UNKNOWN_TICKET}/qr.svg", f"/t/{UNKNOWN_TICKET}/qr.svg?key=anything", "/t/bad%20id/qr.svg"):
        reply = await api.client.get(path)
        error = assert_error(reply, 404, "unknown_ticket")
        assert has_chinese(error["message"]), error
        assert_not_a_code(reply)
    english = await api.client.get(f"/t/{UNKNOWN_TICKET}/qr.svg", headers={"Accept-Language": "en"})
    assert not has_chinese(assert_error(english, 404, "unknown_ticket")["message"])


async def test_the_code_needs_the_ticket_s_own_key(api: HallApi, shared_server: SharedServer) -> None:
    """Old code: 200 without a key, and with any key."""
    await api.open("1")
    ticket, other = await api.issue("SOC"), await api.issue("SOC")
    path = f"/t/{ticket['id']}/qr.svg"

    for params in ({}, {"key": ""}):
        reply = await api.client.get(path, params=params)
        error = assert_error(reply, 401, "no_ticket_key")
        assert has_chinese(error["message"]), error
        assert_not_a_code(reply)
    english = await api.client.get(path, headers={"Accept-Language": "en"})
    assert not has_chinese(assert_error(english, 401, "no_ticket_key")["message"])

    right = key_of(api, ticket)
    wrong = [key_of(api, other),  # another ticket's key
             ticket_key(SECRET.encode(), shared_server.other_hall, ticket["id"]),  # this id's key in another hall
             ticket_key(b"another-secret", api.hall, ticket["id"]),  # a key made with another secret
             right[:-1] + ("A" if right[-1] != "A" else "B"), right[:-1], right + "A", "密钥" * 11]
    for key in wrong:
        reply = await api.client.get(path, params={"key": key})
        assert_error(reply, 403, "bad_ticket_key")
        assert_not_a_code(reply)
        assert right not in reply.text

    reply = await api.client.get(path, params={"key": right})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "image/svg+xml"
    assert reply.headers["cache-control"] == "private, max-age=86400"
    # The phone page's address, with the key in its fragment: a fragment never reaches a server log or a Referer.
    assert reply.content == expected_qr(f"{api.server.base_url}/t/{ticket['id']}#key={right}")
    # The server's only other host name it is known by here: the same code by "localhost".
    port = api.server.port
    local = await api.client.get(path, params={"key": right}, headers={"Host": f"localhost:{port}"})
    assert local.content == expected_qr(f"http://localhost:{port}/t/{ticket['id']}#key={right}")


# -- over HTTP: whose address ------------------------------------------------------------------------
EVIL_HOSTS = ("evil.example", "evil.example:8000", "EVIL.example", "127.0.0.1.evil.example", "localhost.evil.example",
              "127.0.0.1@evil.example", "evil.example@127.0.0.1", "127.0.0.1:80@evil.example", "[::2]:80",
              "127.0.0.1/evil.example", "127.0.0.1 evil.example", "evil.example#127.0.0.1")


async def test_without_public_url_a_host_the_server_does_not_know_gets_no_code(api: HallApi) -> None:
    """Old code: 200 and a code for http://evil.example/t/{id}, cacheable for a day."""
    await api.open("1")
    ticket = await api.issue("SOC")
    key = key_of(api, ticket)
    for host in EVIL_HOSTS:
        for ticket_id in (ticket["id"], UNKNOWN_TICKET):
            reply = await api.client.get(f"/t/{ticket_id}/qr.svg", params={"key": key}, headers={"Host": host})
            if reply.status_code == 400 and reply.headers["content-type"].startswith("text/plain"):
                continue  # the HTTP server itself refused the Host line (spaces): it never reached the app
            error = assert_error(reply, 400, "unknown_host")
            assert "HALLQ_PUBLIC_URL" in error["message"], error
            assert has_chinese(error["message"]), error
            assert_not_a_code(reply)
            assert "max-age" not in reply.headers.get("cache-control", "")
            assert "evil" not in reply.text.lower()
    english = await api.client.get(f"/t/{ticket['id']}/qr.svg", params={"key": key},
                                   headers={"Host": "evil.example", "Accept-Language": "en"})
    message = assert_error(english, 400, "unknown_host")["message"]
    assert "HALLQ_PUBLIC_URL" in message
    assert not has_chinese(message)


@contextlib.asynccontextmanager
async def issued_on(server: LiveServer) -> AsyncIterator[tuple[HallApi, dict[str, Any], str]]:
    """A ticket of hall demo on ``server``, and its key."""
    async with server.client() as client:
        api = HallApi(server, client, "demo")
        await api.open("1")
        ticket = await api.issue("SOC")
        yield api, ticket, ticket_key(SECRET.encode(), "demo", ticket["id"])


async def test_with_public_url_the_code_carries_it_whatever_the_host(live_server: ServerFactory) -> None:
    """Old code: the code carried no key (``/t/{id}``), so it never matches."""
    server = live_server(extra_env={"HALLQ_PUBLIC_URL": PUBLIC_URL + "/"})
    async with issued_on(server) as (api, ticket, key):
        expected = expected_qr(f"{PUBLIC_URL}/t/{ticket['id']}#key={key}")
        for host in (None, "evil.example", "localhost", "queue.example.gov.cn", "[::2]:80"):
            headers = {"Host": host} if host else {}
            reply = await api.client.get(f"/t/{ticket['id']}/qr.svg", params={"key": key}, headers=headers)
            assert reply.status_code == 200, (host, reply.text)
            assert reply.content == expected, host
        # The key is still needed, and a ticket that does not exist still has no code.
        assert_error(await api.client.get(f"/t/{ticket['id']}/qr.svg", headers={"Host": "evil.example"}),
                     401, "no_ticket_key")
        assert_error(await api.client.get(f"/t/{UNKNOWN_TICKET}/qr.svg", params={"key": key}), 404, "unknown_ticket")


async def test_allowed_hosts_name_the_hosts_a_code_may_carry(live_server: ServerFactory) -> None:
    """HALLQ_ALLOWED_HOSTS replaces the default list (loopback and the machine's name). Old code: every host got a
    code, and 127.0.0.1 was answered with one."""
    server = live_server(extra_env={"HALLQ_ALLOWED_HOSTS": " Queue.Local , hall-7.lan.,[fd00::7]"})
    async with issued_on(server) as (api, ticket, key):
        path = f"/t/{ticket['id']}/qr.svg"
        for host, base in (("queue.local:8080", "http://queue.local:8080"), ("QUEUE.LOCAL", "http://QUEUE.LOCAL"),
                           ("hall-7.lan", "http://hall-7.lan"), ("[fd00::7]:8000", "http://[fd00::7]:8000")):
            reply = await api.client.get(path, params={"key": key}, headers={"Host": host})
            assert reply.status_code == 200, (host, reply.text)
            assert reply.content == expected_qr(f"{base}/t/{ticket['id']}#key={key}"), host
        for host in (f"127.0.0.1:{server.port}", "localhost", "evil.example", "queue.local.evil.example"):
            reply = await api.client.get(path, params={"key": key}, headers={"Host": host})
            assert_error(reply, 400, "unknown_host")


def test_settings_read_the_allowed_hosts() -> None:
    """Old code: Settings had no allowed_hosts."""
    from floor.settings import LOCAL_HOSTS  # here, not above: the old code has none, and the other tests must run

    defaults = Settings.from_env({"HALLQ_SECRET": "s"})
    assert {"localhost", "127.0.0.1", "::1"} <= set(defaults.allowed_hosts)
    assert defaults.allowed_hosts == LOCAL_HOSTS
    assert defaults.host_allowed("LOCALHOST")
    assert defaults.host_allowed("[::1]")
    assert not defaults.host_allowed("evil.example")
    custom = Settings.from_env({"HALLQ_SECRET": "s", "HALLQ_ALLOWED_HOSTS": " a.example, B.example.,, ",
                                "HALLQ_PUBLIC_URL": "https://Queue.Example.gov.cn:8443/hall/"})
    assert custom.public_url == "https://Queue.Example.gov.cn:8443/hall"
    assert custom.allowed_hosts == ("a.example", "b.example", "queue.example.gov.cn")  # public_url's host added
    assert Settings.from_env({"HALLQ_SECRET": "s", "HALLQ_ALLOWED_HOSTS": " , "}).allowed_hosts == LOCAL_HOSTS
    with_public = Settings(secret=b"s", public_url="http://10.1.2.3:8000")
    assert with_public.allowed_hosts == (*LOCAL_HOSTS, "10.1.2.3")
    for bad in ("queue.example.gov.cn", "ftp://queue.example.gov.cn", "https://", "http://[::1"):
        with pytest.raises(ValueError, match="HALLQ_PUBLIC_URL"):
            Settings(secret=b"s", public_url=bad)


# -- in-process: what the server keeps ---------------------------------------------------------------
@dataclass
class InProcess:
    app: Any
    runtime: Runtime
    client: httpx.AsyncClient

    async def tickets(self, count: int) -> list[tuple[str, str]]:
        """``count`` tickets of hall demo: (id, key)."""
        engine = self.runtime.halls["demo"].engine
        await engine.open_window("1")
        ids = [(await engine.issue("SOC")).ticket.id for _ in range(count)]
        return [(i, ticket_key(SECRET.encode(), "demo", i)) for i in ids]


@contextlib.asynccontextmanager
async def in_process(tmp_path: Path, key_prefix: str, **options: Any) -> AsyncIterator[InProcess]:
    """The server's app in this process (lifespan and all), reached as http://testserver."""
    settings = Settings(secret=SECRET.encode(), redis_url=REDIS_URL, database_url=f"sqlite:///{tmp_path / 'hq.db'}",
                        key_prefix=key_prefix, archive=False, **{"allowed_hosts": ("testserver",), **options})
    app = floor.app.create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield InProcess(app, app.state.runtime, client)


class ManualTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rss() -> int:
    """This process's resident memory now, in bytes (not its peak, which an earlier test may have set)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


async def asgi_get(app: Any, path: str, query: str, host: str) -> tuple[int, bytes]:
    """One GET straight into the ASGI app: an HTTP client in between would make 20,000 requests take minutes."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": query.encode(),
             "headers": [(b"host", host.encode())], "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80)}
    start: dict[str, Any] = {}
    body: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        else:
            body.append(message.get("body", b""))

    await app(scope, receive, send)
    return start["status"], b"".join(body)


async def test_random_ids_and_hosts_leave_the_cache_and_memory_bounded(tmp_path: Path, key_prefix: str,
                                                                        redis: Any) -> None:
    """The review's attack: 20,000 requests with random ids and random Host headers. Old code: each one made and
    kept a code (functools.cache keyed by the URL, Host included), ~79 MiB never freed."""
    async with in_process(tmp_path, key_prefix) as server:
        real = await server.tickets(3)
        answered: dict[int, int] = {}

        async def ask(n: int) -> None:
            ticket_id = f"2026{n % 10_000:04d}-{uuid.uuid4().hex[:12]}"
            host = f"{uuid.uuid4().hex}.example:{1024 + n % 60000}" if n % 2 else "testserver"
            if n % 7 == 0:  # a real ticket and its key, through a random host
                ticket_id, key = real[n % len(real)]
            else:
                key = uuid.uuid4().hex[:22]
            status, body = await asgi_get(server.app, f"/t/{ticket_id}/qr.svg", f"key={key}", host)
            answered[status] = answered.get(status, 0) + 1
            assert (status == 200) == (host == "testserver" and n % 7 == 0), (host, status, body[:200])
            assert b"example" not in body

        async def burst(first: int, count: int, at_once: int = 50) -> None:
            for start in range(first, first + count, at_once):
                await asyncio.gather(*(ask(n) for n in range(start, min(start + at_once, first + count))))

        await burst(0, 1000)  # the first requests warm what every request shares: not what is measured
        gc.collect()
        before = rss()
        await burst(1000, 20_000)
        gc.collect()
        grown = rss() - before
        assert grown < 10 * MiB, f"20,000 requests left {grown / MiB:.1f} MiB behind ({answered})"
        cache = citizen_pages.QR_CACHE
        assert len(cache) <= citizen_pages.QR_CACHE_SIZE
        assert len(cache) <= len(real)  # only real tickets, with their keys, through a known host are kept
        assert set(answered) == {200, 400, 404}, answered


async def test_the_cache_keeps_at_most_its_size_and_forgets_after_its_ttl(
        tmp_path: Path, key_prefix: str, redis: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the route, with a small cache and a clock of the test's own. Old code: no bound, no expiry."""
    clock = ManualTime()
    made: list[str] = []
    qr_svg = citizen_pages.qr_svg

    def make(url: str) -> bytes:
        made.append(url)
        return qr_svg(url)

    cache = citizen_pages.RecentAnswers(8, 600.0, clock=clock)
    monkeypatch.setattr(citizen_pages, "QR_CACHE", cache)
    monkeypatch.setattr(citizen_pages, "qr_svg", make)
    async with in_process(tmp_path, key_prefix) as server:
        tickets = await server.tickets(20)

        async def code(n: int) -> bytes:
            ticket_id, key = tickets[n]
            reply = await server.client.get(f"/t/{ticket_id}/qr.svg", params={"key": key})
            assert reply.status_code == 200, reply.text
            assert reply.content == expected_qr(f"http://testserver/t/{ticket_id}#key={key}")
            return reply.content

        for n in range(20):
            await code(n)
        assert len(cache) == 8
        assert len(made) == 20
        clock.now += 1.0
        await code(19)  # kept: not made again
        assert len(made) == 20
        await code(0)  # the least recently used went first: made again
        assert len(made) == 21
        assert len(cache) == 8

        clock.now += 598.0
        await code(19)
        assert len(made) == 21  # still fresh
        clock.now += 1.0  # ten minutes after it was made
        await code(19)
        assert len(made) == 22  # expired: made anew
        assert len(cache) == 2  # and every other expired code forgotten with it (0, made a moment later, stays)


def test_recent_answers_is_bounded_in_number_and_time() -> None:
    """The cache on its own, with the review's 20,000 distinct keys. Old code: functools.cache kept all of them."""
    clock = ManualTime()
    cache = citizen_pages.RecentAnswers(512, 600.0, clock=clock)
    for n in range(20_000):
        cache.get(f"http://{n}.example/t/x", lambda url: url.encode())
        clock.now += 0.001
    assert len(cache) == 512
    assert cache.get("http://19999.example/t/x", lambda url: b"made again") == b"http://19999.example/t/x"
    assert cache.get("http://0.example/t/x", lambda url: b"made again") == b"made again"
    clock.now += 600.0
    assert cache.get("http://19999.example/t/x", lambda url: b"expired") == b"expired"
    assert len(cache) == 1
