"""Every endpoint and feed x every role x own hall / other hall x own window / other window, against a policy
written here by hand from api.md and design.md section 7 (never read from the endpoints' own ``roles``).

A forbidden cell is refused with 401/403 in the error shape and changes nothing (no event in either hall's
stream); an allowed cell is not refused. Requests are real ones that succeed when allowed (each endpoint's first
allowed cell must get a 2xx), so "nothing changed" on a forbidden cell means the refusal stopped a real change.
An endpoint or feed channel without a row in POLICY fails ``test_every_endpoint_and_channel_has_a_policy``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

import floor.app
from floor.app import ENDPOINTS
from floor.settings import Settings
from tests.server.conftest import (
    NO_SHOW_AT_ONCE,
    OTHER_COUNTY,
    HallApi,
    SharedServer,
    assert_error,
    first_message,
)
from tests.server.test_appointments import appointment_for, booking_body, person
from tests.server.test_notifications import failed_delivery

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)
HALL_POLICY = NO_SHOW_AT_ONCE  # the shared server's halls (see tests/server/conftest.py)

ROLES = ("guide", "kiosk", "staff", "manager", "admin", "display", "pad")
REGION_ROLES = ("manager", "admin")  # who may be scoped to a region
COUNTY = "demo-county"  # the county of "demo" and the pool halls; "other" lies in OTHER_COUNTY
WINDOW_ROLES = ("staff", "pad")  # tokens bound to one window: its staff, its rating pad
OWN_WINDOW, OTHER_WINDOW = "5", "3"  # every window route is exercised on window 5
MATRIX_PASSWORD = "matrix-password-1"
PUBLIC = None  # no token needed: the unguessable ticket id is the capability (api.md: also the phone page)


@dataclass(frozen=True)
class Rule:
    """Who may, in their own hall: ``staff`` on a window route means staff of that window only."""

    roles: frozenset[str] | None
    body: dict[str, Any] | None = None  # a valid body, "{ticket}" standing for the ticket the cell acts on
    setup: str = "idle"  # the state window 5 and the ticket are put in so that an allowed request succeeds
    key: bool = False  # the citizen holding the ticket may, proven by the ticket's key (its QR code), with no token


def may(*roles: str, body: dict[str, Any] | None = None, setup: str = "idle", key: bool = False) -> Rule:
    return Rule(frozenset(roles), body, setup, key)


HALL_ROLES = ROLES  # reading the hall's configuration and state: every token of the hall (the pad: its labels)
WINDOW = ("staff", "manager", "admin")  # api.md: "staff of that window, or manager"; admin is above manager
MANAGE = ("manager", "admin")
POLICY: dict[str, Rule] = {
    # Hall (api.md "Hall"; design.md 7: display is a read-only feed)
    "GET /snapshot": may(*HALL_ROLES),
    "GET /config": may(*HALL_ROLES),
    "GET /catalog": may(*HALL_ROLES),  # the 受理事典: guide desk, kiosk, booking page
    "GET /catalog/items/{item}": may(*HALL_ROLES),
    "GET /catalog/bundles/{bundle}": may(*HALL_ROLES),
    "GET /whoami": may(*HALL_ROLES),
    "GET /led": may("display", *MANAGE),
    # Lobby displays' voices (issue 22): a display reports its own (its state, not the hall's: no event, see
    # test_display_tokens_are_read_only); the list of mute and offline displays is the managers'.
    "POST /displays/voice": may("display", body={"display": "matrix-tv", "speaking": False, "problem": "matrix"}),
    "GET /displays": may(*MANAGE),
    "GET /queue": may("guide", *MANAGE),
    "GET /stats/today": may(*MANAGE),
    "GET /audit": may(*MANAGE),
    # Reports (issue 8): figures, files, charts and stars are the managers'
    # A county's one catalog (issue 24): a hall taking its services from it reads it and says what it accepts of it
    # (tried on the shared server's village station, ON_VILLAGE).
    "GET /setup/catalog": may(*MANAGE, setup="none"),
    "PUT /setup/authorised": may(*MANAGE, body={"version": 1, "authorised": ["SOC"]}, setup="none"),
    "GET /reports": may(*MANAGE),
    "GET /reports.csv": may(*MANAGE),
    "GET /reports.xlsx": may(*MANAGE),
    "GET /reports/stars": may(*MANAGE),
    "GET /reports/charts/{chart}.png": may(*MANAGE),
    "POST /end-day": may(*MANAGE),
    "POST /windows/{w}/services": may(*MANAGE, body={"services": ["SOC", "TAX"]}),
    # Tickets (api.md "Tickets")
    "POST /tickets": may("guide", "kiosk", *MANAGE, body={"service": "SOC"}),
    "GET /tickets/{ticket}": Rule(PUBLIC),
    "POST /tickets/{ticket}/cancel": may("guide", *MANAGE),
    "POST /tickets/{ticket}/pin": may(*MANAGE, body={"reason": "matrix"}),
    "POST /tickets/{ticket}/requeue": may("guide", *MANAGE, setup="missed"),
    # Windows (api.md "Windows": staff of that window, or manager)
    "GET /windows/{w}": may(*WINDOW),
    "GET /windows/{w}/waiting": may(*WINDOW),
    "GET /windows/{w}/today": may(*WINDOW),
    "POST /windows/{w}/open": may(*WINDOW, setup="closed"),
    "POST /windows/{w}/close": may(*WINDOW),
    "POST /windows/{w}/pause": may(*WINDOW, body={"reason": "matrix"}),
    "POST /windows/{w}/resume": may(*WINDOW, setup="paused"),
    "POST /windows/{w}/call-next": may(*WINDOW),
    "POST /windows/{w}/call": may(*WINDOW, body={"ticket": "{ticket}", "reason": "matrix"}),
    "POST /windows/{w}/recall": may(*WINDOW, setup="called"),
    "POST /windows/{w}/start": may(*WINDOW, setup="called"),
    "POST /windows/{w}/finish": may(*WINDOW, body={"outcome": "done"}, setup="serving"),
    "POST /windows/{w}/no-show": may(*WINDOW, setup="called"),
    "POST /windows/{w}/requeue": may(*WINDOW, body={"ticket": "{ticket}"}, setup="missed"),
    "POST /windows/{w}/transfer": may(*WINDOW, body={"to_service": "TAX", "reason": "matrix"}, setup="serving"),
    # 预约办 (issue 8): guide desks, kiosks (and the booking page on a kiosk token) book, cancel and check in; a
    # booking is read by its unguessable id, like a ticket; the day's list is the guides' and managers', and lifting
    # a no-show block the managers'. "booked" makes a booking ({ticket} is its id), "booked today" one to check in
    # ({ticket} is its voucher code).
    "GET /appointments/slots": may("guide", "kiosk", *MANAGE),
    "POST /appointments": may("guide", "kiosk", *MANAGE, body=booking_body()),
    "GET /appointments/{appointment}": Rule(PUBLIC, setup="booked"),
    "POST /appointments/{appointment}/cancel": may("guide", "kiosk", *MANAGE, setup="booked"),
    "POST /appointments/check-in": may("guide", "kiosk", *MANAGE, body={"code": "{ticket}"}, setup="booked today"),
    "GET /appointments": may("guide", *MANAGE),
    "POST /appointment-blocks/lift": may(*MANAGE, body={"id_number": person(1)}),
    # 好差评 (issues 8, 21): only the citizen who was served rates: with the ticket's key (its QR code), or on the pad
    # paired to the window that finished it (a pad token; the pad of another window is refused in test_ratings).
    # The ticket id alone, any other token, the window's own staff: refused. 差评 cases are the managers'. A
    # "case:…" setup rates a ticket 差评 and waits for its case, then records the steps named.
    "POST /tickets/{ticket}/rating": may("pad", body={"score": 4}, setup="finished", key=True),
    "GET /tickets/{ticket}/rating": may(key=True),
    "GET /windows/{w}/rating-pad": may("pad", "staff", *MANAGE),
    "GET /ratings": may(*MANAGE),
    "GET /cases": may(*MANAGE),
    "GET /cases/{ticket}": may(*MANAGE, setup="case:"),
    "POST /cases/{ticket}/callback": may(*MANAGE, body={"note": "matrix", "reached": True}, setup="case:"),
    "POST /cases/{ticket}/fix": may(*MANAGE, body={"note": "matrix"}, setup="case:callback"),
    "POST /cases/{ticket}/feedback": may(*MANAGE, body={"note": "matrix", "satisfied": True},
                                         setup="case:callback,fix"),
    "POST /cases/{ticket}/review": may(*MANAGE, body={"kind": "appeal", "outcome": "dismissed"},
                                       setup="case:callback,fix,feedback"),
    # Outgoing webhooks (issue 8): managers read what went to the SMS gateway and the 好差评 system; only an admin
    # sends a failed one again. "failed delivery" puts one in the server's record ({delivery} is its id).
    "GET /webhooks/deliveries": may(*MANAGE),
    "POST /webhooks/deliveries/{delivery}/retry": may("admin", setup="failed delivery"),
    # Accounts (issue 23): anyone may try to sign in (the password is the proof); a credential asks who it is and
    # signs out; a password, and a window taken, are a person's signed in with an account, never a token's
    # (tests/server/test_accounts.py has the sessions' side); the hall's accounts and keys are its admin's.
    "POST /session": Rule(PUBLIC, body={"username": "{ticket}", "password": MATRIX_PASSWORD}, setup="account"),
    "GET /session": may(*HALL_ROLES),
    "DELETE /session": may("guide", "staff", *MANAGE),  # people sign out; a device is unpaired by the admin
    "POST /session/password": may(body={"current": MATRIX_PASSWORD, "new": "matrix-password-2"}),
    "POST /session/window": may(body={"window": OWN_WINDOW}),
    "DELETE /session/window": may(),
    "GET /session/windows": may("staff", *MANAGE),
    "GET /accounts": may("admin"),
    "POST /accounts": may("admin", body={"username": "{ticket}", "display_name": "矩阵", "role": "staff"}),
    "PATCH /accounts/{username}": may("admin", body={"display_name": "矩阵二"}, setup="account"),
    "POST /accounts/{username}/reset": may("admin", setup="account"),
    "GET /keys": may("admin"),
    "POST /keys": may("admin", body={"name": "matrix", "role": "kiosk"}),
    "DELETE /keys/{key}": may("admin", setup="key"),
    # Pairing (issue 23): a device asks for a code with no credential and collects its own with the claim only it
    # holds; only the hall's admin pairs a code.
    "POST /pairing": Rule(PUBLIC),
    "GET /pairing/{code}": Rule(PUBLIC, setup="pairing"),
    "POST /pairing/{code}/device": may("admin", body={"name": "matrix tv", "role": "display"}, setup="pairing"),
    # The hall set up live (issue 23): its managers and admins; a whole file replaces it only by an admin. A change
    # names the set-up's version it was made from (1: the hall's file, imported at start); 考勤 is a manager's report.
    "GET /setup": may(*MANAGE),
    "GET /setup/export": may(*MANAGE),
    "PUT /setup/services/{code}": may(*MANAGE, body={"version": 1, "service": {
        "code": "MATRIX", "letter": "M", "name_zh": "矩阵", "name_en": "Matrix"}}),
    "DELETE /setup/services/{code}": may(*MANAGE),
    "PUT /setup/windows/{window}": may(*MANAGE, body={"version": 1, "window": {
        "id": "13", "name": "13号窗口", "services": ["SOC"]}}),
    "DELETE /setup/windows/{window}": may(*MANAGE),
    "PUT /setup/calendar": may(*MANAGE, body={"version": 1, "hours": ["08:30-12:00", "14:00-17:30"],
                                              "holidays": ["2027-01-01", "2027-02-11"]}),
    "POST /setup/import": may("admin", body={"version": 1, "toml": "{export}"}),
    "GET /attendance": may(*MANAGE),
    # 就近办 (issue 24): where else in the county a service is served, for the guide desk and the kiosk.
    "GET /nearby": may("guide", "kiosk", *MANAGE),
    "GET /nearby/items": may("guide", "kiosk", *MANAGE),
}
QUERIES = {"GET /appointments/slots": "?service=SOC", "GET /nearby": "?service=SOC",  # besides path and body
           "DELETE /setup/services/{code}": "?version=1", "DELETE /setup/windows/{window}": "?version=1"}
# Where a route's ids are not the ticket's: the set-up's own (a service nobody waits for, a window nobody holds).
PATHS = {"PUT /setup/services/{code}": "/setup/services/MATRIX",
         "DELETE /setup/services/{code}": "/setup/services/INFO",
         "PUT /setup/windows/{window}": "/setup/windows/13", "DELETE /setup/windows/{window}": "/setup/windows/12"}
CHANNELS: dict[str, Rule] = {  # the realtime feeds (api.md "Realtime")
    "display": may("display", *MANAGE),
    "console": may(*WINDOW),
    "dashboard": may(*MANAGE),
    "pad": may("pad"),  # the rating pad of that window only (issue 21); what each feed carries: test_feed_views
    "ticket/{ticket}": Rule(PUBLIC),  # the citizen's phone
}
PER_WINDOW = ("console", "pad")  # feeds a reader opens with ?window=
# A region's endpoints (/api/v1/regions/{region}...): its managers' alone, tried on the demo's county. Every hall
# token is refused there (not_regional), and so is a region manager of the county beside it.
REGION_POLICY: dict[str, Rule] = {
    "GET ": may(*MANAGE),  # the region, its halls
    "GET /overview": may(*MANAGE),  # 区域总览
    "GET /reports": may(*MANAGE),  # roll-up reports, and their files
    "GET /reports.csv": may(*MANAGE),
    "GET /reports.xlsx": may(*MANAGE),
    # Who answers for the region and below: its admins keep their accounts (issue 24)
    "GET /accounts": may("admin"),
    "POST /accounts": may("admin", body={"username": "{new}", "display_name": "矩阵", "role": "manager"}),
    "PATCH /accounts/{username}": may("admin", body={"display_name": "矩阵二"}),
    "POST /accounts/{username}/reset": may("admin"),
}
REGION_QUERIES: dict[str, str] = {}
ON_VILLAGE = {"GET /setup/catalog", "PUT /setup/authorised"}  # need a hall that takes its services from a catalog
REGION_CHANNELS: dict[str, Rule] = {"overview": may(*MANAGE)}  # WS /api/v1/regions/{region}/ws/{channel}


# Routes outside the API that need no token, and why: none of them reads or changes a hall's live state.
PUBLIC_ROUTES = {
    "/": "the list of halls and their pages",
    "/favicon.ico": "an icon",
    "/metrics": "Prometheus' scrape: loopback only, or a request bearing HALLQ_METRICS_TOKEN",
    "/halls/{hall}/{page}": "a page's HTML; its token stays in the URL fragment and the page calls the API with it",
    "/regions/{region}/{page}": "a region's page's HTML, which calls the region's API with its sign-in",
    "/t/{ticket}": "the citizen's phone page, by unguessable ticket id",
    "/t/{ticket}/print": "the printed ticket, by unguessable ticket id",
    "/t/{ticket}/qr.svg": "the printed ticket's QR code, only with the ticket's key (which the code carries)",
    "/assets/floor": "static files",
    "/assets/tickets": "static files",
    "/assets/hall": "static files",
    "/assets/appointments": "static files",
    "/assets/ratings": "static files",
    "/assets/reports": "static files",
    "/assets/regions": "static files",
    "/assets/notify": "static files",
    "/assets/audit": "static files",
    "/assets/accounts": "static files",
    "/assets/setup": "static files",
    "/assets/displays": "static files",
    "/assets/console": "static files",
    "/api/v1/openapi.json": "the API's description",
    "/api/v1/docs": "the API's description",
    "/healthz": "liveness, naming the halls served",
    "/livez": "the process answers, for load balancers; reads no store",
    "/readyz": "whether this worker can serve, for load balancers; names no hall",
}


def declared() -> list[str]:
    return [f"{ep.method} {ep.path}" for ep in ENDPOINTS if ep.scope == "hall"]


def declared_for_regions() -> list[str]:
    return [f"{ep.method} {ep.path}" for ep in ENDPOINTS if ep.scope == "region"]


# -- the cells --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    role: str | None  # None: no token
    other_hall: bool
    window: str | None  # a staff or pad token's window
    key: bool = False  # sends the ticket's key (X-Ticket-Key), as the citizen holding it does
    region: str | None = None  # a region manager or admin: of the hall's county ("own") or the one beside it

    def __str__(self) -> str:
        who = self.role or ("the ticket's key" if self.key else "no token")
        if self.window:
            who += f"@{'own' if self.window == OWN_WINDOW else 'other'} window"
        if self.region:
            return f"{who} of {'this' if self.region == 'own' else 'another'} county"
        return f"{who} of {'another' if self.other_hall else 'this'} hall"

    def token_args(self, hall: str, other: str) -> tuple[str, str | None]:
        """(the hall the token names, the region it is scoped to). A region's manager signed in at a hall of the
        region that is not the one asked, so only the region can let them in."""
        if self.region == "own":
            return ("demo" if hall != "demo" else other), COUNTY
        if self.region == "other":
            return other, OTHER_COUNTY
        return (other if self.other_hall else hall), None


def cells(window_route: bool) -> Iterator[Cell]:
    for role in ROLES:
        for other_hall in (False, True):
            if role in WINDOW_ROLES:
                windows = (OWN_WINDOW, OTHER_WINDOW) if window_route else (OWN_WINDOW,)
                for window in windows:
                    yield Cell(role, other_hall, window)
            else:
                yield Cell(role, other_hall, None)
    for role in REGION_ROLES:
        for region in ("own", "other"):
            yield Cell(role, False, None, region=region)
    yield Cell(None, False, None)
    yield Cell(None, False, None, key=True)


def allowed(rule: Rule, cell: Cell, window_route: bool) -> bool:
    if rule.roles is PUBLIC:
        return True
    if cell.role is None:
        return cell.key and rule.key
    if cell.region == "other" or cell.other_hall or cell.role not in rule.roles:
        return False
    return not (window_route and cell.role in WINDOW_ROLES and cell.window != OWN_WINDOW)


@dataclass
class Verdicts:
    wrong: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.wrong.append(what)


# -- the hall each endpoint is tried on ---------------------------------------------------------------
async def prepare(api: HallApi, setup: str) -> str:
    """Put window 5 (and the ticket the cell acts on) in the state an allowed request needs; that ticket's id (or,
    for "account" and "key", the username of an account of the hall made for it, or the id of a key)."""
    if setup == "none":  # the hall as it is: the route changes its set-up, not its day
        return ""
    if setup == "account":
        username = f"m{uuid.uuid4().hex[:12]}"
        await api.ok("POST", "/accounts", 201, role="admin", json={
            "username": username, "display_name": "矩阵", "role": "staff", "password": MATRIX_PASSWORD})
        return username
    if setup == "pairing":
        asked = await api.ok("POST", "/pairing", 201, role=None)
        CLAIMS[asked["code"]] = asked["claim"]
        return str(asked["code"])
    if setup == "key":
        return str((await api.ok("POST", "/keys", 201, role="admin", json={"name": "matrix", "role": "kiosk"}))["id"])
    await api.open(OTHER_WINDOW)  # so SOC can be issued whatever the time of day, even with window 5 closed
    if setup != "closed":
        await api.open(OWN_WINDOW)
    first, second = (await api.issue("SOC"), await api.issue("SOC"))
    if setup in ("called", "serving", "missed"):
        await api.window_op(OWN_WINDOW, "call-next")
    if setup == "serving":
        await api.window_op(OWN_WINDOW, "start")
    if setup == "missed":
        await api.window_op(OWN_WINDOW, "no-show")
        return str(first["id"])
    if setup == "finished" or setup.startswith("case:"):
        return await finished_and_rated(api, str(first["id"]), setup)
    if setup.startswith("booked"):
        return await appointment_for(api, setup)
    if setup == "failed delivery":
        return failed_delivery(api)
    if setup == "paused":
        await api.window_op(OWN_WINDOW, "pause", {"reason": "matrix"})
    return str(second["id"])  # still waiting in every setup


CASE_STEPS = {"callback": {"note": "matrix", "reached": True}, "fix": {"note": "matrix"},
              "feedback": {"note": "matrix", "satisfied": True}}


async def finished_and_rated(api: HallApi, ticket: str, setup: str) -> str:
    """``ticket`` (the first of ``prepare``) served and finished at window 5; for "case:<steps>" also rated 差评, its
    case opened by the archiver and those steps recorded."""
    await api.window_op(OWN_WINDOW, "call-next")
    await api.window_op(OWN_WINDOW, "finish", {"outcome": "done"})
    if setup == "finished":
        return ticket
    await api.ok("POST", f"/tickets/{ticket}/rating", 201, role=None, headers=api.keyed(ticket), json={"score": 1})
    deadline = asyncio.get_running_loop().time() + 15
    while (await api.request("GET", f"/cases/{ticket}")).status_code != 200:
        assert asyncio.get_running_loop().time() < deadline, "the archiver did not open the case within 15 s"
        await asyncio.sleep(0.1)
    for step in filter(None, setup.removeprefix("case:").split(",")):
        await api.ok("POST", f"/cases/{ticket}/{step}", json=CASE_STEPS[step])
    return ticket


# A device waiting to be paired proves it is the one that asked with its claim: the code's, for "pairing" setups.
CLAIMS: dict[str, str] = {}


def headers_for(api: HallApi, cell: Cell, other: str, ticket: str) -> dict[str, str]:
    claim = {"X-Pairing-Claim": CLAIMS[ticket]} if ticket in CLAIMS else {}
    if cell.role is None:
        return {**claim, **(api.keyed(ticket) if cell.key else {})}
    return {**claim, **api.server.auth(cell.role, cell.window, *cell.token_args(api.hall, other))}


def fill(value: Any, ticket: str) -> Any:
    if isinstance(value, str):
        return value.replace("{ticket}", ticket)
    if isinstance(value, list):
        return [fill(v, ticket) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, ticket) for k, v in value.items()}
    return value


REFUSALS = {401: {"no_token", "no_ticket_key"},
            403: {"wrong_hall", "wrong_role", "wrong_window", "not_a_person",  # not_a_person: a session only
                  "wrong_region", "not_regional"}}


def refused_properly(reply: httpx.Response) -> str | None:
    """Why a forbidden cell's reply is not a proper refusal (401/403 in the error shape), or None."""
    if reply.status_code not in REFUSALS:
        return f"got {reply.status_code}"
    body = reply.json()
    error = body.get("error") if isinstance(body, dict) and set(body) == {"error"} else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str) or not error["message"].strip():
        return f"not the error shape: {body}"
    return None if error.get("code") in REFUSALS[reply.status_code] else f"code {error.get('code')}"


