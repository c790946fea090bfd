"""GET /metrics of a real ``hallq serve --workers 2``: whichever worker answers, the figures are every process's.

Tickets moved through the HTTP API move the counters by exactly as much (counted once, in the archive process, not
once per worker); requests are timed under their route's template; no ticket id is ever a label; the multiprocess
directory starts empty; every metric the dashboard and the alerts name is in a real scrape."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

import floor.app
from floor.metrics.labels import UNMATCHED, route_template
from floor.settings import Settings
from tests.conftest import MONDAY_9AM, ROOT
from tests.server.conftest import (
    NO_SHOW_AT_ONCE,
    HallApi,
    LiveServer,
    ServerClock,
    delete_prefix_sync,
    start_server,
    stop_server,
    write_hall_copy,
)

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

TOKEN = "metrics-token-for-the-test-0123456789"
STALE = 1000.0  # what the stale file of an earlier run says was issued
COUNTERS = ("issued", "called", "finished", "no_show", "transferred")
DASHBOARD = ROOT / "deploy" / "grafana" / "hallq-dashboard.json"
RULES = ROOT / "deploy" / "prometheus" / "hallq-alerts.yml"
PROMETHEUS_OWN = {"up"}  # series Prometheus makes itself for each target, never in a scrape
Sample = tuple[str, frozenset[tuple[str, str]]]


@dataclass
class Metered:
    server: LiveServer
    clock: ServerClock
    metrics_dir: Path
    tickets: list[str]  # every ticket id issued in this module: none may appear in a scrape


def write_stale_counter(path: Path) -> None:
    """A counter file as a process of an earlier run left it: its figures must not reach this run's sums."""
    values = MmapedDict(str(path))  # type: ignore[no-untyped-call]
    key = mmap_key("hallq_tickets_issued", "hallq_tickets_issued_total", ["level", "service"],
                   ["county_centre", "SOC"], "Tickets issued, by hall level and service.")
    values.write_value(key, STALE, 0.0)  # type: ignore[no-untyped-call]
    values.close()  # type: ignore[no-untyped-call]


@pytest.fixture(scope="module")
def metered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Metered]:
    home = tmp_path_factory.mktemp("metrics")
    metrics_dir = home / "server" / "metrics"
    metrics_dir.mkdir(parents=True)
    write_stale_counter(metrics_dir / "counter_424242.db")
    (metrics_dir / "notes.txt").write_text("not prometheus_client's: kept")
    halls = home / "halls"
    halls.mkdir()
    hall = write_hall_copy(halls, "demo", NO_SHOW_AT_ONCE)  # a no-show right after the call
    clock = ServerClock(home / "clock", MONDAY_9AM)
    prefix = f"hqtest-{uuid.uuid4().hex[:10]}"
    server = start_server(home / "server", prefix, workers=2, halls=[hall],
                          extra_env={**clock.env, "HALLQ_METRICS_TOKEN": TOKEN})
    try:
        yield Metered(server, clock, metrics_dir, [])
    finally:
        stop_server(server)
        delete_prefix_sync(prefix)


def one_request_per_connection(server: LiveServer) -> httpx.AsyncClient:
    """A client that opens a connection for every request: the two workers take connections turn about, not one
    worker every request of a kept-alive one."""
    return httpx.AsyncClient(base_url=server.base_url, timeout=20.0, trust_env=False,
                             limits=httpx.Limits(max_keepalive_connections=0))


async def scrape_text(server: LiveServer) -> str:
    async with one_request_per_connection(server) as client:
        reply = await client.get("/metrics")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    return reply.text


