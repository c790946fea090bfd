"""Every text about no-shows follows from the hall's rule, in a real Chromium: the printed ticket, the phone page
(waiting, and once missed) and GET /config's ``no_show_notice`` (which the lobby display and the console read) say
the one sentence ``queue_engine.no_show.notice`` writes from the hall's [policy]; a hall with another rule says
another sentence everywhere. And the first in line with an idle window reads 即将叫号 on the phone.

``rule_hall`` gives halls under rules of their own (hall copies whose [policy] is replaced), on a server of this
module; ``tests/pages/test_console.py`` declares the same fixtures from ``serve_rule_halls`` and ``rule_halls``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from queue_engine.config import load_hall
from queue_engine.no_show import notice
from tests.pages.conftest import Hall
from tests.server.conftest import LiveServer, delete_prefix_sync, start_server, stop_server
from tests.server.test_no_show_rule import write_hall

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

PER_RULE = 8  # halls of each rule: one per test that asks for one


def policy(recalls: int, after_s: int, returning: str, requeue: str = "original") -> str:
    return (f'[policy]\nrecall_limit = 3\nno_show_after_recalls = {recalls}\nno_show_after_s = {after_s}\n'
            f'returning = "{returning}"\nrequeue = "{requeue}"\nmissed_serve_direct = 3\n')


RULES: dict[str, str | None] = {
    "demo": None,  # the demo hall's own: one recall and a minute; served directly when back
    "short-serve": policy(1, 3, "serve"),  # a rule short enough to wait out in a test
    "short-requeue": policy(0, 0, "requeue", "end"),
    "quick-new": policy(0, 0, "new_ticket"),
}


class RuleHalls:
    def __init__(self, server: LiveServer, paths: dict[str, Path]) -> None:
        self.server, self.paths = server, paths
        self.pools = {rule: iter([f"{rule}-{i}" for i in range(PER_RULE)]) for rule in RULES}


def serve_rule_halls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuleHalls]:
    """A server with PER_RULE halls of each rule in RULES, for a module's tests."""
    home = tmp_path_factory.mktemp("no-show-rules")
    (home / "halls").mkdir()
    paths = {f"{rule}-{i}": write_hall(home / "halls", f"{rule}-{i}", text)
             for rule, text in RULES.items() for i in range(PER_RULE)}
    server = start_server(home / "server", f"hqtest-{uuid.uuid4().hex[:10]}", halls=list(paths.values()),
                          hall_ids=tuple(paths), heartbeat_s=1.0)
    try:
        yield RuleHalls(server, paths)
    finally:
        stop_server(server)
        delete_prefix_sync(server.key_prefix)


RuleHall = Callable[[str], Hall]


def rule_halls(rules: RuleHalls, browser: Browser) -> Iterator[RuleHall]:
    """``make("short-serve")``: a hall of its own under that rule; fails the test on any JavaScript error."""
    made: list[Hall] = []

    def make(rule: str) -> Hall:
        hall_id = next(rules.pools[rule], None)
        if hall_id is None:
            pytest.fail(f"no hall of rule {rule} left; raise PER_RULE")
        made.append(Hall(rules.server, hall_id, browser))
        return made[-1]

    yield make
    for h in made:
        h.http.close()
    for context in browser.contexts:
        context.close()
    errors = [e for h in made for e in h.errors]
    assert not errors, "errors in the page:\n" + "\n".join(errors)


# A module that uses them declares these two fixtures the same way (tests/pages/test_console.py).
@pytest.fixture(scope="module")
def rules_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuleHalls]:
    yield from serve_rule_halls(tmp_path_factory)


@pytest.fixture
def rule_hall(rules_server: RuleHalls, browser: Browser) -> Iterator[RuleHall]:
    yield from rule_halls(rules_server, browser)


def sentence(hall: Hall) -> dict[str, str]:
    """The hall's no-show sentence, as GET /config gives it to every page that has a token."""
    given: dict[str, str] = hall.call("GET", "/config", role="display")["no_show_notice"]
    return given


