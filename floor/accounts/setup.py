"""Accounts made outside the pages: the first admin of a new server (``hallq account create``), a password reset
from the server's shell, and the demo's people, made on the demo's first start."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from floor.accounts import passwords, rules, store
from queue_engine.config import HallConfig

DEMO_PASSWORD = "hallq-demo-2026"  # the demo's only: printed in its banner, never a real hall's


@dataclass(frozen=True, slots=True)
class Made:
    hall: str
    username: str
    display_name: str
    role: str
    password: str
    region: str | None = None  # a region account: it answers for every hall below (``hall`` is then the region)


def create(sql: Engine, hall: HallConfig, username: str, display_name: str, role: str, password: str,
           skills: tuple[str, ...] = (), must_change: bool = False, hashed: str | None = None) -> Made:
    """Add an account to ``hall``; ValueError (a sentence) if any value is wrong or the username is taken.
    ``hashed``: the password's hash, when the caller made it already (the demo's accounts share one)."""
    try:
        name = rules.username_of(username)
        rules.check_role(role)
        rules.check_password(password, name)
    except rules.AccountRuleError as exc:
        raise ValueError(exc.en) from None
    account = store.Account(name, display_name.strip() or name, role, (hall.id,), skills, must_change, False,
                            hashed or passwords.hash_password(password))
    if not store.create(sql, account, datetime.now(UTC)):
        existing = store.find(sql, name)
        if existing is None or hall.id in existing.halls:
            raise ValueError(f"the username {name!r} is taken")
        store.change(sql, name, datetime.now(UTC), halls=(*existing.halls, hall.id))  # one person, several halls
    return Made(hall.id, name, account.display_name, role, password)


def create_for_region(sql: Engine, region: str, username: str, display_name: str, role: str, password: str,
                      must_change: bool = False, hashed: str | None = None) -> Made:
    """Add a manager or admin who answers for every hall of ``region`` and below it; ValueError (a sentence) if any
    value is wrong or the username is taken."""
    try:
        name = rules.username_of(username)
        rules.check_region_role(role)
        rules.check_password(password, name)
    except rules.AccountRuleError as exc:
        raise ValueError(exc.en) from None
    account = store.Account(name, display_name.strip() or name, role, (), (), must_change, False,
                            hashed or passwords.hash_password(password), region)
    if not store.create(sql, account, datetime.now(UTC)):
        raise ValueError(f"the username {name!r} is taken")
    return Made(region, name, account.display_name, role, password, region)


def reset(sql: Engine, username: str, password: str) -> None:
    name = username.strip().lower()
    if store.find(sql, name) is None:
        raise ValueError(f"there is no account {name!r}")
    try:
        rules.check_password(password, name)
    except rules.AccountRuleError as exc:
        raise ValueError(exc.en) from None
    store.change(sql, name, datetime.now(UTC), password_hash=passwords.hash_password(password), must_change=True,
                 disabled=False)


_DEMO_NAMES = ["赵敏", "钱伟", "孙丽", "李娜", "周强", "吴静", "郑浩", "王磊", "冯雪", "陈晨", "褚燕", "卫东"]


def demo_people(hall: HallConfig, first: bool = True) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(username, display name, role, skills) of a demo hall's people. The first hall (the county centre): an admin,
    a manager and a guide, who also belong to every other hall of the demo, and an account for each member of its
    staff (username: the staff id in lower case). Every other hall: a guide and one member of staff per window of
    its own (``<hall>-guide``, ``<hall>-<window>``)."""
    everything = tuple(s.code for s in hall.services)
    people: list[tuple[str, str, str, tuple[str, ...]]] = [
        ("admin", "系统管理员", "admin", ()), ("manager", "王主任", "manager", ())]
    if first:
        people.append(("guide", "导办员小刘", "guide", ()))
        people += [(m.id.lower(), m.name, "staff", everything) for m in hall.staff]
    else:
        people.append((f"{hall.id}-guide", f"{hall.name[:3]}导办员", "guide", ()))
        people += [(f"{hall.id}-{w.id}".lower(), _DEMO_NAMES[n % len(_DEMO_NAMES)], "staff", everything)
                   for n, w in enumerate(hall.windows)]
    return people


def ensure_demo(sql: Engine, halls: list[HallConfig]) -> list[Made]:
    """The demo's accounts, made on its first start (later starts leave them, and any changes, as they are)."""
    made = []
    hashed: str | None = None  # hashed once, when the first account is made: a hash is ~0.1-1 s of CPU
    for n, hall in enumerate(halls):
        for username, name, role, skills in demo_people(hall, first=n == 0):
            existing = store.find(sql, username)
            if existing is not None and hall.id in existing.halls:
                made.append(Made(hall.id, username, existing.display_name, existing.role, DEMO_PASSWORD))
                continue
            hashed = hashed or passwords.hash_password(DEMO_PASSWORD)
            made.append(create(sql, hall, username, name, role, DEMO_PASSWORD, skills, hashed=hashed))
    for username, name, role, region in demo_region_people(halls):
        existing = store.find(sql, username)
        if existing is not None:
            made.append(Made(region, username, existing.display_name, existing.role, DEMO_PASSWORD, region))
            continue
        hashed = hashed or passwords.hash_password(DEMO_PASSWORD)
        made.append(create_for_region(sql, region, username, name, role, DEMO_PASSWORD, hashed=hashed))
    return made


def demo_region_people(halls: list[HallConfig]) -> list[tuple[str, str, str, str]]:
    """(username, display name, role, region) of the demo's region accounts, when its halls form a county: the
    county's manager and admin (the first hall's region), and the manager of the first town centre's town."""
    if not halls or halls[0].region is None:
        return []
    county = halls[0].region
    people = [("county", "县政务服务局 张局长", "manager", county), ("county-admin", "县局系统管理员", "admin", county)]
    town = next((h for h in halls if h.level == "town_centre" and h.region is not None), None)
    if town is not None and town.region is not None:
        people.append((f"{town.id}-manager", f"{town.name[:3]} 李主任", "manager", town.region))
    return people
