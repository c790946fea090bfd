"""The citizen's pages of one ticket: the phone page (``/t/{id}``), the printable ticket and its QR code.

Their URL carries the ticket's unguessable id; the hall is found from it. The QR code also needs the ticket's key
(``floor.http.auth.ticket_key``), which it carries on to the phone page in the URL fragment.
"""

from __future__ import annotations

import io
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import segno
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from floor.http.auth import AuthError, check_ticket_key
from floor.http.kit import error_response, header, language
from floor.http.pages import not_found_page, render_page
from floor.runtime import Runtime
from floor.settings import Settings
from queue_engine.no_show import notice as no_show_notice

PAGES = Path(__file__).resolve().parent / "pages"
PHONE_PAGE = PAGES / "phone.html"
PRINT_PAGE = PAGES / "print.html"
_TICKET_ID = re.compile(r"^[A-Za-z0-9-]{1,40}$")


async def find_hall(runtime: Runtime, ticket_id: str) -> str | None:
    """The hall holding a ticket: the phone page's URL carries only the ticket's unguessable id."""
    if not _TICKET_ID.match(ticket_id):
        return None
    for redis, halls in runtime.shards.grouped(runtime.halls).items():  # one pipeline per Redis holding halls
        async with redis.pipeline(transaction=False) as pipe:
            for hall in halls:
                pipe.hexists(runtime.halls[hall].engine.keys.tickets, ticket_id)
            found = await pipe.execute()
        hit = next((hall for hall, hit in zip(halls, found, strict=True) if hit), None)
        if hit is not None:
            return hit
    return None


async def _ticket_page(request: Request, path: Path) -> Response:
    runtime: Runtime = request.app.state.runtime
    ticket = request.path_params["ticket"]
    hall = await find_hall(runtime, ticket)
    if hall is None:
        return not_found_page("号票不存在",
                          "没有找到这张号票，请核对二维码或咨询导办台。No such ticket; please ask the guide desk.")
    # The printed ticket and the phone page have no token to read GET /config: the hall's no-show sentence comes in
    # the page itself.
    notice = no_show_notice(runtime.halls[hall].config.policy)
    fills = {"__NO_SHOW_ZH__": notice["zh"], "__NO_SHOW_EN__": notice["en"]}
    return render_page(path, runtime.halls[hall], ticket, fills)


async def phone_page(request: Request) -> Response:
    return await _ticket_page(request, PHONE_PAGE)


async def print_page(request: Request) -> Response:
    return await _ticket_page(request, PRINT_PAGE)


# A Host header: a name or an IPv4 address, or an IPv6 address in brackets, and an optional port. Nothing else (no
# user info, path or spaces) may reach the address a QR code carries.
_HOST = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9.-]+))(?::[0-9]{1,5})?$")


class UnknownHost(Exception):
    """A request named a Host that is not one of ``Settings.allowed_hosts``, and no HALLQ_PUBLIC_URL is set."""


def public_base(request: Request, settings: Settings) -> str:
    """Where phones reach this server: HALLQ_PUBLIC_URL, or else the address this request came by, if its host is
    one this server is known by. Any other Host is refused (``UnknownHost``): whoever sends the request chooses
    it, and a QR code must never point at an address of their choosing."""
    if settings.public_url:
        return settings.public_url
    host = header(request, b"host")
    if host is None:  # HTTP/1.0 without a Host: the address the server was reached at
        server = request.scope.get("server")
        if not server:
            raise UnknownHost("")
        name, port = str(server[0]), server[1]
        host = f"[{name}]" if ":" in name else name
        host = host if port is None else f"{host}:{port}"
    match = _HOST.match(host)
    if match is None or not settings.host_allowed(match["v6"] or match["name"]):
        raise UnknownHost(host)
    scheme = request.scope.get("scheme", "http")  # https behind a proxy uvicorn trusts (X-Forwarded-Proto)
    return f"{scheme}://{host}{request.scope.get('root_path', '')}".rstrip("/")


def qr_svg(url: str) -> bytes:
    """The QR code of ``url`` as SVG. Error correction M survives a smudged thermal print; the quiet zone is part of
    the code."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False)
    return out.getvalue()


class RecentAnswers:
    """The answers made lately, at most ``size`` of them, each kept ``ttl_s`` seconds from when it was made: a
    ticket's QR code is asked for by the print page and the kiosk's screen within seconds, then hardly ever again.
    ``clock`` is injectable for tests."""

    def __init__(self, size: int, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.size, self.ttl_s, self.clock = size, ttl_s, clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()  # key -> (expires at, answer)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, make: Callable[[str], bytes]) -> bytes:
        """The answer for ``key``: the one kept, if it has not expired, else ``make(key)``, kept."""
        now = self.clock()
        kept = self._entries.get(key)
        if kept is not None and kept[0] > now:
            self._entries.move_to_end(key)
            return kept[1]
        answer = make(key)
        self._entries[key] = (now + self.ttl_s, answer)
        self._entries.move_to_end(key)
        self._forget(now)
        return answer

    def _forget(self, now: float) -> None:
        """Drop what has expired (a miss has just made an answer, which costs far more), then the least recently
        used beyond ``size``."""
        for key in [k for k, (expires, _) in self._entries.items() if expires <= now]:
            del self._entries[key]
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


QR_CACHE_SIZE = 512  # more than a busy hall prints in ten minutes; ~5 KiB each
QR_CACHE_TTL_S = 600.0
QR_CACHE = RecentAnswers(QR_CACHE_SIZE, QR_CACHE_TTL_S)


async def ticket_qr(request: Request) -> Response:
    """The QR code printed on a ticket, as SVG (crisp on a 203 dpi head): the phone page's address with the
    ticket's key in its fragment (``/t/{id}#key=…``), which never reaches a server's log or a Referer. The code is
    the citizen's proof of holding the ticket, so it is given only to whoever already has the key
    (``?key=``): the kiosk and guide desk that issued it, and the print page they open."""
    runtime: Runtime = request.app.state.runtime
    settings = runtime.settings
    zh = language(request) == "zh"
    ticket = request.path_params["ticket"]
    try:
        base = public_base(request, settings)
    except UnknownHost:
        return error_response(400, "unknown_host", "二维码地址未配置：请求的主机名不在允许列表中，请管理员设置 "
                              "HALLQ_PUBLIC_URL（手机访问本服务的地址）或 HALLQ_ALLOWED_HOSTS。" if zh else
                              "This server does not know the host name this request used, so it cannot tell which "
                              "address to put in the QR code: the operator must set HALLQ_PUBLIC_URL (the address "
                              "phones reach the server at) or list the host in HALLQ_ALLOWED_HOSTS.")
    hall = await find_hall(runtime, ticket)
    if hall is None:
        return error_response(404, "unknown_ticket", "没有这张号票。" if zh else "No such ticket.")
    key = request.query_params.get("key")
    try:
        check_ticket_key(settings.secret, hall, ticket, key)
    except AuthError as exc:
        return error_response(exc.status, exc.code, exc.message_zh if zh else exc.message)
    url = f"{base}/t/{ticket}#key={key}"
    return Response(QR_CACHE.get(url, qr_svg), media_type="image/svg+xml",
                    headers={"Cache-Control": "private, max-age=86400"})


ROUTES = [
    Route("/t/{ticket}", phone_page),
    Route("/t/{ticket}/print", print_page),
    Route("/t/{ticket}/qr.svg", ticket_qr),
]
