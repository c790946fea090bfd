"""Outgoing webhooks: one way to sign, send, retry and record every notification that leaves the server.

A delivery is written to SQL (``webhook_deliveries``) before it is first sent, and every try updates its row:
attempt count, last HTTP status, last error, next try. The sender polls SQL for what is due, so deliveries
survive a restart of the process that sends them, and an admin's "send again" needs only an UPDATE.

Each request is JSON with these headers::

    X-Hallq-Event: ticket.called               (ticket.ahead, ticket.rated)
    X-Hallq-Delivery: 3f1c...                  the same on every try of one delivery: receivers dedupe on it
    X-Hallq-Timestamp: 1795400000              Unix seconds of this try
    X-Hallq-Signature: sha256=<hex HMAC-SHA256 over "<timestamp>.<body>", keyed by Settings.webhook_key>

``verify`` below is what a receiver runs. Tries are retried, with exponential backoff and jitter, after a
connection error, a timeout, a 408, a 429 or a 5xx; any other answer below 200 or from 300 up is final.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import orjson
from sqlalchemy import Boolean, Engine, ForeignKey, Index, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from floor.cancellation import raise_if_cancelled
from floor.identity import redact
from floor.sql.db import AuditRow, Base, BigId, Json, JsonType, UtcDateTime, insert_for

if TYPE_CHECKING:
    from floor.settings import Settings

log = logging.getLogger("hallq.webhooks")

EVENT_HEADER = "X-Hallq-Event"
DELIVERY_HEADER = "X-Hallq-Delivery"
TIMESTAMP_HEADER = "X-Hallq-Timestamp"
SIGNATURE_HEADER = "X-Hallq-Signature"
KINDS = ("ticket.called", "ticket.ahead", "ticket.rated")
STATUSES = ("pending", "delivered", "failed")
TOLERANCE_S = 300  # a receiver refuses a request signed longer ago than this: a replayed capture is stale
MAX_ERROR = 500  # characters of the last error kept on the row
_NAMESPACE = uuid.UUID("6b1f0f6e-8c1a-4d0a-9a57-3c8e3f5d2b10")  # delivery ids: uuid5 in hallq's own namespace


# -- signing (what a receiver copies) -------------------------------------------------------------------
def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``: the timestamp is signed so a capture cannot be
    replayed later under a fresh one."""
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: bytes, kind: str, delivery_id: str, body: bytes, now_s: float) -> dict[str, str]:
    timestamp = str(int(now_s))
    return {"Content-Type": "application/json", EVENT_HEADER: kind, DELIVERY_HEADER: delivery_id,
            TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(secret: bytes, headers: Mapping[str, str], body: bytes, *, tolerance_s: float = TOLERANCE_S,
           now_s: float | None = None) -> bool:
    """Whether a request came from this server, unaltered and recently: the receiver's check, self-contained
    (standard library only) so it can be copied as it is. ``headers`` may use any capitalisation."""
    lower = {k.lower(): v for k, v in headers.items()}
    timestamp, given = lower.get("x-hallq-timestamp", ""), lower.get("x-hallq-signature", "")
    if not timestamp.isascii() or not timestamp.isdigit():
        return False
    now_s = time.time() if now_s is None else now_s
    if abs(now_s - int(timestamp)) > tolerance_s:
        return False
    expected = "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), given.encode())


# -- the record -----------------------------------------------------------------------------------------
class WebhookDeliveryRow(Base):
    """One delivery of one webhook, whatever the number of tries: its row is updated after each."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_hall_created", "hall", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    hall: Mapped[str] = mapped_column(ForeignKey("halls.id"))
    # The X-Hallq-Delivery header: derived from what caused the delivery, so recording it twice adds nothing.
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    ticket: Mapped[str | None] = mapped_column(String(40))
    target_url: Mapped[str] = mapped_column(Text)
    payload: Mapped[Json] = mapped_column(JsonType)
    # The body also carries the ticket's phone, unsealed from Redis at each try (floor.notify.contacts): never here.
    personal: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer)
    last_status: Mapped[int | None] = mapped_column(Integer)  # the HTTP status of the last try, if it got one
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # None once delivered or failed
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


def delivery_id(hall: str, kind: str, cause: str) -> str:
    """The delivery id of ``kind`` caused by ``cause`` (an event's stream id, or a ticket for once-only kinds)."""
    return str(uuid.uuid5(_NAMESPACE, f"{hall}/{kind}/{cause}"))


@dataclass(frozen=True, slots=True)
class NewDelivery:
    hall: str
    kind: str
    cause: str  # what makes it unique: see ``delivery_id``
    url: str
    payload: Json
    ticket: str | None = None
    personal: bool = False  # the ticket's phone is added to the body when it is sent

    @property
    def delivery_id(self) -> str:
        return delivery_id(self.hall, self.kind, self.cause)


def record(sql_engine: Engine, deliveries: Sequence[NewDelivery], now_s: float) -> int:
    """Write new deliveries, due at once; one already recorded (same delivery id) is left as it is. How many
    were new."""
    if not deliveries:
        return 0
    now = datetime.fromtimestamp(now_s, UTC)
    rows = [{"hall": d.hall, "delivery_id": d.delivery_id, "kind": d.kind, "ticket": d.ticket, "target_url": d.url,
             "payload": d.payload, "personal": d.personal, "status": "pending", "attempts": 0, "last_status": None,
             "last_error": None, "next_attempt_at": now, "created_at": now, "delivered_at": None}
            for d in deliveries]
    with Session(sql_engine) as session, session.begin():
        # One statement whose RETURNING names the rows it added (an executemany's rowcount is not reliable).
        stmt = (insert_for(session, WebhookDeliveryRow.__table__).values(rows)
                .on_conflict_do_nothing(index_elements=["delivery_id"]).returning(WebhookDeliveryRow.id))
        return len(session.connection().execute(stmt).all())


# -- retries --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 8
    backoff_s: float = 1.0
    cap_s: float = 600.0
    timeout_s: float = 10.0
    jitter: float = 0.2  # each wait is drawn from [(1 - jitter) x, x]: senders that failed together spread out

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(settings.webhook_attempts, settings.webhook_backoff_s, settings.webhook_backoff_cap_s,
                   settings.webhook_timeout_s)

    @property
    def lease_s(self) -> float:
        """How long a claimed try keeps others off its row: past it, a sender that died mid-try is replaced."""
        return 2 * self.timeout_s + 30

    def delay_s(self, tries: int, rng: random.Random, retry_after_s: float | None = None) -> float:
        """The wait after the ``tries``-th failed try: backoff_s, twice that, four times … up to cap_s, less up
        to ``jitter`` of it; never shorter than the receiver's Retry-After (itself capped)."""
        delay: float = min(self.cap_s, self.backoff_s * 2.0 ** max(tries - 1, 0)) * rng.uniform(1 - self.jitter, 1)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.cap_s))
        return delay


