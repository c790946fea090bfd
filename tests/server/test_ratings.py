"""好差评 through the server: rating a finished ticket once, by its holder (the ticket's key, or the window's pad);
late ratings from the SQL record
and the end of the rating period; the pad's prompt; what managers read of ratings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from floor.ratings.rules import PAD_S
from floor.sql.db import TicketRow, make_sql_engine
from queue_engine.policy import TIER_WALK_IN
from tests.conftest import MONDAY_9AM
from tests.server.conftest import HallApi, ServerClock, ServerFactory, assert_error, has_chinese

ZONE = ZoneInfo("Asia/Shanghai")
ARCHIVE_WITHIN_S = 15.0  # the archive process trails the stream by a fraction of a second when idle


async def eventually(check: Callable[[], Awaitable[Any]], within_s: float = ARCHIVE_WITHIN_S) -> Any:
    """``check()``'s first truthy answer: what the archive process writes shows a moment after the request."""
    deadline = time.monotonic() + within_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"not within {within_s} s: {result}")
        await asyncio.sleep(0.1)


async def finished(api: HallApi, window: str = "5", service: str = "SOC") -> dict[str, Any]:
    """A ticket issued, called, served and finished at ``window`` (open); as issued."""
    ticket: dict[str, Any] = await api.issue(service)
    called = await api.window_op(window, "call-next")
    assert called["ticket"]["id"] == ticket["id"]
    await api.window_op(window, "start")
    await api.window_op(window, "finish", {"outcome": "done"})
    return ticket


async def rate(api: HallApi, ticket_id: str, score: int, source: str = "qr", expect: int = 201, window: str = "5",
               **extra: Any) -> Any:
    """Rate as a citizen does: with the ticket's key from its QR code ("qr"), or on the pad of ``window``
    ("pad")."""
    proof: dict[str, Any] = ({"role": None, "headers": api.keyed(ticket_id)} if source == "qr"
                             else {"role": "pad", "window": window})
    return await api.ok("POST", f"/tickets/{ticket_id}/rating", expect, json={"score": score, **extra}, **proof)


def archived_ticket(api: HallApi, *, finished_ago: timedelta, number: str) -> str:
    """A finished ticket only the SQL record holds (as after Redis let it go): its id. Its day is the day it was
    finished on, in the hall's time."""
    finished_at = datetime.now(ZONE) - finished_ago
    issued = finished_at - timedelta(minutes=30)
    day = finished_at.strftime("%Y%m%d")
    ticket_id = f"{day}-{number.lower()}0000000"[:22]
    row = TicketRow(hall=api.hall, id=ticket_id, day=day, number=number, service="SOC", status="done",
                    tier=TIER_WALK_IN, channel="guide", priority=None, appointment_at=None, window="5",
                    issued_at=issued, called_at=issued + timedelta(minutes=10), serving_at=None,
                    finished_at=finished_at, outcome="done", handling_ms=None, recalls=0, transfers=0, pinned=None,
                    last_event_ms=int(issued.timestamp() * 1000), last_event_seq=0)
    sql = make_sql_engine(f"sqlite:///{api.server.home / 'hallq.db'}")
    try:
        with Session(sql) as session:
            session.add(row)
            session.commit()
    finally:
        sql.dispose()
    return ticket_id


# -- rating a ticket --------------------------------------------------------------------------------
async def test_a_finished_ticket_is_rated_once_with_its_key(api: HallApi) -> None:
    await api.open("5")
    ticket = await finished(api)
    rated = await rate(api, ticket["id"], 4, "qr", comment="办得很快")
    assert {k: rated[k] for k in ("ticket", "number", "service", "window", "score", "level", "points", "bad",
                                  "source", "late", "comment")} == {
        "ticket": ticket["id"], "number": "A001", "service": "SOC", "window": "5", "score": 4, "level": "满意",
        "points": 8, "bad": False, "source": "qr", "late": False, "comment": "办得很快"}
    assert rated["rated_at"].endswith("+08:00")

    again = await api.request("POST", f"/tickets/{ticket['id']}/rating", role=None, headers=api.keyed(ticket['id']),
                              json={"score": 5})
    assert "只能评价一次" in assert_error(again, 409, "already_rated")["message"]


