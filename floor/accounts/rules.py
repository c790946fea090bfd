"""The rules of accounts and sign-in, pure: who may have an account, what a password must be, when sign-in locks.

- Roles of people: guide, staff, manager, admin (devices are paired, not given accounts: display, kiosk, pad).
- A username is 3-32 letters, digits, ".", "_" or "-", kept lower case; the display name is what screens show.
- A password is 10-128 characters, not the username, not one character repeated: long beats clever, and halls
  write theirs on paper less when the rule is one sentence.
- Lock-out: 5 failed sign-ins of one account within 15 minutes lock that account for the rest of the 15 minutes;
  30 from one address lock the address. A correct password while locked is refused too, saying how long is left.
- A session lasts a working day (12 hours) from sign-in; signing out, a password change or reset, or the account
  being disabled ends every session of it at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from floor.http.auth import REGION_ROLES

PERSON_ROLES = ("guide", "staff", "manager", "admin")
USERNAME = re.compile(r"^[a-z0-9._-]{3,32}$")
PASSWORD_MIN, PASSWORD_MAX = 10, 128
SESSION_S = 12 * 3600
LOCK_WINDOW_S = 15 * 60
ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 30


class AccountRuleError(ValueError):
    """A value an account cannot take, with the sentence to show in each language."""

    def __init__(self, field: str, en: str, zh: str) -> None:
        super().__init__(en)
        self.field, self.en, self.zh = field, en, zh


def username_of(raw: str) -> str:
    name = raw.strip().lower()
    if not USERNAME.fullmatch(name):
        raise AccountRuleError("username", "A username is 3 to 32 letters, digits, '.', '_' or '-'.",
                               "用户名须为 3 到 32 位字母、数字或 . _ -。")
    return name


def check_password(password: str, username: str) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise AccountRuleError("password", f"A password is {PASSWORD_MIN} to {PASSWORD_MAX} characters long.",
                               f"密码长度须为 {PASSWORD_MIN} 到 {PASSWORD_MAX} 位。")
    if password.lower() == username.lower() or len(set(password)) == 1:
        raise AccountRuleError("password", "Choose a password that is not your username or one repeated character.",
                               "密码不能与用户名相同，也不能是同一个字符重复。")


def check_role(role: str) -> str:
    if role not in PERSON_ROLES:
        raise AccountRuleError("role", f"The role is one of: {', '.join(PERSON_ROLES)}.",
                               "角色须为：导办员 guide、窗口人员 staff、管理员 manager、系统管理员 admin。")
    return role


def check_region_role(role: str) -> str:
    """A region account answers for the halls below it: a manager or an admin, never a guide or staff, who work at
    one hall's door or window."""
    if role not in REGION_ROLES:
        raise AccountRuleError("role", "An account scoped to a region is a manager or an admin.",
                               "地区账号只能是管理员 manager 或系统管理员 admin。")
    return role


@dataclass(frozen=True, slots=True)
class Lock:
    """A lock-out in force: on the account or on the address, for ``seconds_left``."""

    on: str  # "account" | "address"
    seconds_left: int

    def sentence(self) -> tuple[str, str]:
        minutes = max(1, -(-self.seconds_left // 60))
        if self.on == "account":
            return (f"Too many wrong passwords: this account is locked for {minutes} more minute(s).",
                    f"密码错误次数过多，该账号已锁定，请 {minutes} 分钟后再试，或请系统管理员重置密码。")
        return (f"Too many failed sign-ins from this device: try again in {minutes} minute(s).",
                f"此设备登录失败次数过多，请 {minutes} 分钟后再试。")


def lock_of(account_failures: int, account_ttl_s: int, address_failures: int, address_ttl_s: int) -> Lock | None:
    """The lock in force given the failures counted in the window (and the seconds each count has left)."""
    if account_failures >= ACCOUNT_FAILURES:
        return Lock("account", max(1, account_ttl_s))
    if address_failures >= ADDRESS_FAILURES:
        return Lock("address", max(1, address_ttl_s))
    return None
