"""Who may read /metrics: this machine always; anyone else only with HALLQ_METRICS_TOKEN, if it is set."""

from __future__ import annotations

import pytest

from floor.metrics.room import is_loopback, may_scrape

TOKEN = "a-long-random-metrics-token"


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True),
                                                ("::ffff:127.0.0.1", True), ("10.0.0.5", False),
                                                ("203.0.113.7", False), ("::ffff:10.0.0.5", False),
                                                ("testclient", False), (None, False)])
def test_loopback(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_this_machine_needs_no_token() -> None:
    assert may_scrape("127.0.0.1", None, None)
    assert may_scrape("::1", None, TOKEN)


def test_elsewhere_the_token_is_needed_and_must_be_right() -> None:
    assert not may_scrape("10.0.0.5", None, None)  # no token set: nobody from elsewhere
    assert not may_scrape("10.0.0.5", f"Bearer {TOKEN}", None)
    assert not may_scrape("10.0.0.5", None, TOKEN)
    assert not may_scrape("10.0.0.5", "Bearer wrong", TOKEN)
    assert not may_scrape("10.0.0.5", f"Basic {TOKEN}", TOKEN)
    assert may_scrape("10.0.0.5", f"Bearer {TOKEN}", TOKEN)
    assert may_scrape("10.0.0.5", f"bearer {TOKEN}", TOKEN)
