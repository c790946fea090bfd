"""The hall's pages, served by the app itself: no CDN, no build step, nothing fetched at run time.

Each room keeps its own pages and assets and names them in its ``Room`` (``floor.http.room``); the app factory
hands them all to ``page_routes``. A page is ``/halls/{hall}/{name}``; its scripts and styles are served from
``/assets/{room}/``. The shared kit (API calls, the live feed with resume, the zh/en switch) is
``floor/http/assets/hallq.js`` and ``hallq.css`` (served as ``/assets/floor/``).

A page learns its hall from ``<meta name="hallq-hall">`` (its name from ``hallq-hall-name``, and the phone
page its ticket from ``hallq-ticket``), filled in here; tokens never travel in a page URL's path or query, only in its
``#token=`` fragment, which the browser keeps to itself.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from floor.network.rules import Region
from floor.runtime import HallRuntime, Runtime

KIT_ASSETS = Path(__file__).resolve().parent / "assets"
NO_STORE = {"Cache-Control": "no-cache"}  # pages are tiny; a hall must never run yesterday's script
# The front door's links, in the order a hall's people look for them.
FRONT_DOOR = (("guide", "导办台 Guide desk"), ("kiosk", "自助取号 Kiosk"), ("display", "大厅显示屏 Lobby display"),
              ("console", "窗口工作台 Staff console"), ("dashboard", "管理看板 Dashboard"),
              ("reports", "统计报表 Reports"), ("book", "预约办理 Booking"),
              ("cases", "差评件 Bad-rating cases"), ("bookings", "预约管理 Bookings"), ("windows", "窗口设置 Windows"),
              ("setup", "大厅设置 Hall set-up"), ("webhooks", "消息推送 Webhooks"), ("audit", "操作日志 Audit log"),
              ("accounts", "账号与密钥 Accounts and keys"))


@cache
def _template(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def render_page(path: Path, hall: HallRuntime, ticket: str = "", fills: Mapping[str, str] | None = None
                ) -> HTMLResponse:
    """The page for ``hall``; ``fills`` are a room's own placeholders (``__NO_SHOW_ZH__``) and their texts."""
    # __HALL_NAME__ first: "__HALL__" is a prefix of it.
    text = (_template(path).replace("__HALL_NAME__", html.escape(hall.config.name))
            .replace("__HALL__", html.escape(hall.config.id)).replace("__TICKET__", html.escape(ticket)))
    for placeholder, value in (fills or {}).items():
        text = text.replace(placeholder, html.escape(value))
    return HTMLResponse(text, headers=NO_STORE)


def not_found_page(title: str, detail: str) -> HTMLResponse:
    body = (f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width,initial-scale=1"><title>{title}</title>'
            f'<link rel="stylesheet" href="/assets/floor/hallq.css"><body class="notice-page">'
            f'<main><h1>{html.escape(title)}</h1><p>{html.escape(detail)}</p></main></body></html>')
    return HTMLResponse(body, status_code=404, headers=NO_STORE)


def render_region_page(path: Path, region: Region) -> HTMLResponse:
    """A region's page (``/regions/{region}/{name}``): it learns its region from ``<meta name="hallq-region">``."""
    text = (_template(path).replace("__REGION_NAME__", html.escape(region.name))
            .replace("__REGION__", html.escape(region.id)))
    return HTMLResponse(text, headers=NO_STORE)


def page_routes(pages: Mapping[str, Path], assets: Mapping[str, Path],
                region_pages: Mapping[str, Path] | None = None) -> list[BaseRoute]:
    """The front door, every room's pages by name (a hall's and a region's), and every room's assets."""
    region_pages = region_pages or {}

    async def region_page(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        region_id, name = request.path_params["region"], request.path_params["page"]
        region = runtime.network.region(region_id) if runtime.network is not None else None
        if region is None:
            return not_found_page("没有这个地区", f"本服务器上没有地区 {region_id}。"
                                  f"There is no region {region_id} here.")
        if name not in region_pages:
            return not_found_page("没有这个页面", f"可用页面：{'、'.join(region_pages)}。"
                                  f"Pages: {', '.join(region_pages)}.")
        return render_region_page(region_pages[name], region)

    async def hall_page(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        hall, name = request.path_params["hall"], request.path_params["page"]
        if hall not in runtime.halls:
            return not_found_page("没有这个大厅", f"本服务器上没有大厅 {hall}。There is no hall {hall} on this server.")
        if name not in pages:
            return not_found_page("没有这个页面", f"可用页面：{'、'.join(pages)}。Pages: {', '.join(pages)}.")
        return render_page(pages[name], runtime.halls[hall])

    async def index(request: Request) -> Response:
        """The server's front door: every hall and its pages."""
        runtime: Runtime = request.app.state.runtime
        rows = []
        for hall_id, hall in runtime.halls.items():
            links = " · ".join(f'<a href="/halls/{hall_id}/{page}">{label}</a>'
                               for page, label in FRONT_DOOR if page in pages)
            rows.append(f"<li><h2>{html.escape(hall.config.name)} <small>{hall_id}</small></h2><p>{links}</p></li>")
        regions = ""
        if runtime.network is not None and "overview" in region_pages:
            wide = [r for r in runtime.network.regions if r.kind in ("county", "town") and runtime.halls_below(r.id)]
            regions = ('<h2>区域总览 Region overview</h2><p>' + " · ".join(
                f'<a href="/regions/{html.escape(r.id)}/overview">{html.escape(r.name)}</a>' for r in wide) + "</p>")
        body = ('<!doctype html><html lang="zh-CN"><meta charset="utf-8"><meta name="viewport" '
                'content="width=device-width,initial-scale=1"><title>hallq</title>'
                '<link rel="stylesheet" href="/assets/floor/hallq.css"><body class="notice-page"><main>'
                '<h1>hallq 排队叫号</h1>' + regions + '<ul class="hall-list">' + "".join(rows) + '</ul>'
                '<p><a href="/api/v1/docs">API 文档 API docs</a></p></main></body></html>')
        return HTMLResponse(body, headers=NO_STORE)

    async def favicon(_: Request) -> Response:
        # Browsers ask for /favicon.ico whatever the page links; answer with the hall's mark, not a 404.
        return Response(_template(KIT_ASSETS / "favicon.svg"), media_type="image/svg+xml",
                        headers={"Cache-Control": "max-age=86400"})

    return [
        Route("/", index),
        Route("/favicon.ico", favicon),
        Route("/halls/{hall}/{page}", hall_page),
        Route("/regions/{region}/{page}", region_page),
        *(Mount(f"/assets/{room}", StaticFiles(directory=path), name=f"assets-{room}")
          for room, path in assets.items()),
    ]