# -- the tests ------------------------------------------------------------------------------------------
def test_every_endpoint_and_channel_has_a_policy() -> None:
    endpoints = declared()
    missing = sorted(set(endpoints) - set(POLICY))
    assert not missing, f"endpoints without a row in POLICY (say who may call them): {missing}"
    stale = sorted(set(POLICY) - set(endpoints))
    assert not stale, f"POLICY rows for endpoints that no longer exist: {stale}"
    assert len(endpoints) == len(set(endpoints))
    served = {name for room in floor.app.ROOMS for name in room.channels}
    assert served - {"phone"} | {"ticket/{ticket}"} == set(CHANNELS), "a feed channel without a row in CHANNELS"


def test_every_region_endpoint_has_a_policy() -> None:
    endpoints = declared_for_regions()
    assert sorted(endpoints) == sorted(REGION_POLICY), "a region endpoint without a REGION_POLICY row, or a stale row"


def region_cells() -> Iterator[Cell]:
    """Every hall role of a hall of the county (none scoped to a region), its region's managers, the managers of
    the county beside it, and no token."""
    for role in ROLES:
        yield Cell(role, False, OWN_WINDOW if role in WINDOW_ROLES else None)
    for role in REGION_ROLES:
        for region in ("own", "other"):
            yield Cell(role, False, None, region=region)
    yield Cell(None, False, None)


