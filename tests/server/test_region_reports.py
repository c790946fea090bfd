"""A region's roll-up report through the server, for the demo county: tickets issued, called, transferred, served,
cancelled and rated at halls of several levels, then ``GET /api/v1/regions/{region}/reports`` by hall has each
hall's own ``/reports`` totals, by level and by service the same totals, CSV and XLSX carry the same numbers, a
town's manager gets the town only, a hall's manager nothing. And the summary path: past days written into the
record (SQLite and PostgreSQL), summarised on first use, then a late rating given through the API: the region still
equals the sum of its hall reports.
"""

from __future__ import annotations

import csv
import io
import random
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from floor.hall_files import read_hall_files
from floor.http.auth import make_token, ticket_key
from floor.ratings.store import RatingRow
from floor.settings import Settings
from floor.sql.db import TicketRow, make_sql_engine
from loadtest.region_reports import comparable, history, insert
from tests.floor.conftest import postgres_schema
from tests.server.conftest import (
    COUNTY_HALLS,
    COUNTY_IDS,
    COUNTY_NETWORK,
    LiveServer,
    ServerFactory,
    assert_error,
    has_chinese,
)

pytestmark = pytest.mark.slow

ZONE = ZoneInfo("Asia/Shanghai")
TOWN = ("bank-chengguan", "chengguan", "dongzhuang", "xihe")  # 城关镇: its centre, two villages and a bank outlet
ARCHIVED_WITHIN_S = 20.0


def today() -> date:
    return datetime.now(ZONE).date()


