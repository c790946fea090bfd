"""How often one kiosk may issue: a token bucket per device, kept in Redis so every worker shares it.

A kiosk may issue ``limit`` tickets at once (a family taking a few numbers), then one every
``window_s / limit`` seconds; a person mashing the button or a script is stopped after the burst.
The bucket is the GCRA form of a token bucket: one key per device holding the theoretical arrival
time of the next request, checked and moved by one small script (one round trip, atomic across
workers). The key carries the hall's hash tag like every hall key, so it lives in the hall's slot
with the idempotency keys the script also reads.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from queue_engine.keys import HallKeys
from queue_engine.library import standalone_script

_GCRA = standalone_script("kiosk_bucket")
_GCRA_SHA = hashlib.sha1(_GCRA.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class KioskLimit:
    limit: int  # tickets one device may issue at once; 0 turns the limit off
    window_s: float  # the burst refills over this many seconds

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    async def wait_s(self, redis: Redis, keys: HallKeys, device: str, day: str, idempotency_key: str | None) -> int:
        """Count one ticket for the device: 0 if it may issue now, else the whole seconds it must wait. ``day`` is
        the business day whose idempotency keys make a retry free."""
        window_ms = max(1, round(self.window_s * 1000))
        args = (max(1, window_ms // self.limit), window_ms, idempotency_key or "")
        names = (keys.kiosk_bucket(device), keys.idempotency(day))
        try:
            wait_ms = await redis.evalsha(_GCRA_SHA, len(names), *names, *args)
        except NoScriptError:  # a Redis that restarted or never saw it: EVAL caches it for next time
            wait_ms = await redis.eval(_GCRA, len(names), *names, *args)
        return math.ceil(int(wait_ms) / 1000)