def region_allowed(rule: Rule, cell: Cell) -> bool:
    return cell.region == "own" and rule.roles is not None and cell.role in rule.roles


@pytest.mark.parametrize("route", sorted(REGION_POLICY))
async def test_region_endpoint_matrix(route: str, api: HallApi, shared_server: SharedServer) -> None:
    method, path = route.split(" ", 1)
    rule = REGION_POLICY[route]
    other = shared_server.other_hall
    account = ""
    if "{username}" in path:  # an account of the region for the route to act on, made by the region's admin
        account = f"r{uuid.uuid4().hex[:12]}"
        made = await api.client.post(f"/api/v1/regions/{COUNTY}/accounts", headers=api.server.auth(
            "admin", None, "demo", COUNTY), json={"username": account, "display_name": "矩阵", "role": "manager"})
        assert made.status_code == 201, made.text
    url = f"/api/v1/regions/{COUNTY}{path.replace('{username}', account)}{REGION_QUERIES.get(route, '')}"
    verdicts = Verdicts()
    for cell in region_cells():
        headers = api.server.auth(cell.role, cell.window, *cell.token_args(api.hall, other)) if cell.role else {}
        body = fill(rule.body, "")
        if isinstance(body, dict) and body.get("username") == "{new}":
            body["username"] = f"r{uuid.uuid4().hex[:12]}"
        reply = await api.client.request(method, url, headers=headers, json=body)
        if region_allowed(rule, cell):
            verdicts.check(reply.is_success, f"{cell} should be allowed: {reply.status_code} {reply.text[:200]}")
            if reply.is_success and path == "/overview":  # nothing of the county beside it
                verdicts.check(other not in reply.text, f"{cell} was shown hall {other} of another county")
        else:
            why = refused_properly(reply)
            verdicts.check(why is None, f"{cell} should be refused: {why}; {reply.text[:200]}")
    assert not verdicts.wrong, f"{route}:\n" + "\n".join(verdicts.wrong)


