"""Sign-in, sign-out and password change for people; accounts and integration keys for the hall's admin.

A session is a credential like any other (``floor.http.auth.issue``) sent as an HttpOnly cookie; the page reads
the CSRF token from a second cookie and sends it with each write. Sessions, devices and keys are recorded
(``floor.accounts.store``) so they can be listed and revoked (``floor.accounts.revocations``).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints
from starlette.responses import JSONResponse, Response

from floor.accounts import holders, passwords, rules, stand_in, store
from floor.accounts.revocations import keys, revoke
from floor.http.auth import ALL_ROLES, csrf_token, issue
from floor.http.body import RequestBody
from floor.http.kit import CSRF_COOKIE, SESSION_COOKIE, ApiError, Ctx, Endpoints
from queue_engine.errors import DomainError

ENDPOINTS = Endpoints()
EVERYONE = (*ALL_ROLES, "admin")


# A password is kept as typed: spaces at its ends are part of it (every other text is stripped).
Password = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1, max_length=rules.PASSWORD_MAX)]


Code = Annotated[str, StringConstraints(min_length=1, max_length=16)]  # a service's or sub-item's code


class SignIn(RequestBody):
    username: str = Field(max_length=64)
    password: Password


class PasswordChange(RequestBody):
    current: Password
    new: Password


PersonRole = Literal["guide", "staff", "manager", "admin"]
KeyRole = Literal["kiosk", "guide", "display", "manager"]


class AccountIn(RequestBody):
    username: str = Field(max_length=64)
    display_name: str = Field(min_length=1, max_length=64)
    role: PersonRole
    skills: list[Code] = Field(default_factory=list, max_length=64)
    password: Password | None = None  # none: a one-time password is made


class AccountChange(RequestBody):
    display_name: str | None = Field(None, min_length=1, max_length=64)
    role: PersonRole | None = None
    skills: list[Code] | None = Field(None, max_length=64)
    disabled: bool | None = None


class KeyIn(RequestBody):
    name: str = Field(min_length=1, max_length=64)
    role: KeyRole


def rule_error(exc: rules.AccountRuleError) -> ApiError:
    return ApiError(422, "invalid_request", exc.en, exc.zh, fields=[{"field": exc.field, "problem": exc.en}])


def _address(ctx: Ctx) -> str:
    return ctx.request.client.host if ctx.request.client else "unknown"


def _secure(ctx: Ctx) -> bool:
    public = ctx.runtime.settings.public_url or ""
    return ctx.request.url.scheme == "https" or public.startswith("https://")


def one_time_password() -> str:
    return secrets.token_urlsafe(9)  # 12 characters: read out or written down once, changed at first sign-in


# -- lock-out ------------------------------------------------------------------------------------------
async def _count_attempt(ctx: Ctx, username: str) -> tuple[int, int, int, int]:
    """Count this attempt before the password is checked, so guesses sent at once cannot all slip in before the
    lock: (account attempts, seconds their count lives, address attempts, seconds) in the lock-out window."""
    k = keys(ctx.runtime)
    pipe = ctx.runtime.auth_redis.pipeline(transaction=True)
    for key in (k.failures("account", username), k.failures("address", _address(ctx))):
        pipe.incr(key)
        pipe.expire(key, rules.LOCK_WINDOW_S, nx=True)
        pipe.ttl(key)
    account_n, _, account_ttl, address_n, _, address_ttl = await pipe.execute()
    return int(account_n), int(account_ttl), int(address_n), int(address_ttl)


async def _succeeded(ctx: Ctx, username: str) -> None:
    """A right password: the account's count starts again, and the address's attempt was no failure."""
    k = keys(ctx.runtime)
    pipe = ctx.runtime.auth_redis.pipeline(transaction=False)
    pipe.delete(k.failures("account", username))
    pipe.decr(k.failures("address", _address(ctx)))
    await pipe.execute()


def _locked(lock: rules.Lock) -> ApiError:
    en, zh = lock.sentence()
    return ApiError(429, f"{lock.on}_locked", en, zh, seconds_left=lock.seconds_left)


# -- sessions ------------------------------------------------------------------------------------------
def _session_reply(ctx: Ctx, account: store.Account, token: str, jid: str, status: int = 200) -> Response:
    reply = JSONResponse({"username": account.username, "display_name": account.display_name, "role": account.role,
                          "hall": ctx.hall.config.id, "must_change": account.must_change}, status_code=status)
    secure = _secure(ctx)
    reply.set_cookie(SESSION_COOKIE, token, max_age=rules.SESSION_S, httponly=True, samesite="strict",
                     secure=secure, path="/")
    reply.set_cookie(CSRF_COOKIE, csrf_token(ctx.runtime.settings.secret, jid), max_age=rules.SESSION_S,
                     httponly=False, samesite="strict", secure=secure, path="/")
    return reply


async def _new_session(ctx: Ctx, account: store.Account, window: str | None = None) -> tuple[str, str]:
    """A session credential for ``account`` (at ``window``), recorded so it can be revoked: (token, its id)."""
    jid = secrets.token_hex(12)
    now = datetime.now(UTC)
    expires = time.time() + rules.SESSION_S
    # A reset password's session may only change the password (``kind`` "reset": the route kit refuses the rest).
    kind = "reset" if account.must_change else "session"
    token = issue(ctx.runtime.settings.secret, hall=ctx.hall.config.id, role=account.role, jid=jid, kind=kind,
                  staff=account.username, window=window, expires_at=expires, region=account.region)
    row = store.CredentialRow(id=jid, kind="session", hall=ctx.hall.config.id, role=account.role,
                              account=account.username, window=window, address=_address(ctx)[:64], created_at=now,
                              expires_at=datetime.fromtimestamp(expires, UTC), last_seen_at=now)
    await asyncio.to_thread(store.issued, ctx.runtime.sql, row)
    return token, jid


async def _start_session(ctx: Ctx, account: store.Account, status: int = 200) -> Response:
    token, jid = await _new_session(ctx, account)
    await asyncio.to_thread(store.signed_in, ctx.runtime.sql, account.username, datetime.now(UTC))
    return _session_reply(ctx, account, token, jid, status)


@ENDPOINTS.add("POST", "/session", roles=(), body=SignIn, status=200,
               refusals=((401, "wrong username or password"), (403, "account disabled or not of this hall"),
                         (429, "locked out after repeated failures")))
async def sign_in(ctx: Ctx, body: SignIn) -> Response:
    """Sign in with a username and password: sets the session cookie (HttpOnly) and the CSRF cookie."""
    username = body.username.strip().lower()
    account_n, account_ttl, address_n, address_ttl = await _count_attempt(ctx, username)
    before = rules.lock_of(account_n - 1, account_ttl, address_n - 1, address_ttl)  # the failures before this one
    if before is not None:
        raise _locked(before)
    account = await asyncio.to_thread(store.find, ctx.runtime.sql, username)
    good = await asyncio.to_thread(passwords.verify, account.password_hash if account else None, body.password)
    if not good or account is None:
        now_locked = rules.lock_of(account_n, account_ttl, address_n, address_ttl)
        if now_locked is not None:
            raise _locked(now_locked)
        raise ApiError(401, "wrong_password", "The username or password is wrong.", "用户名或密码不正确。")
    await _succeeded(ctx, username)
    if account.disabled:
        raise ApiError(403, "account_disabled", "This account is disabled; ask your hall's admin.",
                       "该账号已停用，请联系大厅系统管理员。")
    if not account.works_in(ctx.hall.config.id, ctx.runtime.regions_of(ctx.hall.config.id)):
        raise ApiError(403, "wrong_hall", f"This account does not work in {ctx.hall.config.name}.",
                       f"该账号不属于{ctx.hall.config.name}。")
    return await _start_session(ctx, account)


@ENDPOINTS.add("GET", "/session", roles=EVERYONE)
async def session(ctx: Ctx, _: Any) -> dict[str, Any]:
    """Who is signed in: the account (for a session or a person's key), or the device or key's role."""
    assert ctx.principal is not None
    p = ctx.principal
    person = p.staff if p.kind in ("session", "reset") else None
    account = await asyncio.to_thread(store.find, ctx.runtime.sql, person) if person else None
    return {"hall": p.hall, "region": p.region, "role": p.role, "window": p.window, "kind": p.kind or "token",
            "username": account.username if account else None,
            "display_name": account.display_name if account else None,
            "must_change": bool(account and account.must_change)}


@ENDPOINTS.add("DELETE", "/session", roles=rules.PERSON_ROLES)  # devices are unpaired by the admin, not signed out
async def sign_out(ctx: Ctx, _: Any) -> Response:
    """Sign out: this session ends on every worker at once, and its cookies are cleared."""
    assert ctx.principal is not None
    if ctx.principal.kind in ("session", "reset"):
        await leave_window(ctx)
        await revoke(ctx.runtime, [ctx.principal.token_id])
    reply = JSONResponse({"signed_out": True})
    reply.delete_cookie(SESSION_COOKIE, path="/")
    reply.delete_cookie(CSRF_COOKIE, path="/")
    return reply


@ENDPOINTS.add("POST", "/session/password", roles=rules.PERSON_ROLES, body=PasswordChange)
async def change_password(ctx: Ctx, body: PasswordChange) -> Response:
    """Change one's own password: every other session of the account ends; this one goes on under a new cookie."""
    p = ctx.principal
    assert p is not None
    if p.kind not in ("session", "reset") or not p.staff:
        raise ApiError(403, "not_a_person", "Only a person signed in with a password can change it.",
                       "只有以账号密码登录的人员可以修改密码。")
    account = await asyncio.to_thread(store.find, ctx.runtime.sql, p.staff)
    if account is None or not await asyncio.to_thread(passwords.verify, account.password_hash, body.current):
        raise ApiError(403, "wrong_password", "The current password is wrong.", "当前密码不正确。")
    try:
        rules.check_password(body.new, account.username)
    except rules.AccountRuleError as exc:
        raise rule_error(exc) from None
    hashed = await asyncio.to_thread(passwords.hash_password, body.new)
    changed = await asyncio.to_thread(store.change, ctx.runtime.sql, account.username, datetime.now(UTC),
                                      password_hash=hashed, must_change=False)
    assert changed is not None
    await revoke(ctx.runtime, account=account.username, kind="session")
    return await _start_session(ctx, changed)


class TakeWindow(RequestBody):
    window: str = Field(min_length=1, max_length=8)


def _holders(ctx: Ctx) -> str:
    return ctx.hall.engine.keys.holders


async def _reissue(ctx: Ctx, window: str | None) -> Response:
    """The same person's session, now at ``window`` (or at none): a new credential, the old one revoked."""
    p = ctx.principal
    assert p is not None
    assert p.staff is not None
    account = await asyncio.to_thread(store.find, ctx.runtime.sql, p.staff)
    if account is None or account.disabled:
        raise ApiError(403, "account_disabled", "This account is disabled; ask your hall's admin.",
                       "该账号已停用，请联系大厅系统管理员。")
    token, jid = await _new_session(ctx, account, window)
    await revoke(ctx.runtime, [p.token_id])
    return _session_reply(ctx, account, token, jid)


@ENDPOINTS.add("POST", "/session/window", roles=("staff", "manager"), body=TakeWindow,
               refusals=((409, "the window is taken, or the person already holds another"),))
async def take_window(ctx: Ctx, body: TakeWindow) -> Response:
    """A member of staff signed in takes a window: one person at one window, one window per person."""
    p = ctx.principal
    assert p is not None
    if p.kind != "session" or not p.staff:
        raise ApiError(403, "not_a_person", "Only a member of staff signed in with an account takes a window.",
                       "只有以账号登录的窗口人员可以选择窗口。")
    window = ctx.hall.config.window(body.window)
    if window is None:
        raise ApiError(404, "unknown_window", f"There is no window {body.window} in this hall.",
                       f"本大厅没有{body.window}号窗口。")
    account = await asyncio.to_thread(store.find, ctx.runtime.sql, p.staff)
    name = account.display_name if account else p.staff
    refused = await holders.take(ctx.hall.engine.redis, _holders(ctx), window.id, p.staff, name)
    if refused is not None and refused.another:
        raise ApiError(409, "holds_another", f"You are signed in at window {refused.another}; leave it first.",
                       f"您已在{refused.another}号窗口在岗，请先离开该窗口。")
    if refused is not None:
        who = refused.holder.name if refused.holder else "?"
        raise ApiError(409, "window_taken", f"{window.name} is taken by {who}.", f"{window.name}已由{who}在岗。")
    await stand_in.back(ctx.hall, window.id)  # the post is manned again: its B post gives back what it took up
    return await _reissue(ctx, window.id)


async def _free(ctx: Ctx, window: str, username: str) -> None:
    await stand_in.away(ctx.hall, window)  # AB岗: the B post takes up what this window served
    await holders.release(ctx.hall.engine.redis, _holders(ctx), window, username)
    with contextlib.suppress(DomainError):  # a ticket still at the window: it is handed over, not closed
        await ctx.hall.engine.close_window(window)


async def leave_window(ctx: Ctx) -> None:
    """Let go of the window this session holds (on leaving it, and on signing out), and close it unless someone is
    called or served there: then it stays open for whoever takes it over, and the dashboard shows it unattended."""
    p = ctx.principal
    if p is None or not p.window or not p.staff:
        return
    await _free(ctx, p.window, p.staff)


@ENDPOINTS.add("GET", "/session/windows", roles=("staff", "manager"))
async def windows_held(ctx: Ctx, _: Any) -> dict[str, Any]:
    """Who is at each window (username and display name): the console offers the free ones."""
    held = await holders.read(ctx.hall.engine.redis, _holders(ctx))
    return {"windows": [{"window": w.id, "holder": held[w.id].username if w.id in held else None,
                         "holder_name": held[w.id].name if w.id in held else None} for w in ctx.hall.config.windows]}


@ENDPOINTS.add("DELETE", "/session/window", roles=("staff", "manager"))
async def leave(ctx: Ctx, _: Any) -> Response:
    """Leave the window: it is free for another member of staff; this person stays signed in, at no window."""
    if ctx.principal is None or ctx.principal.kind != "session" or not ctx.principal.staff:
        raise ApiError(403, "not_a_person", "Only a member of staff signed in with an account leaves a window.",
                       "只有以账号登录的窗口人员可以离开窗口。")
    await leave_window(ctx)
    return await _reissue(ctx, None)


# -- accounts (the hall's admin) -----------------------------------------------------------------------
def _of_this_hall(ctx: Ctx, account: store.Account | None, username: str) -> store.Account:
    if account is None or ctx.hall.config.id not in account.halls:
        raise ApiError(404, "unknown_account", f"There is no account {username!r} in this hall.",
                       f"本大厅没有账号 {username!r}。")
    return account


def _checked_skills(ctx: Ctx, skills: list[Code]) -> tuple[str, ...]:
    known = {s.code for s in ctx.hall.config.services} | {i.code for s in ctx.hall.config.services for i in s.items}
    unknown = [s for s in skills if s not in known]
    if unknown:
        raise ApiError(422, "invalid_request", f"Unknown service or sub-item: {', '.join(unknown[:5])}.",
                       f"没有这些业务或事项：{'、'.join(unknown[:5])}。",
                       fields=[{"field": "skills", "problem": "unknown"}])
    return tuple(dict.fromkeys(skills))


@ENDPOINTS.add("GET", "/accounts", roles=("admin",))
async def accounts(ctx: Ctx, _: Any) -> dict[str, Any]:
    """The hall's accounts (never a password or its hash)."""
    found = await asyncio.to_thread(store.of_hall, ctx.runtime.sql, ctx.hall.config.id)
    return {"accounts": [a.public() for a in found]}


@ENDPOINTS.add("POST", "/accounts", roles=("admin",), body=AccountIn, status=201)
async def create_account(ctx: Ctx, body: AccountIn) -> dict[str, Any]:
    """Add a person to the hall. Without a password, a one-time password is answered (once) to be changed at the
    first sign-in."""
    try:
        username = rules.username_of(body.username)
        role = body.role
        given = body.password
        if given is not None:
            rules.check_password(given, username)
    except rules.AccountRuleError as exc:
        raise rule_error(exc) from None
    password = given or one_time_password()
    hashed = await asyncio.to_thread(passwords.hash_password, password)
    account = store.Account(username, body.display_name.strip(), role, (ctx.hall.config.id,),
                            _checked_skills(ctx, body.skills), given is None, False, hashed)
    if not await asyncio.to_thread(store.create, ctx.runtime.sql, account, datetime.now(UTC)):
        raise ApiError(409, "username_taken", f"The username {username!r} is taken; choose another.",
                       f"用户名 {username!r} 已被使用，请换一个。")
    return {**account.public(), **({"one_time_password": password} if given is None else {})}


@ENDPOINTS.add("PATCH", "/accounts/{username}", roles=("admin",), body=AccountChange)
async def change_account(ctx: Ctx, body: AccountChange) -> dict[str, Any]:
    """Change a person's name, role, skills, or disable them (which ends their sessions at once)."""
    username = ctx.path("username").lower()
    before = _of_this_hall(ctx, await asyncio.to_thread(store.find, ctx.runtime.sql, username), username)
    fields: dict[str, Any] = {}
    try:
        if body.display_name is not None:
            fields["display_name"] = body.display_name.strip()
        if body.role is not None:
            fields["role"] = body.role
    except rules.AccountRuleError as exc:
        raise rule_error(exc) from None
    if body.skills is not None:
        fields["skills"] = _checked_skills(ctx, body.skills)
    if body.disabled is not None:
        if body.disabled and ctx.principal is not None and ctx.principal.staff == username:
            raise ApiError(409, "own_account", "You cannot disable your own account.", "不能停用自己的账号。")
        fields["disabled"] = body.disabled
    changed = await asyncio.to_thread(store.change, ctx.runtime.sql, username, datetime.now(UTC), **fields)
    assert changed is not None
    if body.disabled:  # whatever window they held is free again (and closed unless a ticket is there)
        for window in holders.holding(await holders.read(ctx.hall.engine.redis, _holders(ctx)), username):
            await _free(ctx, window, username)
    if body.disabled or changed.role != before.role:  # a new role takes effect at the next sign-in: end the old
        await revoke(ctx.runtime, account=username, kind="session")
    return changed.public()


@ENDPOINTS.add("POST", "/accounts/{username}/reset", roles=("admin",))
async def reset_password(ctx: Ctx, _: Any) -> dict[str, Any]:
    """A new one-time password for a person who forgot theirs (or was locked out): their sessions end, the lock is
    lifted, and they choose a new password at the next sign-in."""
    username = ctx.path("username").lower()
    _of_this_hall(ctx, await asyncio.to_thread(store.find, ctx.runtime.sql, username), username)
    password = one_time_password()
    hashed = await asyncio.to_thread(passwords.hash_password, password)
    await asyncio.to_thread(store.change, ctx.runtime.sql, username, datetime.now(UTC), password_hash=hashed,
                            must_change=True)
    await revoke(ctx.runtime, account=username, kind="session")
    await ctx.runtime.auth_redis.delete(keys(ctx.runtime).failures("account", username))
    return {"username": username, "one_time_password": password}


# -- integration keys ----------------------------------------------------------------------------------
def _credential(row: store.CredentialRow) -> dict[str, Any]:
    def at(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {"id": row.id, "kind": row.kind, "name": row.name, "role": row.role, "account": row.account,
            "window": row.window, "created_at": at(row.created_at), "last_seen_at": at(row.last_seen_at),
            "revoked_at": at(row.revoked_at)}


@ENDPOINTS.add("GET", "/keys", roles=("admin",))
async def list_keys(ctx: Ctx, _: Any) -> dict[str, Any]:
    """The hall's integration keys and paired devices, with when each was last used; never the key itself."""
    rows = await asyncio.to_thread(store.credentials, ctx.runtime.sql, ctx.hall.config.id, ("key", "device"))
    return {"keys": [_credential(r) for r in rows]}


@ENDPOINTS.add("POST", "/keys", roles=("admin",), body=KeyIn, status=201)
async def create_key(ctx: Ctx, body: KeyIn) -> dict[str, Any]:
    """A key for another system (a bank's kiosk, a provincial platform): answered once, revocable."""
    jid = secrets.token_hex(12)
    token = issue(ctx.runtime.settings.secret, hall=ctx.hall.config.id, role=body.role, jid=jid, kind="key")
    row = store.CredentialRow(id=jid, kind="key", hall=ctx.hall.config.id, role=body.role, name=body.name.strip(),
                              account=ctx.principal.staff if ctx.principal else None, created_at=datetime.now(UTC))
    await asyncio.to_thread(store.issued, ctx.runtime.sql, row)
    return {**_credential(row), "token": token}


@ENDPOINTS.add("DELETE", "/keys/{key}", roles=("admin",))
async def revoke_key(ctx: Ctx, _: Any) -> dict[str, Any]:
    """Withdraw a key or unpair a device: refused everywhere within a second."""
    rows = await asyncio.to_thread(store.credentials, ctx.runtime.sql, ctx.hall.config.id, ("key", "device"))
    if ctx.path("key") not in {r.id for r in rows}:
        raise ApiError(404, "unknown_key", "There is no such key or device in this hall.", "本大厅没有该密钥或设备。")
    await revoke(ctx.runtime, [ctx.path("key")])
    return {"revoked": ctx.path("key")}
