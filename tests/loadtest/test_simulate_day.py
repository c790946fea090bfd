"""The synthetic workload, and a short simulated morning through the real engine on real Redis."""

from __future__ import annotations

import math
import random
import re
import statistics
from dataclasses import replace

import pytest
import redis as redis_sync
from redis.asyncio import Redis

from loadtest import report
from loadtest.simulate_day import SimConfig, clear_prefix, main, simulate
from loadtest.workload import (
    CATEGORIES,
    Z90,
    Category,
    Rates,
    Spec,
    generate,
    half_hour_bins,
    hhmm,
    lognormal_params,
)
from tests.conftest import REDIS_URL

ANNOUNCEMENT = re.compile(r"请[VY]?[A-Z]\d{3,}号到\d+号窗口")
STATUSES = {"waiting", "called", "serving", "done", "missed", "cancelled"}
SECTIONS = (report.TITLE_CALLS, report.TITLE_SERVICES, report.TITLE_WINDOWS, report.TITLE_ESTIMATE,
            report.TITLE_SNAPSHOT)


# -- workload ---------------------------------------------------------------------------------
def test_shares_sum_to_one() -> None:
    bins = half_hour_bins()
    assert math.isclose(sum(b.share for b in bins), 1.0, abs_tol=1e-9)
    assert math.isclose(sum(c.share for c in CATEGORIES), 1.0, abs_tol=1e-9)
    assert all(b.end_s - b.start_s <= 30 * 60 for b in bins)


def test_no_arrivals_over_lunch_or_after_closing() -> None:
    arrivals = generate(Spec(daily_tickets=600), seed=5)
    times = [a.at_s for a in arrivals]
    assert times == sorted(times)
    assert not [t for t in times if hhmm("12:00") <= t < hhmm("14:00")]
    assert min(times) >= hhmm("08:10")
    assert max(times) < hhmm("17:30")


def test_same_seed_same_day_other_seed_other_day() -> None:
    assert generate(Spec(), seed=42) == generate(Spec(), seed=42)
    assert generate(Spec(), seed=42) != generate(Spec(), seed=43)


@pytest.mark.parametrize("category", CATEGORIES, ids=lambda c: c.service + "-" + str(c.mean_min))
def test_lognormal_parameters_reproduce_mean_and_p90(category: Category) -> None:
    mu, sigma = lognormal_params(category.mean_min, category.p90_min)
    # Exactly, by the formulas ...
    assert math.isclose(math.exp(mu + sigma**2 / 2), category.mean_min, rel_tol=1e-9)
    assert math.isclose(math.exp(mu + Z90 * sigma), category.p90_min, rel_tol=1e-9)
    # ... and over many draws, as the simulation will see them.
    rng = random.Random(7)
    draws = sorted(rng.lognormvariate(mu, sigma) for _ in range(60_000))
    assert statistics.fmean(draws) == pytest.approx(category.mean_min, rel=0.03)
    assert draws[int(0.9 * len(draws))] == pytest.approx(category.p90_min, rel=0.03)


def test_impossible_lognormal_is_refused() -> None:
    with pytest.raises(ValueError, match="no lognormal"):
        lognormal_params(4, 40)  # a P90 ten times the mean: no lognormal has both


def test_volume_mix_and_flags_follow_the_spec() -> None:
    days = [generate(Spec(daily_tickets=300), seed) for seed in range(40)]
    everyone = [a for day in days for a in day]
    assert statistics.fmean(len(d) for d in days) == pytest.approx(300, rel=0.05)
    soc = sum(a.service == "SOC" for a in everyone) / len(everyone)
    assert soc == pytest.approx(0.25, abs=0.02)
    rates = Rates()
    assert sum(a.priority == "green" for a in everyone) / len(everyone) == pytest.approx(rates.green, abs=0.01)
    booked = [a for a in everyone if a.appointment_s is not None]
    assert len(booked) / len(everyone) == pytest.approx(rates.appointment, abs=0.015)
    assert all(a.appointment_s is not None and a.appointment_s >= hhmm("08:30") for a in booked)
    assert not any(a.no_show for a in booked)  # booked citizens come for their slot
    assert all(a.transfer_to != a.service for a in everyone)


