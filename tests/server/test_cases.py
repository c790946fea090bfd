"""差评 cases through the server: opened by each 差评, worked step by step by managers (回访核实 -> 整改 -> 反馈
-> 追评/申诉复核), refused out of order, overdue when a deadline passes, audited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from floor.ratings.store import CaseRow, RatingRow
from floor.sql.db import make_sql_engine
from tests.server.conftest import HallApi, assert_error
from tests.server.test_ratings import eventually, finished, rate

ZONE = ZoneInfo("Asia/Shanghai")


async def bad_case(api: HallApi, score: int = 1, window: str = "5") -> dict[str, Any]:
    """A ticket finished at ``window`` and rated ``score`` (a 差评): its case, once the archiver has opened it."""
    ticket = await finished(api, window=window)
    await rate(api, ticket["id"], score, "pad", window=window, comment="等太久")  # on the pad beside the window

    async def opened() -> Any:
        reply = await api.request("GET", f"/cases/{ticket['id']}")
        return reply.json() if reply.status_code == 200 else None

    return await eventually(opened)  # type: ignore[no-any-return]


def overdue_case(api: HallApi, ticket_id: str, rated_days_ago: int) -> None:
    """A 差评 and its case straight into the record, rated ``rated_days_ago`` days ago: its deadlines have passed."""
    rated_at = datetime.now(ZONE) - timedelta(days=rated_days_ago)
    day = rated_at.strftime("%Y%m%d")
    sql = make_sql_engine(f"sqlite:///{api.server.home / 'hallq.db'}")
    try:
        with Session(sql) as session:
            session.add(RatingRow(hall=api.hall, ticket=ticket_id, day=day, number="A900", service="SOC", window="3",
                                  score=2, bad=True, source="pad", comment=None, late=False, rated_at=rated_at,
                                  stream_ms=1, stream_seq=0))
            session.flush()
            session.add(CaseRow(hall=api.hall, ticket=ticket_id, day=day, number="A900", service="SOC", window="3",
                                score=2, status="awaiting_callback", opened_at=rated_at,
                                callback_due=rated_at + timedelta(days=1), fix_due=rated_at + timedelta(days=5)))
            session.commit()
    finally:
        sql.dispose()


async def test_a_bad_rating_opens_a_case_with_its_deadlines_and_a_good_one_none(api: HallApi) -> None:
    await api.open("5")
    good = await finished(api)
    await rate(api, good["id"], 3)
    case = await bad_case(api, score=2)
    assert {k: case[k] for k in ("number", "service", "window", "window_name", "score", "level", "comment", "source",
                                 "status", "status_text", "next_step", "overdue")} == {
        "number": "A002", "service": "SOC", "window": "5", "window_name": "5号窗口", "score": 2, "level": "不满意",
        "comment": "等太久", "source": "pad", "status": "awaiting_callback", "status_text": "待回访核实",
        "next_step": "callback", "overdue": []}
    opened = datetime.fromisoformat(case["opened_at"])
    callback_due, fix_due = datetime.fromisoformat(case["callback_due"]), datetime.fromisoformat(case["fix_due"])
    assert (callback_due.hour, callback_due.minute, fix_due.hour) == (0, 0, 0)  # the end of a day, hall time
    assert timedelta(days=1) < callback_due - opened < fix_due - opened
    assert (case["callback"], case["fix"]) == (None, None)
    listed = await api.ok("GET", "/cases")
    assert [c["id"] for c in listed["cases"]] == [case["id"]]
    missing = await api.request("GET", f"/cases/{good['id']}")
    assert_error(missing, 404, "unknown_case")


async def test_a_case_goes_callback_fix_feedback_review_and_refuses_any_other_order(api: HallApi) -> None:
    await api.open("5")
    case = await bad_case(api)
    path = f"/cases/{case['id']}"

    early = await api.request("POST", f"{path}/fix", json={"note": "已培训"})
    assert assert_error(early, 409, "case_step_out_of_order")["message"] == (
        "该差评件当前待回访核实，请先登记回访核实，再登记整改。")
    called = await api.ok("POST", f"{path}/callback", json={"note": "已电话回访，群众反映等候过久", "reached": True})
    assert (called["status"], called["next_step"]) == ("awaiting_fix", "fix")
    assert (called["callback"]["note"], called["callback"]["reached"]) == ("已电话回访，群众反映等候过久", True)
    assert called["callback"]["by"].startswith("manager@")
    twice = await api.request("POST", f"{path}/callback", json={"note": "again", "reached": False},
                              headers={"Accept-Language": "en"})
    assert assert_error(twice, 409, "case_step_out_of_order")["message"] == (
        "The callback of this case is already recorded; record the fix next.")

    fixed = await api.ok("POST", f"{path}/fix", json={"note": "高峰时段增开2号窗口"})
    assert (fixed["status"], fixed["fix"]["note"]) == ("awaiting_feedback", "高峰时段增开2号窗口")
    closed = await api.ok("POST", f"{path}/feedback", json={"note": "已告知整改情况", "satisfied": True},
                          role="admin")
    assert (closed["status"], closed["status_text"], closed["next_step"]) == ("closed", "已办结", "review")
    assert closed["feedback"]["satisfied"] is True
    assert (await api.ok("GET", "/cases", params={"status": "open"}))["cases"] == []
    assert [c["id"] for c in (await api.ok("GET", "/cases", params={"status": "closed"}))["cases"]] == [case["id"]]

    both = await api.request("POST", f"{path}/review", json={"kind": "appeal", "outcome": "upheld", "score": 4})
    assert_error(both, 422, "invalid_request")
    reviewed = await api.ok("POST", f"{path}/review", json={"kind": "rerating", "score": 4, "note": "群众追评满意"})
    assert (reviewed["status"], reviewed["review"]["kind"], reviewed["review"]["score"]) == ("reviewed", "rerating", 4)
    assert reviewed["next_step"] is None
    last = await api.request("POST", f"{path}/review", json={"kind": "appeal", "outcome": "dismissed"})
    assert "已复核" in assert_error(last, 409, "case_step_out_of_order")["message"]
    assert (await api.ok("GET", path))["status"] == "reviewed"  # the refusals changed nothing


async def test_each_step_is_in_the_audit_log_with_who_did_it(api: HallApi) -> None:
    await api.open("5")
    case = await bad_case(api)
    await api.ok("POST", f"/cases/{case['id']}/callback", json={"note": "回访", "reached": False})
    await api.ok("POST", f"/cases/{case['id']}/fix", json={"note": "整改"}, role="admin")
    entries = (await api.ok("GET", "/audit", params={"window": "5"}))["entries"]
    steps = [(e["action"], e["role"], e["ticket"]) for e in entries if e["action"].startswith("case.")]
    assert steps == [("case.fix", "admin", case["id"]), ("case.callback", "manager", case["id"])]
    callback = next(e for e in entries if e["action"] == "case.callback")
    assert callback["details"] == {"status": "awaiting_fix", "note": "回访", "reached": False}


async def test_overdue_cases_are_found_and_marked_as_of_now(api: HallApi) -> None:
    await api.open("5")
    fresh = await bad_case(api)
    old_id = f"{(datetime.now(ZONE) - timedelta(days=9)):%Y%m%d}-0123456789ab"
    overdue_case(api, old_id, rated_days_ago=9)
    late = await api.ok("GET", "/cases", params={"overdue": "true"})
    assert [(c["id"], c["overdue"]) for c in late["cases"]] == [(old_id, ["callback", "fix"])]
    on_time = await api.ok("GET", "/cases", params={"overdue": "false"})
    assert [c["id"] for c in on_time["cases"]] == [fresh["id"]]
    # Calling back late ends that step's lateness, not the fix's.
    called = await api.ok("POST", f"/cases/{old_id}/callback", json={"note": "补回访", "reached": True})
    assert called["overdue"] == ["fix"]
    assert [c["id"] for c in (await api.ok("GET", "/cases", params={"overdue": "true"}))["cases"]] == [old_id]


async def test_cases_filter_by_status_window_and_day(api: HallApi) -> None:
    await api.open("5", "3")
    at_five = await bad_case(api, window="5")
    at_three = await bad_case(api, window="3")
    assert [c["id"] for c in (await api.ok("GET", "/cases", params={"window": "3"}))["cases"]] == [at_three["id"]]
    assert [c["id"] for c in (await api.ok("GET", "/cases"))["cases"]] == [at_three["id"], at_five["id"]]
    today = datetime.now(ZONE).date()
    same_day = await api.ok("GET", "/cases", params={"since": str(today), "until": str(today)})
    assert len(same_day["cases"]) == 2
    assert (await api.ok("GET", "/cases", params={"until": str(today - timedelta(days=1))}))["cases"] == []
    assert len((await api.ok("GET", "/cases", params={"status": "awaiting_callback", "limit": "1"}))["cases"]) == 1
    for params in ({"status": "lost"}, {"status": ""}, {"overdue": "soon"}, {"since": "23/11/2026"}, {"limit": "1001"}):
        assert_error(await api.request("GET", "/cases", params=params), 422, "invalid_request")


async def test_an_unknown_case_is_refused_without_repeating_its_id(api: HallApi) -> None:
    for case_id in ("20260101-000000000000", "110105194912310021", "not a case"):
        for method, path, body in (("GET", "", None), ("POST", "/callback", {"note": "x", "reached": True})):
            reply = await api.request(method, f"/cases/{case_id}{path}", json=body)
            error = assert_error(reply, 404, "unknown_case")
            assert case_id not in error["message"]
