"""Bearer tokens: signed, bound to one hall, one role and (for staff) one window, and optionally naming the member
of staff who signs in with it (``hallq token --staff S05``), so the record knows who served.

A token is ``hq1.<payload>.<signature>``: the payload is base64url JSON, the signature an
HMAC-SHA256 over it with the server's secret. Nothing is stored; a leaked secret is rotated by
changing HALLQ_SECRET, which invalidates every token at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache

import orjson

ROLES = ("guide", "kiosk", "staff", "manager", "admin", "display", "pad")
ALL_ROLES = ("guide", "kiosk", "staff", "manager", "display", "pad")  # every role that works in a hall (not admin)
REGION_ROLES = ("manager", "admin")  # who may be scoped to a region: those who answer for its halls
WINDOW_ROLES = ("staff", "pad")  # bound to one window: its staff, and the rating pad (评价器) beside it
_PREFIX = "hq1"


class AuthError(Exception):
    def __init__(self, status: int, code: str, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.message_zh = status, code, message, message_zh


@dataclass(frozen=True, slots=True)
class Principal:
    hall: str
    role: str
    window: str | None
    token_id: str  # a kiosk's device id for rate limits; who acted, in the audit log; what a revocation names
    staff: str | None = None  # who acts: the member of staff a token names, or the signed-in account
    kind: str | None = None  # session | device | key for credentials the server issued; None: `hallq token`
    region: str | None = None  # a region manager or admin: may act in every hall of this region and below it


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())


def make_token(secret: bytes, hall: str, role: str, window: str | None = None, ttl_s: int | None = None,
               staff: str | None = None, region: str | None = None) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if region is not None and role not in REGION_ROLES:
        raise ValueError(f"only {' and '.join(REGION_ROLES)} tokens may be scoped to a region (--region)")
    if (role in WINDOW_ROLES) != (window is not None):
        raise ValueError("a staff or pad token needs --window, and only those take one")
    if staff is not None and role != "staff":
        raise ValueError("only a staff token names a member of staff (--staff)")
    claims: dict[str, object] = {"h": hall, "r": role, "j": secrets.token_hex(6), "iat": int(time.time())}
    if window is not None:
        claims["w"] = window
    if staff is not None:
        claims["s"] = staff
    if region is not None:
        claims["g"] = region
    if ttl_s is not None:
        claims["exp"] = int(time.time()) + ttl_s
    payload = _b64(orjson.dumps(claims))
    return f"{_PREFIX}.{payload}.{_sign(secret, payload)}"


def issue(secret: bytes, *, hall: str, role: str, jid: str, kind: str, window: str | None = None,
          staff: str | None = None, expires_at: float | None = None, region: str | None = None) -> str:
    """A credential the server issues and can revoke (its id ``jid`` is recorded): a session cookie, a paired
    device's or an integration key. Same form as `hallq token`'s, so every check reads both alike."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    claims: dict[str, object] = {"h": hall, "r": role, "j": jid, "k": kind, "iat": int(time.time())}
    if window is not None:
        claims["w"] = window
    if staff is not None:
        claims["s"] = staff
    if region is not None:
        claims["g"] = region
    if expires_at is not None:
        claims["exp"] = int(expires_at)
    payload = _b64(orjson.dumps(claims))
    return f"{_PREFIX}.{payload}.{_sign(secret, payload)}"


@lru_cache(maxsize=16384)
def csrf_token(secret: bytes, jid: str) -> str:
    """The value a page sends in X-CSRF-Token with each write its session cookie authorises: derived from the
    session, so another site, which cannot read it, cannot forge a write with the cookie the browser sends. Cached:
    a session writes all day with the same one."""
    return _b64(hmac.new(secret, f"csrf:{jid}".encode(), hashlib.sha256).digest())[:32]


def read_token(secret: bytes, token: str) -> Principal:
    principal, expires = _verified(secret, token)
    if expires is not None and expires < time.time():
        raise AuthError(401, "token_expired", "The token has expired; ask for a new one.", "令牌已过期，请重新获取。")
    return principal


