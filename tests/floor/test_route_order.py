"""Routes are tried hot ones first (``floor.app.hot_first``): every request must still reach its own endpoint, so
a literal path (``/appointments/slots``) keeps coming before a path id it would also match
(``/appointments/{appointment}``)."""

from __future__ import annotations

import re

from starlette.routing import Match

import floor.app
from floor.app import hot_first
from floor.web import ENDPOINTS, as_route


def sample_path(full_path: str) -> str:
    return re.sub(r"\{[a-z_]+\}", "x1", full_path)


def test_every_request_reaches_its_own_endpoint_in_the_served_order() -> None:
    floor.app._rooms()
    routes = [(ep, as_route(ep)) for ep in hot_first(list(ENDPOINTS))]
    for ep in ENDPOINTS:
        scope = {"type": "http", "path": sample_path(ep.full_path), "method": ep.method, "root_path": ""}
        first = next(other for other, route in routes if route.matches(scope)[0] is Match.FULL)
        assert first is ep, (ep.method, ep.full_path, first.method, first.full_path)


def test_the_windows_and_tickets_routes_come_first() -> None:
    floor.app._rooms()
    ordered = [ep.path for ep in hot_first(list(ENDPOINTS))]
    hot = [p for p in ordered if p.startswith(("/windows/{w}/", "/tickets"))]
    assert ordered[: len(hot)] == hot
    assert ordered.index("/windows/{w}/call-next") < ordered.index("/appointments")
