"""Staff and manager actions are in the hall's audit log with who and when; only its managers and admins read it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from floor.http.auth import read_token
from tests.server.conftest import HallApi, SharedServer, assert_error

ARCHIVE_WITHIN_S = 15.0  # the archive process trails the stream by a fraction of a second when idle


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def audit(api: HallApi, *, role: str = "manager", **params: str) -> list[dict[str, Any]]:
    body = await api.ok("GET", "/audit", role=role, params=params)
    assert body["hall"] == api.hall
    entries: list[dict[str, Any]] = body["entries"]
    return entries


async def audit_until(api: HallApi, done: Callable[[list[dict[str, Any]]], bool], **params: str
                      ) -> list[dict[str, Any]]:
    """The audit once ``done`` holds for it: it is written by the archive process, a moment after the action."""
    deadline = time.monotonic() + ARCHIVE_WITHIN_S
    while True:
        entries = await audit(api, **params)
        if done(entries):
            return entries
        if time.monotonic() > deadline:
            pytest.fail(f"the audit did not show the actions within {ARCHIVE_WITHIN_S} s: {entries}")
        await asyncio.sleep(0.1)


async def test_a_staff_action_and_a_manager_action_are_audited_with_who_and_when(api: HallApi) -> None:
    staff = api.server.token("staff", "5", hall=api.hall)
    manager = api.server.token("manager", hall=api.hall)
    started = datetime.now().astimezone()
    await api.ok("POST", "/windows/5/open", role=None, headers=bearer(staff))
    ticket = await api.issue("SOC")
    await api.ok("POST", f"/tickets/{ticket['id']}/pin", role=None, headers=bearer(manager),
                 json={"reason": "陪同老人"})
    called = await api.ok("POST", "/windows/5/call-next", role=None, headers=bearer(staff))
    assert called["ticket"]["id"] == ticket["id"]
    finished = datetime.now().astimezone()

    actions = ("window.opened", "ticket.pinned", "ticket.called")
    entries = await audit_until(api, lambda es: {e["action"] for e in es} >= set(actions))
    by_action = {e["action"]: e for e in entries}
    staff_id = read_token(api.server.secret, staff).token_id
    manager_id = read_token(api.server.secret, manager).token_id
    assert {k: by_action["window.opened"][k] for k in ("role", "token_id", "window", "ticket")} == {
        "role": "staff", "token_id": staff_id, "window": "5", "ticket": None}
    assert {k: by_action["ticket.called"][k] for k in ("role", "token_id", "window", "ticket")} == {
        "role": "staff", "token_id": staff_id, "window": "5", "ticket": ticket["id"]}
    assert by_action["ticket.called"]["details"]["number"] == ticket["number"]
    pinned = by_action["ticket.pinned"]
    assert (pinned["role"], pinned["token_id"], pinned["ticket"]) == ("manager", manager_id, ticket["id"])
    assert pinned["details"]["reason"] == "陪同老人"
    for entry in entries:
        at = datetime.fromisoformat(entry["at"])
        assert at.utcoffset() == timedelta(hours=8)  # the hall's local time, with its offset
        assert started.timestamp() - 1 <= at.timestamp() <= finished.timestamp() + 1
        assert entry["event_id"] in {eid for eid, _ in api.server.events(api.hall)}
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)  # newest first
    # The guide desk's issue is audited too, under the guide: every action with an actor is.
    assert by_action["ticket.issued"]["role"] == "guide"


async def test_the_audit_filters_by_actor_window_time_and_limit(api: HallApi) -> None:
    staff3, staff5 = (api.server.token("staff", w, hall=api.hall) for w in ("3", "5"))
    await api.ok("POST", "/windows/3/open", role=None, headers=bearer(staff3))
    await api.ok("POST", "/windows/5/open", role=None, headers=bearer(staff5))
    await api.ok("POST", "/windows/5/pause", role=None, headers=bearer(staff5), json={"reason": "lunch"})
    everything = await audit_until(api, lambda es: len(es) == 3)
    assert [e["action"] for e in everything] == ["window.paused", "window.opened", "window.opened"]

    assert [e["window"] for e in await audit(api, window="5")] == ["5", "5"]
    staff3_id = read_token(api.server.secret, staff3).token_id
    assert [(e["window"], e["action"]) for e in await audit(api, actor=staff3_id)] == [("3", "window.opened")]
    assert len(await audit(api, actor="staff")) == 3
    assert await audit(api, actor="guide") == []
    assert await audit(api, limit="1") == everything[:1]
    newest = everything[0]["at"]
    assert await audit(api, since=newest) == everything[:1]
    assert await audit(api, until=newest) == everything[1:]
    for params in ({"limit": "0"}, {"limit": "many"}, {"limit": "1001"}, {"limit": "²"}, {"limit": "9" * 5000},
                   {"since": "yesterday"},
                   {"since": "0001-01-01T00:00:00"}, {"until": "9999-12-31T23:59:59-23:59"}, {"window": "5" * 100},
                   {"actor": "staff\x00"}):
        reply = await api.request("GET", "/audit", params=params)
        assert_error(reply, 422, "invalid_request")


@pytest.mark.parametrize("role", ["guide", "kiosk", "display", "staff"])
async def test_only_managers_and_admins_read_the_audit(api: HallApi, role: str) -> None:
    await api.open("5")
    await audit_until(api, lambda es: len(es) == 1)
    reply = await api.request("GET", "/audit", role=role, window="5" if role == "staff" else None)
    assert_error(reply, 403, "wrong_role")
    assert (await api.request("GET", "/audit", role="admin")).status_code == 200
    assert_error(await api.request("GET", "/audit", role=None), 401, "no_token")


async def test_a_hall_cannot_read_anothers_audit(api: HallApi, shared_server: SharedServer) -> None:
    other = shared_server.other_hall
    theirs = HallApi(api.server, api.client, other)
    await api.open("5")
    await theirs.open("7")
    mine = await audit_until(api, lambda es: len(es) == 1)
    foreign = await api.request("GET", "/audit", role=None, headers=api.server.auth("manager", hall=other))
    assert_error(foreign, 403, "wrong_hall")
    assert_error(await api.request("GET", "/audit", role=None, headers=api.server.auth("admin", hall=other)),
                 403, "wrong_hall")
    their_entries = await audit_until(theirs, lambda es: any(e["window"] == "7" for e in es))
    assert [(e["action"], e["window"]) for e in mine] == [("window.opened", "5")]
    assert all(e["window"] != "5" for e in their_entries)
