"""The 区域总览 benchmark (``loadtest/region_overview.py``): its county's files are valid, its pairing of replies with
screen messages is right, and a run of seconds on a small county measures everything it reports."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from floor.hall_files import read_hall_files, read_network
from floor.settings import Settings
from loadtest.region_overview import COUNTY, Matcher, Sample, layout, pct, write_files
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # the smoke run starts a server

SMOKE_TIMEOUT_S = 240
COMMITTED = ROOT / "loadtest" / "results" / "region-overview.md"


def test_the_county_of_500_halls_is_a_valid_network(tmp_path: Path) -> None:
    plan = layout(500)
    network, paths = write_files(tmp_path, plan)
    settings = Settings.from_env({"HALLQ_HOME": str(tmp_path), "HALLQ_SECRET": "s" * 32,
                                  "HALLQ_HALLS": os.pathsep.join(map(str, paths)), "HALLQ_NETWORK": str(network)})
    halls = read_hall_files(settings)
    assert len(halls) == 500
    assert len(plan.towns) == 25
    below = read_network(network).below(COUNTY)
    assert all(h.config.region in below for h in halls.values())
    levels = [h.config.level for h in halls.values()]
    assert levels.count("county_centre") == 1
    assert levels.count("town_centre") == levels.count("bank_outlet") == 25
    assert all(h.config.catalog is None and 1 <= len(h.config.windows) <= 2 for h in halls.values())
    # the sample halls (the first village stations) are spread over the towns
    assert len({h.town for h in plan.villages()[:50]}) == 25


def test_percentiles_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (pct(values, 50), pct(values, 99), pct(values, 100)) == (50.0, 99.0, 100.0)
    assert pct([], 50) is None


def test_replies_and_screens_pair_whichever_comes_first() -> None:
    matcher = Matcher()
    # the display read the issue before its reply was: 0 after the reply; the overview's line came 0.8 s later
    matcher.on_display("h", "ticket.issued", "A001", 10.004)
    issued = Sample("h", "ticket.issued", "A001", 1, sent=10.0, replied=10.01, watched=True)
    matcher.replied(issued)
    assert issued.display_at == 10.004
    assert issued.after_reply(issued.display_at) == 0.0
    assert not issued.done()
    matcher.on_line("h", 0, 10.5)  # a line of an earlier count is not this change
    assert issued.overview_at is None
    matcher.on_line("h", 1, 10.81)
    assert issued.done()
    assert issued.after_reply(issued.overview_at or 0) == pytest.approx(0.8)
    # a frame of the right count read before the reply, but after the request went out, counts too
    matcher.on_line("h", 0, 20.003)
    called = Sample("h", "ticket.called", "A001", 0, sent=20.0, replied=20.005, watched=True)
    matcher.replied(called)
    assert called.overview_at == 20.003
    # nobody watching: the display alone completes a sample
    quiet = Sample("g", "ticket.issued", "B001", 1, sent=30.0, replied=30.01, watched=False)
    matcher.replied(quiet)
    matcher.on_display("g", "ticket.issued", "B001", 30.02)
    assert quiet.done()


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def test_region_overview_smoke(tmp_path: Path) -> None:
    """Seconds on a county of 30 halls: every measure has data, and the committed results are left alone."""
    out, data = tmp_path / "smoke.md", tmp_path / "smoke.json"
    before = _digest(COMMITTED)
    proc = subprocess.run(
        [sys.executable, "-m", "loadtest.region_overview", "--halls", "30", "--towns", "3", "--seconds", "3",
         "--idle-seconds", "1", "--rates", "20", "--viewers", "0,2", "--sample-halls", "6", "--join-rounds", "1",
         "--no-pin",
         "--out", str(out), "--json", str(data)],
        cwd=ROOT, capture_output=True, text=True, timeout=SMOKE_TIMEOUT_S)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    assert _digest(COMMITTED) == before
    figures = json.loads(data.read_text(encoding="utf-8"))
    assert figures["first_frame"]["halls"] == 30
    nobody, watched = figures["phases"]
    assert nobody["events"] > 0
    assert watched["events"] > 0
    assert nobody["display"]["n"] > 0
    assert watched["overview"]["n"] > 0
    assert watched["frames_per_socket"][0] > 0
    assert nobody["stale"]["halls"] == 30
    assert nobody["join_under_load"]["rounds"] == 1
    assert watched["converged"]["halls"] == 30
    assert "| 20 | 2 (2 / 1) |" in out.read_text(encoding="utf-8")
