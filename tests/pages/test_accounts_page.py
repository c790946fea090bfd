"""账号与密钥, the hall administrator's page, in Chromium against a real server: an account added without a password
shows its one-time password once, and the person signs in with it at the window console and chooses their own; skills
changed on the page are in the list and in the API; a disabled account's open session is refused within a second; a
reset password is shown once and ends the person's sessions; a key made on the page is shown once, works, and once
withdrawn is refused within a second; a refusal shows the server's own sentence; and only an admin gets in.

Accounts live in the server's SQL record, which every hall of the module's server shares: usernames carry the hall's
id. argon2 takes up to a second a hash on a loaded machine, so whatever hashes (adding an account, a reset, signing
in, a new password) is given time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from contextlib import closing
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.pages.conftest import Hall, screenshot

pytestmark = pytest.mark.slow  # two minutes and more: argon2 hashes on every add, reset and sign-in

DESK = (1366, 768)
HASHING_MS = 30_000  # argon2 on a loaded two-core machine: a second or so per hash, several in a row
FIRST_PASSWORD = "first-pass-2026"
NEW_PASSWORD = "chosen-by-me-2026"


def username(hall: Hall, stem: str) -> str:
    return f"{stem}.{hall.id}"  # one SQL record for all the server's halls: a username is unique across them


def within(check: Callable[[], Any], what: str, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what} within {seconds} s"
        time.sleep(0.05)
    return found


def open_accounts(hall: Hall, **kwargs: Any) -> Page:
    page = hall.open_page("/halls/{hall}/accounts", role="admin", size=DESK, **kwargs)
    expect(page.locator('body[data-ready="1"]')).to_be_attached(timeout=15_000)
    expect(page.locator(".signin-overlay")).to_have_count(0)
    return page


def accounts(hall: Hall) -> dict[str, dict[str, Any]]:
    return {a["username"]: a for a in hall.call("GET", "/accounts", role="admin")["accounts"]}


def add_by_api(hall: Hall, name: str, *, skills: list[str] | None = None, display_name: str = "王建国",
               role: str = "staff") -> None:
    hall.call("POST", "/accounts", role="admin", expect=201, json={
        "username": name, "display_name": display_name, "role": role, "skills": ["SOC"] if skills is None else skills,
        "password": FIRST_PASSWORD})


def session_of(hall: Hall, name: str, password: str) -> httpx.Client:
    """A person signed in by password, as a page is: the session cookie, no token."""
    client = httpx.Client(base_url=hall.base_url, timeout=30.0, trust_env=False)
    reply = client.post(f"/api/v1/halls/{hall.id}/session", json={"username": name, "password": password})
    assert reply.status_code == 200, reply.text
    return client


def whoami(client: httpx.Client, hall: Hall, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(f"/api/v1/halls/{hall.id}/whoami", headers=headers)


def row(page: Page, name: str) -> Any:
    return page.locator(f'#account-rows tr[data-username="{name}"]')


def confirm(page: Page, title: str) -> None:
    expect(page.locator("#confirm")).to_be_visible()
    expect(page.locator("#confirm-title")).to_contain_text(title)
    page.locator("#confirm-ok").click()


def secret_shown(page: Page, kind: str) -> str:
    dialog = page.locator("#secret-dialog")
    expect(dialog).to_be_visible(timeout=HASHING_MS)
    expect(dialog).to_have_attribute("data-kind", kind)
    expect(page.locator("#secret-warning")).to_contain_text("只显示这一次")
    value: str = page.locator("#secret-value").input_value()
    assert value
    return value


# -- an account made without a password, signed in with its one-time password ---------------------------------------
def test_an_account_added_without_a_password_signs_in_with_its_one_time_password(hall: Hall) -> None:
    page = open_accounts(hall)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hall.base_url)
    name = username(hall, "lin")
    page.locator("#add-account").click()
    expect(page.locator("#account-title")).to_have_text("新增账号")
    page.locator("#a-username").fill(name)
    page.locator("#a-name").fill("林小红")
    page.locator("#a-role").select_option("staff")
    expect(page.locator("#a-role-hint")).to_contain_text("窗口工作台")
    for code in ("SOC", "HUK"):
        page.locator(f'#a-skills input[value="{code}"]').check()
    screenshot(page, "accounts-add")
    page.locator("#a-save").click()

    password = secret_shown(page, "password")
    assert re.fullmatch(r"[A-Za-z0-9_-]{12}", password), password
    expect(page.locator("#secret-who")).to_contain_text(f"林小红（{name}）")
    screenshot(page, "accounts-one-time-password")
    page.locator("#secret-copy").click()
    expect(page.locator("#secret-copy")).to_have_text("已复制 ✓")
    assert page.evaluate("navigator.clipboard.readText()") == password
    page.locator("#secret-done").click()
    expect(page.locator("#secret-dialog")).to_be_hidden()
    assert page.locator("#secret-value").input_value() == "", "the password leaves the page once noted"

    added = row(page, name)
    expect(added.locator("td.name")).to_have_text("林小红")
    expect(added.locator("td.role")).to_have_text("窗口人员")
    expect(added.locator("td.skills .chip")).to_have_text(["社保医保", "户籍办理"])
    expect(added.locator(".must-change")).to_have_text("待设新密码")
    listed = accounts(hall)[name]
    assert (listed["role"], listed["skills"], listed["must_change"], listed["disabled"]) == (
        "staff", ["SOC", "HUK"], True, False)

    # The person, at a window's computer: no token, the username and the one-time password, then their own.
    context = hall.browser.new_context(viewport={"width": DESK[0], "height": DESK[1]}, locale="zh-CN",
                                       timezone_id="Asia/Shanghai")
    console = context.new_page()
    console.on("pageerror", lambda exc: hall.errors.append(f"console: {exc}"))
    console.on("console", lambda msg: hall.errors.append(f"console: console.{msg.type}: {msg.text}")
               if msg.type == "error" else None)
    console.goto(f"{hall.base_url}/halls/{hall.id}/console")
    console.locator("#signin-username").fill(name)
    console.locator("#signin-password").fill(password)
    console.locator("#signin-submit").click()
    expect(console.locator("#password-new")).to_be_visible(timeout=HASHING_MS)
    console.locator("#password-current").fill(password)
    console.locator("#password-new").fill(NEW_PASSWORD)
    console.locator("#password-again").fill(NEW_PASSWORD)
    console.locator("#password-submit").click()
    expect(console.locator(".signin-overlay")).to_have_count(0, timeout=HASHING_MS)
    assert accounts(hall)[name]["must_change"] is False
    page.bring_to_front()  # back on the admin's page, which reads the list again when it is shown
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(row(page, name).locator(".must-change")).to_have_count(0)
    context.close()


def test_a_refusal_shows_the_server_s_own_sentence(hall: Hall) -> None:
    page = open_accounts(hall)
    name = username(hall, "dup")
    add_by_api(hall, name)
    page.locator("#add-account").click()
    page.locator("#a-username").fill("x")
    page.locator("#a-name").fill("赵六")
    page.locator("#a-save").click()
    expect(page.locator("#a-problem")).to_have_text("用户名须为 3 到 32 位字母、数字或 . _ -。")
    page.locator("#a-username").fill(name)
    page.locator("#a-password").fill("short")
    page.locator("#a-save").click()
    expect(page.locator("#a-problem")).to_have_text("密码长度须为 10 到 128 位。")
    page.locator("#a-password").fill("")
    page.locator("#a-save").click()
    expect(page.locator("#a-problem")).to_have_text(f"用户名 '{name}' 已被使用，请换一个。", timeout=HASHING_MS)
    expect(page.locator("#account-dialog")).to_be_visible()
    hall.forgive_refusals(409)  # the refusals provoked here, each shown in the server's words
    hall.forgive_refusals(422)


def test_an_admin_signs_in_with_a_password_and_cannot_disable_their_own_account(hall: Hall) -> None:
    name = username(hall, "admin")
    add_by_api(hall, name, display_name="周主任", role="admin", skills=[])
    context = hall.browser.new_context(viewport={"width": DESK[0], "height": DESK[1]}, locale="zh-CN",
                                       timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.on("pageerror", lambda exc: hall.errors.append(f"accounts: {exc}"))
    page.on("console", lambda msg: hall.errors.append(f"accounts: console.{msg.type}: {msg.text}")
            if msg.type == "error" else None)
    page.goto(f"{hall.base_url}/halls/{hall.id}/accounts")
    expect(page.locator(".signin h1")).to_have_text("账号与密钥登录")
    page.locator("#signin-username").fill(name)
    page.locator("#signin-password").fill(FIRST_PASSWORD)
    page.locator("#signin-submit").click()
    expect(page.locator('body[data-ready="1"]')).to_be_attached(timeout=HASHING_MS)
    expect(page.locator("#who")).to_have_text("系统管理员 · 周主任")
    me = row(page, name)
    expect(me.locator("td.username .badge")).to_have_text("本人")

    me.locator("button.disable").click()  # a write signed in by the session cookie: it carries the CSRF token
    confirm(page, "停用")
    expect(page.locator("#confirm-problem")).to_have_text("不能停用自己的账号。")
    hall.forgive_refusals(409)
    page.locator("#confirm-back").click()
    expect(me).to_have_attribute("data-disabled", "0")

    page.locator("#sign-out").click()
    expect(page.locator("#signin-username")).to_be_visible()
    context.close()


# -- skills, disabling ------------------------------------------------------------------------------------------------
def test_skills_changed_on_the_page_and_a_disabled_account_is_signed_out_at_once(hall: Hall) -> None:
    name = username(hall, "wang")
    add_by_api(hall, name, skills=["SOC", "HUK"])
    person = session_of(hall, name, FIRST_PASSWORD)
    assert whoami(person, hall).json()["username"] == name
    page = open_accounts(hall)

    row(page, name).locator("button.edit").click()
    expect(page.locator("#account-title")).to_have_text(f"修改账号：王建国（{name}）")
    expect(page.locator("#a-username")).to_have_value(name)
    expect(page.locator("#a-password-field")).to_be_hidden()
    expect(page.locator('#a-skills input[value="SOC"]')).to_be_checked()
    expect(page.locator('#a-skills input[value="TAX"]')).not_to_be_checked()
    page.locator('#a-skills input[value="SOC"]').uncheck()
    page.locator('#a-skills input[value="TAX"]').check()
    page.locator("#a-name").fill("王建国二")
    page.locator("#a-save").click()
    expect(page.locator("#account-dialog")).to_be_hidden()
    changed = row(page, name)
    expect(changed.locator("td.skills .chip")).to_have_text(["户籍办理", "税务办理"])
    expect(changed.locator("td.name")).to_have_text("王建国二")
    listed = accounts(hall)[name]
    assert (listed["skills"], listed["display_name"]) == (["HUK", "TAX"], "王建国二")
    assert whoami(person, hall).status_code == 200, "a new name or skills do not sign the person out"

    changed.locator("button.disable").click()
    confirm(page, "停用")
    expect(changed).to_have_attribute("data-disabled", "1")
    expect(changed.locator("td.status")).to_contain_text("已停用")
    reply = within(lambda: (r := whoami(person, hall)).status_code in (401, 403) and r, "the session refused", 1.0)
    assert reply.json()["error"]["code"] == "revoked"
    assert accounts(hall)[name]["disabled"] is True
    refused = httpx.post(f"{hall.base_url}/api/v1/halls/{hall.id}/session", timeout=30.0, trust_env=False,
                         json={"username": name, "password": FIRST_PASSWORD})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "account_disabled")
    screenshot(page, "accounts-disabled")

    changed.locator("button.enable").click()
    expect(changed).to_have_attribute("data-disabled", "0")
    with closing(session_of(hall, name, FIRST_PASSWORD)) as back:
        assert whoami(back, hall).status_code == 200
    person.close()


# -- a password reset -------------------------------------------------------------------------------------------------
def test_a_reset_password_is_shown_once_and_ends_the_person_s_sessions(hall: Hall) -> None:
    name = username(hall, "zhao")
    add_by_api(hall, name)
    person = session_of(hall, name, FIRST_PASSWORD)
    page = open_accounts(hall)
    row(page, name).locator("button.reset").click()
    confirm(page, "重置")
    password = secret_shown(page, "password")
    assert password != FIRST_PASSWORD
    expect(page.locator("#secret-title")).to_have_text("密码已重置：一次性密码")
    page.keyboard.press("Escape")  # shown once: only "noted" closes it
    expect(page.locator("#secret-dialog")).to_be_visible()
    page.locator("#secret-done").click()
    expect(row(page, name).locator(".must-change")).to_be_visible()
    assert within(lambda: whoami(person, hall).status_code == 401, "the old session refused", 1.0)
    old = httpx.post(f"{hall.base_url}/api/v1/halls/{hall.id}/session", timeout=30.0, trust_env=False,
                     json={"username": name, "password": FIRST_PASSWORD})
    assert old.status_code == 401
    again = session_of(hall, name, password)
    assert whoami(again, hall).json()["error"]["code"] == "must_change_password"
    again.close()
    person.close()


# -- keys -------------------------------------------------------------------------------------------------------------
def test_a_key_made_on_the_page_is_shown_once_with_a_copy_button(hall: Hall) -> None:
    page = open_accounts(hall)
    page.locator("#key-name").fill("工商银行自助机")
    page.locator("#key-role").select_option("kiosk")
    page.locator("#key-submit").click()
    expect(page.locator("#secret-dialog[open], #key-problem:not(:empty)")).to_be_visible(timeout=15_000)
    expect(page.locator("#key-problem")).to_be_empty(timeout=1)
    token = secret_shown(page, "token")
    assert token.startswith("hq1.")
    expect(page.locator("#secret-who")).to_contain_text("「工商银行自助机」的密钥，角色：自助取号机")
    expect(page.locator("#secret-copy")).to_be_visible()
    screenshot(page, "accounts-key")
    page.locator("#secret-done").click()
    with httpx.Client(base_url=hall.base_url, timeout=20.0, trust_env=False) as client:
        assert whoami(client, hall, token).json()["role"] == "kiosk"


def make_key(hall: Hall, name: str, role: str) -> tuple[str, str]:
    """A key made by the API: (its id, its token)."""
    made = hall.call("POST", "/keys", role="admin", json={"name": name, "role": role}, expect=201)
    return made["id"], made["token"]


def test_keys_are_listed_and_a_withdrawn_key_is_refused_within_a_second(hall: Hall) -> None:
    key_id, token = make_key(hall, "工商银行自助机", "kiosk")
    make_key(hall, "省政务服务平台", "manager")
    add_by_api(hall, username(hall, "chen"), display_name="陈静", skills=["SOC", "HUK", "TAX"])
    add_by_api(hall, username(hall, "liu"), display_name="刘洋", role="guide", skills=[])
    with httpx.Client(base_url=hall.base_url, timeout=20.0, trust_env=False) as client:
        assert whoami(client, hall, token).json()["role"] == "kiosk"
        page = open_accounts(hall)
        key = page.locator(f'#key-rows tr[data-key="{key_id}"]')
        expect(key.locator("td.name")).to_contain_text("工商银行自助机")
        expect(key.locator("td.kind")).to_have_text("接口密钥")
        expect(key.locator("td.role")).to_have_text("自助取号机")
        expect(key.locator("td.status")).to_have_text("有效")
        expect(key.locator("td.seen")).to_have_text("尚未使用")
        expect(key.locator("td.when").first).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$"))
        expect(page.locator("#key-rows tr")).to_have_count(2)
        expect(page.locator("#keys-count")).to_have_text("有效 2 个")
        screenshot(page, "accounts")

        key.locator("button.revoke").click()
        confirm(page, "收回密钥「工商银行自助机」")
        expect(key).to_have_attribute("data-revoked", "1")
        expect(key.locator("td.status")).to_contain_text("已收回")
        expect(key.locator("button.revoke")).to_have_count(0)
        reply = within(lambda: (r := whoami(client, hall, token)).status_code == 401 and r, "the key refused", 1.0)
        assert reply.json()["error"]["code"] == "revoked"
    expect(page.locator("#key-rows tr").last).to_have_attribute("data-key", key_id)  # withdrawn ones go last
    expect(page.locator("#keys-count")).to_have_text("有效 1 个，已收回 1 个")
    (listed,) = [k for k in hall.call("GET", "/keys", role="admin")["keys"] if k["id"] == key_id]
    assert listed["revoked_at"] is not None

    page.locator("#key-role").select_option("manager")
    page.locator("#key-submit").click()
    expect(page.locator("#key-problem")).to_have_text("请填写名称：这把密钥给谁用。")


# -- who gets in ------------------------------------------------------------------------------------------------------
def test_only_an_admin_gets_in_and_the_nav_shows_the_page_to_admins(hall: Hall) -> None:
    page = hall.open_page("/halls/{hall}/accounts", role="manager", size=DESK)
    expect(page.locator(".signin-problem")).to_have_text(
        "账号与密钥只供系统管理员（admin）使用；这是管理员（manager）的令牌，请用系统管理员账号登录。")
    expect(page.locator("#account-rows tr")).to_have_count(0)
    assert hall.call("GET", "/accounts", role="manager", expect=403)["error"]["code"] == "wrong_role"
    page.context.close()

    audit = hall.open_page("/halls/{hall}/audit", role="manager", size=DESK)
    expect(audit.locator('body[data-ready="1"]')).to_be_attached(timeout=15_000)
    expect(audit.locator('#manager-nav a[data-page="accounts"]')).to_have_count(0)
    audit.context.close()
    audit = hall.open_page("/halls/{hall}/audit", role="admin", size=DESK)
    link = audit.locator('#manager-nav a[data-page="accounts"]')
    expect(link).to_have_text("账号与密钥")
    link.click()  # the admin's token goes along
    expect(audit.locator('body[data-ready="1"]')).to_be_attached(timeout=15_000)
    expect(audit.locator('#manager-nav a[aria-current="page"]')).to_have_text("账号与密钥")
    expect(audit.locator(".signin-overlay")).to_have_count(0)
    audit.locator("#lang").click()
    expect(audit.locator('#manager-nav a[data-page="accounts"]')).to_have_text("Accounts and keys")
    expect(audit.locator("#add-account")).to_have_text("+ Add an account")
