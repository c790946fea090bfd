"""The route kit: one declaration per endpoint drives auth, body parsing, errors and the OpenAPI document.

An endpoint is declared with ``@ENDPOINTS.add(method, path, roles=..., body=..., response=...)`` in the
module of its room (``floor.tickets.api``, ``staff_console.api``...), in that module's ``ENDPOINTS`` list.
Handlers receive a ``Ctx`` (hall, engine, principal, language) and the parsed body, and return a
pydantic model or plain JSON-able data. Refusals anywhere become the public API's error shape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any, Literal

import orjson
from pydantic import BaseModel, ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import exc as sa_exc
from starlette.requests import ClientDisconnect, HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route

from floor.http.auth import AuthError, Principal, authorize, bearer, csrf_token, read_token
from floor.http.body import problem_en, problem_zh
from queue_engine.actor import ACTOR
from queue_engine.errors import DomainError
from queue_engine.shards import MOVED_ERRORS

if TYPE_CHECKING:
    from floor.network.rules import Region
    from floor.runtime import HallRuntime, Runtime

log = logging.getLogger("hallq.web")
# SQLAlchemy's word that the database did not answer (unreachable, gone mid-query, pool exhausted), as opposed to
# a query it refused, which is a fault of ours and stays a 500.
SQL_DOWN = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, sa_exc.DisconnectionError)
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
RETRY_AFTER_S = "2"  # a 503's advice: Redis restarting, or a hall being rebuilt, is back within seconds
MAX_BODY = 64 * 1024  # no legitimate request comes near this; a bigger one is refused before parsing


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class ApiError(Exception):
    """A refusal raised by the web layer itself (not the engine)."""

    def __init__(self, status: int, code: str, message: str, message_zh: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.message_zh, self.extra = status, code, message, message_zh, extra


def header(request: HTTPConnection, name: bytes) -> str | None:
    """A request header (``name`` in lower case, as ASGI gives them): the scope's list read directly, without
    building the Headers mapping, whose ``get`` raises and catches a KeyError for every header not sent."""
    raw: list[tuple[bytes, bytes]] = request.scope["headers"]
    for key, value in raw:
        if key == name:
            return value.decode("latin-1")
    return None


def language(request: HTTPConnection) -> str:
    """zh unless the client prefers English: a hall's screens and staff read Chinese first."""
    accept = (header(request, b"accept-language") or "").lower()
    for part in accept.split(","):
        tag = part.split(";")[0].strip()
        if tag.startswith("en"):
            return "en"
        if tag.startswith("zh"):
            return "zh"
    return "zh"


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None,
                   **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status, headers=headers)


@dataclass(frozen=True, slots=True)
class Ctx:
    request: Request
    runtime: Runtime
    hall: HallRuntime
    principal: Principal | None
    lang: str

    def path(self, name: str) -> str:
        value: str = self.request.path_params[name]
        return value


@dataclass(frozen=True, slots=True)
class RegionCtx:
    """An endpoint of a region (``/api/v1/regions/{region}/...``): the region and every hall of this server below
    it, for a principal who answers for the region or one above it."""

    request: Request
    runtime: Runtime
    region: Region
    halls: list[HallRuntime]
    principal: Principal
    lang: str


Handler = Callable[[Ctx, Any], Awaitable[Any]] | Callable[[RegionCtx, Any], Awaitable[Any]]


@dataclass(frozen=True)
class Param:
    """A query parameter or request header an endpoint reads, declared so the document tells clients about it (or a
    path parameter's schema, when it is narrower than any string)."""

    name: str
    where: Literal["query", "header", "path"]
    description: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # below /api/v1/halls/{hall}
    handler: Handler
    roles: tuple[str, ...]  # empty: no token needed (the id in the path is the capability)
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    summary: str
    window_param: bool  # staff may act only for the window named in the path
    params: tuple[Param, ...]
    refusals: tuple[tuple[int, str], ...]  # (status, why) this endpoint adds to the ones every endpoint may give
    scope: Literal["hall", "region"] = "hall"  # below /api/v1/halls/{hall}, or /api/v1/regions/{region}

    @property
    def full_path(self) -> str:
        return ("/api/v1/regions/{region}" if self.scope == "region" else "/api/v1/halls/{hall}") + self.path