class County:
    """The demo county on a live server, and HTTP calls to it with tokens made for the asked role and region."""

    def __init__(self, server: LiveServer, database_url: str) -> None:
        self.server, self.database_url = server, database_url
        self.http = httpx.Client(base_url=server.base_url, timeout=60, trust_env=False)

    def token(self, hall: str, role: str, window: str | None = None, region: str | None = None) -> str:
        return make_token(self.server.secret, hall, role, window, region=region)

    def call(self, method: str, path: str, token: str | None, json: Any = None, lang: str = "en",
             headers: dict[str, str] | None = None, params: dict[str, str] | None = None) -> httpx.Response:
        sent = {"Accept-Language": lang, **({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
        return self.http.request(method, path, json=json, headers=sent, params=params)

    def ok(self, method: str, path: str, token: str | None, json: Any = None, expect: int = 200, **kw: Any) -> Any:
        reply = self.call(method, path, token, json, **kw)
        assert reply.status_code == expect, f"{method} {path}: {reply.status_code} {reply.text}"
        return reply.json() if reply.headers.get("content-type", "").startswith("application/json") else reply

    def region(self, region: str = "demo-county", **params: str) -> dict[str, Any]:
        token = self.token("demo", "manager", region="demo-county")
        data: dict[str, Any] = self.ok("GET", f"/api/v1/regions/{region}/reports", token, params=params)
        return data

    def hall_totals(self, hall: str, **params: str) -> dict[str, Any]:
        data = self.ok("GET", f"/api/v1/halls/{hall}/reports", self.token(hall, "manager"), params=params)
        totals: dict[str, Any] = data["totals"]
        return totals


@pytest.fixture
def county(live_server: ServerFactory) -> Iterator[County]:
    server = live_server(halls=COUNTY_HALLS, hall_ids=COUNTY_IDS, extra_env={"HALLQ_NETWORK": str(COUNTY_NETWORK)})
    c = County(server, f"sqlite:///{server.home / 'hallq.db'}")
    yield c
    c.http.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def county_on(request: pytest.FixtureRequest, live_server: ServerFactory, tmp_path: Path) -> Iterator[County]:
    """The county on SQLite, then on PostgreSQL (a schema of its own, dropped afterwards)."""
    with ExitStack() as stack:
        url = (f"sqlite:///{tmp_path / 'county.db'}" if request.param == "sqlite"
               else stack.enter_context(postgres_schema()))
        server = live_server(halls=COUNTY_HALLS, hall_ids=COUNTY_IDS,
                             extra_env={"HALLQ_NETWORK": str(COUNTY_NETWORK), "HALLQ_DATABASE_URL": url})
        c = County(server, url)
        yield c
        c.http.close()


def until(check: Callable[[], Any], what: str, within_s: float = ARCHIVED_WITHIN_S) -> Any:
    """``check()``'s first truthy answer: what the archive process writes shows a moment after the request."""
    deadline = time.monotonic() + within_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"not within {within_s} s: {what}")
        time.sleep(0.1)


# -- a morning at five halls ----------------------------------------------------------------------------
ITEMS = {"SOC": "SOC-REG", "HUK": "HUK-IDCARD", "FUND": None}


def play(c: County) -> dict[str, tuple[int, int, int]]:
    """Tickets at halls of every level: (issued, served, rated) per hall, to know when the record has them."""
    expected: dict[str, tuple[int, int, int]] = {}
    for hall, services, serve, transfer in (("demo", ("SOC", "HUK", "SOC"), 2, False),
                                            ("chengguan", ("SOC", "SOC", "HUK"), 2, True),
                                            ("dongzhuang", ("SOC", "HUK"), 1, False),
                                            ("bank-chengguan", ("FUND", "SOC"), 1, False),
                                            ("heishan", ("HUK",), 0, False)):
        c.ok("POST", f"/api/v1/halls/{hall}/windows/1/open", c.token(hall, "manager"))
        guide, staff = c.token(hall, "guide"), c.token(hall, "staff", "1")
        issued = []
        for service in services:
            body = {"service": service, **({"item": ITEMS[service]} if ITEMS[service] else {})}
            issued.append(c.ok("POST", f"/api/v1/halls/{hall}/tickets", guide, body, expect=201))
        served = []
        for i in range(serve):
            called = c.ok("POST", f"/api/v1/halls/{hall}/windows/1/call-next", staff)["ticket"]
            if transfer and i == 0:  # sent on to 户籍: it stays a 社保 ticket in the reports
                c.ok("POST", f"/api/v1/halls/{hall}/windows/1/start", staff)
                c.ok("POST", f"/api/v1/halls/{hall}/windows/1/transfer", staff, {"to_service": "HUK"})
                called = c.ok("POST", f"/api/v1/halls/{hall}/windows/1/call-next", staff)["ticket"]
            c.ok("POST", f"/api/v1/halls/{hall}/windows/1/start", staff)
            c.ok("POST", f"/api/v1/halls/{hall}/windows/1/finish", staff, {"outcome": "done"})
            served.append(called)
        rated = 0
        if hall == "demo":  # one 非常不满意: a 差评 and its case
            key = {"X-Ticket-Key": ticket_key(c.server.secret, hall, served[0]["id"])}
            c.ok("POST", f"/api/v1/halls/{hall}/tickets/{served[0]['id']}/rating", None, {"score": 1}, expect=201,
                 headers=key)
            rated = 1
        if hall == "dongzhuang":
            waiting = next(t for t in issued if t["id"] not in {s["id"] for s in served})
            c.ok("POST", f"/api/v1/halls/{hall}/tickets/{waiting['id']}/cancel", guide)
        expected[hall] = (len(issued), len(served), rated)
    for hall, counts in expected.items():
        until(lambda hall=hall, counts=counts: recorded(c, hall) == counts,  # type: ignore[misc]
              f"the record of {hall}")
    return expected


def recorded(c: County, hall: str) -> tuple[int, int, int]:
    totals = c.hall_totals(hall)
    return totals["issued"], totals["served"], totals["rated"]


def assert_the_sum_of_its_halls(c: County, data: dict[str, Any], **params: str) -> None:
    """Each hall row of a region report (by hall) is that hall's own report totals, figure by figure."""
    assert data["by"] == "hall"
    for row in data["rows"]:
        assert comparable(row) == comparable(c.hall_totals(row["key"], **params)), row["key"]


def test_the_region_report_is_the_sum_of_its_hall_reports(county: County) -> None:
    expected = play(county)
    data = county.region()
    assert (data["region"], data["by"], data["from"], data["to"]) == (
        "demo-county", "hall", today().isoformat(), today().isoformat())
    assert sorted(data["halls"]) == sorted(COUNTY_IDS) == sorted(row["key"] for row in data["rows"])
    assert_the_sum_of_its_halls(county, data)
    totals = data["totals"]
    assert totals["issued"] == sum(n for n, _, _ in expected.values()) == sum(r["issued"] for r in data["rows"])
    assert (totals["served"], totals["cancelled"], totals["rated"], totals["bad"]) == (6, 1, 1, 1)
    assert totals["cases"]["open"] == 1
    assert totals["waited"] == sum(r["waited"] for r in data["rows"]) >= 6
    assert data["sources"] == {"summarised": 0, "made": 0, "refreshed": 0, "live": len(COUNTY_IDS)}
    assert "p90_wait_s" not in totals
    assert data["days"] == [{"day": today().isoformat(), **totals}]

    by_level = county.region(by="level")
    levels = {row["key"]: row for row in by_level["rows"]}
    assert list(levels) == ["county_centre", "town_centre", "village_station", "bank_outlet"]
    assert (levels["town_centre"]["halls"], levels["town_centre"]["issued"]) == (3, 4)
    by_service = county.region(by="service")
    services = {row["key"]: row for row in by_service["rows"]}
    assert services["SOC"]["issued"] == 6  # the ticket sent on to 户籍 stays with 社保
    assert services["SOC"]["cases"]["open"] == 1
    for other in (by_level, by_service):
        assert comparable(other["totals"]) == comparable(totals)
        assert sum(row["issued"] for row in other["rows"]) == totals["issued"]

    # The same numbers as files.
    token = county.token("demo", "manager", region="demo-county")
    reply = county.call("GET", "/api/v1/regions/demo-county/reports.csv", token, params={"by": "level"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/csv")
    assert 'filename="hallq-region-demo-county-' in reply.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    header = table[0]
    assert header[:3] == ["层级 Level", "层级名称 Level name", "取号 Issued"]
    assert not any("90%" in title for title in header)
    issued = header.index("取号 Issued")
    assert [row[0] for row in table[1:]] == [*levels, "合计 Total"]
    assert [int(row[issued]) for row in table[1:]] == [r["issued"] for r in levels.values()] + [totals["issued"]]
    assert float(table[-1][header.index("好评率 Good-rating rate")] or 0) == (totals["good_rate"] or 0)

    from openpyxl import load_workbook

    reply = county.call("GET", "/api/v1/regions/demo-county/reports.xlsx", token)
    assert reply.status_code == 200, reply.text
    book = load_workbook(io.BytesIO(reply.content))
    assert book.sheetnames == ["汇总 Summary", "每日 Daily"]
    rows = list(book["汇总 Summary"].iter_rows(values_only=True))
    assert rows[0][:2] == ("大厅编号 Hall id", "大厅 Hall")
    column = rows[0].index("取号 Issued")
    assert {r[0]: r[column] for r in rows[1:]} == {**{r["key"]: r["issued"] for r in data["rows"]},
                                                   "合计 Total": totals["issued"]}
    daily = list(book["每日 Daily"].iter_rows(values_only=True))
    assert daily[1][0] == today().isoformat()
    assert daily[1][daily[0].index("办结 Served")] == totals["served"]


def test_a_town_manager_sees_the_town_and_a_hall_manager_no_region(county: County) -> None:
    play(county)
    town = county.token("chengguan", "manager", region="chengguan")
    data = county.ok("GET", "/api/v1/regions/chengguan/reports", town)
    assert sorted(data["halls"]) == sorted(TOWN) == sorted(row["key"] for row in data["rows"])
    whole = {row["key"]: row for row in county.region()["rows"]}
    for row in data["rows"]:
        assert comparable(row) == comparable(whole[row["key"]])
    assert data["totals"]["issued"] == sum(whole[h]["issued"] for h in TOWN) == 7
    assert_error(county.call("GET", "/api/v1/regions/demo-county/reports", town), 403, "wrong_region")
    assert_error(county.call("GET", "/api/v1/regions/heishan/reports.csv", town), 403, "wrong_region")
    own = county.token("chengguan", "manager")
    assert_error(county.call("GET", "/api/v1/regions/chengguan/reports", own), 403, "not_regional")
    guide = county.token("chengguan", "guide")
    assert county.call("GET", "/api/v1/regions/chengguan/reports.xlsx", guide).status_code == 403
    assert county.call("GET", "/api/v1/regions/chengguan/reports", None).status_code == 401
    assert_error(county.call("GET", "/api/v1/regions/nowhere/reports", town), 404, "unknown_region")


@pytest.mark.parametrize(("params", "field", "zh"), [
    ({"by": "window"}, "by", "by 须为 hall（大厅）、level（层级）或 service（业务）"),
    ({"from": "2026-11-30", "to": "2026-11-01"}, "to", "早于开始日期"),
    ({"from": "2026-13-01"}, "from", "格式 YYYY-MM-DD"),
    ({"from": "2025-01-01", "to": "2026-12-31"}, "to", "一次报表最多 366 天"),
    ({"byy": "hall"}, "byy", "不认识的查询参数"),
])
def test_bad_parameters_are_refused_in_both_languages(county: County, params: dict[str, str], field: str,
                                                       zh: str) -> None:
    token = county.token("demo", "manager", region="demo-county")
    for path in ("/reports", "/reports.csv", "/reports.xlsx"):
        error = assert_error(county.call("GET", f"/api/v1/regions/demo-county{path}", token, lang="zh-CN",
                                         params=params), 422, "invalid_request")
        assert zh in error["message"]
        assert error["fields"][0]["field"] == field
    english = assert_error(county.call("GET", "/api/v1/regions/demo-county/reports", token, params=params), 422,
                           "invalid_request")
    assert not has_chinese(english["message"])


# -- past days, summarised ------------------------------------------------------------------------------
SEEDED = ("demo", "chengguan", "xihe")


def seed_past_days(c: County, days: list[date]) -> None:
    """Each day of three halls as the record holds an ended day: tickets, their events and ratings, day.closed."""
    halls = read_hall_files(Settings(secret=b"-", halls=tuple(COUNTY_HALLS), network=COUNTY_NETWORK))
    sql = make_sql_engine(c.database_url)
    try:
        rand = random.Random(5)
        for i, hall in enumerate(SEEDED):
            for j, day in enumerate(days):
                insert(sql, history(halls[hall].config, day, rand.randint(8, 16), rand, seq_start=(i * 10 + j) * 1000))
    finally:
        sql.dispose()


def unrated_served(c: County, hall: str, day: date) -> str:
    sql = make_sql_engine(c.database_url)
    try:
        with Session(sql) as session:
            rated = sa.select(RatingRow.ticket).where(RatingRow.hall == hall)
            ticket: str = session.execute(sa.select(TicketRow.id).where(
                TicketRow.hall == hall, TicketRow.day == day.strftime("%Y%m%d"), TicketRow.status == "done",
                TicketRow.id.not_in(rated)).order_by(TicketRow.id).limit(1)).scalar_one()
            return ticket
    finally:
        sql.dispose()


def test_past_days_are_summarised_once_and_still_add_up_after_a_late_rating(county_on: County) -> None:
    c = county_on
    play(c)
    days = [today() - timedelta(days=n) for n in (3, 2, 1)]
    seed_past_days(c, days)
    params = {"from": days[0].isoformat(), "to": today().isoformat()}
    first = c.region(**params)
    assert first["sources"] == {"summarised": 9, "made": 9, "refreshed": 0, "live": 4 * len(COUNTY_IDS) - 9}
    assert_the_sum_of_its_halls(c, first, **params)
    assert [d["issued"] > 0 for d in first["days"]] == [True] * 4
    again = c.region(**params)
    assert again["sources"] == {"summarised": 9, "made": 0, "refreshed": 0, "live": 4 * len(COUNTY_IDS) - 9}
    assert again["totals"] == first["totals"]
    for by in ("level", "service"):
        assert comparable(c.region(by=by, **params)["totals"]) == comparable(first["totals"])

    # A citizen rates yesterday's ticket today (非常不满意): through the engine and the archiver into the record.
    ticket = unrated_served(c, "demo", days[-1])
    key = {"X-Ticket-Key": ticket_key(c.server.secret, "demo", ticket)}
    rated = c.ok("POST", f"/api/v1/halls/demo/tickets/{ticket}/rating", None, {"score": 1}, expect=201, headers=key)
    assert rated["late"] is True
    before = next(row for row in first["rows"] if row["key"] == "demo")["rated"]
    until(lambda: c.hall_totals("demo", **params)["rated"] == before + 1, "the late rating in the record")
    after = c.region(**params)
    assert after["sources"]["refreshed"] == 1
    assert_the_sum_of_its_halls(c, after, **params)
    assert after["totals"]["bad"] == first["totals"]["bad"] + 1
    assert after["totals"]["cases"]["open"] == first["totals"]["cases"]["open"] + 1