async def test_only_a_finished_ticket_can_be_rated(api: HallApi) -> None:
    await api.open("5")
    waiting = await api.issue("SOC")
    reply = await api.request("POST", f"/tickets/{waiting['id']}/rating", role=None, json={"score": 5},
                              headers={**api.keyed(waiting['id']), "Accept-Language": "en"})
    assert "only a finished ticket can be rated" in assert_error(reply, 409, "not_finished")["message"]


async def test_an_unknown_ticket_is_refused_without_repeating_its_id(api: HallApi) -> None:
    for ticket_id in ("110105194912310021", "20260101-000000000000", "x" * 41, "A001%20OR%201=1"):
        reply = await api.request("POST", f"/tickets/{ticket_id}/rating", role=None, headers=api.keyed(ticket_id),
                                  json={"score": 1})
        error = assert_error(reply, 404, "unknown_ticket")
        assert ticket_id[:10] not in error["message"]
        assert has_chinese(error["message"])


@pytest.mark.parametrize("body", [
    {"score": 0}, {"score": 6}, {"score": "5"},
    {"score": 4.5}, {"score": 3, "source": "kiosk"}, {"source": "qr"},
    {"score": 3, "source": "qr", "comment": "x" * 201}, {"score": 3, "source": "qr", "comment": "等\n太久"},
    {"score": 3, "source": "qr", "stars": 3},
])
async def test_a_rating_must_be_one_to_five_from_the_pad_or_the_qr_code(api: HallApi, body: dict[str, Any]) -> None:
    await api.open("5")
    ticket = await finished(api)
    reply = await api.request("POST", f"/tickets/{ticket['id']}/rating", role=None, headers=api.keyed(ticket['id']),
                              json=body)
    assert_error(reply, 422, "invalid_request")
    await rate(api, ticket["id"], 3)  # nothing was taken by the refusals


async def test_a_number_typed_into_a_comment_is_not_kept(api: HallApi) -> None:
    await api.open("5")
    ticket = await finished(api)
    rated = await rate(api, ticket["id"], 1, "qr", comment="请回电 13812345678 谢谢")
    assert "13812345678" not in rated["comment"]
    assert "请回电" in rated["comment"]
    listed = await eventually(lambda: api.ok("GET", "/ratings"))
    assert all("13812345678" not in (r["comment"] or "") for r in listed["ratings"])


async def test_the_phone_page_learns_whether_its_ticket_may_be_rated(api: HallApi) -> None:
    await api.open("5")
    waiting = await api.issue("SOC")
    state = await api.ok("GET", f"/tickets/{waiting['id']}/rating", role=None, headers=api.keyed(waiting['id']))
    assert (state["status"], state["rated"], state["rateable"], state["rating"]) == ("waiting", False, False, None)
    await api.window_op("5", "call-next")
    await api.window_op("5", "finish", {"outcome": "consult"})
    state = await api.ok("GET", f"/tickets/{waiting['id']}/rating", role=None, headers=api.keyed(waiting['id']))
    assert (state["status"], state["rated"], state["rateable"]) == ("done", False, True)
    until = datetime.fromisoformat(state["rateable_until"])
    assert timedelta(days=6, hours=23) < until - datetime.now(ZONE) <= timedelta(days=7)
    await rate(api, waiting["id"], 2, "qr")
    state = await api.ok("GET", f"/tickets/{waiting['id']}/rating", role=None, headers=api.keyed(waiting['id']))
    assert (state["rated"], state["rateable"]) == (True, False)
    assert (state["rating"]["score"], state["rating"]["level"]) == (2, "不满意")


