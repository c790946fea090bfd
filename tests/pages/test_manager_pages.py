"""The managers' pages of issue 22 (item 8, "every manager task has a screen"), in Chromium against a real server:
预约管理 (a day's bookings, cancelling one, lifting a booking block made by no-shows), 窗口设置 (a window's skills
changed on the page, then live in the snapshot and honoured by call-next), 消息推送 (a failed webhook delivery, sent
again only with an admin token) and 操作日志 (staff acts in the audit log, filtered and paged); the nav that joins
them to the dashboard, reports and cases; and any other role's token refused with a sentence.

The module's server sends each hall's ratings to a receiver of its own (``/ratings/<hall>``), so a delivery is made,
and fails, as it does in a hall. The block needs time to pass (a booking is a no-show 30 minutes after its slot), so
that test runs on a server of its own whose clock the test sets.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from floor.http.auth import make_token
from tests.floor.notify.test_webhooks import Answer, Receiver
from tests.pages.conftest import Hall, PagesServer, screenshot
from tests.pages.test_dashboard_phone import ZONE, served_ticket
from tests.server.conftest import (
    DEMO_TOML,
    ServerClock,
    delete_prefix_sync,
    make_id_number,
    start_server,
    stop_server,
    write_hall_copy,
)

DESK = (1366, 768)
POOL = 16
MANAGER_PAGES = ("dashboard", "reports", "cases", "bookings", "windows", "setup", "webhooks", "audit")
NEW_PAGES = {"bookings": ("预约管理", "Bookings"), "windows": ("窗口设置", "Windows"),
             "webhooks": ("消息推送", "Webhooks"), "audit": ("操作日志", "Audit log")}
PERSON = make_id_number(date(1986, 4, 12), seq=377, area="320102")
OTHER = make_id_number(date(1990, 7, 1), seq=512, area="110105")
THIRD = make_id_number(date(1975, 2, 3), seq=86, area="440106")
PHONE = "13812345678"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def pages_server(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[PagesServer]:
    """The pages' server of tests/pages/conftest.py, its halls telling ``receiver`` every rating."""
    home = tmp_path_factory.mktemp("manager-pages")
    halls_dir = home / "halls"
    halls_dir.mkdir()
    pool = [f"mgr-{i:02d}" for i in range(POOL)]
    for hall_id in pool:
        path = write_hall_copy(halls_dir, hall_id)
        text = path.read_text(encoding="utf-8")
        assert "[notifications]\nahead = 3\n" in text
        path.write_text(text.replace("[notifications]\nahead = 3\n", "[notifications]\nahead = 3\n"
                                     f'ratings_url = "{receiver.url}/ratings/{hall_id}"\n'), encoding="utf-8")
    prefix = f"hqtest-{uuid.uuid4().hex[:10]}"
    server = start_server(home / "server", prefix, halls=[halls_dir / f"{h}.toml" for h in pool], hall_ids=pool,
                          heartbeat_s=1.0)
    try:
        yield PagesServer(server, iter(pool))
    finally:
        stop_server(server)
        delete_prefix_sync(prefix)


def within(check: Any, what: str, seconds: float = 15.0) -> Any:
    """``check()``'s answer once it is truthy (the record trails the stream by the archiver's lag)."""
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what} within {seconds} s"
        time.sleep(0.1)
    return found