class Endpoints(list[Endpoint]):
    """A module's endpoints, in the order declared. Each room keeps its own list and the app factory names every
    list it serves, so what the server answers is read in one place, never gathered by import side effects."""

    def add(
        self, method: str, path: str, *, roles: tuple[str, ...], body: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None, status: int = 200, params: tuple[Param, ...] = (),
        refusals: tuple[tuple[int, str], ...] = (), scope: Literal["hall", "region"] = "hall",
    ) -> Callable[[Handler], Handler]:
        def declare(handler: Handler) -> Handler:
            summary = (handler.__doc__ or handler.__name__).strip().splitlines()[0]
            self.append(Endpoint(method, path, handler, roles, body, response, status, summary, "{w}" in path,
                                 params, refusals, scope))
            return handler

        return declare


def hall_of(runtime: Runtime, hall_id: str) -> HallRuntime:
    try:
        return runtime.halls[hall_id]
    except KeyError:
        raise ApiError(404, "unknown_hall", f"There is no hall {hall_id!r} on this server.",
                       f"本服务器上没有大厅 {hall_id!r}。") from None


def _too_large() -> ApiError:
    return ApiError(413, "body_too_large", f"The request body is over {MAX_BODY // 1024} KiB; send less.",
                    f"请求体超过 {MAX_BODY // 1024} KiB，请精简后重试。")


