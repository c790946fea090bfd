"""Outgoing webhooks against a real HTTP receiver on a free local port: signed, retried with backoff on the answers
worth retrying, final on the others, recorded try by try in SQL, sent once per delivery id across restarts and
rival senders. SQLite and PostgreSQL (the ``sql_engine`` fixture)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.orm import Session

from floor.notify.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    NewDelivery,
    NotFailed,
    RetryPolicy,
    WebhookDeliveryRow,
    WebhookSender,
    record,
    send_again,
    signature,
    signed_headers,
    verify,
)
from floor.sql.db import AuditRow, sync_config
from queue_engine.config import HallConfig
from tests.floor.conftest import eventually

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

KEY = b"receiver-shares-this-key"
PHONE = "13912345678"
FAST = RetryPolicy(attempts=5, backoff_s=0.05, cap_s=1.0, timeout_s=0.5)


# -- the receiver -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def delivery(self) -> str:
        return self.headers[DELIVERY_HEADER.lower()]


@dataclass(frozen=True)
class Answer:
    status: int = 200
    delay_s: float = 0.0  # answer this late (a receiver slower than the sender's timeout)
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    """A real HTTP server on 127.0.0.1 in a thread: records every request, answers as scripted per path (then 200)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: dict[str, list[Answer]] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                                    time.monotonic())
                with receiver.lock:
                    receiver.requests.append(received)
                    script = receiver.script.get(self.path)
                    answer = script.pop(0) if script else Answer()
                if answer.delay_s:
                    time.sleep(answer.delay_s)
                with contextlib.suppress(OSError):  # the sender gave up waiting and closed the connection
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the test reads ``requests``

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, *answers: Answer | int) -> None:
        with self.lock:
            self.script[path] = [a if isinstance(a, Answer) else Answer(a) for a in answers]

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


# -- helpers ------------------------------------------------------------------------------------------------
@pytest.fixture
def hall_sql(sql_engine: SqlEngine, demo_hall: HallConfig) -> SqlEngine:
    sync_config(sql_engine, demo_hall)  # deliveries name their hall
    return sql_engine


def delivery(url: str, cause: str = "1-0", *, kind: str = "ticket.rated", personal: bool = False,
             hall: str = "demo") -> NewDelivery:
    payload = {"hall": hall, "ticket": f"t-{cause}", "number": "A001", "score": 5}
    return NewDelivery(hall, kind, cause, url, payload, ticket=f"t-{cause}", personal=personal)


def rows(sql_engine: SqlEngine) -> dict[str, WebhookDeliveryRow]:
    with Session(sql_engine) as s:
        return {r.delivery_id: r for r in s.scalars(sa.select(WebhookDeliveryRow))}


def row(sql_engine: SqlEngine, new: NewDelivery) -> WebhookDeliveryRow:
    return rows(sql_engine)[new.delivery_id]


@contextlib.asynccontextmanager
async def running(sender: WebhookSender) -> AsyncIterator[WebhookSender]:
    task = asyncio.create_task(sender.run())
    try:
        yield sender
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await sender.close()


def sender_for(sql_engine: SqlEngine, policy: RetryPolicy = FAST, **options: Any) -> WebhookSender:
    return WebhookSender(sql_engine, KEY, policy=policy, poll_s=0.01, rng=random.Random(8), **options)


def settled(sql_engine: SqlEngine, new: NewDelivery, status: str) -> Any:
    return lambda: row(sql_engine, new).status == status