# -- who may rate -----------------------------------------------------------------------------------------
async def test_the_ticket_id_alone_rates_nothing_nor_does_another_ticket_s_key_or_a_hall_token(api: HallApi) -> None:
    await api.open("5")
    other, ticket = await finished(api), await finished(api)
    path = f"/tickets/{ticket['id']}/rating"
    bare = await api.request("POST", path, role=None, json={"score": 1})
    assert has_chinese(assert_error(bare, 401, "no_ticket_key")["message"])
    assert_error(await api.request("GET", path, role=None), 401, "no_ticket_key")
    foreign = await api.request("POST", path, role=None, headers=api.keyed(other["id"]), json={"score": 1})
    assert_error(foreign, 403, "bad_ticket_key")
    garbled = await api.request("POST", path, role=None, headers={"X-Ticket-Key": "not a key!"},
                                json={"score": 1})
    assert_error(garbled, 403, "bad_ticket_key")
    # Staff of the very window, a lobby screen, a manager, a guide: none is the citizen.
    for role, window in (("staff", "5"), ("display", None), ("manager", None), ("guide", None)):
        reply = await api.request("POST", path, role=role, window=window, json={"score": 1})
        assert_error(reply, 403, "wrong_role")
    assert (await api.ok("GET", path, role=None, headers=api.keyed(ticket["id"])))["rated"] is False
    rated = await rate(api, ticket["id"], 5)
    assert (rated["score"], rated["source"]) == (5, "qr")  # nothing was taken by the refusals


async def test_the_issuing_answer_carries_the_key_and_no_other_answer_does(api: HallApi) -> None:
    await api.open("5")
    ticket = await finished(api)
    assert ticket["key"] == api.keyed(ticket["id"])["X-Ticket-Key"]
    assert (await api.ok("GET", f"/tickets/{ticket['id']}", role=None))["key"] is None
    assert (await api.ok("GET", f"/tickets/{ticket['id']}", role="staff", window="5"))["key"] is None


async def test_the_server_records_how_the_rating_was_proven_whatever_the_body_says(api: HallApi) -> None:
    await api.open("5")
    by_key, by_pad = await finished(api), await finished(api)
    rated = await api.ok("POST", f"/tickets/{by_key['id']}/rating", 201, role=None, headers=api.keyed(by_key["id"]),
                         json={"score": 4, "source": "pad"})
    assert rated["source"] == "qr"
    rated = await api.ok("POST", f"/tickets/{by_pad['id']}/rating", 201, role="pad", window="5",
                         json={"score": 4, "source": "qr"})
    assert rated["source"] == "pad"


async def test_a_pad_rates_only_the_ticket_its_own_window_finished_last(api: HallApi) -> None:
    await api.open("5", "3")
    earlier, last = await finished(api), await finished(api)
    at_three = await finished(api, window="3")
    refusals = [(last, "3"), (earlier, "5"), (at_three, "5")]  # another window's pad; not the last; another's ticket
    for ticket, pad in refusals:
        reply = await api.request("POST", f"/tickets/{ticket['id']}/rating", role="pad", window=pad,
                                  json={"score": 1})
        assert has_chinese(assert_error(reply, 403, "not_this_pad")["message"])
    waiting = await api.issue("SOC")
    reply = await api.request("POST", f"/tickets/{waiting['id']}/rating", role="pad", window="5", json={"score": 1})
    assert_error(reply, 403, "not_this_pad")
    assert (await rate(api, last["id"], 2, "pad"))["source"] == "pad"
    assert (await rate(api, at_three["id"], 5, "pad", window="3"))["source"] == "pad"
    await rate(api, earlier["id"], 5)  # the citizen before still rates with the QR code on their ticket