async def _read_body(request: Request) -> bytes:
    """The body, refused as soon as it passes MAX_BODY: a client sending a gigabyte must not make us hold it."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _is_json(content_type: str) -> bool:
    """application/json, with any parameters (``; charset=utf-8``), in any case."""
    return content_type.partition(";")[0].strip().lower() == "application/json"


def _not_json() -> ApiError:
    return ApiError(415, "unsupported_media_type", "Send the body as application/json (Content-Type header).",
                    "请以 application/json 格式发送请求体（Content-Type 请求头）。")


async def _parse_body(request: Request, model: type[BaseModel]) -> BaseModel:
    """The body as ``model``, sent as application/json only: a form or text/plain post, which another site's page
    may send without asking, is refused 415 before it is read. A request with no body at all (nothing to
    misread; several bodies are all optional) still stands for ``{}``."""
    content_type = header(request, b"content-type")
    if content_type is not None and not _is_json(content_type):
        raise _not_json()
    raw = await _read_body(request)
    if content_type is None and raw:
        raise _not_json()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        fields = [{"field": ".".join(str(p) for p in e["loc"]) or "body", "problem": problem_en(e),
                   "problem_zh": problem_zh(e)} for e in exc.errors()]
        en = "; ".join(f"{f['field']} ({f['problem']})" for f in fields[:5])
        zh = "；".join(f"{f['field']}（{f['problem_zh']}）" for f in fields[:5])
        raise ApiError(422, "invalid_request", f"Please correct these fields: {en}.", f"请修正以下字段：{zh}。",
                       fields=fields) from None


def _check_query(request: Request, ep: Endpoint) -> None:
    """Refuse query parameters the endpoint does not read: a typo such as ?limt=5 must not pass for a default."""
    if not request.scope["query_string"]:  # nearly every request: nothing to check
        return
    known = {p.name for p in ep.params if p.where == "query"}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        names = ", ".join(name[:40] for name in unknown[:5])
        expected = ", ".join(sorted(known)) or "none"
        raise ApiError(422, "invalid_request", f"Unknown query parameter: {names}. This address reads: {expected}.",
                       f"不认识的查询参数：{names}。此地址可用的参数：{expected}。",
                       fields=[{"field": name, "problem": "unknown query parameter"} for name in unknown])


def query_time(raw: str | None, name: str, zone: tzinfo) -> datetime | None:
    """A time query parameter (``since``, ``until``) as aware UTC; a time without an offset is the hall's own
    clock time, as its managers read it. Sent empty, it is refused like any other time that is not one."""
    if raw is None:
        return None
    if "T" in raw:
        raw = raw.replace(" ", "+")  # an offset's "+" left unencoded in the query string arrives as a space
    try:
        value = datetime.fromisoformat(raw)
        return (value if value.tzinfo is not None else value.replace(tzinfo=zone)).astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 moved across an offset
        raise ApiError(422, "invalid_request", f"{name} must be a time like 2026-11-23T09:00:00+08:00.",
                       f"{name} 须为时间，例如 2026-11-23T09:00:00+08:00。",
                       fields=[{"field": name, "problem": "not a time"}]) from None


def query_limit(raw: str | None, maximum: int, default: int = 100) -> int:
    """A ``limit`` query parameter: 1 to ``maximum``, ``default`` when absent."""
    if raw is None:
        return default
    # ASCII digits only: str.isdigit() also passes "²", which int() refuses, and a 5,000-digit number int() refuses.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(maximum)) and 1 <= int(raw) <= maximum):
        raise ApiError(422, "invalid_request", f"limit must be a number from 1 to {maximum}.",
                       f"limit 须为 1 到 {maximum} 之间的数字。")
    return int(raw)


SESSION_COOKIE = "hallq_session"
CSRF_COOKIE = "hallq_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cookie(request: HTTPConnection, name: str) -> str | None:
    """One cookie's value, read from the header as it came (Starlette's ``request.cookies`` would build the whole
    Headers mapping and every cookie first: most of what checking a session costs)."""
    raw = header(request, b"cookie")
    if not raw or name not in raw:
        return None
    for part in raw.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip('"') or None
    return None


def _principal(request: HTTPConnection, runtime: Runtime) -> Principal:
    """Who asks: a bearer token (or a socket's ?token=), else the session cookie, whose writes must also carry the
    session's CSRF token (and whose sockets must come from this server's own pages). Revoked credentials are
    refused: each worker holds the revoked ids, refreshed twice a second (``floor.accounts.revocations``)."""
    secret = runtime.settings.secret
    token = request.query_params.get("token") if request.scope["type"] == "websocket" else None
    authorization = header(request, b"authorization")
    session = None if token or authorization else cookie(request, SESSION_COOKIE)
    principal = read_token(secret, session) if session else read_token(secret, token or bearer(authorization))
    if principal.token_id in runtime.revoked:
        raise AuthError(401, "revoked", "This sign-in has ended (signed out, unpaired or withdrawn); sign in again.",
                        "登录已失效（已退出、已解除配对或已被收回），请重新登录。")
    if session is None:
        return principal
    if request.scope["type"] == "websocket":
        _same_origin(request)
    elif request.scope["method"] not in SAFE_METHODS and header(request, b"x-csrf-token") != csrf_token(
            secret, principal.token_id):
        raise AuthError(403, "csrf", "This request did not come from a hallq page (no CSRF token); reload the page.",
                        "请求缺少页面校验码（CSRF），请刷新页面后重试。")
    return principal


def _same_origin(request: HTTPConnection) -> None:
    """A socket opened with the session cookie comes from a page of this server: another site's page would send
    the cookie too (browsers do on sockets), but not this server's Origin."""
    origin, host = header(request, b"origin"), header(request, b"host")
    if not origin or not host or origin.split("://", 1)[-1] != host:
        raise AuthError(403, "cross_origin", "A live feed signed in by cookie opens only from this server's pages.",
                        "凭登录状态打开的实时连接只能来自本系统的页面。")