def retryable(status: int) -> bool:
    """Worth another try: the receiver timed out, asked us to slow down, or failed on its side."""
    return status in (408, 429) or status >= 500


@dataclass(frozen=True, slots=True)
class Outcome:
    delivered: bool
    retry: bool
    status: int | None = None
    error: str | None = None
    retry_after_s: float | None = None
    tried: bool = True  # False: no request was made (see ``WebhookSender._try``)


@dataclass(frozen=True, slots=True)
class Due:
    """What one try needs from a claimed row."""

    id: int
    hall: str
    delivery_id: str
    kind: str
    ticket: str | None
    url: str
    payload: Json
    personal: bool
    attempts: int


PhoneLookup = Callable[[str, str], Awaitable[str | None]]  # (hall, ticket) -> the phone kept for it, if any
T = TypeVar("T")


async def in_thread(work: Callable[..., T], *args: Any) -> T:
    """``asyncio.to_thread``, except that a cancelled caller still waits for the thread to end: SQL work on a
    thread cannot be stopped, and a caller that moved on (shutting down, disposing the engine) would strand the
    connection it holds."""
    running = asyncio.ensure_future(asyncio.to_thread(work, *args))
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await running
        raise


class WebhookSender:
    """Sends what is due in ``webhook_deliveries``, every hall's, and records each try.

    Rows are claimed before a try (their next try moved ``lease_s`` ahead, only if still due), so two senders —
    two archive processes on two hosts — never send one row at the same time. ``wake`` sends new rows at once;
    otherwise the table is polled every ``poll_s`` (what the web process asked to send again, what a dead sender
    had claimed, what waits for its backoff).
    """

    def __init__(self, sql_engine: Engine, key: bytes, *, policy: RetryPolicy | None = None,
                 client: httpx.AsyncClient | None = None, phone_of: PhoneLookup | None = None,
                 poll_s: float = 1.0, batch: int = 50, concurrency: int = 8,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None) -> None:
        self.sql_engine = sql_engine
        self.key = key
        self.policy = policy or RetryPolicy()
        self.client = client or httpx.AsyncClient(trust_env=False, follow_redirects=False)
        self._own_client = client is None
        self.phone_of = phone_of
        self.poll_s = poll_s
        self.batch = batch
        self.clock = clock
        self.rng = rng or random.Random()
        self._turns = asyncio.Semaphore(concurrency)
        self._woken = asyncio.Event()
        self.tries = 0  # HTTP requests made, for tests and a health check

    def wake(self) -> None:
        self._woken.set()

    async def run(self) -> None:
        """Send until cancelled (then call ``close``)."""
        while True:
            raise_if_cancelled()
            self._woken.clear()
            try:
                sent = await self.send_due()
            except Exception as exc:  # SQL down: what is due stays due, and is sent when it is back
                log.warning("webhook sender could not read its deliveries: %s: %s", type(exc).__name__, exc)
                sent = 0
            if sent >= self.batch:
                continue  # more may be due already
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self.poll_s)

    async def close(self) -> None:
        if self._own_client:
            await self.client.aclose()

    async def send_due(self) -> int:
        """One try of every delivery due now (up to ``batch``); how many were tried."""
        claimed = await in_thread(self._claim_due, self.clock())
        results = await asyncio.gather(*(self._send(due) for due in claimed), return_exceptions=True)
        for due, result in zip(claimed, results, strict=True):
            if isinstance(result, Exception):  # not recorded (SQL went away): tried again once its claim lapses
                log.warning("webhook %s %s: the try could not be recorded: %s: %s", due.kind, due.delivery_id,
                            type(result).__name__, result)
            elif isinstance(result, BaseException):
                raise result
        return len(claimed)

    def _claim_due(self, now_s: float) -> list[Due]:
        now = datetime.fromtimestamp(now_s, UTC)
        until = now + timedelta(seconds=self.policy.lease_s)
        due_now = (WebhookDeliveryRow.status == "pending") & (WebhookDeliveryRow.next_attempt_at <= now)
        claimed: list[Due] = []
        with Session(self.sql_engine) as session, session.begin():
            rows = session.scalars(select(WebhookDeliveryRow).where(due_now)
                                   .order_by(WebhookDeliveryRow.next_attempt_at).limit(self.batch)).all()
            for row in rows:
                # Only if still due: another sender that claimed it first has moved its next try ahead.
                taken = session.execute(update(WebhookDeliveryRow).where(WebhookDeliveryRow.id == row.id, due_now)
                                        .values(next_attempt_at=until).execution_options(synchronize_session=False))
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append(Due(row.id, row.hall, row.delivery_id, row.kind, row.ticket, row.target_url,
                                       dict(row.payload), row.personal, row.attempts))
        return claimed

    async def _send(self, due: Due) -> None:
        async with self._turns:
            outcome = await self._try(due)
            if outcome.tried:
                self.tries += 1
            await in_thread(self._settle, due, outcome, self.clock())
        what = "delivered" if outcome.delivered else "will be tried again" if outcome.retry else "failed"
        log.info("webhook %s %s to %s, try %d: %s (%s)", due.kind, due.delivery_id, safe_url(due.url),
                 due.attempts + 1, what, outcome.status or redact(outcome.error or ""))

    async def _try(self, due: Due) -> Outcome:
        """One HTTP try, unless the phone it must carry is gone (kept for its day only): then it has failed."""
        body_data = dict(due.payload)
        if due.personal:
            try:
                phone = await self.phone_of(due.hall, due.ticket) if self.phone_of and due.ticket else None
            except Exception as exc:  # Redis away: the phone may well be there once it is back
                return Outcome(False, True, error=f"the phone could not be read: {type(exc).__name__}", tried=False)
            if phone is None:
                return Outcome(False, False, error="the ticket's phone is no longer kept (only for its day); "
                                                   "nothing was sent", tried=False)
            body_data["phone"] = phone
        body = orjson.dumps(body_data)
        headers = signed_headers(self.key, due.kind, due.delivery_id, body, self.clock())
        try:
            reply = await self.client.post(due.url, content=body, headers=headers, timeout=self.policy.timeout_s)
        except httpx.TimeoutException:
            return Outcome(False, True, error=f"no answer within {self.policy.timeout_s:g} s")
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            return Outcome(False, False, error=f"the address cannot be used: {exc}")
        except (httpx.HTTPError, OSError) as exc:  # refused, reset, DNS: the receiver may be back later
            return Outcome(False, True, error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        if 200 <= reply.status_code < 300:
            return Outcome(True, False, reply.status_code)
        # A receiver's error text may echo the body back, phone and all: the record keeps it redacted.
        error = f"HTTP {reply.status_code}: {reply.text[:200]}"
        return Outcome(False, retryable(reply.status_code), reply.status_code, error,
                       _retry_after(reply.headers.get("retry-after")))

    def _settle(self, due: Due, outcome: Outcome, now_s: float) -> None:
        now = datetime.fromtimestamp(now_s, UTC)
        tries = due.attempts + outcome.tried
        values: dict[str, Any] = {"attempts": tries, "last_status": outcome.status,
                                  "last_error": None if outcome.error is None else redact(outcome.error)[:MAX_ERROR]}
        if outcome.delivered:
            values |= {"status": "delivered", "next_attempt_at": None, "delivered_at": now}
        elif outcome.retry and tries < self.policy.attempts:
            delay = self.policy.delay_s(tries, self.rng, outcome.retry_after_s)
            values |= {"status": "pending", "next_attempt_at": now + timedelta(seconds=delay)}
        else:
            values |= {"status": "failed", "next_attempt_at": None}
        with Session(self.sql_engine) as session, session.begin():
            session.execute(update(WebhookDeliveryRow).where(WebhookDeliveryRow.id == due.id).values(**values)
                            .execution_options(synchronize_session=False))


def _retry_after(raw: str | None) -> float | None:
    """Retry-After in seconds (its HTTP-date form is rare from an API and is ignored)."""
    if raw is None or not raw.strip().isdigit():
        return None
    return float(raw.strip())


def safe_url(url: str) -> str:
    """An address for a log line or a manager's screen: without credentials or query (gateways put keys there)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<invalid address>"
    shown = parsed.copy_with(username=None, password=None, query=None, fragment=None)
    return str(shown) + ("?…" if parsed.query else "")


# -- reading and retrying (the API) ---------------------------------------------------------------------
MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class DeliveryQuery:
    limit: int = 100
    kind: str | None = None
    status: str | None = None
    since: datetime | None = None  # created at or after


def list_deliveries(sql_engine: Engine, hall: str, query: DeliveryQuery) -> list[WebhookDeliveryRow]:
    """A hall's deliveries, newest first."""
    stmt = select(WebhookDeliveryRow).where(WebhookDeliveryRow.hall == hall)
    if query.kind is not None:
        stmt = stmt.where(WebhookDeliveryRow.kind == query.kind)
    if query.status is not None:
        stmt = stmt.where(WebhookDeliveryRow.status == query.status)
    if query.since is not None:
        stmt = stmt.where(WebhookDeliveryRow.created_at >= query.since)
    stmt = stmt.order_by(WebhookDeliveryRow.created_at.desc(), WebhookDeliveryRow.id.desc()).limit(query.limit)
    with Session(sql_engine, expire_on_commit=False) as session:
        return list(session.scalars(stmt))


class NotFailed(Exception):
    """Only a failed delivery is sent again by hand: a pending one is on its way, a delivered one arrived."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


def send_again(sql_engine: Engine, hall: str, delivery: str, now_s: float, audit: Json) -> WebhookDeliveryRow | None:
    """Make a failed delivery due now with a fresh count of tries (same delivery id, so receivers still dedupe);
    None if the hall has no such delivery. ``audit`` is the audit row's actor columns (role, token, window);
    the row is written in the same transaction."""
    now = datetime.fromtimestamp(now_s, UTC)
    with Session(sql_engine, expire_on_commit=False) as session, session.begin():
        row = session.scalars(select(WebhookDeliveryRow).where(
            WebhookDeliveryRow.hall == hall, WebhookDeliveryRow.delivery_id == delivery)).one_or_none()
        if row is None:
            return None
        if row.status != "failed":
            raise NotFailed(row.status)
        row.status, row.attempts, row.next_attempt_at = "pending", 0, now
        session.add(AuditRow(hall=hall, at=now, action="webhook.sent_again", ticket=row.ticket,
                             details={"delivery": row.delivery_id, "kind": row.kind,
                                      "last_status": row.last_status}, **audit))
    return row
