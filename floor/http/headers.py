"""The security headers every HTTP answer carries, decided in one place and computed once.

Every answer (API, page, asset, error, 404, favicon, docs, health check): ``X-Content-Type-Options: nosniff`` (a
JSON or text answer is never run as script or HTML), ``Referrer-Policy: no-referrer`` (the phone page's address is
its ticket's capability and a page's ``#token=`` is a credential: no address of ours goes to another site), and
``X-Frame-Options`` with CSP ``frame-ancestors`` (no page of another origin may frame ours: a framed console with
live buttons is clickjacking).

HTML answers also carry the strict ``Content-Security-Policy`` of ``PAGE_POLICY``: scripts and styles from our own
files only, no inline script, style, ``style=`` attribute or ``on*=`` handler. A non-HTML answer carries only
``frame-ancestors 'none'``: it runs no script, and a fuller policy there would guard nothing.

The printed ticket (``/t/{id}/print``) and the notice (``/halls/{hall}/notice``) are printed by the guide desk and
the kiosk from a hidden frame of their own origin, so they alone may be framed, by our own pages only
(``frame-ancestors 'self'``); every other page refuses any frame.

``floor.http.hall_app.HallApp`` adds them: to the response object on the API's fast path, through a wrapped ``send``
on every other path (Starlette's routes, static files, error handlers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette._utils import get_route_path
from starlette.types import Message, Scope, Send

Headers = list[tuple[bytes, bytes]]

# What the pages need and no more: their own scripts and styles (ES modules, no inline code); img data: for the
# pages' <link rel="icon" href="data:,"> and blob: for the report charts fetched with a token and shown as blobs;
# the live feeds' websockets; speech and the dashboard's chime are Web Audio and speechSynthesis, no media
# fetch. No plugins, no <base>, forms post to us only.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
               "connect-src 'self' ws: wss:; font-src 'self'; media-src 'self'; object-src 'none'; "
               "base-uri 'none'; form-action 'self'")
# Pages the desk prints from a frame of its own origin (floor/tickets/assets/issue.js printInFrame).
FRAMED_BY_OUR_PAGES = re.compile(r"^/t/[^/]+/print$|^/halls/[^/]+/notice$")

_COMMON: Headers = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
NOT_HTML: Headers = [*_COMMON, (b"x-frame-options", b"DENY"),
                     (b"content-security-policy", b"frame-ancestors 'none'")]
PAGE: Headers = [*_COMMON, (b"x-frame-options", b"DENY"),
                 (b"content-security-policy", f"{PAGE_POLICY}; frame-ancestors 'none'".encode())]
PRINTED_PAGE: Headers = [*_COMMON, (b"x-frame-options", b"SAMEORIGIN"),
                         (b"content-security-policy", f"{PAGE_POLICY}; frame-ancestors 'self'".encode())]
# A 304 refreshes the stored answer's headers with its own: it must not carry a policy that would replace the
# stored page's. StaticFiles answers 304 for assets only, but the rule holds whatever is revalidated.
NOT_MODIFIED: Headers = [*_COMMON, (b"x-frame-options", b"DENY")]


def _is_html(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    for key, value in headers:
        if key == b"content-type":
            return value[:9].lower() == b"text/html"
    return False


def security_headers(scope: Scope, status: int, headers: Iterable[tuple[bytes, bytes]]) -> Headers:
    """The headers to add to an answer to ``scope`` with this status and these headers."""
    if status == 304:
        return NOT_MODIFIED
    if not _is_html(headers):
        return NOT_HTML
    return PRINTED_PAGE if FRAMED_BY_OUR_PAGES.match(get_route_path(scope)) else PAGE


def secured(scope: Scope, send: Send) -> Send:
    """``send`` that adds the security headers to the start of the answer."""

    async def send_secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers", [])
            # A new list: Starlette hands over the response's own raw_headers.
            message["headers"] = [*headers, *security_headers(scope, message["status"], headers)]
        await send(message)

    return send_secured