def fits_the_desk(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= DESK[0], "nothing may stick out sideways"


# -- signing in, and the nav ------------------------------------------------------------------------------------
def test_other_roles_are_refused_with_a_sentence_naming_the_page_and_the_role(hall: Hall) -> None:
    for name, (zh, _) in NEW_PAGES.items():
        page = hall.open_page(f"/halls/{{hall}}/{name}", role="staff", window="5", size=DESK)
        expect(page.locator(".signin-problem")).to_have_text(f"{zh}只接受管理员（manager）令牌，这是窗口人员的令牌。")
        expect(page.locator("#signin-token")).to_be_visible()
        page.context.close()
    page = hall.open_page("/halls/{hall}/audit", role="guide", size=DESK, lang="en")
    expect(page.locator(".signin-problem")).to_have_text("Audit log takes a manager token; this one is for the "
                                                         "guide desk.")
    hall.forgive_refusals(403)


def test_every_manager_page_has_the_nav_and_it_carries_the_sign_in_along(hall: Hall) -> None:
    hall.open_windows("1")
    page = hall.open_page("/halls/{hall}/dashboard", role="manager", size=DESK)
    nav = page.locator("#manager-nav a")
    expect(nav).to_have_count(len(MANAGER_PAGES))
    assert [a.get_attribute("data-page") for a in nav.all()] == list(MANAGER_PAGES)
    expect(page.locator('#manager-nav a[aria-current="page"]')).to_have_text("管理看板")
    expect(page.locator("#service-rows tr").first).to_be_visible()
    fits_the_desk(page)

    page.locator('#manager-nav a[data-page="windows"]').click()  # signed in by the dashboard's token
    expect(page).to_have_url(f"{hall.base_url}/halls/{hall.id}/windows")
    expect(page.locator("#window-rows tr")).to_have_count(12)
    expect(page.locator(".signin-overlay")).to_have_count(0)
    expect(page.locator('#manager-nav a[aria-current="page"]')).to_have_text("窗口设置")
    for name in ("bookings", "webhooks", "audit", "reports", "cases"):
        page.locator(f'#manager-nav a[data-page="{name}"]').click()
        expect(page.locator(f'#manager-nav a[aria-current="page"][data-page="{name}"]')).to_be_visible()
        if name == "cases":
            expect(page.locator("#count")).not_to_be_empty()  # the list came: signed in
        else:
            expect(page.locator('body[data-ready="1"]')).to_be_attached()  # set once signed in and loaded
        expect(page.locator(".signin-overlay")).to_have_count(0)
        fits_the_desk(page)
    page.locator("#lang").click()  # the nav switches language with the page
    expect(page.locator('#manager-nav a[data-page="audit"]')).to_have_text("Audit log")


# -- 预约管理 ---------------------------------------------------------------------------------------------------
def book(hall: Hall, day: str, at: str, service: str, name: str, id_number: str, item: str | None = None,
         expect_status: int = 201) -> Any:
    body = {"service": service, "slot": f"{day}T{at}:00+08:00", "name": name, "id_number": id_number,
            "phone": PHONE, **({"item": item} if item else {})}
    return hall.call("POST", "/appointments", role="kiosk", json=body, expect=expect_status)


def test_bookings_page_lists_a_day_s_bookings_filters_them_and_cancels_one(hall: Hall) -> None:
    day = hall.call("GET", "/appointments/slots?service=SOC", role="kiosk")["day"]
    first = book(hall, day, "09:00", "SOC", "张小三", PERSON, item="SOC-RETIRE")
    book(hall, day, "09:30", "HUK", "李四", OTHER)
    gone = book(hall, day, "10:00", "SOC", "欧阳小明", THIRD)

    page = hall.open_page("/halls/{hall}/bookings", role="manager", size=DESK)
    expect(page.locator("#state")).to_have_text("这一天没有预约。")  # today: booked from tomorrow on
    expect(page.locator("#f-day")).to_have_value(datetime.now(ZONE).strftime("%Y-%m-%d"))
    page.fill("#f-day", day)
    rows = page.locator("#rows tr")
    expect(rows).to_have_count(3)
    row = page.locator(f'#rows tr[data-appointment="{first["id"]}"]')
    for text in ("09:00–09:30", "社保医保", "职工退休待遇申领", "张*三", first["code"], "已预约"):
        expect(row).to_contain_text(text)
    expect(page.locator("#count")).to_have_text("共 3 条：已预约 3")
    for secret in ("张小三", "欧阳小明", PERSON, PHONE):
        assert secret not in page.content(), f"{secret} is on the page"
    fits_the_desk(page)

    page.select_option("#f-service", "HUK")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("李*")
    expect(rows.first).to_contain_text("户籍办理")
    page.select_option("#f-service", "")
    page.select_option("#f-status", "cancelled")
    expect(page.locator("#state")).to_have_text("这一天没有符合条件的预约。")
    page.select_option("#f-status", "")
    expect(rows).to_have_count(3)

    page.locator(f'#rows tr[data-appointment="{gone["id"]}"] button.cancel').click()
    expect(page.locator("#confirm-text")).to_contain_text("欧**明")
    page.click("#confirm-ok")
    cancelled = page.locator(f'#rows tr[data-appointment="{gone["id"]}"]')
    expect(cancelled).to_have_attribute("data-status", "cancelled")
    expect(cancelled).to_contain_text("已取消")
    expect(cancelled.locator("button")).to_have_count(0)
    expect(page.locator("#count")).to_have_text("共 3 条：已预约 2，已取消 1")
    assert hall.call("GET", f"/appointments/{gone['id']}")["status"] == "cancelled"
    screenshot(page, "manager-bookings")


@pytest.fixture
def clocked_hall(tmp_path: Path, browser: Browser) -> Iterator[tuple[Hall, ServerClock]]:
    """The demo hall on a server of its own, on a clock the test sets (it starts now, and stands still)."""
    clock = ServerClock(tmp_path / "clock", datetime.now(ZONE))
    prefix = f"hqtest-{uuid.uuid4().hex[:10]}"
    server = start_server(tmp_path / "server", prefix, halls=(DEMO_TOML,), extra_env=clock.env)
    h = Hall(server, "demo", browser)
    try:
        yield h, clock
    finally:
        h.http.close()
        for context in browser.contexts:
            context.close()
        stop_server(server)
        delete_prefix_sync(prefix)
    assert not h.errors, "errors in the page:\n" + "\n".join(h.errors)


def test_a_booking_block_made_by_no_shows_is_lifted_from_the_page(clocked_hall: tuple[Hall, ServerClock]) -> None:
    hall, clock = clocked_hall
    day = hall.call("GET", "/appointments/slots?service=SOC", role="kiosk")["day"]
    missed = [book(hall, day, "09:00", service, "张小三", PERSON) for service in ("SOC", "HUK")]
    clock.set(datetime.fromisoformat(f"{day}T10:00:00+08:00"))  # 30 minutes after 09:00 both became no-shows
    later = hall.call("GET", "/appointments/slots?service=SOC", role="kiosk")["day"]
    refused = book(hall, later, "09:00", "SOC", "张小三", PERSON, expect_status=403)["error"]
    assert refused["code"] == "booking_blocked"
    blocked_until = refused["blocked_until"]

    page = hall.open_page("/halls/{hall}/bookings", role="manager", size=DESK)
    expect(page.locator("#lift-rule")).to_contain_text("爽约 2 次，90 天内不能预约")
    page.fill("#f-day", day)
    rows = page.locator("#rows tr")
    expect(rows).to_have_count(2)
    for row in rows.all():
        expect(row).to_have_attribute("data-status", "void")
        expect(row).to_contain_text("爽约")
        expect(row).to_contain_text("09:30 前未签到")
    expect(page.locator("#count")).to_have_text("共 2 条：爽约 2")
    page.locator(f'#rows tr[data-appointment="{missed[0]["id"]}"] button.lift').click()
    expect(page.locator("#confirm-text")).to_contain_text("张*三")
    page.fill("#confirm-reason", "因病未能到场，已核实")
    page.click("#confirm-ok")
    result = page.locator("#lift-result")
    expect(result).to_contain_text(f"办事人 张*三原在 {blocked_until} 前不能预约，现在可以预约了")
    expect(result).to_have_attribute("data-blocked", "1")
    book(hall, later, "09:00", "SOC", "张小三", PERSON)  # booking is open to them again
    screenshot(page, "manager-bookings-lifted")

    page.fill("#lift-id", "123")  # the server's own sentence for a wrong ID number
    page.click("#lift-submit")
    expect(page.locator("#lift-problem")).to_contain_text("请修正身份证号")
    hall.forgive_refusals(422)
    page.fill("#lift-id", PERSON)
    page.click("#lift-submit")
    expect(result).to_contain_text("该办事人目前没有被限制预约")
    expect(result).to_have_attribute("data-blocked", "0")
    expect(page.locator("#lift-id")).to_have_value("")  # the ID number leaves the page once sent
    assert PERSON not in page.content()


# -- 窗口设置 ---------------------------------------------------------------------------------------------------
def live_window(hall: Hall, window: str) -> dict[str, Any]:
    found: dict[str, Any] = next(w for w in hall.call("GET", "/snapshot")["windows"] if w["id"] == window)
    return found


def test_a_window_s_skills_are_changed_on_the_page_live_and_call_next_follows(hall: Hall) -> None:
    hall.open_windows("1", "9")  # 9 serves 不动产 only; 1 takes 社保 tickets in the meantime
    waiting = hall.issue("SOC")
    assert hall.window_op("9", "call-next")["ticket"] is None

    page = hall.open_page("/halls/{hall}/windows", role="manager", size=DESK)
    nine = page.locator('#window-rows tr[data-window="9"]')
    expect(page.locator("#window-rows tr")).to_have_count(12)
    expect(nine.locator(".chip.primary")).to_have_text("★ 不动产登记")
    expect(nine).to_contain_text("空闲")
    fits_the_desk(page)
    nine.click()
    expect(page.locator("#e-title")).to_have_text("9号窗口 · 空闲")
    soc = page.locator('#e-services li[data-code="SOC"]')
    prop = page.locator('#e-services li[data-code="PROP"]')
    expect(prop.locator("input.serve")).to_be_checked()
    expect(soc.locator("input.primary")).to_be_disabled()
    expect(page.locator("#e-save")).to_be_disabled()  # nothing to save yet

    soc.locator("input.serve").check()
    expect(page.locator("#e-pending")).to_have_text("尚未保存：新增业务：社保医保。")
    soc.locator("input.primary").check()
    prop.locator("input.primary").uncheck()
    page.click("#e-save")
    expect(page.locator("#e-result")).to_have_text(
        "已保存，即时生效：9号窗口 新增业务：社保医保；优先业务：不动产登记 → 社保医保。")
    expect(nine.locator(".chip.primary")).to_have_text("★ 社保医保")
    expect(page.locator("#e-pending")).to_be_hidden()
    screenshot(page, "manager-windows")

    nine_now = live_window(hall, "9")
    assert (nine_now["services"], nine_now["primary"]) == (["SOC", "PROP"], ["SOC"])
    assert hall.window_op("9", "call-next")["ticket"]["id"] == waiting["id"]  # honoured at once, no restart
    page.locator("#lang").click()
    expect(page.locator("#e-result")).to_have_text(
        "Saved, in effect now: Window 9 now serves Social security; primary: Real estate registration → "
        "Social security.")
    page.locator("#lang").click()

    # A window must serve something: said on the page, nothing sent.
    soc.locator("input.serve").uncheck()
    prop.locator("input.serve").uncheck()
    page.click("#e-save")
    expect(page.locator("#e-problem")).to_have_text("请至少选择一项业务：窗口不能什么都不办。")
    assert live_window(hall, "9")["services"] == ["SOC", "PROP"]
    page.click("#e-reset")
    expect(soc.locator("input.serve")).to_be_checked()

    # Window 11 takes only mortgages of 不动产: lift the limit.
    page.locator('#window-rows tr[data-window="11"]').click()
    prop11 = page.locator('#e-services li[data-code="PROP"]')
    expect(prop11.locator('input[value="only"]')).to_be_checked()
    expect(prop11.locator('input.item[value="PROP-MORTGAGE"]')).to_be_checked()
    prop11.locator('input[value="all"]').check()
    page.click("#e-save")
    expect(page.locator("#e-result")).to_have_text("已保存，即时生效：11号窗口 限定事项：抵押权首次登记 → 不限。")
    assert live_window(hall, "11")["items"] == []

    # A bundle (一件事) goes with its members: ticking it ticks them.
    page.locator('#window-rows tr[data-window="1"]').click()
    page.locator('#e-services li[data-code="RESTO"] input.serve').check()
    expect(page.locator('#e-services li[data-code="FOOD"] input.serve')).to_be_checked()
    page.click("#e-save")
    expect(page.locator("#e-result")).to_contain_text("新增业务：食品经营许可、开餐馆一件事")
    assert {"FOOD", "RESTO"} <= set(live_window(hall, "1")["services"])


def test_a_refusal_of_the_server_is_shown_in_its_own_words(hall: Hall) -> None:
    ttl_s = 6
    token = make_token(hall.server.secret, hall.id, "manager", ttl_s=ttl_s)  # a sign-in that runs out meanwhile
    expires = time.time() + ttl_s
    page = hall.open_page(f"/halls/{{hall}}/windows#token={token}", size=DESK, lang="en")
    page.locator('#window-rows tr[data-window="5"]').click()
    page.locator('#e-services li[data-code="FOOD"] input.serve').check()
    expect(page.locator("#e-pending")).to_have_text("Not saved yet: now serves Food business permit.")
    page.wait_for_timeout(max(0, (expires - time.time()) * 1000) + 1200)
    page.click("#e-save")
    expect(page.locator("#e-problem")).to_have_text("The token has expired; ask for a new one.")
    expect(page.locator("#e-result")).to_be_hidden()
    assert "FOOD" not in live_window(hall, "5")["services"]
    page.context.close()  # its next reading of the windows is refused too
    hall.forgive_refusals(401)


# -- 消息推送 ---------------------------------------------------------------------------------------------------
def deliveries(hall: Hall) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = hall.call("GET", "/webhooks/deliveries")["deliveries"]
    return found


def test_a_failed_webhook_is_listed_and_only_an_admin_sends_it_again(hall: Hall, receiver: Receiver) -> None:
    path = f"/ratings/{hall.id}"
    receiver.answer(path, Answer(400, body=b'{"error": "unknown window"}'))
    hall.open_windows("5")
    ticket = served_ticket(hall, "5")
    hall.rate(ticket, 2)
    failed = within(lambda: [d for d in deliveries(hall) if d["ticket"] == ticket["id"] and d["status"] == "failed"],
                    "the rating's delivery failed")[0]

    page = hall.open_page("/halls/{hall}/webhooks", role="manager", size=DESK)
    row = page.locator(f'#rows tr[data-delivery="{failed["delivery_id"]}"]')
    for text in ("好差评上报", ticket["number"], "社保医保", "5号窗口", "不满意", "发送失败", "对方拒收（HTTP 400）",
                 "不再自动重试"):
        expect(row).to_contain_text(text)
    expect(row.locator("td.attempts")).to_have_text("1")
    expect(row.locator("button.retry")).to_have_count(0)
    expect(page.locator("#retry-note")).to_contain_text("重发失败的推送须使用系统管理员（admin）令牌")
    expect(page.locator("#count")).to_have_text("共 1 条：发送失败 1")
    fits_the_desk(page)
    page.select_option("#f-status", "delivered")
    expect(page.locator("#state")).to_have_text("没有符合条件的推送。")
    page.context.close()

    admin = hall.open_page("/halls/{hall}/webhooks", role="admin", size=DESK)
    row = admin.locator(f'#rows tr[data-delivery="{failed["delivery_id"]}"]')
    expect(admin.locator("#retry-note")).to_be_hidden()
    row.locator("button.retry").click()  # the receiver takes it this time
    expect(row).to_contain_text("已送达", timeout=15_000)  # followed while on its way
    expect(row.locator("button.retry")).to_have_count(0)
    screenshot(admin, "manager-webhooks")
    sent = receiver.at(path)
    assert len(sent) == 2
    assert {r.headers["x-hallq-delivery"] for r in sent} == {failed["delivery_id"]}, "receivers dedupe on it"
    assert [d["status"] for d in deliveries(hall)] == ["delivered"]


# -- 操作日志 ---------------------------------------------------------------------------------------------------
def audited(hall: Hall, count: int) -> None:
    within(lambda: len(hall.call("GET", "/audit?limit=1000")["entries"]) >= count, f"{count} audit entries")


def test_the_audit_log_shows_staff_acts_by_name_with_filters_and_pages(hall: Hall) -> None:
    staff = make_token(hall.server.secret, hall.id, "staff", "5", staff="S05")  # 陈静 at window 5, one sign-in

    def at_window(op: str, body: Any = None) -> None:
        reply = hall.http.post(f"/api/v1/halls/{hall.id}/windows/5/{op}", json=body,
                               headers={"Authorization": f"Bearer {staff}"})
        assert reply.status_code == 200, reply.text

    at_window("open")
    tickets = [hall.issue("SOC") for _ in range(25)]
    for op, body in (("call-next", None), ("start", None), ("finish", {"outcome": "consult"}),
                     ("pause", {"reason": "临时离岗"})):
        at_window(op, body)
    audited(hall, 30)

    page = hall.open_page("/halls/{hall}/audit", role="manager", size=DESK)
    rows = page.locator("#rows tr")
    expect(rows).to_have_count(30)
    newest = rows.first
    expect(newest).to_have_attribute("data-action", "window.paused")
    for text in ("窗口人员 · 5号窗口 · 陈*（S05）", "暂停服务", "原因：临时离岗"):
        expect(newest).to_contain_text(text)
    finished = page.locator('#rows tr[data-action="ticket.finished"]')
    expect(finished.locator("td.action")).to_have_text("办结")
    expect(finished).to_contain_text("结果：咨询；办理用时")
    called = page.locator('#rows tr[data-action="ticket.called"]')
    expect(called.locator("td.action")).to_have_text("叫号")
    expect(called.locator("td.number")).to_have_text(tickets[0]["number"])
    expect(called).to_contain_text("社保医保")
    expect(page.locator('#rows tr[data-action="ticket.issued"]').first).to_contain_text("导办台")
    expect(page.locator("#older")).to_be_disabled()
    fits_the_desk(page)
    screenshot(page, "manager-audit")

    page.select_option("#f-window", "5")
    expect(rows).to_have_count(5)  # opened, called, serving, finished, paused: the guide's tickets are of no window
    assert {r.get_attribute("data-role") for r in rows.all()} == {"staff"}
    page.select_option("#f-window", "")

    page.select_option("#f-role", "guide")
    page.select_option("#f-size", "20")
    expect(rows).to_have_count(20)
    expect(page.locator("#page-no")).to_have_text("第 1 页")
    first_page = [n.inner_text() for n in page.locator("#rows td.number").all()]
    page.click("#older")
    expect(page.locator("#page-no")).to_have_text("第 2 页")
    expect(rows).to_have_count(5)
    expect(page.locator("#older")).to_be_disabled()
    second_page = [n.inner_text() for n in page.locator("#rows td.number").all()]
    assert sorted(first_page + second_page) == sorted(t["number"] for t in tickets), "every ticket once, in pages"
    assert first_page[0] == tickets[-1]["number"], "newest first"
    page.click("#newer")
    expect(page.locator("#page-no")).to_have_text("第 1 页")
    expect(rows).to_have_count(20)

    page.select_option("#f-role", "")  # a token id picks out that token's acts
    page.locator('#rows tr[data-action="window.paused"] button.token-link').click()
    expect(rows).to_have_count(5)

    page.fill("#f-since", f"{datetime.now(ZONE):%Y-%m-%d}T23:59")
    page.fill("#f-until", f"{datetime.now(ZONE):%Y-%m-%d}T00:00")
    page.click("#filters button[type=submit]")
    expect(page.locator("#problem")).to_have_text("开始时间须早于结束时间。")
    page.fill("#f-token", "")
    page.click('[data-quick="all"]')
    expect(rows).to_have_count(20)