def actor(p: Principal) -> str:
    """How the audit trail names who acted: role, window for staff, the member of staff if the token names one,
    and the token's id: ``staff:5/S05@<token id>``, ``staff:5@<token id>``, ``manager:/alice@<token id>`` (a
    signed-in account), ``manager@<token id>`` (``floor.audit.store.parse_actor`` reads them back)."""
    if not p.window:
        return f"{p.role}:/{p.staff}@{p.token_id}" if p.staff else f"{p.role}@{p.token_id}"
    return f"{p.role}:{p.window}/{p.staff}@{p.token_id}" if p.staff else f"{p.role}:{p.window}@{p.token_id}"


def authenticate(request: HTTPConnection, runtime: Runtime, hall: str, roles: tuple[str, ...],
                 window: str | None = None, *, password_change: bool = False) -> Principal:
    """The principal, if it may do this. A session under a reset password may only change it (``password_change``:
    the endpoint is one of /session's)."""
    principal = _principal(request, runtime)
    authorize(principal, hall, roles, window, runtime.regions_of(hall) if principal.region else ())
    if principal.kind == "reset" and not password_change:
        raise AuthError(403, "must_change_password", "Choose a new password first (your admin reset it).",
                        "密码已被重置，请先设置新密码。")
    if principal.kind in ("key", "device"):
        runtime.seen[principal.token_id] = time.time()  # "last used", written to the record once a minute
    return principal


def region_of(runtime: Runtime, region_id: str) -> Region:
    region = runtime.network.region(region_id) if runtime.network is not None else None
    if region is None:
        raise ApiError(404, "unknown_region", f"There is no region {region_id!r} on this server.",
                       f"本服务器上没有地区 {region_id!r}。")
    return region


def authenticate_region(request: HTTPConnection, runtime: Runtime, region: str, roles: tuple[str, ...]) -> Principal:
    """The principal, if it answers for this region (or one above it) in one of the roles. A hall's own managers
    see their hall, not a region: a region view is for accounts scoped to a region."""
    principal = _principal(request, runtime)
    above = [r.id for r in runtime.network.path(region)] if runtime.network is not None else []
    if principal.region is None:
        raise AuthError(403, "not_regional", "This needs a sign-in that answers for a region (a county or town "
                        "manager); yours is for one hall.",
                        "此功能需要地区管理账号（县、镇管理员），当前登录只属于一个大厅。")
    if principal.region not in above:
        raise AuthError(403, "wrong_region", f"This sign-in answers for region {principal.region!r}, not {region!r}.",
                        f"该登录的管辖地区为 {principal.region!r}，不能查看 {region!r}。")
    allowed = (*roles, "admin") if "manager" in roles else roles
    if principal.role not in allowed:
        raise AuthError(403, "wrong_role", f"A {principal.role} cannot do this; it needs one of: {', '.join(allowed)}.",
                        f"{principal.role} 角色无权执行此操作，需要：{'、'.join(allowed)}。")
    if principal.kind == "reset":
        raise AuthError(403, "must_change_password", "Choose a new password first (your admin reset it).",
                        "密码已被重置，请先设置新密码。")
    return principal


def outage_response(request: HTTPConnection, exc: BaseException) -> Response:
    """A store that did not answer: 503 with Retry-After, in the reader's language. The live hall (Redis) and the
    record (SQL) are told apart, so a manager knows that issuing and calling still work while the record is down."""
    zh = language(request) == "zh"
    retry = {"Retry-After": RETRY_AFTER_S}
    if isinstance(exc, SQL_DOWN):
        cause = str(getattr(exc, "orig", None) or exc).splitlines() or [type(exc).__name__]
        log.warning("SQL record unavailable for %s: %s", request.url.path, cause[0])
        return error_response(503, "record_unavailable", "记录库暂时无法访问，请稍后重试。" if zh else
                              "The hall's record cannot be reached just now; try again in a few seconds.",
                              headers=retry)
    log.warning("redis unavailable for %s: %s", request.url.path, exc)
    return error_response(503, "unavailable", "服务暂时不可用，请稍后重试。" if zh else
                          "The queue service is briefly unavailable; try again in a few seconds.", headers=retry)


