"""What a hall's people hit on a real morning (issue 22), against the real server on a clock the tests set.

- Estimates: the first in line with an idle window able to serve it is told 0 (即将叫号) by POST /tickets and
  GET /tickets/{id}; with every able window busy, one handling time shared by them, never its own service added.
- The no-show rule: a no-show right after the call is 409 ``no_show_too_early`` with a sentence (zh and en) saying
  how many recalls and how long are left; after the recall and the time it is allowed.
- One sentence: GET /config's ``no_show_notice``, the printed ticket and the phone page carry the same words, written
  from the hall's rule; a hall copy with another rule says another sentence, everywhere.
- A late arrival gets what the rule says at the window: served (serve), put back in line (requeue), or neither.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from queue_engine.config import load_hall
from queue_engine.no_show import notice
from tests.conftest import MONDAY_9AM
from tests.server.conftest import (
    DEMO_TOML,
    HallApi,
    LiveServer,
    ServerClock,
    assert_error,
    delete_prefix_sync,
    start_server,
    stop_server,
    write_hall_copy,
)

RESTO_S = 2700  # 开餐馆一件事 (K): its handling estimate in the demo hall; windows 7 and 8 serve it
OTHER_RULE = """[policy]
recall_limit = 3
no_show_after_recalls = 2
no_show_after_s = 90
returning = "requeue"
requeue = "end"
missed_serve_direct = 3
"""
# hall id -> how its [policy] reads: the demo's own, and copies with other rules
HALLS = {"demo": None, "late-end": OTHER_RULE,
         "new-number": OTHER_RULE.replace('returning = "requeue"', 'returning = "new_ticket"')}


@dataclass
class Clocked:
    server: LiveServer
    clock: ServerClock
    halls: dict[str, Path]


def write_hall(directory: Path, hall_id: str, policy: str | None) -> Path:
    """The demo hall under ``hall_id``, its [policy] section replaced by ``policy`` if given."""
    path = write_hall_copy(directory, hall_id)
    if policy is not None:
        text = path.read_text(encoding="utf-8")
        start = text.index("[policy]")
        end = text.index("\n[", start + 1)
        path.write_text(text[:start] + policy + text[end:], encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def clocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clocked]:
    """One server for the module with the demo hall and copies under other rules, on a clock the tests move."""
    home = tmp_path_factory.mktemp("no-show-rule")
    (home / "halls").mkdir()
    paths = {h: DEMO_TOML if policy is None else write_hall(home / "halls", h, policy) for h, policy in HALLS.items()}
    clock = ServerClock(home / "clock", MONDAY_9AM)
    server = start_server(home / "server", f"hqtest-{uuid.uuid4().hex[:10]}", halls=list(paths.values()),
                          hall_ids=tuple(paths), extra_env=clock.env)
    try:
        yield Clocked(server, clock, paths)
    finally:
        stop_server(server)
        delete_prefix_sync(server.key_prefix)


@pytest.fixture
async def hall(clocked: Clocked) -> AsyncIterator[Any]:
    """Opens a hall of the module's server, its windows all closed and its day empty (the day before is ended)."""
    clients = []

    async def open_hall(hall_id: str) -> HallApi:
        client = clocked.server.client()
        clients.append(client)
        api = HallApi(clocked.server, client, hall_id)
        await api.ok("POST", "/end-day")
        clocked.clock.advance(24 * 3600)  # a new day: numbers from 001 again
        return api

    yield open_hall
    for client in clients:
        await client.aclose()


async def called(api: HallApi, window: str, service: str = "SOC") -> dict[str, Any]:
    await api.open(window)
    ticket: dict[str, Any] = await api.issue(service)
    await api.window_op(window, "call-next")
    return ticket


# -- estimates -------------------------------------------------------------------------------
async def test_the_first_in_line_with_an_idle_window_is_told_it_is_called_now(hall: Any) -> None:
    api = await hall("demo")
    await api.open("7")
    issued = await api.issue("RESTO")
    assert (issued["number"], issued["ahead"], issued["estimated_wait_s"]) == ("K001", 0, 0)
    read = await api.ok("GET", f"/tickets/{issued['id']}", role=None)
    assert (read["ahead"], read["estimated_wait_s"]) == (0, 0)
    # A newcomer waits for K001's service at the one window, not for two services.
    resto = next(s for s in (await api.snapshot())["services"] if s["code"] == "RESTO")
    assert (resto["waiting"], resto["estimated_wait_s"]) == (1, RESTO_S)


