"""Kiosk issuing is rate limited per device (design.md section 7): a clear 429, nothing issued, others unaffected."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date

import pytest

from floor.http.auth import read_token
from floor.settings import Settings
from queue_engine.keys import HallKeys
from tests.conftest import sync_redis
from tests.server.conftest import (
    HallApi,
    ServerFactory,
    assert_error,
    has_chinese,
    make_id_number,
    with_bad_check_digit,
)

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

LIMIT, WINDOW_S = 3, 3.0  # three at once, then one a second: quick to reach, quick to wait out
BAD_ID = with_bad_check_digit(make_id_number(date(1980, 5, 17)))


@pytest.fixture
async def limited(live_server: ServerFactory) -> AsyncIterator[HallApi]:
    server = live_server(extra_env={"HALLQ_KIOSK_LIMIT": str(LIMIT), "HALLQ_KIOSK_WINDOW_S": str(WINDOW_S)})
    async with server.client() as client:
        api = HallApi(server, client, "demo")
        await api.open("5")
        yield api


def issued(api: HallApi) -> int:
    return sum(kind == "ticket.issued" for _, kind in api.server.events(api.hall))


async def kiosk_issue(api: HallApi, token: str, lang: str = "zh") -> tuple[int, dict[str, str], dict[str, object]]:
    """Issue with this very token (HallApi makes a new token, so a new device, for every request)."""
    reply = await api.client.post(api.path("/tickets"), json={"service": "SOC"},
                                  headers={"Authorization": f"Bearer {token}", "Accept-Language": lang})
    return reply.status_code, dict(reply.headers), reply.json()


async def test_a_kiosk_past_its_burst_gets_a_clear_429_and_no_ticket(limited: HallApi) -> None:
    kiosk = limited.server.token("kiosk", hall=limited.hall)
    for _ in range(LIMIT):
        status, _, body = await kiosk_issue(limited, kiosk)
        assert status == 201, body
    before = limited.server.events(limited.hall)

    reply = await limited.request("POST", "/tickets", role=None, json={"service": "SOC"},
                                  headers={"Authorization": f"Bearer {kiosk}"})
    error = assert_error(reply, 429, "too_many_tickets")
    retry_after = int(reply.headers["Retry-After"])
    assert 1 <= retry_after <= WINDOW_S
    assert error["retry_after_s"] == retry_after
    assert has_chinese(error["message"])
    assert str(retry_after) in error["message"]
    english = await limited.request("POST", "/tickets", role=None, json={"service": "SOC"},
                                    headers={"Authorization": f"Bearer {kiosk}", "Accept-Language": "en"})
    message = assert_error(english, 429, "too_many_tickets")["message"]
    assert not has_chinese(message)
    assert "seconds" in message
    assert "guide desk" in message

    assert limited.server.events(limited.hall) == before  # refused before the engine: no event at all
    assert issued(limited) == LIMIT


async def test_another_kiosk_and_the_guide_desk_are_not_held_back(limited: HallApi) -> None:
    first, second = (limited.server.token("kiosk", hall=limited.hall) for _ in range(2))
    for _ in range(LIMIT):
        assert (await kiosk_issue(limited, first))[0] == 201
    assert (await kiosk_issue(limited, first))[0] == 429
    for _ in range(LIMIT):
        status, _, body = await kiosk_issue(limited, second)
        assert status == 201, body
    for role in ("guide", "manager"):  # the desk issues for a queue of people; it is never limited
        desk = limited.server.token(role, hall=limited.hall)  # one token throughout: one device
        for _ in range(LIMIT * 3):
            status, _, body = await kiosk_issue(limited, desk)
            assert status == 201, (role, body)
    assert issued(limited) == LIMIT * 2 + LIMIT * 3 * 2


async def test_after_the_wait_it_says_the_kiosk_issues_again(limited: HallApi) -> None:
    kiosk = limited.server.token("kiosk", hall=limited.hall)
    for _ in range(LIMIT):
        assert (await kiosk_issue(limited, kiosk))[0] == 201
    status, headers, _ = await kiosk_issue(limited, kiosk)
    assert status == 429
    await asyncio.sleep(int(headers["retry-after"]) + 0.1)
    status, _, body = await kiosk_issue(limited, kiosk)
    assert status == 201, body
    assert issued(limited) == LIMIT + 1


async def test_refused_requests_do_not_count_against_the_kiosk(limited: HallApi) -> None:
    """A bad body (an ID number with a wrong check digit) is refused before it is counted."""
    kiosk = limited.server.token("kiosk", hall=limited.hall)
    for _ in range(LIMIT * 2):
        reply = await limited.request("POST", "/tickets", role=None, json={"service": "SOC", "id_number": BAD_ID},
                                      headers={"Authorization": f"Bearer {kiosk}"})
        assert_error(reply, 422, "invalid_request")
    for _ in range(LIMIT):
        assert (await kiosk_issue(limited, kiosk))[0] == 201


async def test_a_retry_of_a_press_that_made_its_ticket_is_not_refused(limited: HallApi) -> None:
    """Flaky wifi: the kiosk sends the same press again (same Idempotency-Key) and must get its ticket back."""
    kiosk = {"Authorization": f"Bearer {limited.server.token('kiosk', hall=limited.hall)}"}
    first = await limited.request("POST", "/tickets", role=None, json={"service": "SOC"},
                                  headers={**kiosk, "Idempotency-Key": "press-1"})
    assert first.status_code == 201, first.text
    for press in range(2, LIMIT + 1):
        reply = await limited.request("POST", "/tickets", role=None, json={"service": "SOC"},
                                      headers={**kiosk, "Idempotency-Key": f"press-{press}"})
        assert reply.status_code == 201, reply.text
    for _ in range(LIMIT * 2):
        again = await limited.request("POST", "/tickets", role=None, json={"service": "SOC"},
                                      headers={**kiosk, "Idempotency-Key": "press-1"})
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
    fresh = await limited.request("POST", "/tickets", role=None, json={"service": "SOC"},
                                  headers={**kiosk, "Idempotency-Key": "press-99"})
    assert_error(fresh, 429, "too_many_tickets")
    assert issued(limited) == LIMIT


async def test_the_devices_bucket_lives_in_the_halls_slot_and_expires(limited: HallApi) -> None:
    kiosk = limited.server.token("kiosk", hall=limited.hall)
    assert (await kiosk_issue(limited, kiosk))[0] == 201
    device = read_token(limited.server.secret, kiosk).token_id
    key = HallKeys(limited.hall, limited.server.key_prefix).kiosk_bucket(device)
    client = sync_redis()
    try:
        assert 0 < client.pttl(key) <= WINDOW_S * 1000
    finally:
        client.close()


async def test_a_limit_of_zero_turns_it_off(live_server: ServerFactory) -> None:
    server = live_server(extra_env={"HALLQ_KIOSK_LIMIT": "0"})
    async with server.client() as client:
        api = HallApi(server, client, "demo")
        await api.open("5")
        kiosk = server.token("kiosk")
        for _ in range(10):
            status, _, body = await kiosk_issue(api, kiosk)
            assert status == 201, body


def test_the_limit_is_configured_by_environment() -> None:
    defaults = Settings.from_env({"HALLQ_SECRET": "s"})
    assert (defaults.kiosk_limit, defaults.kiosk_window_s) == (5, 20.0)
    custom = Settings.from_env({"HALLQ_SECRET": "s", "HALLQ_KIOSK_LIMIT": "0", "HALLQ_KIOSK_WINDOW_S": "7.5"})
    assert (custom.kiosk_limit, custom.kiosk_window_s) == (0, 7.5)