# -- signing ------------------------------------------------------------------------------------------------
def test_verify_accepts_the_signed_request_and_refuses_a_tampered_stale_or_foreign_one() -> None:
    body = orjson.dumps({"number": "A001", "window": "5"})
    now = 1_795_400_000.0
    headers = signed_headers(KEY, "ticket.called", "d-1", body, now)
    assert headers[SIGNATURE_HEADER] == signature(KEY, str(int(now)), body)
    assert verify(KEY, headers, body, now_s=now + 10)
    assert verify(KEY, {k.upper(): v for k, v in headers.items()}, body, now_s=now), "header names are any case"
    assert not verify(KEY, headers, body.replace(b"A001", b"A002"), now_s=now), "a tampered body"
    assert not verify(b"another key", headers, body, now_s=now), "another key"
    assert not verify(KEY, headers, body, now_s=now + 301), "a capture replayed after the tolerance"
    assert not verify(KEY, {**headers, TIMESTAMP_HEADER: str(int(now) + 1)}, body, now_s=now), "a moved timestamp"
    assert not verify(KEY, {TIMESTAMP_HEADER: str(int(now))}, body, now_s=now), "no signature"
    assert not verify(KEY, {**headers, TIMESTAMP_HEADER: "soon"}, body, now_s=now), "a timestamp that is no number"


async def test_what_the_receiver_gets_verifies_with_the_key_and_fails_once_tampered(
    hall_sql: SqlEngine, receiver: Receiver,
) -> None:
    new = delivery(receiver.url + "/ratings")
    record(hall_sql, [new], time.time())
    async with running(sender_for(hall_sql)):
        await eventually(settled(hall_sql, new, "delivered"))
    (got,) = receiver.at("/ratings")
    assert got.headers[EVENT_HEADER.lower()] == "ticket.rated"
    assert got.delivery == new.delivery_id
    assert got.headers["content-type"] == "application/json"
    assert got.json == new.payload
    assert verify(KEY, got.headers, got.body)
    assert not verify(KEY, got.headers, got.body.replace(b"A001", b"A009"))


# -- retries ------------------------------------------------------------------------------------------------
async def test_5xx_answers_are_retried_with_growing_backoff_then_delivered_and_every_try_recorded(
    hall_sql: SqlEngine, receiver: Receiver,
) -> None:
    receiver.answer("/notify", 500, 502, 503, 200)
    new = delivery(receiver.url + "/notify", kind="ticket.called")
    record(hall_sql, [new], time.time())
    async with running(sender_for(hall_sql)):
        await eventually(settled(hall_sql, new, "delivered"))
    got = receiver.at("/notify")
    assert len(got) == 4
    assert {g.delivery for g in got} == {new.delivery_id}, "one delivery id on every try, for receivers to dedupe"
    gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
    # Floors that double (0.05 s, 0.1 s, 0.2 s, each less up to a fifth of jitter) show the backoff growing; a gap's
    # upper side would measure how busy the machine is, not the sender.
    for tries, gap in enumerate(gaps, start=1):
        assert gap >= FAST.backoff_s * 2 ** (tries - 1) * (1 - FAST.jitter), gaps
    done = row(hall_sql, new)
    assert (done.attempts, done.last_status, done.next_attempt_at) == (4, 200, None)
    assert done.delivered_at is not None
    assert done.last_error is None


async def test_a_4xx_answer_is_final_after_one_try(hall_sql: SqlEngine, receiver: Receiver) -> None:
    receiver.answer("/notify", Answer(400, body=f'{{"error": "bad phone {PHONE}"}}'.encode()))
    new = delivery(receiver.url + "/notify")
    record(hall_sql, [new], time.time())
    async with running(sender_for(hall_sql)):
        await eventually(settled(hall_sql, new, "failed"))
        await asyncio.sleep(0.3)  # several backoffs' worth: nothing more is sent
    assert len(receiver.at("/notify")) == 1
    failed = row(hall_sql, new)
    assert (failed.attempts, failed.last_status, failed.next_attempt_at) == (1, 400, None)
    assert failed.last_error is not None
    assert failed.last_error.startswith("HTTP 400")
    assert PHONE not in failed.last_error, "a receiver's echo of the phone is not kept"


