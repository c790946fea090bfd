"""The people who answer for a region, kept by its admins: a county's admin makes its towns' managers.

A region account is a manager or an admin scoped to a region (``floor.http.auth``): it acts in every hall below it.
Its admin lists, adds, changes and resets the accounts of the region and of every region below it; a hall's admin
never sees them (they belong to no hall), and a region's admin never reaches those of a region beside it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from floor.accounts import passwords, rules, setup, store
from floor.accounts.api import Password, one_time_password, rule_error
from floor.accounts.revocations import keys, revoke
from floor.http.body import RequestBody
from floor.http.kit import ApiError, Endpoints, RegionCtx

ENDPOINTS = Endpoints()
ADMIN = ("admin",)


class RegionAccountIn(RequestBody):
    username: str = Field(max_length=64)
    display_name: str = Field(min_length=1, max_length=64)
    role: Literal["manager", "admin"]
    region: str | None = Field(None, max_length=40, description="The region the person answers for: this one (the "
                                                                 "default) or one below it.")
    password: Password | None = None  # none: a one-time password is made


class RegionAccountChange(RequestBody):
    display_name: str | None = Field(None, min_length=1, max_length=64)
    role: Literal["manager", "admin"] | None = None
    disabled: bool | None = None


def _below(ctx: RegionCtx) -> set[str]:
    assert ctx.runtime.network is not None
    return ctx.runtime.network.below(ctx.region.id)


async def _of_this_region(ctx: RegionCtx, username: str) -> store.Account:
    account = await asyncio.to_thread(store.find, ctx.runtime.sql, username)
    if account is None or account.region is None or account.region not in _below(ctx):
        raise ApiError(404, "unknown_account", f"There is no account {username!r} of this region.",
                       f"本地区没有账号 {username!r}。")
    return account


@ENDPOINTS.add("GET", "/accounts", roles=ADMIN, scope="region")
async def region_accounts(ctx: RegionCtx, _: Any) -> dict[str, Any]:
    """The accounts that answer for this region or one below it (never a password or its hash)."""
    below = _below(ctx)
    found = await asyncio.to_thread(store.of_regions, ctx.runtime.sql, sorted(below))
    return {"region": ctx.region.id, "accounts": [a.public() for a in found]}


@ENDPOINTS.add("POST", "/accounts", roles=ADMIN, body=RegionAccountIn, status=201, scope="region",
               refusals=((409, "the username is taken"),))
async def create_region_account(ctx: RegionCtx, body: RegionAccountIn) -> dict[str, Any]:
    """Add a manager or admin who answers for this region or one below it. Without a password, a one-time password
    is answered (once), to be changed at the first sign-in."""
    region = body.region or ctx.region.id
    if region not in _below(ctx):
        raise ApiError(422, "invalid_request", f"{region[:40]} is not this region or one below it.",
                       f"{region[:40]} 不是本地区或其下级地区。", fields=[{"field": "region", "problem": "not below"}])
    try:
        username = rules.username_of(body.username)
        if body.password is not None:
            rules.check_password(body.password, username)
    except rules.AccountRuleError as exc:
        raise rule_error(exc) from None
    password = body.password or one_time_password()
    hashed = await asyncio.to_thread(passwords.hash_password, password)
    try:
        await asyncio.to_thread(setup.create_for_region, ctx.runtime.sql, region, username, body.display_name,
                                body.role, password, body.password is None, hashed)
    except ValueError:
        raise ApiError(409, "username_taken", f"The username {username!r} is taken; choose another.",
                       f"用户名 {username!r} 已被使用，请换一个。") from None
    account = await _of_this_region(ctx, username)
    return {**account.public(), **({"one_time_password": password} if body.password is None else {})}


@ENDPOINTS.add("PATCH", "/accounts/{username}", roles=ADMIN, body=RegionAccountChange, scope="region")
async def change_region_account(ctx: RegionCtx, body: RegionAccountChange) -> dict[str, Any]:
    """Change a region account's name or role, or disable it (which ends its sessions at once)."""
    username = ctx.request.path_params["username"].lower()
    before = await _of_this_region(ctx, username)
    fields: dict[str, Any] = {k: v for k, v in (("display_name", body.display_name), ("role", body.role),
                                                 ("disabled", body.disabled)) if v is not None}
    if body.disabled and ctx.principal.staff == username:
        raise ApiError(409, "own_account", "You cannot disable your own account.", "不能停用自己的账号。")
    changed = await asyncio.to_thread(store.change, ctx.runtime.sql, username, datetime.now(UTC), **fields)
    assert changed is not None
    if body.disabled or changed.role != before.role:
        await revoke(ctx.runtime, account=username, kind="session")
    return changed.public()


@ENDPOINTS.add("POST", "/accounts/{username}/reset", roles=ADMIN, scope="region")
async def reset_region_password(ctx: RegionCtx, _: Any) -> dict[str, Any]:
    """A new one-time password for a region account: its sessions end, its lock is lifted."""
    username = ctx.request.path_params["username"].lower()
    await _of_this_region(ctx, username)
    password = one_time_password()
    hashed = await asyncio.to_thread(passwords.hash_password, password)
    await asyncio.to_thread(store.change, ctx.runtime.sql, username, datetime.now(UTC), password_hash=hashed,
                            must_change=True)
    await revoke(ctx.runtime, account=username, kind="session")
    await ctx.runtime.auth_redis.delete(keys(ctx.runtime).failures("account", username))
    return {"username": username, "one_time_password": password}
