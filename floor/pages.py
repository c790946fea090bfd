"""The hall's pages, served by the app itself: no CDN, no build step, nothing fetched at run time.

Each room keeps its own page: the guide desk, kiosk, manager dashboard and citizen's phone page here in
``floor/pages``, the lobby display in ``displays/pages``, the window console in ``staff_console/pages``.
Their scripts and styles sit beside them in ``assets/``; the shared kit (API calls, the live feed with
resume, the zh/en switch) is ``floor/assets/hallq.js`` and ``hallq.css``.

A page learns its hall from ``<meta name="hallq-hall">`` (its name from ``hallq-hall-name``, and the phone
page its ticket from ``hallq-ticket``), filled in here; tokens never travel in a page URL's path or query, only in its
``#token=`` fragment, which the browser keeps to itself.
"""

from __future__ import annotations

import html
import io
import re
from functools import cache
from pathlib import Path

import segno
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .runtime import HallRuntime, Runtime
from .web import error_response

ROOT = Path(__file__).resolve().parent.parent
PAGES: dict[str, Path] = {
    "guide": ROOT / "floor" / "pages" / "guide.html",
    "kiosk": ROOT / "floor" / "pages" / "kiosk.html",
    "notice": ROOT / "floor" / "pages" / "notice.html",
    "dashboard": ROOT / "floor" / "pages" / "dashboard.html",
    "book": ROOT / "floor" / "pages" / "book.html",
    "rate": ROOT / "floor" / "pages" / "rate.html",
    "cases": ROOT / "floor" / "pages" / "cases.html",
    "reports": ROOT / "floor" / "pages" / "reports.html",
    "display": ROOT / "displays" / "pages" / "display.html",
    "console": ROOT / "staff_console" / "pages" / "console.html",
}
PHONE_PAGE = ROOT / "floor" / "pages" / "phone.html"
PRINT_PAGE = ROOT / "floor" / "pages" / "print.html"
ASSETS = {
    "floor": ROOT / "floor" / "assets",
    "displays": ROOT / "displays" / "assets",
    "console": ROOT / "staff_console" / "assets",
}
_TICKET_ID = re.compile(r"^[A-Za-z0-9-]{1,40}$")
NO_STORE = {"Cache-Control": "no-cache"}  # pages are tiny; a hall must never run yesterday's script


@cache
def _template(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _page(path: Path, hall: HallRuntime, ticket: str = "") -> HTMLResponse:
    # __HALL_NAME__ first: "__HALL__" is a prefix of it.
    text = (_template(path).replace("__HALL_NAME__", html.escape(hall.config.name))
            .replace("__HALL__", html.escape(hall.config.id)).replace("__TICKET__", html.escape(ticket)))
    return HTMLResponse(text, headers=NO_STORE)


def _not_found(title: str, detail: str) -> HTMLResponse:
    body = (f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width,initial-scale=1"><title>{title}</title>'
            f'<link rel="stylesheet" href="/assets/floor/hallq.css"><body class="notice-page">'
            f'<main><h1>{html.escape(title)}</h1><p>{html.escape(detail)}</p></main></body></html>')
    return HTMLResponse(body, status_code=404, headers=NO_STORE)


async def hall_page(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    hall, name = request.path_params["hall"], request.path_params["page"]
    if hall not in runtime.halls:
        return _not_found("没有这个大厅", f"本服务器上没有大厅 {hall}。There is no hall {hall} on this server.")
    if name not in PAGES:
        return _not_found("没有这个页面", f"可用页面：{'、'.join(PAGES)}。Pages: {', '.join(PAGES)}.")
    return _page(PAGES[name], runtime.halls[hall])


async def find_hall(runtime: Runtime, ticket_id: str) -> str | None:
    """The hall holding a ticket: the phone page's URL carries only the ticket's unguessable id."""
    if not _TICKET_ID.match(ticket_id):
        return None
    async with runtime.redis.pipeline(transaction=False) as pipe:
        for hall in runtime.halls.values():
            pipe.hexists(hall.engine.keys.tickets, ticket_id)
        found = await pipe.execute()
    return next((hall for hall, hit in zip(runtime.halls, found, strict=True) if hit), None)


async def _ticket_page(request: Request, path: Path) -> Response:
    runtime: Runtime = request.app.state.runtime
    ticket = request.path_params["ticket"]
    hall = await find_hall(runtime, ticket)
    if hall is None:
        return _not_found("号票不存在",
                          "没有找到这张号票，请核对二维码或咨询导办台。No such ticket; please ask the guide desk.")
    return _page(path, runtime.halls[hall], ticket)


async def phone_page(request: Request) -> Response:
    return await _ticket_page(request, PHONE_PAGE)


async def print_page(request: Request) -> Response:
    return await _ticket_page(request, PRINT_PAGE)


def public_base(request: Request, runtime: Runtime) -> str:
    return runtime.settings.public_url or str(request.base_url).rstrip("/")


@cache
def _qr_svg(url: str) -> bytes:
    # Error correction M survives a smudged thermal print; the quiet zone is part of the code.
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False)
    return out.getvalue()


async def ticket_qr(request: Request) -> Response:
    """The QR code printed on a ticket: the phone page's address, as SVG (crisp on a 203 dpi head)."""
    runtime: Runtime = request.app.state.runtime
    ticket = request.path_params["ticket"]
    if not _TICKET_ID.match(ticket):
        return error_response(404, "unknown_ticket", "没有这张号票。No such ticket.")
    url = f"{public_base(request, runtime)}/t/{ticket}"
    return Response(_qr_svg(url), media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


async def index(request: Request) -> Response:
    """The server's front door: every hall and its pages."""
    runtime: Runtime = request.app.state.runtime
    rows = []
    for hall_id, hall in runtime.halls.items():
        links = " · ".join(f'<a href="/halls/{hall_id}/{page}">{label}</a>' for page, label in (
            ("guide", "导办台 Guide desk"), ("kiosk", "自助取号 Kiosk"), ("display", "大厅显示屏 Lobby display"),
            ("console", "窗口工作台 Staff console"), ("dashboard", "管理看板 Dashboard"),
            ("reports", "统计报表 Reports"), ("book", "预约办理 Booking")))
        rows.append(f"<li><h2>{html.escape(hall.config.name)} <small>{hall_id}</small></h2><p>{links}</p></li>")
    body = ('<!doctype html><html lang="zh-CN"><meta charset="utf-8"><meta name="viewport" '
            'content="width=device-width,initial-scale=1"><title>hallq</title>'
            '<link rel="stylesheet" href="/assets/floor/hallq.css"><body class="notice-page"><main>'
            '<h1>hallq 排队叫号</h1><ul class="hall-list">' + "".join(rows) + '</ul>'
            '<p><a href="/api/v1/docs">API 文档 API docs</a></p></main></body></html>')
    return HTMLResponse(body, headers=NO_STORE)


async def favicon(_: Request) -> Response:
    # Browsers ask for /favicon.ico whatever the page links; answer with the hall's mark, not a 404.
    return Response(_template(ASSETS["floor"] / "favicon.svg"), media_type="image/svg+xml",
                    headers={"Cache-Control": "max-age=86400"})


ROUTES = [
    Route("/", index),
    Route("/favicon.ico", favicon),
    Route("/halls/{hall}/{page}", hall_page),
    Route("/t/{ticket}", phone_page),
    Route("/t/{ticket}/print", print_page),
    Route("/t/{ticket}/qr.svg", ticket_qr),
    *(Mount(f"/assets/{room}", StaticFiles(directory=path), name=f"assets-{room}") for room, path in ASSETS.items()),
]