@pytest.mark.parametrize("channel", sorted(REGION_CHANNELS))
async def test_region_feed_matrix(channel: str, api: HallApi, shared_server: SharedServer) -> None:
    rule = REGION_CHANNELS[channel]
    other = shared_server.other_hall
    verdicts = Verdicts()
    for cell in region_cells():
        token = api.server.token(cell.role, cell.window, *cell.token_args(api.hall, other)) if cell.role else None
        query = f"?token={token}" if token else ""
        message, code = await first_message(
            f"ws://127.0.0.1:{api.server.port}/api/v1/regions/{COUNTY}/ws/{channel}{query}")
        if region_allowed(rule, cell):
            verdicts.check(message.get("type") == "overview", f"{cell} should be allowed: {message}")
            verdicts.check(other not in orjson.dumps(message).decode(), f"{cell} was shown hall {other}")
        else:
            verdicts.check(message.get("type") == "error" and code in (4401, 4403),
                           f"{cell} should be refused with 4401/4403: {message}, close code {code}")
    assert not verdicts.wrong, f"ws/{channel}:\n" + "\n".join(verdicts.wrong)


def test_every_route_of_the_server_is_an_endpoint_a_feed_or_known_public() -> None:
    """A route added outside ``ENDPOINTS`` (so outside the matrix) must be named here, with the reason it is open."""
    app = floor.app.create_app(Settings(secret=b"matrix"))
    api_paths = {ep.full_path for ep in ENDPOINTS}
    feeds = {f"/api/v1/halls/{{hall}}/ws/{c}" for c in ("{channel}", *(c for c in CHANNELS if "/" in c))}
    feeds |= {f"/api/v1/regions/{{region}}/ws/{c}" for c in REGION_CHANNELS}
    unknown = sorted(path for route in app.routes
                     if (path := str(getattr(route, "path", ""))) not in api_paths | feeds | set(PUBLIC_ROUTES))
    assert not unknown, f"routes the security matrix does not cover: {unknown}"