# What the app answers 503 wherever it surfaces (a page, a socket, a health check), beside the endpoints.
# A cluster node not serving a hall's slot now (a failover, slots moving) answers like a Redis that is down.
OUTAGES = (RedisConnectionError, RedisTimeoutError, *MOVED_ERRORS, *SQL_DOWN)


def is_outage(exc: BaseException) -> bool:
    return isinstance(exc, OUTAGES)


async def _region_call(ep: Endpoint, request: Request, runtime: Runtime, lang: str) -> Any:
    region = region_of(runtime, request.path_params["region"])
    principal = authenticate_region(request, runtime, region.id, ep.roles)
    _check_query(request, ep)
    body = await _parse_body(request, ep.body) if ep.body else None
    halls = [runtime.halls[h] for h in runtime.halls_below(region.id)]
    acting = ACTOR.set(actor(principal))
    try:
        return await ep.handler(RegionCtx(request, runtime, region, halls, principal, lang), body)  # type: ignore[arg-type]
    finally:
        ACTOR.reset(acting)


async def _hall_call(ep: Endpoint, request: Request, runtime: Runtime, hall: HallRuntime, lang: str) -> Any:
    principal = None
    if ep.roles:
        window = request.path_params.get("w") if ep.window_param else None
        principal = authenticate(request, runtime, hall.config.id, ep.roles, window,
                                 password_change=ep.path.startswith("/session"))
    _check_query(request, ep)
    body = await _parse_body(request, ep.body) if ep.body else None
    acting = ACTOR.set(actor(principal)) if principal else None
    try:
        return await ep.handler(Ctx(request, runtime, hall, principal, lang), body)  # type: ignore[arg-type]
    finally:
        if acting is not None:
            ACTOR.reset(acting)


def as_route(ep: Endpoint) -> Route:
    async def handle(request: Request) -> Response:
        lang = language(request)
        runtime: Runtime = request.app.state.runtime
        hall: HallRuntime | None = None
        try:
            if ep.scope == "region":
                result = await _region_call(ep, request, runtime, lang)
            else:
                hall = hall_of(runtime, request.path_params["hall"])
                result = await _hall_call(ep, request, runtime, hall, lang)
        except DomainError as exc:
            names = hall.service_names(lang) if hall else None
            # hall_not_ready: the hall is being rebuilt after Redis lost it; a moment later it answers.
            retry = {"Retry-After": RETRY_AFTER_S} if exc.status == 503 else None
            # A refusal's public details (no_show_too_early: recalls_left, wait_s) let a page say what is left.
            public = {name: exc.details[name] for name in exc.public if name in exc.details}
            return error_response(exc.status, exc.code, exc.message(lang, names), headers=retry, **public)
        except (ApiError, AuthError) as exc:
            extra = getattr(exc, "extra", {})
            return error_response(exc.status, exc.code, exc.message_zh if lang == "zh" else exc.message, **extra)
        except ClientDisconnect:  # gone before its body ended: nobody reads this answer, and nothing was done
            return error_response(400, "body_cut_off", "请求体未发送完整，请重新发送。" if lang == "zh" else
                                  "The request body ended early; send the request again.")
        except (*REDIS_DOWN, *SQL_DOWN) as exc:
            return outage_response(request, exc)
        if isinstance(result, Response):
            return result
        if isinstance(result, BaseModel):  # serialized in one pass by pydantic-core, no dict in between
            return Response(result.model_dump_json(), status_code=ep.status, media_type="application/json")
        return JSONResponse(result, status_code=ep.status)

    return Route(ep.full_path, handle, methods=[ep.method], name=f"{ep.method} {ep.path}")