# -- late ratings ---------------------------------------------------------------------------------------
async def test_yesterday_s_ticket_is_rated_late_from_the_record(api: HallApi) -> None:
    ticket_id = archived_ticket(api, finished_ago=timedelta(days=1), number="A077")
    state = await api.ok("GET", f"/tickets/{ticket_id}/rating", role=None, headers=api.keyed(ticket_id))
    assert (state["status"], state["rateable"]) == ("done", True)
    rated = await rate(api, ticket_id, 2, "qr", comment="材料说明不清")
    assert (rated["number"], rated["late"], rated["bad"], rated["day"]) == ("A077", True, True, ticket_id[:8])

    again = await api.request("POST", f"/tickets/{ticket_id}/rating", role=None, headers=api.keyed(ticket_id),
                              json={"score": 5})
    assert_error(again, 409, "already_rated")  # once, even before the archiver has written the first

    async def stored() -> Any:
        body = await api.ok("GET", "/ratings", params={"bad": "true"})
        return [r for r in body["ratings"] if r["ticket"] == ticket_id]

    (row,) = await eventually(stored)
    assert (row["late"], row["day"], row["score"]) == (True, ticket_id[:8], 2)
    case = await eventually(lambda: api.ok("GET", "/cases", params={"status": "open"}))
    assert [c["id"] for c in case["cases"]] == [ticket_id]
    later = await api.request("POST", f"/tickets/{ticket_id}/rating", role=None, headers=api.keyed(ticket_id),
                              json={"score": 5})
    assert_error(later, 409, "already_rated")  # and once the record has it too


async def test_past_the_rating_period_a_ticket_gets_410_with_a_sentence(api: HallApi) -> None:
    ticket_id = archived_ticket(api, finished_ago=timedelta(days=8), number="A078")
    state = await api.ok("GET", f"/tickets/{ticket_id}/rating", role=None, headers=api.keyed(ticket_id))
    assert (state["status"], state["rated"], state["rateable"]) == ("done", False, False)
    zh = await api.request("POST", f"/tickets/{ticket_id}/rating", role=None, headers=api.keyed(ticket_id),
                           json={"score": 1})
    assert assert_error(zh, 410, "rating_closed")["message"] == (
        "A078号办结已超过 7 天，评价期已过，不能再评价；如需反映问题，请联系大厅。")
    en = await api.request("POST", f"/tickets/{ticket_id}/rating", role=None, json={"score": 1},
                           headers={**api.keyed(ticket_id), "Accept-Language": "en"})
    assert "more than 7 days ago" in assert_error(en, 410, "rating_closed")["message"]
    await asyncio.sleep(0.5)
    assert (await api.ok("GET", "/ratings"))["total"] == 0


async def test_an_unfinished_ticket_of_the_record_cannot_be_rated(api: HallApi) -> None:
    ticket_id = archived_ticket(api, finished_ago=timedelta(days=1), number="A079")
    sql = make_sql_engine(f"sqlite:///{api.server.home / 'hallq.db'}")
    try:
        with Session(sql) as session:
            row = session.get(TicketRow, (api.hall, ticket_id))
            assert row is not None
            row.status, row.outcome = "missed", None
            session.commit()
    finally:
        sql.dispose()
    reply = await api.request("POST", f"/tickets/{ticket_id}/rating", role=None, headers=api.keyed(ticket_id),
                              json={"score": 1})
    assert_error(reply, 409, "not_finished")


# -- the pad and the managers' list ------------------------------------------------------------------
async def test_the_pad_is_offered_the_window_s_last_unrated_ticket(api: HallApi) -> None:
    await api.open("5", "3")
    pad: dict[str, Any] = {"role": "pad", "window": "5"}
    assert await api.ok("GET", "/windows/5/rating-pad", **pad) == {"ticket": None}
    first, second = await finished(api), await finished(api)
    await finished(api, window="3")

    async def offered() -> Any:
        return (await api.ok("GET", "/windows/5/rating-pad", **pad))["ticket"]

    ticket = await eventually(offered)
    if ticket["id"] == first["id"]:  # the record had only the first one yet
        ticket = await eventually(lambda: _offered_is(api, second["id"]))
    assert (ticket["id"], ticket["number"], ticket["window"]) == (second["id"], "A002", "5")
    assert 0 <= ticket["finished_s_ago"] < 60
    await rate(api, second["id"], 5, "pad")
    # Rated: the pad is not offered it again, even before the record has the rating; the one before is next.
    after = await api.ok("GET", "/windows/5/rating-pad", role="staff", window="5")
    assert after["ticket"] is None or after["ticket"]["id"] == first["id"]
    assert (await eventually(offered))["id"] == first["id"]
    await rate(api, first["id"], 5)
    await eventually(lambda: _nothing_offered(api))


