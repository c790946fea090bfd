"""The API's endpoints are found by the shape of their path (``floor.http.router``): every request must reach its
own endpoint with its path parameters, a literal must win over a parameter it would also match, and what no
endpoint takes must be left to Starlette (its 404s, 405s and redirects)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from floor.app import ENDPOINTS
from floor.http.hall_app import HallApp
from floor.http.router import PathShapes, plain
from floor.http.timings import Timings, read


def sample(full_path: str) -> tuple[str, dict[str, str]]:
    """A path for the template, each parameter given a value of its own."""
    names = re.findall(r"\{([a-z_]+)\}", full_path)
    values = {name: f"v{n}-{name}" for n, name in enumerate(names)}
    return re.sub(r"\{([a-z_]+)\}", lambda m: values[m.group(1)], full_path), values


def served() -> PathShapes[str]:
    shapes: PathShapes[str] = PathShapes()
    for ep in ENDPOINTS:
        if plain(ep.full_path):
            shapes.add(ep.method, ep.full_path, f"{ep.method} {ep.full_path}")
    return shapes


def test_every_endpoint_is_found_with_its_own_path_parameters() -> None:
    shapes = served()
    assert len(ENDPOINTS) > 50
    for ep in ENDPOINTS:
        path, params = sample(ep.full_path)
        if plain(ep.full_path):
            assert shapes.find(ep.method, path) == (f"{ep.method} {ep.full_path}", params)
        else:  # a parameter inside a segment ({chart}.png): Starlette's regex finds it
            assert shapes.find(ep.method, path) is None


def test_a_parameter_inside_a_segment_is_left_to_the_regex() -> None:
    assert not plain("/h/{hall}/reports/charts/{chart}.png")
    assert plain("/h/{hall}/windows/{w}/call-next")
    with pytest.raises(ValueError, match="shares a segment"):
        PathShapes[str]().add("GET", "/h/{hall}/reports/charts/{chart}.png", "chart")


def test_a_literal_segment_wins_over_a_parameter_whatever_the_order_of_adding() -> None:
    for order in ((0, 1), (1, 0)):
        shapes: PathShapes[str] = PathShapes()
        templates = ["/h/{hall}/appointments/{appointment}", "/h/{hall}/appointments/slots"]
        for i in order:
            shapes.add("GET", templates[i], templates[i])
        assert shapes.find("GET", "/h/x/appointments/slots") == (templates[1], {"hall": "x"})
        assert shapes.find("GET", "/h/x/appointments/A1") == (templates[0], {"hall": "x", "appointment": "A1"})


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/halls/demo/windows/5/call-next"),  # the address takes POST: Starlette answers 405
    ("HEAD", "/api/v1/halls/demo/snapshot"),  # Starlette's own HEAD of a GET
    ("POST", "/api/v1/halls/demo/windows/5/call-next/"),  # a trailing slash: Starlette redirects
    ("POST", "/api/v1/halls/demo/windows//call-next"),  # an empty parameter matches nothing, as in Starlette
    ("POST", "/api/v1/halls/demo/windows/5/call-nxt"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/"),
])
def test_what_no_endpoint_takes_is_left_to_starlette(method: str, path: str) -> None:
    assert served().find(method, path) is None


def test_two_templates_that_could_match_one_path_are_refused() -> None:
    shapes: PathShapes[str] = PathShapes()
    shapes.add("GET", "/a/{x}/c", "first")
    with pytest.raises(ValueError, match="could both match"):
        shapes.add("GET", "/a/b/{y}", "second")
    with pytest.raises(ValueError, match="could both match"):
        shapes.add("GET", "/a/{z}/c", "again")
    shapes.add("POST", "/a/b/{y}", "another method")
    shapes.add("GET", "/a/{x}/d", "another literal")
    assert shapes.find("GET", "/a/b/c") == ("first", {"x": "b"})
    assert shapes.find("POST", "/a/b/c") == ("another method", {"y": "c"})


async def test_the_app_calls_endpoints_by_shape_and_leaves_the_rest_to_starlette(tmp_path: Path) -> None:
    """HallApp: a found endpoint gets its path parameters and app; an error in it is answered 500 by the app's
    handler (then raised for the server to log, as Starlette does); a wrong method is Starlette's 405."""
    async def echo(request: Request) -> Response:
        assert request.app is app
        return JSONResponse(dict(request.path_params))

    async def broken(request: Request) -> Response:
        raise RuntimeError("a bug")

    async def on_error(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": {"code": "internal_error", "message": str(exc)}}, status_code=500)

    timings = Timings(tmp_path / "timings")
    app = HallApp(endpoints=[Route("/h/{hall}/w/{w}/call", echo, methods=["POST"], name="POST call"),
                             Route("/h/{hall}/broken", broken, methods=["POST"])],
                  on_error=on_error, routes=[], timings=timings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://hall") as client:
        ok = await client.post("/h/demo/w/5/call")
        assert (ok.status_code, ok.json()) == (200, {"hall": "demo", "w": "5"})
        failed = await client.post("/h/demo/broken")
        assert (failed.status_code, failed.json()["error"]) == (500, {"code": "internal_error", "message": "a bug"})
        assert (await client.get("/h/demo/w/5/call")).status_code == 405
        assert (await client.post("/h/demo/w/5/cal")).status_code == 404
    # Answered requests are timed under their route's name (load runs read them: floor.http.timings).
    started = time.time()
    written = timings.write()
    assert len(read([written], started - 60, started)["POST call"]) == 1
    assert "broken" not in read([written], started - 60, started)
    with pytest.raises(RuntimeError, match="a bug"):  # the server still sees (and logs) the error
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hall") as client:
            await client.post("/h/demo/broken")