def samples(text: str) -> dict[Sample, float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def scrape(server: LiveServer) -> dict[Sample, float]:
    return samples(await scrape_text(server))


def value(found: dict[Sample, float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def ticket_counts(found: dict[Sample, float]) -> Counter[tuple[str, str]]:
    """Every ticket counter, by (what happened, service), in the demo hall's level."""
    counts: Counter[tuple[str, str]] = Counter()
    for (name, labels), v in found.items():
        for kind in COUNTERS:
            if name == f"hallq_tickets_{kind}_total" and dict(labels)["level"] == "county_centre":
                counts[kind, dict(labels)["service"]] += int(v)
    return counts


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float = 30.0) -> bool:
    """Scrape until ``check`` holds; whether it did."""
    deadline = time.monotonic() + within_s
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.3)


async def recorded(server: LiveServer) -> dict[Sample, float]:
    """A scrape once the record has every event so far (and the counters, which are counted as it is written)."""
    found: dict[Sample, float] = {}

    async def caught_up() -> bool:
        found.clear()
        found.update(await scrape(server))
        return value(found, "hallq_archive_backlog_events", hall="demo", level="county_centre") == 0

    assert await eventually(caught_up), "the record did not catch up"
    return found


def app_templates() -> set[str]:
    """Every route template the server has, as the histogram names them."""
    app = floor.app.create_app(Settings(secret=b"templates"))
    return {route_template(route) for route in app.routes} | {UNMATCHED}


async def test_the_metrics_directory_was_emptied_on_start(metered: Metered) -> None:
    assert not (metered.metrics_dir / "counter_424242.db").exists()
    assert (metered.metrics_dir / "notes.txt").exists()
    assert value(await scrape(metered.server), "hallq_tickets_issued_total", level="county_centre",
                 service="SOC") < STALE


async def test_ticket_moves_count_once_summed_over_the_workers(metered: Metered) -> None:
    server = metered.server
    async with one_request_per_connection(server) as client:
        hall = HallApi(server, client, "demo")
        await hall.open("1", "2", "3")
        before = await recorded(server)  # what came before is counted already
        since = server.events()[-1][0]
        issued = [await hall.issue(service) for service in ("SOC", "SOC", "SOC", "SOC", "HUK", "HUK")]
        metered.tickets += [t["id"] for t in issued]
        called = [(await hall.window_op(w, "call-next"))["ticket"] for w in ("1", "2", "3")]
        await hall.window_op("1", "start")
        await hall.window_op("1", "finish", {"outcome": "done"})
        await hall.window_op("2", "no-show")
        await hall.window_op("3", "transfer", {"to_service": "HUK", "reason": "户籍"})
    expected = Counter(("issued", t["service"]) for t in issued)
    expected.update(("called", t["service"]) for t in called)
    expected.update([("finished", called[0]["service"]), ("no_show", called[1]["service"]),
                     ("transferred", called[2]["service"])])
    appended = len(server.events(since=since))

    seen: list[Any] = []

    async def counted() -> bool:
        now = await scrape(server)
        moved = ticket_counts(now) - ticket_counts(before)
        archived = value(now, "hallq_archived_events_total") - value(before, "hallq_archived_events_total")
        seen[:] = [moved, archived]
        return moved == expected and archived == appended

    assert await eventually(counted), f"counted {seen}, expected {expected} and {appended} events archived"
    await asyncio.sleep(2)  # an event counted by every worker, or twice, would show by now
    after = await scrape(server)
    assert ticket_counts(after) - ticket_counts(before) == expected
    assert value(after, "hallq_archived_events_total") - value(before, "hallq_archived_events_total") == appended

    def requests(found: dict[Sample, float], route: str) -> float:
        return value(found, "hallq_http_request_duration_seconds_count", route=route, method="POST", status="2xx")

    # Requests spread over both workers, summed: exactly as many as were made, under the route's template.
    assert requests(after, "/api/v1/halls/{hall}/tickets") - requests(before, "/api/v1/halls/{hall}/tickets") == 6
    call_next = "/api/v1/halls/{hall}/windows/{w}/call-next"
    assert requests(after, call_next) - requests(before, call_next) == 3


def healthz_by_process(metrics_dir: Path) -> dict[str, float]:
    """GET /healthz answered, per process, from each process's own histogram file."""
    found: dict[str, float] = {}
    for path in metrics_dir.glob("histogram_*.db"):
        rows = MmapedDict.read_all_values_from_file(str(path))  # type: ignore[no-untyped-call]
        found[path.stem] = sum(v for key, v, *_ in rows
                               if json.loads(key)[1].endswith("_bucket") and '"/healthz"' in key)
    return found


async def test_requests_each_worker_answered_are_summed(metered: Metered) -> None:
    server = metered.server
    before = healthz_by_process(metered.metrics_dir)
    counted_before = value(await scrape(server), "hallq_http_request_duration_seconds_count", route="/healthz",
                           method="GET", status="2xx")
    async with one_request_per_connection(server) as client:
        for _ in range(40):
            assert (await client.get("/healthz")).status_code == 200
    after = healthz_by_process(metered.metrics_dir)
    answered = {process: n - before.get(process, 0) for process, n in after.items() if n > before.get(process, 0)}
    assert len(answered) == 2, f"both workers should have answered some: {answered}"
    assert sum(answered.values()) == 40
    counted = value(await scrape(server), "hallq_http_request_duration_seconds_count", route="/healthz",
                    method="GET", status="2xx")
    assert counted - counted_before == 40  # whichever worker answers the scrape


async def test_routes_are_templates_and_no_ticket_id_is_anywhere(metered: Metered) -> None:
    server = metered.server
    async with one_request_per_connection(server) as client:
        ticket = await HallApi(server, client, "demo").issue("TAX")
        metered.tickets.append(ticket["id"])
        assert (await client.get(f"/api/v1/halls/demo/tickets/{ticket['id']}")).status_code == 200
        assert (await client.get(f"/t/{ticket['id']}")).status_code == 200
        assert (await client.get(f"/no/such/address/{ticket['id']}")).status_code == 404
    text = await scrape_text(server)
    routes = {dict(labels)["route"] for name, labels in samples(text)
              if name.startswith("hallq_http_request_duration_seconds")}
    assert {"/api/v1/halls/{hall}/tickets/{ticket}", "/t/{ticket}", UNMATCHED} <= routes
    assert routes <= app_templates()
    for ticket_id in metered.tickets:
        assert ticket_id not in text
    assert not re.search(r'route="[^"]*/demo[/"]', text)  # a hall id in a route is a raw path


async def test_waits_are_read_when_scraped(metered: Metered) -> None:
    server = metered.server
    async with one_request_per_connection(server) as client:
        hall = HallApi(server, client, "demo")
        metered.tickets.append((await hall.issue("FUND"))["id"])
        metered.clock.advance(20 * 60)
        snapshot = await hall.snapshot()
    lines = snapshot["services"]
    found = await scrape(server)
    assert value(found, "hallq_waiting", hall="demo", level="county_centre") == sum(s["waiting"] for s in lines)
    longest = value(found, "hallq_longest_wait_seconds", hall="demo", level="county_centre")
    assert abs(longest - max(s["longest_wait_s"] for s in lines)) < 1
    assert longest >= 20 * 60
    targets = {s["code"]: s["target_wait_s"] for s in (await _config(server))["services"]}
    worst = max(s["longest_wait_s"] / targets[s["code"]] for s in lines if s["waiting"])
    assert abs(value(found, "hallq_wait_target_ratio", hall="demo", level="county_centre") - worst) < 0.01

    assert value(await recorded(server), "hallq_halls_read") == 1


async def _config(server: LiveServer) -> Any:
    async with one_request_per_connection(server) as client:
        reply = await client.get("/api/v1/halls/demo/config", headers=server.auth("display"))
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_open_websockets_are_summed_over_the_workers(metered: Metered) -> None:
    server = metered.server
    base = value(await scrape(server), "hallq_websockets_open", kind="display")
    token = server.token("display")

    async def open_displays(n: float) -> bool:
        return value(await scrape(server), "hallq_websockets_open", kind="display") == n

    async with contextlib.AsyncExitStack() as stack:
        for _ in range(4):  # each on its own connection: the workers share them out
            await stack.enter_async_context(connect(server.ws_url("display", token), compression=None))
        assert await eventually(lambda: open_displays(base + 4)), "the open sockets were not summed"
    assert await eventually(lambda: open_displays(base)), "closed sockets are still counted"


async def test_from_elsewhere_metrics_need_the_token(metered: Metered) -> None:
    # uvicorn takes the client's address from X-Forwarded-For when a proxy on this machine sends it.
    elsewhere = {"X-Forwarded-For": "203.0.113.7"}
    async with one_request_per_connection(metered.server) as client:
        refused = await client.get("/metrics", headers=elsewhere)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "metrics_forbidden"
        wrong = await client.get("/metrics", headers={**elsewhere, "Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 403
        allowed = await client.get("/metrics", headers={**elsewhere, "Authorization": f"Bearer {TOKEN}"})
        assert allowed.status_code == 200
        assert "hallq_waiting" in allowed.text


def names_in(query: str) -> set[str]:
    """The metrics a PromQL query names: hallq's, and Prometheus' own ``up``."""
    return set(re.findall(r"\bhallq_[a-z0-9_]+", query)) | ({"up"} if re.search(r"\bup\{", query) else set())


async def test_every_metric_the_dashboard_and_the_alerts_name_is_in_a_real_scrape(metered: Metered) -> None:
    server = metered.server
    async with one_request_per_connection(server) as client:  # an event: the archive process shows its counters
        metered.tickets.append((await HallApi(server, client, "demo").issue("BIZ"))["id"])
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = [t["expr"] for panel in board["panels"] for t in panel.get("targets", [])]
    queries += [v["query"]["query"] for v in board["templating"]["list"] if v["type"] == "query"]
    queries += [rule["expr"] for group in yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
                for rule in group["rules"]]
    named = set().union(*(names_in(q) for q in queries))
    assert {"hallq_tickets_no_show_total", "hallq_wait_target_ratio", "hallq_redis_errors_total", "up"} <= named

    absent = set(named)

    async def all_there() -> bool:
        absent.intersection_update(named - PROMETHEUS_OWN - {name for name, _ in await scrape(server)})
        return not absent

    assert await eventually(all_there), f"named by the dashboard or the alerts, not in a real scrape: {sorted(absent)}"


async def test_a_real_scrape_passes_promtools_lint(metered: Metered) -> None:
    text = await scrape_text(metered.server)
    linted = await asyncio.to_thread(subprocess.run, ["/usr/bin/promtool", "check", "metrics"], input=text,
                                     capture_output=True, text=True, timeout=60, check=False)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert value(samples(text), "hallq_event_loop_lag_seconds_count") > 0  # both workers sample their loops
