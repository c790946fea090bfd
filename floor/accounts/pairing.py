"""Pairing a screen, kiosk or rating pad: no secret is pasted into it, nor written in an address a citizen can read.

The device asks for a code (``POST /pairing``, no credential), shows it in large digits and polls with the claim
only it was given; the hall's admin enters the code on the accounts page, names the device and says what it is;
the device's next poll collects its own credential, revocable like a key and listed with when it was last seen.
A code lives ten minutes and is collected once; a hall has at most ``MAX_PENDING`` codes waiting at a time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import Field

from floor.accounts import store
from floor.accounts.revocations import keys
from floor.http.auth import issue
from floor.http.body import RequestBody
from floor.http.kit import ApiError, Ctx, Endpoints

ENDPOINTS = Endpoints()
CODE_TTL_S = 600
MAX_PENDING = 30


class Approve(RequestBody):
    name: str = Field(min_length=1, max_length=64)
    role: Literal["display", "kiosk", "pad"]
    window: str | None = Field(None, min_length=1, max_length=8)  # a rating pad's window


def _digest(claim: str) -> str:
    return hashlib.sha256(claim.encode()).hexdigest()


def _pending(ctx: Ctx) -> str:
    return keys(ctx.runtime).pairings_waiting(ctx.hall.config.id)


def _unknown(code: str) -> ApiError:
    return ApiError(404, "unknown_code", f"No device is waiting with code {code[:8]}; check the screen, or start "
                    "again on the device (a code lasts ten minutes).",
                    f"没有设备在等待配对码 {code[:8]}，请核对设备屏幕上的配对码，"
                    "或在设备上重新开始（配对码十分钟内有效）。")


@ENDPOINTS.add("POST", "/pairing", roles=(), status=201, refusals=((429, "too many devices waiting"),))
async def ask_pairing(ctx: Ctx, _: Any) -> dict[str, Any]:
    """A device asks to be paired: its code to show, and the claim it polls with (only it has it)."""
    redis = ctx.runtime.auth_redis
    pending = _pending(ctx)
    now = datetime.now(UTC).timestamp()
    await redis.zremrangebyscore(pending, 0, now - CODE_TTL_S)
    if await redis.zcard(pending) >= MAX_PENDING:
        raise ApiError(429, "too_many_pairings", "Too many devices are waiting to be paired; try again in a while.",
                       "等待配对的设备过多，请稍后再试。")
    claim = secrets.token_urlsafe(24)
    for _ in range(10):
        code = f"{secrets.randbelow(1_000_000):06d}"
        record = {"hall": ctx.hall.config.id, "claim": _digest(claim)}
        if await redis.set(keys(ctx.runtime).pairing(code), orjson.dumps(record), nx=True, ex=CODE_TTL_S):
            await redis.zadd(pending, {code: now})
            await redis.expire(pending, CODE_TTL_S)
            return {"code": code, "claim": claim, "expires_in_s": CODE_TTL_S}
    raise ApiError(503, "busy", "No pairing code is free just now; try again.", "暂时无法生成配对码，请重试。")


async def _record(ctx: Ctx, code: str) -> dict[str, Any]:
    well_formed = code.isdigit() and len(code) == 6
    raw = await ctx.runtime.auth_redis.get(keys(ctx.runtime).pairing(code)) if well_formed else None
    record: dict[str, Any] | None = orjson.loads(raw) if raw else None
    if record is None or record["hall"] != ctx.hall.config.id:
        raise _unknown(code)
    return record


@ENDPOINTS.add("GET", "/pairing/{code}", roles=(), refusals=((403, "not this device's claim"),))
async def collect_pairing(ctx: Ctx, _: Any) -> dict[str, Any]:
    """The device's poll (header X-Pairing-Claim): waiting, or its credential, handed over once."""
    code = ctx.path("code")
    record = await _record(ctx, code)
    claim = ctx.request.headers.get("x-pairing-claim", "")
    if not hmac.compare_digest(record["claim"], _digest(claim)):
        raise ApiError(403, "wrong_claim", "This is not the device that asked for this code.",
                       "这不是申请该配对码的设备。")
    if "token" not in record:
        return {"paired": False}
    await ctx.runtime.auth_redis.delete(keys(ctx.runtime).pairing(code))
    await ctx.runtime.auth_redis.zrem(_pending(ctx), code)
    return {"paired": True, "token": record["token"], "name": record["name"], "role": record["role"]}


@ENDPOINTS.add("POST", "/pairing/{code}/device", roles=("admin",), body=Approve, status=201)
async def pair_device(ctx: Ctx, body: Approve) -> dict[str, Any]:
    """The admin pairs the device showing ``code``: names it and says what it is (a pad, beside which window)."""
    code = ctx.path("code")
    record = await _record(ctx, code)
    if "token" in record:
        raise ApiError(409, "already_paired", "This device is paired already; it collects its sign-in shortly.",
                       "该设备已配对，稍后会自动登录。")
    window = None
    if body.role == "pad":
        found = ctx.hall.config.window(body.window or "")
        if found is None:
            raise ApiError(422, "invalid_request", "A rating pad sits beside a window: say which.",
                           "评价器须指定所在窗口。", fields=[{"field": "window", "problem": "unknown window"}])
        window = found.id
    jid = secrets.token_hex(12)
    token = issue(ctx.runtime.settings.secret, hall=ctx.hall.config.id, role=body.role, jid=jid, kind="device",
                  window=window)
    row = store.CredentialRow(id=jid, kind="device", hall=ctx.hall.config.id, role=body.role, window=window,
                              name=body.name, account=ctx.principal.staff if ctx.principal else None,
                              created_at=datetime.now(UTC))
    await asyncio.to_thread(store.issued, ctx.runtime.sql, row)
    record.update(token=token, name=body.name, role=body.role)
    await ctx.runtime.auth_redis.set(keys(ctx.runtime).pairing(code), orjson.dumps(record), xx=True, keepttl=True)
    return {"id": jid, "name": body.name, "role": body.role, "window": window}
