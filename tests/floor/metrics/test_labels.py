"""Label values stay bounded whatever a client sends: templates, not paths; known kinds, else other."""

from __future__ import annotations

import pytest
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from floor.metrics.labels import (
    OTHER,
    UNMATCHED,
    level_label,
    method_label,
    route_template,
    socket_kind,
    status_class,
)
from tests.conftest import ROOT

CHANNELS = ("display", "console", "dashboard", "pad", "phone")


async def _nothing() -> None:
    return None


@pytest.mark.parametrize(("status", "label"), [(200, "2xx"), (201, "2xx"), (304, "3xx"), (404, "4xx"), (503, "5xx"),
                                               (0, "5xx"), (999, "5xx")])
def test_status_class(status: int, label: str) -> None:
    assert status_class(status) == label


def test_methods_outside_http_are_one_label() -> None:
    assert method_label("POST") == "POST"
    assert method_label("BREW") == method_label("X" * 500) == OTHER


def test_the_route_template_is_never_the_path() -> None:
    assert route_template(Route("/api/v1/halls/{hall}/tickets/{ticket}", _nothing)) == \
        "/api/v1/halls/{hall}/tickets/{ticket}"
    assert route_template(WebSocketRoute("/api/v1/halls/{hall}/ws/{channel}", _nothing)) == \
        "/api/v1/halls/{hall}/ws/{channel}"
    assets = Mount("/assets/floor", StaticFiles(directory=ROOT / "floor" / "http" / "assets"))
    assert route_template(assets) == "/assets/floor/{path}"
    assert route_template(None) == UNMATCHED
    assert route_template(object()) == UNMATCHED


@pytest.mark.parametrize(("path", "kind"), [
    ("/api/v1/halls/demo/ws/display", "display"),
    ("/api/v1/halls/demo/ws/console", "console"),
    ("/api/v1/halls/pool-07/ws/dashboard", "dashboard"),
    ("/api/v1/halls/demo/ws/ticket/20261123-9f3a0c1d2e4b", "phone"),
    ("/api/v1/regions/demo-county/ws/overview", "region"),
    ("/api/v1/halls/demo/ws/20261123-9f3a0c1d2e4b", OTHER),  # a channel no room offers: not a label of its own
    ("/api/v1/halls/demo/ws/ticket/", OTHER),
    ("/api/v1/regions/demo-county/ws/other", OTHER),
    ("/somewhere/else", OTHER),
])
def test_socket_kinds(path: str, kind: str) -> None:
    assert socket_kind(path, CHANNELS) == kind


def test_a_hall_outside_a_network_has_a_level_label_too() -> None:
    assert level_label("village_station") == "village_station"
    assert level_label(None) == "none"
