"""The citizen's pages of one ticket: the phone page (``/t/{id}``), the printable ticket and its QR code.

Their URL carries only the ticket's unguessable id; the hall is found from it.
"""

from __future__ import annotations

import io
import re
from functools import cache
from pathlib import Path

import segno
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from floor.http.kit import error_response
from floor.http.pages import not_found_page, render_page
from floor.runtime import Runtime

PAGES = Path(__file__).resolve().parent / "pages"
PHONE_PAGE = PAGES / "phone.html"
PRINT_PAGE = PAGES / "print.html"
_TICKET_ID = re.compile(r"^[A-Za-z0-9-]{1,40}$")


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
        return not_found_page("号票不存在",
                          "没有找到这张号票，请核对二维码或咨询导办台。No such ticket; please ask the guide desk.")
    return render_page(path, runtime.halls[hall], ticket)


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


ROUTES = [
    Route("/t/{ticket}", phone_page),
    Route("/t/{ticket}/print", print_page),
    Route("/t/{ticket}/qr.svg", ticket_qr),
]