@pytest.mark.parametrize("route", sorted(POLICY))
async def test_endpoint_matrix(route: str, api: HallApi, shared_server: SharedServer) -> None:
    method, path = route.split(" ", 1)
    rule = POLICY[route]
    if route in ON_VILLAGE:
        api = HallApi(api.server, api.client, "village")
    window_route = "{w}" in path
    other = shared_server.other_hall
    ticket = await prepare(api, rule.setup)
    url = api.path(PATHS.get(route) or path.replace("{w}", OWN_WINDOW).replace("{ticket}", ticket)
                   .replace("{item}", "SOC-RETIRE").replace("{bundle}", "RESTO")  # catalog entries of the demo
                   .replace("{chart}", "hourly")  # a report chart
                   .replace("{appointment}", ticket).replace("{delivery}", ticket)
                   .replace("{username}", ticket).replace("{key}", ticket).replace("{code}", ticket)
                   ) + QUERIES.get(route, "")
    body = fill(rule.body, ticket)
    if body and body.get("toml") == "{export}":  # the hall's own set-up, as a file: the import changes nothing
        body["toml"] = (await api.request("GET", "/setup/export", role="admin")).text.replace(
            'name = "12号窗口"', 'name = "出件窗口"')
    verdicts = Verdicts()
    all_cells = list(cells(window_route))

    # Forbidden cells first, while the hall is in the state where each request would change something.
    for cell in (c for c in all_cells if not allowed(rule, c, window_route)):
        before = (api.server.events(api.hall), api.server.events(other))
        reply = await api.client.request(method, url, json=body, headers=headers_for(api, cell, other, ticket))
        why = refused_properly(reply)
        verdicts.check(why is None, f"{cell} should be refused: {why}; {reply.text[:200]}")
        after = (api.server.events(api.hall), api.server.events(other))
        verdicts.check(after == before, f"{cell} changed the hall: {after[0][len(before[0]):]}")

    first = True
    for cell in (c for c in all_cells if allowed(rule, c, window_route)):
        reply = await api.client.request(method, url, json=body, headers=headers_for(api, cell, other, ticket))
        verdicts.check(reply.status_code not in (401, 403), f"{cell} should be allowed: {reply.status_code} "
                       f"{reply.text[:200]}")
        if first:  # the request itself works: a refusal above did stop a real change
            verdicts.check(reply.is_success, f"{cell}, the first allowed cell, did not succeed: {reply.status_code} "
                           f"{reply.text[:200]}")
            first = False
    assert not verdicts.wrong, f"{route}:\n" + "\n".join(verdicts.wrong)