async def test_408_429_and_a_timeout_are_retried_and_retry_after_is_honoured(
    hall_sql: SqlEngine, receiver: Receiver,
) -> None:
    receiver.answer("/notify", 408, Answer(429, headers={"Retry-After": "1"}), Answer(200, delay_s=1.0), 200)
    new = delivery(receiver.url + "/notify")
    record(hall_sql, [new], time.time())
    async with running(sender_for(hall_sql)):
        await eventually(settled(hall_sql, new, "delivered"))
    got = receiver.at("/notify")
    assert len(got) == 4
    assert got[2].at - got[1].at >= 1.0, "Retry-After: 1 waited out, though the backoff was shorter"
    assert row(hall_sql, new).attempts == 4


async def test_a_refused_connection_is_retried_until_the_tries_run_out(hall_sql: SqlEngine) -> None:
    closed = Receiver()  # bound, then closed: nothing listens on its port
    url = closed.url
    closed.server.server_close()
    new = delivery(url + "/notify")
    record(hall_sql, [new], time.time())
    policy = RetryPolicy(attempts=3, backoff_s=0.02, cap_s=0.1, timeout_s=0.5)
    sender = sender_for(hall_sql, policy)
    async with running(sender):
        await eventually(settled(hall_sql, new, "failed"))
    failed = row(hall_sql, new)
    assert (failed.attempts, failed.last_status) == (3, None)
    assert failed.last_error is not None
    assert "Connect" in failed.last_error
    assert sender.tries == 3


async def test_an_address_that_is_no_url_fails_at_once(hall_sql: SqlEngine) -> None:
    new = delivery("gopher://nowhere/notify")
    record(hall_sql, [new], time.time())
    async with running(sender_for(hall_sql)):
        await eventually(settled(hall_sql, new, "failed"))
    assert row(hall_sql, new).attempts == 1


def test_backoff_doubles_from_the_base_up_to_the_cap_less_jitter() -> None:
    policy = RetryPolicy(attempts=20, backoff_s=1.0, cap_s=300.0, jitter=0.2)
    rng = random.Random(1)
    for tries in range(1, 16):
        full = min(300.0, 2.0 ** (tries - 1))
        delay = policy.delay_s(tries, rng)
        assert full * 0.8 <= delay <= full, (tries, delay)
    assert policy.delay_s(1, rng, retry_after_s=30) == 30
    assert policy.delay_s(1, rng, retry_after_s=10_000) == 300, "a Retry-After is capped too"
    spread = {round(policy.delay_s(4, random.Random(seed)), 3) for seed in range(20)}
    assert len(spread) > 10, "senders that failed together do not retry together"


# -- once, across restarts and rivals ------------------------------------------------------------------------
def test_recording_a_delivery_twice_adds_nothing(hall_sql: SqlEngine) -> None:
    new = delivery("http://127.0.0.1:9/x")
    assert record(hall_sql, [new], time.time()) == 1
    assert record(hall_sql, [new, delivery("http://127.0.0.1:9/x", "2-0")], time.time()) == 1
    assert len(rows(hall_sql)) == 2


async def test_pending_deliveries_survive_a_restart_of_the_sender(hall_sql: SqlEngine, receiver: Receiver) -> None:
    receiver.answer("/notify", 503)
    new = delivery(receiver.url + "/notify")
    record(hall_sql, [new], time.time())
    slow = RetryPolicy(attempts=5, backoff_s=0.5, cap_s=1.0, timeout_s=0.5)
    async with running(sender_for(hall_sql, slow)):
        await eventually(lambda: row(hall_sql, new).attempts == 1)
    # The process is gone; the row waits in SQL. A new sender (a new process) finds it and sends it.
    assert row(hall_sql, new).status == "pending"
    async with running(sender_for(hall_sql, slow)):
        await eventually(settled(hall_sql, new, "delivered"))
    assert [g.delivery for g in receiver.at("/notify")] == [new.delivery_id] * 2