@lru_cache(maxsize=16384)
def _verified(secret: bytes, token: str) -> tuple[Principal, float | None]:
    """A token's principal and expiry, once its signature checks out. Cached: a hall's screens and windows send
    the same few tokens all day, and only tokens that verified are kept (a refusal raises, which is not cached)."""
    parts = token.split(".")
    # Tokens are ASCII; compare_digest raises on anything else, which would answer 500.
    if len(parts) != 3 or parts[0] != _PREFIX or not token.isascii():
        raise AuthError(401, "bad_token", "The token is not a hallq token; ask for a new one with `hallq token`.",
                        "令牌格式不正确，请用 hallq token 重新生成。")
    if not hmac.compare_digest(_sign(secret, parts[1]), parts[2]):
        raise AuthError(401, "bad_token", "The token's signature does not match this server; ask for a new token.",
                        "令牌签名无效，请重新获取令牌。")
    claims = orjson.loads(_unb64(parts[1]))
    return (Principal(claims["h"], claims["r"], claims.get("w"), claims["j"], claims.get("s"), claims.get("k"),
                      claims.get("g")), claims.get("exp"))


def bearer(authorization: str | None) -> str:
    if not authorization:
        raise AuthError(401, "no_token", "Send your token as 'Authorization: Bearer <token>'.",
                        "请在请求头中携带令牌：Authorization: Bearer <令牌>。")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "no_token", "Send your token as 'Authorization: Bearer <token>'.",
                        "请在请求头中携带令牌：Authorization: Bearer <令牌>。")
    return token.strip()


def authorize(p: Principal, hall: str, roles: tuple[str, ...], window: str | None = None,
              hall_regions: tuple[str, ...] = ()) -> None:
    """Refuse unless the principal is of this hall (or scoped to a region it lies in: ``hall_regions``, the hall's
    region and those above it), has one of the roles, and (staff) is at this window."""
    if p.hall != hall and not (p.region is not None and p.region in hall_regions):
        if p.region is not None:
            raise AuthError(403, "wrong_region", f"This sign-in answers for region {p.region!r}; hall {hall!r} "
                            "is not in it.", f"该登录的管辖地区为 {p.region!r}，大厅 {hall!r} 不在其中。")
        raise AuthError(403, "wrong_hall", f"This token belongs to hall {p.hall!r}, not {hall!r}.",
                        f"该令牌属于大厅 {p.hall!r}，不能访问 {hall!r}。")
    allowed = (*roles, "admin") if "manager" in roles else roles
    if p.role not in allowed:
        raise AuthError(403, "wrong_role", f"A {p.role} token cannot do this; it needs one of: {', '.join(allowed)}.",
                        f"{p.role} 角色无权执行此操作，需要：{'、'.join(allowed)}。")
    if p.role in WINDOW_ROLES and window is not None and p.window != window:
        raise AuthError(403, "wrong_window", f"This token is for window {p.window}, not window {window}.",
                        f"该令牌属于{p.window}号窗口，不能操作{window}号窗口。")


# -- the citizen's key to one ticket --------------------------------------------------------------------
TICKET_KEY_LENGTH = 22  # base64url characters: 132 bits, more than anyone can guess in a rating period


def ticket_key(secret: bytes, hall: str, ticket_id: str) -> str:
    """The secret only the citizen holding a ticket has: printed in its QR code and sent in its phone link, never
    shown on a screen or a feed. It proves the holder when they rate the service; the ticket id alone, which
    windows and managers see, does not. Derived from the server's secret, so nothing is stored and a ticket the
    live day has let go still has its key."""
    mac = hmac.new(secret, f"ticket:{hall}:{ticket_id}".encode(), hashlib.sha256).digest()
    return _b64(mac)[:TICKET_KEY_LENGTH]


def check_ticket_key(secret: bytes, hall: str, ticket_id: str, key: str | None) -> None:
    """Refuse unless ``key`` is the ticket's own key."""
    if not key:
        raise AuthError(401, "no_ticket_key", "Rating needs the key from the ticket's QR code or phone link.",
                        "评价需要号票二维码或短信链接中的密钥，请扫描号票上的二维码。")
    if not (key.isascii() and hmac.compare_digest(key, ticket_key(secret, hall, ticket_id))):
        raise AuthError(403, "bad_ticket_key", "This key does not belong to this ticket; scan the ticket's QR code.",
                        "密钥与号票不符，请扫描号票上的二维码。")
