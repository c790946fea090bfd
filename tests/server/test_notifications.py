"""Notifications end to end through ``hallq serve``: a phone given at the guide desk reaches the SMS gateway, signed,
when the ticket nears its turn and when it is called, and is nowhere in Redis, SQL or the log; every rating reaches
the 好差评 system; managers list the deliveries and an admin sends a failed one again."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from floor.notify.webhooks import EVENT_HEADER, NewDelivery, WebhookDeliveryRow, record, verify
from floor.sql.db import make_sql_engine
from tests.floor.notify.test_webhooks import Answer, Received, Receiver
from tests.server.conftest import (
    DEMO_TOML,
    HallApi,
    LiveServer,
    assert_error,
    delete_prefix_sync,
    start_server,
    stop_server,
)
from tests.server.test_personal_data import redis_texts, sql_texts

WEBHOOK_SECRET = "shared-with-the-gateway-0123456789"
PHONE = "13812345678"
WITHIN_S = 20.0


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[LiveServer]:
    """The demo hall, telling the receiver: notifications at /notify, ratings at /ratings."""
    home = tmp_path_factory.mktemp("notify")
    text = DEMO_TOML.read_text(encoding="utf-8")
    assert "[notifications]\nahead = 3\n" in text
    hall = home / "demo.toml"
    urls = f'notify_url = "{receiver.url}/notify"\nratings_url = "{receiver.url}/ratings"\n'
    hall.write_text(text.replace("[notifications]\nahead = 3\n", "[notifications]\nahead = 3\n" + urls),
                    encoding="utf-8")
    prefix = f"hqtest-{uuid.uuid4().hex[:10]}"
    env = {"HALLQ_WEBHOOK_SECRET": WEBHOOK_SECRET, "HALLQ_WEBHOOK_BACKOFF_S": "0.05",
           "HALLQ_WEBHOOK_BACKOFF_CAP_S": "0.5", "HALLQ_WEBHOOK_ATTEMPTS": "3"}
    live = start_server(home / "server", prefix, halls=(Path(hall),), extra_env=env)
    try:
        yield live
    finally:
        stop_server(live)
        delete_prefix_sync(prefix)


@pytest.fixture
async def api(server: LiveServer) -> AsyncIterator[HallApi]:
    async with server.client() as client:
        yield HallApi(server, client, "demo")


def failed_delivery(api: HallApi) -> str:
    """A failed delivery of ``api``'s hall, written into its server's record as the sender leaves one; its id.
    (The security matrix's "failed delivery" setup: its server's halls send no webhooks.)"""
    engine = make_sql_engine(f"sqlite:///{api.server.home / 'hallq.db'}")
    try:
        new = NewDelivery(api.hall, "ticket.rated", uuid.uuid4().hex, "http://127.0.0.1:9/ratings",
                          {"hall": api.hall, "score": 5})
        record(engine, [new], time.time())
        with Session(engine) as session, session.begin():
            session.execute(sa.update(WebhookDeliveryRow).where(WebhookDeliveryRow.delivery_id == new.delivery_id)
                            .values(status="failed", attempts=8, last_error="ConnectError", next_attempt_at=None))
    finally:
        engine.dispose()
    return new.delivery_id


async def received(receiver: Receiver, kind: str, ticket: str, count: int = 1) -> list[Received]:
    """The requests of ``kind`` about ``ticket`` once there are ``count`` of them."""
    deadline = time.monotonic() + WITHIN_S
    while True:
        got = [r for r in receiver.requests
               if r.headers[EVENT_HEADER.lower()] == kind and r.json.get("ticket") == ticket]
        if len(got) >= count:
            return got
        assert time.monotonic() < deadline, f"{count} {kind} for {ticket} not received within {WITHIN_S} s: {got}"
        await asyncio.sleep(0.05)


async def deliveries(api: HallApi, role: str = "manager", **params: str) -> list[dict[str, Any]]:
    body = await api.ok("GET", "/webhooks/deliveries", role=role, params=params)
    assert body["hall"] == "demo"
    found: list[dict[str, Any]] = body["deliveries"]
    return found


async def settled(api: HallApi, delivery: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + WITHIN_S
    while True:
        found = {d["delivery_id"]: d for d in await deliveries(api)}
        if delivery in found and found[delivery]["status"] == status:
            return found[delivery]
        assert time.monotonic() < deadline, f"delivery {delivery} not {status} within {WITHIN_S} s: {found}"
        await asyncio.sleep(0.1)


async def test_a_phone_given_at_the_desk_reaches_the_gateway_signed_and_is_kept_nowhere_in_the_clear(
    api: HallApi, receiver: Receiver,
) -> None:
    await api.open("5")
    ticket = await api.issue("SOC", phone=f"+86 {PHONE[:3]}-{PHONE[3:]}")
    (ahead,) = await received(receiver, "ticket.ahead", ticket["id"])  # first in its line
    called = await api.window_op("5", "call-next")
    assert called["ticket"]["id"] == ticket["id"]
    (call,) = await received(receiver, "ticket.called", ticket["id"])

    for got in (ahead, call):
        assert got.path == "/notify"
        assert verify(WEBHOOK_SECRET.encode(), got.headers, got.body)
        assert not verify(b"server-test-secret-0123456789abcdef", got.headers, got.body), "not the server's secret"
        assert got.json["phone"] == PHONE
    assert ahead.json == {"hall": "demo", "ticket": ticket["id"], "number": ticket["number"], "service": "SOC",
                          "ahead": 0, "estimated_wait_s": ahead.json["estimated_wait_s"], "phone": PHONE}
    body = call.json
    assert body == {"hall": "demo", "ticket": ticket["id"], "number": ticket["number"], "window": "5",
                    "window_name": "5号窗口", "announcement": f"请{ticket['number']}号到5号窗口", "at": body["at"],
                    "recall": False, "phone": PHONE}
    assert datetime.fromisoformat(body["at"]).utcoffset() == timedelta(hours=8)

    listed = {d["kind"]: d for d in await deliveries(api) if d["ticket"] == ticket["id"]}
    assert set(listed) == {"ticket.ahead", "ticket.called"}
    assert all(d["status"] == "delivered" and d["attempts"] == 1 for d in listed.values())
    assert "phone" not in listed["ticket.called"]["payload"]

    # The gateway's copy is the one place the number went.
    for key, blob in redis_texts(api.server.key_prefix).items():
        assert PHONE.encode() not in blob, f"the phone is in Redis at {key}"
    for table, text in sql_texts(api.server).items():
        assert PHONE not in text, f"the phone is in the SQL table {table}"
    assert PHONE not in api.server.stdout() + api.server.stderr()


async def test_a_ticket_without_a_phone_is_never_texted(api: HallApi, receiver: Receiver) -> None:
    await api.open("12")
    ticket = await api.issue("INFO")
    await api.issue("INFO")
    await api.window_op("12", "call-next")
    await asyncio.sleep(1.0)  # the notifier has long read the call by now
    assert [r for r in receiver.requests if r.json.get("ticket") == ticket["id"]] == []
    assert [d for d in await deliveries(api) if d["ticket"] == ticket["id"]] == []


async def rated_ticket(api: HallApi, score: int) -> dict[str, Any]:
    opened = await api.request("POST", "/windows/6/open")  # the module's tests share the hall: 409 if open already
    assert opened.status_code in (200, 409), opened.text
    ticket = await api.issue("FUND")
    await api.window_op("6", "call-next")
    await api.window_op("6", "finish", {"outcome": "done"})
    await api.ok("POST", f"/tickets/{ticket['id']}/rating", 201, role="pad", window="6", json={"score": score})
    return dict(ticket)


async def test_a_failed_rating_is_listed_and_an_admin_sends_it_again_under_the_same_id(
    api: HallApi, receiver: Receiver,
) -> None:
    receiver.answer("/ratings", Answer(400, body=b'{"error": "unknown window"}'))
    ticket = await rated_ticket(api, 2)
    (first,) = await received(receiver, "ticket.rated", ticket["id"])
    assert first.json["level"] == "不满意"
    assert first.json["bad"] is True
    delivery = first.headers["x-hallq-delivery"]
    failed = await settled(api, delivery, "failed")
    assert (failed["kind"], failed["attempts"], failed["last_status"]) == ("ticket.rated", 1, 400)
    assert failed["last_error"].startswith("HTTP 400")
    assert failed["target_url"] == f"{receiver.url}/ratings"
    assert delivery in [d["delivery_id"] for d in await deliveries(api, status="failed", kind="ticket.rated")]

    path = f"/webhooks/deliveries/{delivery}/retry"
    assert_error(await api.request("POST", path, role="manager"), 403, "wrong_role")
    again = await api.ok("POST", path, 202, role="admin")
    assert (again["delivery_id"], again["status"], again["attempts"]) == (delivery, "pending", 0)
    await settled(api, delivery, "delivered")
    second = (await received(receiver, "ticket.rated", ticket["id"], count=2))[1]
    assert second.headers["x-hallq-delivery"] == delivery, "receivers dedupe on it"
    assert second.body == first.body

    refused = assert_error(await api.request("POST", path, role="admin"), 409, "delivery_not_failed")
    assert "送达" in refused["message"]
    assert_error(await api.request("POST", "/webhooks/deliveries/no-such-delivery/retry", role="admin"), 404,
                 "unknown_delivery")
    audit = await api.ok("GET", "/audit", params={"actor": "admin"})
    assert any(e["action"] == "webhook.sent_again" and e["details"]["delivery"] == delivery
               for e in audit["entries"])


async def test_deliveries_are_filtered_by_kind_status_and_time(api: HallApi, receiver: Receiver) -> None:
    ticket = await rated_ticket(api, 5)
    (got,) = await received(receiver, "ticket.rated", ticket["id"])
    await settled(api, got.headers["x-hallq-delivery"], "delivered")
    assert {d["kind"] for d in await deliveries(api, kind="ticket.rated")} == {"ticket.rated"}
    assert {d["status"] for d in await deliveries(api, status="delivered")} == {"delivered"}
    future = (datetime.now().astimezone() + timedelta(hours=1)).isoformat()
    assert await deliveries(api, since=future) == []
    assert len(await deliveries(api, limit="1")) == 1
    newest = (await deliveries(api, role="admin"))[0]
    assert newest["delivery_id"] == got.headers["x-hallq-delivery"], "newest first"
    for params, field in (({"kind": "ticket.teleported"}, "kind"), ({"status": "lost"}, "status"),
                          ({"since": "yesterday"}, "since")):
        reply = await api.request("GET", "/webhooks/deliveries", params=params)
        error = assert_error(reply, 422, "invalid_request")
        assert error["fields"][0]["field"] == field
    english = await api.request("GET", "/webhooks/deliveries", params={"kind": "x"},
                                headers={"Accept-Language": "en"})
    assert "kind must be one of" in assert_error(english, 422, "invalid_request")["message"]
    for role in ("guide", "staff", "display"):
        window = "5" if role == "staff" else None
        assert_error(await api.request("GET", "/webhooks/deliveries", role=role, window=window), 403, "wrong_role")
