"""The phone number given at issue, kept sealed for the day so the hall can text the person when their turn nears.

Never in the clear: each number is sealed with AES-256-GCM under a key derived from the server's secret (HKDF,
its own label, so no other use of the secret shares it), with the hall and ticket as associated data, so a sealed
number moved onto another ticket does not open. The seals live in one hall-tagged Redis hash that expires at the
end of the hall's business day: nothing of it outlives the day it was given for. The only place a number leaves
the server is the body of a notification to the SMS gateway (``floor.notify.webhooks``).
"""

from __future__ import annotations

import base64
import os
from datetime import datetime, time, timedelta
from functools import cache
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from redis.asyncio import Redis

from floor.identity import normalize_phone
from queue_engine.config import HallConfig
from queue_engine.engine import Engine

if TYPE_CHECKING:
    from floor.http.kit import Ctx
    from queue_engine.records import Ticket

_NONCE = 12  # bytes: AES-GCM's standard nonce, random per seal (a hall seals far fewer than 2**32 under one key)


def seconds_left_today(hall: HallConfig, now_s: float) -> int:
    """Seconds from ``now_s`` to the next local midnight of the hall (at least 1)."""
    local = datetime.fromtimestamp(now_s, hall.zone)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=hall.zone)
    return max(1, int((midnight - local).total_seconds()) + 1)


class Sealer:
    """Seals and opens phone numbers under the server's contacts key."""

    def __init__(self, secret: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"hallq contacts v1").derive(secret)
        self._aead = AESGCM(key)

    def seal(self, phone: str, hall: str, ticket: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, phone.encode(), _bound_to(hall, ticket))
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str | bytes, hall: str, ticket: str) -> str | None:
        """The number, or None if the seal is not one of ours for this ticket (wrong key, tampered, moved)."""
        try:
            raw = base64.urlsafe_b64decode(sealed)
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], _bound_to(hall, ticket)).decode()
        except (InvalidTag, ValueError):
            return None


@cache
def sealer_for(secret: bytes) -> Sealer:
    """The server's one sealer: deriving its key (HKDF) once, not on every issue that gives a phone."""
    return Sealer(secret)


def _bound_to(hall: str, ticket: str) -> bytes:
    return f"hallq contact|{hall}|{ticket}".encode()


class Contacts:
    """One hall's sealed phone numbers."""

    def __init__(self, engine: Engine, sealer: Sealer) -> None:
        self.engine = engine
        self.key = engine.keys.contacts
        self.sealer = sealer

    @property
    def redis(self) -> Redis:
        return self.engine.redis  # on a cluster, the hall's primary now: a failover may move it

    @property
    def hall(self) -> HallConfig:
        return self.engine.hall

    async def keep(self, ticket: str, phone: str, now_s: float) -> None:
        """Keep ``phone`` (already normalised) for ``ticket`` until the end of today."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.key, ticket, self.sealer.seal(phone, self.hall.id, ticket))
            pipe.expire(self.key, seconds_left_today(self.hall, now_s))
            await pipe.execute()

    async def phone(self, ticket: str) -> str | None:
        sealed = await self.redis.hget(self.key, ticket)
        return None if sealed is None else self.sealer.open(sealed, self.hall.id, ticket)

    async def having(self, tickets: list[str]) -> set[str]:
        """Which of ``tickets`` have a phone kept (without opening any)."""
        if not tickets:
            return set()
        sealed = await self.redis.hmget(self.key, tickets)
        return {t for t, s in zip(tickets, sealed, strict=True) if s is not None}


async def keep_contact(ctx: Ctx, ticket: Ticket, phone: str) -> None:
    """The issue hook: keep a ticket's phone (as given, checked already) for the day's notifications. Only if the
    hall sends notifications at all: a number nobody will text is not kept."""
    hall = ctx.hall.config
    if hall.notifications.notify_url:
        engine = ctx.hall.engine
        contacts = Contacts(engine, sealer_for(ctx.runtime.settings.secret))
        await contacts.keep(ticket.id, normalize_phone(phone), engine.clock())