# -- report helpers ---------------------------------------------------------------------------
def test_tables_align_chinese_by_display_width() -> None:
    lines = report.table(["业务\nservice", "n"], [["社保医保", "3"], ["INFO", "12"]])
    assert lines[0].rstrip() == "业务"
    assert len({report.width(line.rstrip()) for line in lines[1:]}) == 1
    assert report.width("不动产") == 6
    assert report.mmss(75) == "1:15"
    assert report.mmss(-5) == "-0:05"


# -- a short morning on real Redis ------------------------------------------------------------
def short_morning(prefix: str, seed: int = 11) -> SimConfig:
    return SimConfig(tickets=60, seed=seed, until="09:30", redis_url=REDIS_URL, prefix=prefix)


async def test_short_morning_accounts_for_every_ticket(redis: Redis, key_prefix: str) -> None:
    await redis.set(f"{key_prefix}:stale", "from an earlier run")  # cleared before the day starts
    result = await simulate(short_morning(key_prefix), redis)

    assert await redis.exists(f"{key_prefix}:stale") == 0
    assert result.tickets, "the door crowd and the first hour should take numbers"
    assert {t.status for t in result.tickets} <= STATUSES
    counts = result.status_counts()
    at_window = counts.get("called", 0) + counts.get("serving", 0)
    total = counts.get("done", 0) + counts.get("missed", 0) + counts.get("waiting", 0) + counts.get("cancelled", 0)
    assert total + at_window == len(result.tickets)
    waiting_in_snapshot = sum(s["waiting"] for s in result.snapshot["services"])
    assert waiting_in_snapshot == counts.get("waiting", 0)
    for t in result.tickets:
        assert t.wait_s(result.end_s) >= 0
        if t.first_called_s is not None:
            assert t.first_called_s >= max(t.issued_s, result.opening_s)
        assert t.handling_s is None or t.handling_s >= 0


async def test_short_morning_report_reads_like_the_lobby(redis: Redis, key_prefix: str) -> None:
    text = report.render(await simulate(short_morning(key_prefix), redis))
    for title in SECTIONS:
        assert title in text
    assert ANNOUNCEMENT.search(text)
    assert "示范县政务服务中心" in text


async def test_same_seed_replays_the_same_calls(redis: Redis, key_prefix: str) -> None:
    first = await simulate(short_morning(key_prefix), redis)
    again = await simulate(short_morning(key_prefix), redis)  # the rerun clears the first run's keys
    assert first.calls == again.calls
    other = await simulate(replace(short_morning(key_prefix), seed=12), redis)
    assert other.calls != first.calls


async def test_cleanup_leaves_no_keys(redis: Redis, key_prefix: str) -> None:
    await simulate(short_morning(key_prefix), redis)
    assert await clear_prefix(redis, key_prefix) > 0
    assert [k async for k in redis.scan_iter(match=f"{key_prefix}:*")] == []


def test_command_line(capsys: pytest.CaptureFixture[str], key_prefix: str) -> None:
    args = ["--tickets", "60", "--until", "09:30", "--seed", "3", "--redis-url", REDIS_URL, "--prefix", key_prefix]
    try:
        assert main(args) == 0
        loud = capsys.readouterr().out
        assert main([*args, "--quiet"]) == 0
        quiet = capsys.readouterr().out
    finally:
        client = redis_sync.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"{key_prefix}:*"):
            client.delete(key)
        client.close()
    assert report.TITLE_CALLS in loud
    assert ANNOUNCEMENT.search(loud)
    assert report.TITLE_CALLS not in quiet
    assert report.TITLE_SERVICES in quiet