async def test_a_try_claimed_by_a_sender_that_died_is_taken_over_after_its_lease(
    hall_sql: SqlEngine, receiver: Receiver,
) -> None:
    new = delivery(receiver.url + "/notify")
    record(hall_sql, [new], time.time())
    dead = sender_for(hall_sql)
    assert [d.delivery_id for d in dead._claim_due(time.time())] == [new.delivery_id]  # claimed, then it died
    await dead.close()
    alive = sender_for(hall_sql)
    assert await alive.send_due() == 0, "still under the dead sender's lease"
    later = sender_for(hall_sql, clock=lambda: time.time() + FAST.lease_s + 1)
    assert await later.send_due() == 1
    await alive.close()
    await later.close()
    assert row(hall_sql, new).status == "delivered"
    assert len(receiver.at("/notify")) == 1


async def test_two_senders_never_send_one_delivery_twice(hall_sql: SqlEngine, receiver: Receiver) -> None:
    news = [delivery(receiver.url + "/notify", f"{i}-0") for i in range(30)]
    record(hall_sql, news, time.time())
    async with running(sender_for(hall_sql)), running(sender_for(hall_sql)):
        await eventually(lambda: all(r.status == "delivered" for r in rows(hall_sql).values()))
    got = sorted(g.delivery for g in receiver.at("/notify"))
    assert got == sorted(n.delivery_id for n in news)


# -- sending again by hand ----------------------------------------------------------------------------------
ADMIN = {"actor_role": "admin", "actor_token": "tok-1", "window": None}


async def test_a_failed_delivery_sent_again_goes_out_with_the_same_id_and_is_audited(
    hall_sql: SqlEngine, receiver: Receiver,
) -> None:
    receiver.answer("/notify", 410)
    new = delivery(receiver.url + "/notify")
    record(hall_sql, [new], time.time())
    async with running(sender_for(hall_sql)):
        await eventually(settled(hall_sql, new, "failed"))
        again = send_again(hall_sql, "demo", new.delivery_id, time.time(), ADMIN)
        assert again is not None
        assert (again.status, again.attempts) == ("pending", 0)
        await eventually(settled(hall_sql, new, "delivered"))
    assert [g.delivery for g in receiver.at("/notify")] == [new.delivery_id] * 2
    with pytest.raises(NotFailed):
        send_again(hall_sql, "demo", new.delivery_id, time.time(), ADMIN)
    assert send_again(hall_sql, "demo", "no-such-delivery", time.time(), ADMIN) is None
    assert send_again(hall_sql, "other", new.delivery_id, time.time(), ADMIN) is None, "another hall's is unknown"
    with Session(hall_sql) as s:
        audit = s.scalars(sa.select(AuditRow).where(AuditRow.action == "webhook.sent_again")).all()
    assert [(a.actor_role, a.actor_token, a.details and a.details["delivery"]) for a in audit] == [
        ("admin", "tok-1", new.delivery_id)]


# -- the phone ----------------------------------------------------------------------------------------------
async def test_a_notification_carries_the_phone_in_its_body_only_and_fails_when_it_is_gone(
    hall_sql: SqlEngine, receiver: Receiver,
) -> None:
    kept = {"t-1-0": PHONE}

    async def phone_of(hall: str, ticket: str) -> str | None:
        return kept.get(ticket)

    with_phone = delivery(receiver.url + "/notify", "1-0", kind="ticket.called", personal=True)
    gone = delivery(receiver.url + "/notify", "2-0", kind="ticket.called", personal=True)
    record(hall_sql, [with_phone, gone], time.time())
    async with running(sender_for(hall_sql, phone_of=phone_of)):
        await eventually(lambda: settled(hall_sql, with_phone, "delivered")() and settled(hall_sql, gone, "failed")())
    (got,) = receiver.at("/notify")
    assert got.json == {**with_phone.payload, "phone": PHONE}
    assert verify(KEY, got.headers, got.body)
    failed = row(hall_sql, gone)
    assert (failed.attempts, failed.last_status) == (0, None), "nothing was sent without its phone"
    assert failed.last_error is not None
    assert "no longer kept" in failed.last_error
    with Session(hall_sql) as s:
        stored = " ".join(str(r) for r in s.execute(sa.select(WebhookDeliveryRow.__table__)).all())
    assert PHONE not in stored