@pytest.mark.parametrize("channel", sorted(CHANNELS))
async def test_feed_matrix(channel: str, api: HallApi, shared_server: SharedServer) -> None:
    rule = CHANNELS[channel]
    window_route = channel in PER_WINDOW
    other = shared_server.other_hall
    ticket = await prepare(api, "idle")
    verdicts = Verdicts()
    for cell in cells(window_route):
        token = None
        if cell.role is not None:
            token = api.server.token(cell.role, cell.window, *cell.token_args(api.hall, other))
        params = {"since": "0-0"} | ({"window": OWN_WINDOW} if window_route else {})
        url = api.server.ws_url(channel.replace("{ticket}", ticket), token, hall=api.hall, **params)
        message, code = await first_message(url)
        if allowed(rule, cell, window_route):
            verdicts.check(message.get("type") != "error", f"{cell} should be allowed: {message}")
        else:
            verdicts.check(message.get("type") == "error" and code in (4401, 4403),
                           f"{cell} should be refused with 4401/4403: {message}, close code {code}")
    assert not verdicts.wrong, f"ws/{channel}:\n" + "\n".join(verdicts.wrong)


# The one write a display makes: what it says of itself (whether it can speak), which changes nothing of the hall.
DISPLAY_SELF_REPORTS = {"POST /displays/voice"}


async def test_display_tokens_are_read_only(api: HallApi) -> None:
    """Straight from design.md 7, whatever POLICY says: a display token changes nothing, on any endpoint."""
    declared()
    # A write without roles (a rating) takes only the ticket's key or a pad token; the matrix refuses a display there.
    writes = [ep for ep in ENDPOINTS if ep.method != "GET" and ep.roles]
    assert writes
    ticket = await prepare(api, "called")
    for ep in writes:
        before = api.server.events(api.hall)
        path = ep.path.replace("{w}", OWN_WINDOW).replace("{ticket}", ticket)
        rule = POLICY.get(f"{ep.method} {ep.path}")
        reply = await api.request(ep.method, path, role="display", json=fill(rule.body if rule else None, ticket))
        if f"{ep.method} {ep.path}" in DISPLAY_SELF_REPORTS:
            assert reply.is_success, f"{ep.method} {ep.path}: {reply.status_code} {reply.text[:200]}"
        else:
            assert_error(reply, 403, "wrong_role")
        assert api.server.events(api.hall) == before, f"{ep.method} {ep.path} changed the hall for a display"