def printed(hall: Hall, ticket_id: str, lang: str | None = None) -> Page:
    page = hall.open_page(f"/t/{ticket_id}/print", size=(400, 900), lang=lang)
    page.wait_for_function("window.hallqReady !== undefined")
    page.evaluate("window.hallqReady")
    return page


@pytest.mark.parametrize("rule", ["demo", "short-requeue", "quick-new"])
def test_the_ticket_the_phone_and_config_say_the_halls_rule_in_one_sentence(
    rule_hall: RuleHall, rules_server: RuleHalls, rule: str
) -> None:
    hall = rule_hall(rule)
    expected = notice(load_hall(rules_server.paths[hall.id]).policy)
    assert sentence(hall) == expected
    hall.open_windows("5")
    ticket = hall.issue("SOC")

    page = printed(hall, ticket["id"])
    expect(page.locator("#no-show-notice")).to_have_text(expected["zh"])
    expect(page.locator("footer")).to_contain_text("本号票当日有效。")
    english = printed(hall, ticket["id"], lang="en")
    expect(english.locator("#no-show-notice")).to_have_text(expected["en"])

    phone = hall.open_page(f"/t/{ticket['id']}", size=(390, 844))
    expect(phone.locator("#number")).to_have_text(ticket["number"])
    expect(phone.locator("#no-show-notice")).to_have_text(expected["zh"])
    phone.click("#lang")
    expect(phone.locator("#no-show-notice")).to_have_text(expected["en"])


def test_another_rule_says_another_sentence_everywhere(rule_hall: RuleHall) -> None:
    demo, other = rule_hall("demo"), rule_hall("quick-new")
    assert sentence(demo)["zh"] != sentence(other)["zh"]
    for hall in (demo, other):
        hall.open_windows("5")
        ticket = hall.issue("SOC")
        expect(printed(hall, ticket["id"]).locator("#no-show-notice")).to_have_text(sentence(hall)["zh"])
    assert "重呼1次且超过1分钟" in sentence(demo)["zh"]
    assert sentence(other)["zh"].endswith("过号后请重新取号。")


def test_the_phone_of_a_missed_number_says_what_the_rule_gives(rule_hall: RuleHall) -> None:
    hall = rule_hall("quick-new")  # a no-show may be marked at once: the phone's missed card is reachable
    hall.open_windows("5")
    ticket = hall.issue("SOC")
    phone = hall.open_page(f"/t/{ticket['id']}", size=(390, 844))
    expect(phone.locator("#link")).to_have_attribute("data-status", "live")
    hall.window_op("5", "call-next")
    expect(phone.locator("#turn-head")).to_have_text("轮到您了")
    hall.window_op("5", "no-show")
    expect(phone.locator("#turn-head")).to_have_text("您已过号")
    expect(phone.locator("#turn-note")).to_have_text(sentence(hall)["zh"])
    phone.click("#lang")
    expect(phone.locator("#turn-note")).to_have_text(sentence(hall)["en"])


def test_the_first_in_line_with_an_idle_window_reads_called_soon(rule_hall: RuleHall) -> None:
    hall = rule_hall("demo")
    hall.open_windows("7")
    first = hall.issue("RESTO")  # 开餐馆一件事, 45 minutes a case: the old estimate told K001 约 45 分钟
    assert (first["ahead"], first["estimated_wait_s"]) == (0, 0)
    phone = hall.open_page(f"/t/{first['id']}", size=(390, 844))
    expect(phone.locator("#wait")).to_have_text("即将叫号")
    hall.window_op("7", "call-next")  # the window is busy now: the next in line waits for that case
    second = hall.issue("RESTO")
    assert (second["ahead"], second["estimated_wait_s"]) == (0, 2700)
    phone = hall.open_page(f"/t/{second['id']}", size=(390, 844))
    expect(phone.locator("#wait")).to_have_text("下一位就是您 · 约 45 分钟")
