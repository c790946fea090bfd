"""Appointments (预约办) through the real server: slots, booking and its refusals, cancelling, check-in into a Y ticket
called by its slot, blocks after no-shows, the day's list, personal data, and the last place raced over HTTP on
SQLite and PostgreSQL.

The server runs on a clock the test sets (``ServerClock``, floor.clock.FileClock): the demo hall's rules are about
days and hours (book 1 day to 5 working days ahead, cancel until 2 h before, void 30 min after the slot starts).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from floor.appointments import store
from floor.appointments.rules import booking_days, new_booking_id
from floor.identity import person_key
from floor.sql.db import make_sql_engine
from queue_engine.config import load_hall
from tests.conftest import SHANGHAI
from tests.floor.conftest import POSTGRES_URL
from tests.server.conftest import (
    DEMO_TOML,
    HallApi,
    LiveServer,
    ServerClock,
    assert_error,
    delete_prefix_sync,
    has_chinese,
    make_id_number,
    start_server,
    stop_server,
    write_hall_copy,
)
from tests.server.test_personal_data import redis_texts, sql_texts

ID_SHAPED = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
MONDAY, TUESDAY, WEDNESDAY, THURSDAY = (date(2027, 3, d) for d in (1, 2, 3, 4))
POOL = 30
NAME, PHONE = "张小三", "13912345678"


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=SHANGHAI)


def slot(day: date, hh: int, mm: int = 0) -> str:
    return at(day, hh, mm).isoformat()


def person(n: int) -> str:
    return make_id_number(date(1980 + n % 20, 1 + n % 12, 1 + n % 28), seq=100 + n)


@dataclass
class ClockedServer:
    server: LiveServer
    clock: ServerClock
    pool: Iterator[str]


def start_clocked(home: Path, database_url: str | None = None) -> ClockedServer:
    halls_dir = home / "halls"
    halls_dir.mkdir(parents=True)
    pool = [f"appt-{i:02d}" for i in range(POOL)]
    paths = [write_hall_copy(halls_dir, h) for h in pool]
    clock = ServerClock(home / "clock", at(MONDAY, 9))
    # At debug level, so the personal-data test below scans everything the server could log.
    env = clock.env | {"HALLQ_LOG_LEVEL": "debug"} | ({"HALLQ_DATABASE_URL": database_url} if database_url else {})
    server = start_server(home / "server", f"hqtest-{uuid.uuid4().hex[:10]}", halls=paths, hall_ids=pool,
                          extra_env=env)
    return ClockedServer(server, clock, iter(pool))


@pytest.fixture(scope="module")
def clocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClockedServer]:
    """One server for the module (SQLite), on a clock the tests set; each test gets a hall of its own."""
    assert DEMO_TOML.exists()
    running = start_clocked(tmp_path_factory.mktemp("appointments"))
    try:
        yield running
    finally:
        stop_server(running.server)
        delete_prefix_sync(running.server.key_prefix)


@pytest.fixture(scope="module")
def clocked_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClockedServer]:
    """The same on PostgreSQL, in a schema of its own (dropped afterwards)."""
    admin = sa.create_engine(POSTGRES_URL, poolclass=NullPool)
    schema = f"hq_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        running = start_clocked(tmp_path_factory.mktemp("appointments-pg"), url.render_as_string(hide_password=False))
        try:
            yield running
        finally:
            stop_server(running.server)
            delete_prefix_sync(running.server.key_prefix)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


async def hall_of(running: ClockedServer) -> AsyncIterator[HallApi]:
    hall = next(running.pool, None)
    if hall is None:
        pytest.fail(f"the pool of {POOL} halls is used up; raise POOL")
    running.clock.set(at(MONDAY, 9))
    async with running.server.client() as client:
        yield HallApi(running.server, client, hall)


@pytest.fixture
async def api(clocked: ClockedServer) -> AsyncIterator[HallApi]:
    """A hall of its own, the clock at Monday 1 March 2027, 09:00."""
    async for hall in hall_of(clocked):
        yield hall


@pytest.fixture
def clock(clocked: ClockedServer) -> ServerClock:
    return clocked.clock


async def book(api: HallApi, when: str, *, who: int = 1, service: str = "SOC", expect: int = 201,
               role: str = "guide", **extra: Any) -> Any:
    body = {"service": service, "slot": when, "name": NAME, "id_number": person(who), "phone": PHONE, **extra}
    return await api.ok("POST", "/appointments", expect, role=role, json=body)


async def refused_booking(api: HallApi, status: int, code: str, **body: Any) -> dict[str, Any]:
    full = {"service": "SOC", "slot": slot(TUESDAY, 9), "name": NAME, "id_number": person(1), "phone": PHONE, **body}
    reply = await api.request("POST", "/appointments", role="guide", json=full)
    return assert_error(reply, status, code)


async def check_in(api: HallApi, expect: int = 201, role: str = "guide", **body: Any) -> Any:
    return await api.ok("POST", "/appointments/check-in", expect, role=role, json=body)


# -- slots and booking ---------------------------------------------------------------------------------
async def test_slots_show_capacity_booked_and_left_for_the_first_bookable_day(api: HallApi) -> None:
    slots = await api.ok("GET", "/appointments/slots", role="kiosk", params={"service": "SOC"})
    assert slots["day"] == str(TUESDAY)  # Monday: bookable from tomorrow
    assert slots["days"] == ["2027-03-02", "2027-03-03", "2027-03-04", "2027-03-05", "2027-03-08"]
    assert [s["start"][11:16] for s in slots["slots"]][:3] == ["08:30", "09:00", "09:30"]
    assert len(slots["slots"]) == 14
    assert {(s["capacity"], s["booked"], s["left"]) for s in slots["slots"]} == {(4, 0, 4)}
    await book(api, slot(TUESDAY, 9))
    again = await api.ok("GET", "/appointments/slots", role="guide", params={"service": "SOC", "day": "2027-03-02"})
    nine = next(s for s in again["slots"] if s["start"] == "2027-03-02T09:00:00+08:00")
    assert (nine["capacity"], nine["booked"], nine["left"]) == (4, 1, 3)
    prop = await api.ok("GET", "/appointments/slots", params={"service": "PROP", "day": "2027-03-08"})
    assert {s["capacity"] for s in prop["slots"]} == {6}  # capacities = { PROP = 6 }


async def test_a_booking_is_201_with_an_unguessable_id_a_voucher_code_and_only_the_masked_name(api: HallApi) -> None:
    booked = await book(api, slot(TUESDAY, 9, 30), role="kiosk", item="SOC-RETIRE")
    assert len(booked["id"]) == 24
    assert booked["code"].isdigit()
    assert len(booked["code"]) == 6
    assert booked["holder"] == "张*三"
    assert (booked["status"], booked["service"], booked["item"], booked["item_name"]) == (
        "booked", "SOC", "SOC-RETIRE", "职工退休待遇申领")
    assert (booked["slot_start"], booked["slot_end"]) == ("2027-03-02T09:30:00+08:00", "2027-03-02T10:00:00+08:00")
    assert booked["cancel_until"] == "2027-03-02T07:30:00+08:00"
    assert booked["void_at"] == "2027-03-02T10:00:00+08:00"
    # By its id, without a token: the id is the key (the citizen's page shows it again).
    seen = await api.ok("GET", f"/appointments/{booked['id']}", role=None)
    assert seen == booked
    for value in (NAME, person(1), PHONE):
        assert value not in str(seen)


async def test_booking_refusals_each_with_its_status(api: HallApi) -> None:
    error = await refused_booking(api, 422, "not_bookable", service="RESTO")  # a theme bundle
    assert has_chinese(error["message"])
    await refused_booking(api, 404, "unknown_service", service="NOPE")
    await refused_booking(api, 422, "outside_booking_window", slot=slot(MONDAY, 14))  # today
    error = await refused_booking(api, 422, "outside_booking_window", slot=slot(date(2027, 3, 9), 9))
    assert error["bookable_days"][-1] == "2027-03-08"
    await refused_booking(api, 422, "outside_booking_window", slot=slot(date(2027, 3, 6), 9))  # Saturday
    await refused_booking(api, 422, "not_a_slot", slot=slot(TUESDAY, 9, 10))
    await refused_booking(api, 422, "not_a_slot", slot=slot(TUESDAY, 12, 30))  # lunch
    await refused_booking(api, 422, "unknown_item", item="PROP-MORTGAGE")
    error = await refused_booking(api, 422, "invalid_request", id_number=person(1)[:-1] + "0")
    assert error["fields"][0]["field"] == "id_number"
    error = await refused_booking(api, 422, "invalid_request", phone="12345")
    assert error["fields"][0]["field"] == "phone"
    reply = await api.request("POST", "/appointments", role="guide", json={"service": "SOC"},
                              headers={"Accept-Language": "en"})
    assert "slot" in assert_error(reply, 422, "invalid_request")["message"]
    listed = await api.ok("GET", "/appointments", params={"day": str(TUESDAY)})
    assert listed["appointments"] == []  # nothing half-written


async def test_a_full_slot_is_409(api: HallApi) -> None:
    for who in range(4):
        await book(api, slot(TUESDAY, 10), who=who)
    await refused_booking(api, 409, "slot_full", slot=slot(TUESDAY, 10), id_number=person(9))
    await book(api, slot(TUESDAY, 10, 30), who=9)


async def test_one_booking_per_person_per_service_per_day_is_409(api: HallApi) -> None:
    await book(api, slot(TUESDAY, 9))
    await refused_booking(api, 409, "already_booked", slot=slot(TUESDAY, 15))
    await book(api, slot(TUESDAY, 15), service="HUK")  # another service the same day
    await book(api, slot(WEDNESDAY, 9))  # the same service another day


async def test_naive_slot_times_are_the_halls_local_time(api: HallApi) -> None:
    booked = await book(api, "2027-03-02T14:00:00")
    assert booked["slot_start"] == "2027-03-02T14:00:00+08:00"


# -- the last place, raced -------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
async def any_db(request: pytest.FixtureRequest) -> AsyncIterator[HallApi]:
    running: ClockedServer = request.getfixturevalue("clocked" if request.param == "sqlite" else "clocked_pg")
    async for hall in hall_of(running):
        yield hall


async def test_concurrent_requests_for_the_last_place_cannot_both_succeed(any_db: HallApi) -> None:
    api = any_db
    for who in range(3):
        await book(api, slot(TUESDAY, 11), who=who)  # capacity 4: one place left
    body = {"service": "SOC", "slot": slot(TUESDAY, 11), "name": NAME, "phone": PHONE}
    replies = await asyncio.gather(*(api.request("POST", "/appointments", role="kiosk",
                                                 json={**body, "id_number": person(10 + i)}) for i in range(8)))
    assert sorted(r.status_code for r in replies) == [201] + [409] * 7, [r.text for r in replies]
    for reply in replies:
        if reply.status_code == 409:
            assert_error(reply, 409, "slot_full")
    slots = await api.ok("GET", "/appointments/slots", params={"service": "SOC", "day": str(TUESDAY)})
    eleven = next(s for s in slots["slots"] if s["start"].startswith("2027-03-02T11:00"))
    assert (eleven["booked"], eleven["left"]) == (4, 0)
    listed = await api.ok("GET", "/appointments", params={"day": str(TUESDAY), "service": "SOC"})
    assert len(listed["appointments"]) == 4


# -- cancelling ------------------------------------------------------------------------------------------------
async def test_cancel_frees_the_place_until_two_hours_before_the_slot(api: HallApi, clock: ServerClock) -> None:
    early = await book(api, slot(TUESDAY, 9), who=1)
    late = await book(api, slot(TUESDAY, 9), who=2)
    clock.set(at(TUESDAY, 7))  # 09:00 - 2 h: the last moment
    cancelled = await api.ok("POST", f"/appointments/{early['id']}/cancel", role="kiosk")
    assert (cancelled["status"], cancelled["cancelled_at"]) == ("cancelled", "2027-03-02T07:00:00+08:00")
    assert_error(await api.request("POST", f"/appointments/{early['id']}/cancel"), 409, "appointment_cancelled")
    clock.set(at(TUESDAY, 7, 1))
    error = assert_error(await api.request("POST", f"/appointments/{late['id']}/cancel", role="guide"), 409,
                         "too_late_to_cancel")
    assert "07:00" in error["message"]
    clock.set(at(MONDAY, 10))  # back on the day before, the slot shows the place given back
    slots = await api.ok("GET", "/appointments/slots", params={"service": "SOC", "day": str(TUESDAY)})
    nine = next(s for s in slots["slots"] if s["start"] == "2027-03-02T09:00:00+08:00")
    assert (nine["booked"], nine["left"]) == (1, 3)
    again = await book(api, slot(TUESDAY, 9), who=1)  # and the day is free again for the one who cancelled
    assert again["id"] != early["id"]


async def test_unknown_bookings_are_404_and_never_echoed(api: HallApi) -> None:
    for booking in ("0" * 24, person(1), "nope"):
        reply = await api.request("GET", f"/appointments/{booking}", role=None)
        error = assert_error(reply, 404, "unknown_appointment")
        assert booking not in error["message"]
        assert_error(await api.request("POST", f"/appointments/{booking}/cancel"), 404, "unknown_appointment")


# -- check-in -------------------------------------------------------------------------------------------------
async def test_check_in_turns_a_booking_into_a_y_ticket_once(api: HallApi, clock: ServerClock) -> None:
    await api.open("1")
    booked = await book(api, slot(TUESDAY, 9), item="SOC-REG")
    clock.set(at(TUESDAY, 8, 40))
    done = await check_in(api, code=booked["code"], role="kiosk")
    ticket = done["ticket"]
    assert (done["appointment"]["id"], done["appointment"]["status"]) == (booked["id"], "checked_in")
    assert done["appointment"]["ticket"] == ticket["id"]
    assert ticket["number"].startswith("YA")
    assert (ticket["channel"], ticket["service"], ticket["status"]) == ("appointment", "SOC", "waiting")
    # Again, by ID number this time: the same ticket, 200.
    again = await check_in(api, 200, id_number=person(1))
    assert again["ticket"]["id"] == ticket["id"]
    waiting = await api.ok("GET", "/queue", role="guide")
    assert [t["number"] for t in waiting["tickets"]] == [ticket["number"]]
    events = [e for e in api.server.events(api.hall) if e[1] == "ticket.issued"]
    assert len(events) == 1
    after = await api.ok("GET", f"/appointments/{booked['id']}", role=None)
    assert (after["status"], after["checked_in_at"]) == ("checked_in", "2027-03-02T08:40:00+08:00")


async def test_check_in_refusals(api: HallApi, clock: ServerClock) -> None:
    await api.open("1")
    tuesday = await book(api, slot(TUESDAY, 9), who=1)
    wednesday = await book(api, slot(WEDNESDAY, 9), who=2)
    gone = await book(api, slot(TUESDAY, 10), who=3)
    await api.ok("POST", f"/appointments/{gone['id']}/cancel")
    clock.set(at(TUESDAY, 9, 29))
    assert_error(await api.request("POST", "/appointments/check-in", json={"code": wednesday["code"]}), 404,
                 "no_appointment_today")  # a booking of another day
    assert_error(await api.request("POST", "/appointments/check-in", json={"id_number": person(7)}), 404,
                 "no_appointment_today")
    assert_error(await api.request("POST", "/appointments/check-in", json={"code": gone["code"]}), 409,
                 "appointment_cancelled")
    clock.set(at(TUESDAY, 9, 30))  # 30 minutes after 09:00: void
    error = assert_error(await api.request("POST", "/appointments/check-in", json={"id_number": person(1)}), 410,
                         "appointment_void")
    assert "09:30" in error["message"]
    assert_error(await api.request("POST", "/appointments/check-in", json={"code": "12345"}), 422, "invalid_request")
    assert_error(await api.request("POST", "/appointments/check-in",
                                   json={"code": tuesday["code"], "id_number": person(1)}), 422, "invalid_request")
    assert not [e for e in api.server.events(api.hall) if e[1] == "ticket.issued"]


async def test_a_checked_in_y_ticket_is_called_before_walk_ins_once_its_slot_started(
        api: HallApi, clock: ServerClock) -> None:
    nine_thirty = await book(api, slot(TUESDAY, 9, 30), who=1)
    ten = await book(api, slot(TUESDAY, 10), who=2)
    clock.set(at(TUESDAY, 9))
    await api.open("1")  # SOC is its primary service
    walk_ins = [await api.issue("SOC")]
    clock.set(at(TUESDAY, 9, 1))
    walk_ins.append(await api.issue("SOC"))
    clock.set(at(TUESDAY, 9, 5))
    early = await check_in(api, code=ten["code"])  # arrived early for 10:00
    clock.set(at(TUESDAY, 9, 35))
    due = await check_in(api, code=nine_thirty["code"])  # arrived for 09:30, after the 10:00 one
    clock.set(at(TUESDAY, 9, 40))
    called = []
    for _ in range(4):
        ticket = (await api.window_op("1", "call-next"))["ticket"]
        called.append(ticket["number"])
        await api.window_op("1", "start")
        await api.window_op("1", "finish", {"outcome": "done"})
    # domain.md: appointments whose slot started, then other appointments, then walk-ins by take time.
    assert called == [due["ticket"]["number"], early["ticket"]["number"], walk_ins[0]["number"],
                      walk_ins[1]["number"]]


# -- blocks ------------------------------------------------------------------------------------------------
async def test_two_no_shows_block_booking_with_the_end_date_until_a_manager_lifts_it(
        api: HallApi, clock: ServerClock) -> None:
    await book(api, slot(TUESDAY, 9), who=1)
    await book(api, slot(WEDNESDAY, 9), who=1)
    clock.set(at(WEDNESDAY, 10))  # neither checked in: two no-shows
    missed = await api.ok("GET", "/appointments", role="guide", params={"day": str(TUESDAY), "status": "void"})
    assert len(missed["appointments"]) == 1
    error = await refused_booking(api, 403, "booking_blocked", slot=slot(date(2027, 3, 5), 9))
    assert error["blocked_until"] == "2027-06-01"  # 90 days after Wednesday 3 March
    assert "2027-06-01" in error["message"]
    await refused_booking(api, 403, "booking_blocked", slot=slot(date(2027, 3, 5), 9), service="HUK")
    reply = await api.request("POST", "/appointment-blocks/lift", role="guide", json={"id_number": person(1)})
    assert_error(reply, 403, "wrong_role")
    lifted = await api.ok("POST", "/appointment-blocks/lift", json={"id_number": person(1), "reason": "系统误判"})
    assert (lifted["was_blocked"], lifted["blocked_until"]) == (True, "2027-06-01")
    await book(api, slot(date(2027, 3, 5), 9), who=1)
    again = await api.ok("POST", "/appointment-blocks/lift", json={"id_number": person(1)})
    assert (again["was_blocked"], again["blocked_until"]) == (False, None)


async def test_a_block_can_be_lifted_by_one_of_the_persons_bookings(api: HallApi, clock: ServerClock) -> None:
    first = await book(api, slot(TUESDAY, 9), who=4)
    await book(api, slot(TUESDAY, 9), who=4, service="HUK")
    clock.set(at(TUESDAY, 12))
    await refused_booking(api, 403, "booking_blocked", slot=slot(THURSDAY, 9), id_number=person(4))
    lifted = await api.ok("POST", "/appointment-blocks/lift", json={"appointment": first["id"]})
    assert lifted["was_blocked"] is True
    await book(api, slot(THURSDAY, 9), who=4)


# -- the day's list ----------------------------------------------------------------------------------------
async def test_the_list_filters_by_day_service_and_status_and_shows_masked_names(
        api: HallApi, clock: ServerClock) -> None:
    await api.open("1")
    a = await book(api, slot(TUESDAY, 9), who=1)
    b = await book(api, slot(TUESDAY, 10), who=2)
    clock.advance(60)  # booked later than a, for the same slot: listed after it
    c = await book(api, slot(TUESDAY, 9), who=3, service="HUK", name="欧阳小明")
    clock.set(at(TUESDAY, 9, 45))
    await check_in(api, code=b["code"])
    day = {"day": str(TUESDAY)}
    everyone = await api.ok("GET", "/appointments", role="guide", params=day)
    assert [x["id"] for x in everyone["appointments"]] == [a["id"], c["id"], b["id"]]  # by slot
    assert {x["holder"] for x in everyone["appointments"]} == {"张*三", "欧**明"}
    assert "欧阳小明" not in str(everyone)
    assert [x["id"] for x in (await api.ok("GET", "/appointments", params={**day, "status": "void"}))[
        "appointments"]] == [a["id"], c["id"]]
    assert [x["id"] for x in (await api.ok("GET", "/appointments", params={**day, "status": "checked_in"}))[
        "appointments"]] == [b["id"]]
    assert [x["id"] for x in (await api.ok("GET", "/appointments", params={**day, "service": "HUK"}))[
        "appointments"]] == [c["id"]]
    today = await api.ok("GET", "/appointments", params={"limit": "1"})  # today by default
    assert len(today["appointments"]) == 1
    assert_error(await api.request("GET", "/appointments", params={"status": "late"}), 422, "invalid_request")
    assert_error(await api.request("GET", "/appointments", params={"day": "2027-02-30"}), 422, "invalid_request")
    assert_error(await api.request("GET", "/appointments", params={"service": ""}), 404, "unknown_service")


# -- personal data -------------------------------------------------------------------------------------------
async def test_a_booking_keeps_no_id_number_phone_or_full_name_anywhere(api: HallApi, clock: ServerClock) -> None:
    await api.open("1")
    id_number = make_id_number(date(1951, 7, 9), seq=272, area="330106")
    body = {"service": "SOC", "slot": slot(TUESDAY, 9), "name": "诸葛孔明", "id_number": f" {id_number.lower()} ",
            "phone": f"+86 {PHONE[:3]}-{PHONE[3:]}"}
    booked = await api.ok("POST", "/appointments", 201, role="kiosk", json=body)
    await refused_booking(api, 409, "already_booked", **body)
    await refused_booking(api, 422, "invalid_request", **{**body, "id_number": id_number[:-1] + "0"})
    await refused_booking(api, 422, "invalid_request", **{**body, "phone": PHONE + "9"})
    clock.set(at(TUESDAY, 8, 50))
    done = await check_in(api, id_number=id_number)
    await check_in(api, 200, id_number=id_number)
    secrets_ = {"the ID number": id_number, "its first 17 digits": id_number[:17], "the phone number": PHONE,
                "the name": "诸葛孔明"}
    listed = await api.ok("GET", "/appointments", params={"day": str(TUESDAY)})
    for answer in (booked, done, listed):
        for what, value in secrets_.items():
            assert value not in str(answer), f"{what} is in an answer"
    await asyncio.sleep(1.0)  # the archiver copies the check-in's ticket to SQL meanwhile
    for table, text in sql_texts(api.server).items():
        for what, value in secrets_.items():
            assert value not in text, f"{what} is in the SQL table {table}"
    hashed = person_key(api.server.secret, id_number)
    assert hashed in sql_texts(api.server)["appointments"]
    for key, blob in redis_texts(api.server.key_prefix).items():
        for what, value in secrets_.items():
            assert value.encode() not in blob, f"{what} is in Redis at {key}"
    log = api.server.stdout() + api.server.stderr()
    assert "DEBUG" in log, "the server did not log at debug level; the scan would prove little"
    for what, value in secrets_.items():
        assert value not in log, f"{what} is in the server's log"
    assert not ID_SHAPED.search(log), "an ID-number-shaped string is in the server's log"


# -- for the security matrix: bookings on the shared server's real clock --------------------------------------
def booking_body(who: int = 1) -> dict[str, Any]:
    """A booking the demo hall takes now, by the real clock: 09:00 on the first bookable day."""
    hall = load_hall(DEMO_TOML)
    first = booking_days(hall, datetime.now(hall.zone).date())[0]
    return {"service": "SOC", "slot": slot(first, 9), "name": NAME, "id_number": person(who), "phone": PHONE}


async def appointment_for(api: HallApi, setup: str) -> str:
    """``booked``: a booking made through the API; its id. ``booked today``: a booking of today written straight into
    the server's SQL record (the API books from tomorrow on), its slot starting now so it can be checked in; its
    voucher code."""
    if setup == "booked":
        return str((await api.ok("POST", "/appointments", 201, json=booking_body(who=2)))["id"])
    now = datetime.now(UTC).replace(microsecond=0)
    sql = make_sql_engine(f"sqlite:///{api.server.home / 'hallq.db'}")
    try:
        row = await asyncio.to_thread(store.book, sql, store.NewBooking(
            id=new_booking_id(), hall=api.hall, service="SOC", item=None, day=now.astimezone(SHANGHAI).date(),
            slot_start=now, slot_end=now + timedelta(minutes=30), person=person_key(api.server.secret, person(3)),
            holder="张*三", phone=None, booked_at=now, booked_by="matrix"), 4)
    finally:
        sql.dispose()
    return row.code