async def test_the_pad_rates_its_window_s_last_ticket_for_five_minutes_and_the_key_rates_it_after(
    live_server: ServerFactory, tmp_path: Path,
) -> None:
    clock = ServerClock(tmp_path / "clock", MONDAY_9AM)  # the server's time stands where the test sets it
    server = live_server(extra_env=clock.env)
    async with server.client() as client:
        api = HallApi(server, client, "demo")
        await api.open("5")
        in_time = await finished(api)
        clock.advance(PAD_S)  # the last second the pad may still rate it
        assert (await rate(api, in_time["id"], 4, "pad"))["source"] == "pad"

        too_late = await finished(api)
        clock.advance(PAD_S + 1)
        reply = await api.request("POST", f"/tickets/{too_late['id']}/rating", role="pad", window="5",
                                  json={"score": 1})
        assert has_chinese(assert_error(reply, 403, "not_this_pad")["message"])
        # The citizen who walked away still holds the ticket's key: the QR code rates it.
        assert (await rate(api, too_late["id"], 2))["source"] == "qr"


async def _offered_is(api: HallApi, ticket_id: str) -> Any:
    ticket = (await api.ok("GET", "/windows/5/rating-pad", role="pad", window="5"))["ticket"]
    return ticket if ticket and ticket["id"] == ticket_id else None


async def _nothing_offered(api: HallApi) -> bool:
    return (await api.ok("GET", "/windows/5/rating-pad", role="pad", window="5"))["ticket"] is None


async def test_an_unknown_window_has_no_pad(api: HallApi) -> None:
    assert_error(await api.request("GET", "/windows/99/rating-pad"), 404, "unknown_window")


async def test_managers_list_ratings_with_filters_and_level_counts(api: HallApi) -> None:
    await api.open("5", "3")
    scores = {}
    for window, score in (("5", 5), ("5", 1), ("3", 4), ("3", 2), ("5", 5)):
        ticket = await finished(api, window=window)
        await rate(api, ticket["id"], score)
        scores[ticket["id"]] = score

    async def all_five() -> Any:
        body = await api.ok("GET", "/ratings")
        return body if body["total"] == 5 else None

    body = await eventually(all_five)
    assert [r["ticket"] for r in body["ratings"]] == list(reversed(scores))  # newest first
    assert [(lv["score"], lv["level"], lv["count"]) for lv in body["levels"]] == [
        (5, "非常满意", 2), (4, "满意", 1), (3, "基本满意", 0), (2, "不满意", 1), (1, "非常不满意", 1)]
    assert body["bad"] == 2
    bad = await api.ok("GET", "/ratings", params={"bad": "true"})
    assert sorted(r["score"] for r in bad["ratings"]) == [1, 2]
    at_three = await api.ok("GET", "/ratings", params={"window": "3"})
    assert sorted(r["score"] for r in at_three["ratings"]) == [2, 4]
    today = datetime.now(ZONE).date()
    assert (await api.ok("GET", "/ratings", params={"since": str(today), "until": str(today)}))["total"] == 5
    tomorrow = today + timedelta(days=1)
    assert (await api.ok("GET", "/ratings", params={"since": str(tomorrow)}))["total"] == 0
    assert len((await api.ok("GET", "/ratings", params={"limit": "2"}))["ratings"]) == 2
    for params in ({"since": "yesterday"}, {"since": ""}, {"bad": "maybe"}, {"bad": ""}, {"limit": "0"},
                   {"window": "5\x00"}, {"stars": "5"}):
        assert_error(await api.request("GET", "/ratings", params=params), 422, "invalid_request")