async def test_with_every_able_window_busy_the_first_waits_one_service_not_its_own_too(hall: Any) -> None:
    api = await hall("demo")
    await api.open("7", "8")  # both serve 一件事
    for w in ("7", "8"):
        await api.issue("RESTO")
        await api.window_op(w, "call-next")
    first = await api.issue("RESTO")
    assert (first["ahead"], first["estimated_wait_s"]) == (0, RESTO_S // 2)  # the services now at the 2 windows
    read = await api.ok("GET", f"/tickets/{first['id']}", role=None)
    assert (read["ahead"], read["estimated_wait_s"]) == (0, RESTO_S // 2)
    second = await api.issue("RESTO")
    assert (second["ahead"], second["estimated_wait_s"]) == (1, RESTO_S)


# -- the no-show rule ------------------------------------------------------------------------
async def test_a_no_show_right_after_the_call_is_409_saying_what_is_left(hall: Any, clocked: Clocked) -> None:
    api = await hall("demo")
    ticket = await called(api, "5")
    reply = await api.request("POST", "/windows/5/no-show", role="staff", window="5")
    error = assert_error(reply, 409, "no_show_too_early")
    assert error["message"] == f"{ticket['number']}号暂不能作过号处理：按本大厅过号规定，还需重呼1次，并再等1分钟。"
    assert (error["recalls_left"], error["wait_s"]) == (1, 60)
    english = assert_error(await api.request("POST", "/windows/5/no-show", role="staff", window="5",
                                             headers={"Accept-Language": "en"}), 409, "no_show_too_early")
    assert english["message"] == (f"It is too early to mark {ticket['number']} a no-show: recall it once more and "
                                  "wait 1 minute more, as the hall's no-show rule asks.")
    assert (await api.ok("GET", f"/tickets/{ticket['id']}", role=None))["status"] == "called"

    await api.window_op("5", "recall")
    clocked.clock.advance(30)
    error = assert_error(await api.request("POST", "/windows/5/no-show", role="staff", window="5"), 409,
                         "no_show_too_early")
    assert error["message"].endswith("还需再等30秒。")
    assert (error["recalls_left"], error["wait_s"]) == (0, 30)

    clocked.clock.advance(30)
    missed = await api.window_op("5", "no-show")
    assert (missed["ticket"]["id"], missed["ticket"]["status"]) == (ticket["id"], "missed")


async def test_another_hall_sets_its_own_rule(hall: Any, clocked: Clocked) -> None:
    api = await hall("late-end")
    await called(api, "5")
    await api.window_op("5", "recall")
    clocked.clock.advance(60)
    error = assert_error(await api.request("POST", "/windows/5/no-show", role="staff", window="5"), 409,
                         "no_show_too_early")
    assert (error["recalls_left"], error["wait_s"]) == (1, 30)
    assert error["message"].endswith("还需重呼1次，并再等30秒。")


# -- one sentence, from the hall's rule --------------------------------------------------------
@pytest.mark.parametrize("hall_id", list(HALLS))
async def test_config_the_printed_ticket_and_the_phone_page_say_the_rule_in_one_sentence(
    hall: Any, clocked: Clocked, hall_id: str
) -> None:
    api = await hall(hall_id)
    expected = notice(load_hall(clocked.halls[hall_id]).policy)
    assert (await api.ok("GET", "/config", role="display"))["no_show_notice"] == expected
    await api.open("5")
    ticket = await api.issue("SOC")
    for page in (f"/t/{ticket['id']}/print", f"/t/{ticket['id']}"):
        reply = await api.client.get(page)
        assert reply.status_code == 200, reply.text
        assert f'data-zh="{html.escape(expected["zh"])}"' in reply.text
        assert f'data-en="{html.escape(expected["en"])}"' in reply.text
        assert "__NO_SHOW" not in reply.text


def test_each_rule_has_its_own_sentence(clocked: Clocked) -> None:
    sentences = {h: notice(load_hall(p).policy)["zh"] for h, p in clocked.halls.items()}
    assert len(set(sentences.values())) == len(HALLS)
    assert "重呼1次且超过1分钟" in sentences["demo"]
    assert "重呼2次且超过1分30秒" in sentences["late-end"]
    assert sentences["late-end"].endswith("重新排到队尾。")
    assert sentences["new-number"].endswith("过号后请重新取号。")


# -- a late arrival at the window ----------------------------------------------------------------
async def miss(api: HallApi, clocked: Clocked, window: str) -> dict[str, Any]:
    """A ticket called at ``window`` and marked a no-show as the hall's rule allows."""
    ticket = await called(api, window)
    rule = load_hall(clocked.halls[api.hall]).policy
    for _ in range(rule.no_show_after_recalls):
        await api.window_op(window, "recall")
    clocked.clock.advance(rule.no_show_after_s)
    await api.window_op(window, "no-show")
    return ticket


async def test_requeue_at_the_window_where_the_rule_puts_late_arrivals_back_in_line(
    hall: Any, clocked: Clocked
) -> None:
    api = await hall("late-end")
    ticket = await miss(api, clocked, "5")
    waiting = await api.issue("SOC")
    error = assert_error(await api.request("POST", "/windows/5/call", role="staff", window="5",
                                           json={"ticket": ticket["id"], "reason": "过号群众返回"}), 409,
                         "no_show_not_served")
    assert "须重新排队" in error["message"]
    await api.open("6")
    refused = await api.request("POST", "/windows/6/requeue", role="staff", window="6", json={"ticket": ticket["id"]})
    assert_error(refused, 403, "not_for_this_window")  # window 6 did not call it
    back = await api.window_op("5", "requeue", {"ticket": ticket["id"]})
    assert (back["ticket"]["status"], back["ticket"]["number"], back["ticket"]["ahead"]) == (
        "waiting", ticket["number"], 1)  # at the end of the line, behind the one issued since
    assert waiting["ahead"] == 0


@pytest.mark.parametrize(("hall_id", "says"), [("demo", "由叫号窗口直接办理"), ("new-number", "须重新取号")])
async def test_requeue_is_refused_where_the_rule_puts_no_one_back_in_line(
    hall: Any, clocked: Clocked, hall_id: str, says: str
) -> None:
    api = await hall(hall_id)
    ticket = await miss(api, clocked, "5")
    error = assert_error(await api.request("POST", "/windows/5/requeue", role="staff", window="5",
                                           json={"ticket": ticket["id"]}), 409, "requeue_not_allowed")
    assert says in error["message"]
    assert (await api.ok("GET", f"/tickets/{ticket['id']}", role=None))["status"] == "missed"
