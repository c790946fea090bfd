"""The scrape's text: every process's files summed in a helper process (the live gauges of processes that are gone
left out), then the halls' figures as gauges."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families

from floor.metrics.exposition import HALL_GAUGES, hall_text, text
from floor.metrics.readings import HallReading
from floor.metrics.summing import ProcessSums, forget_dead, pid_of, processes_text


@pytest.mark.parametrize(("name", "pid"), [("gauge_livesum_1234.db", 1234), ("gauge_livemax_7.db", 7),
                                           ("gauge_max_1234.db", None), ("counter_1234.db", None),
                                           ("gauge_livesum_x.db", None), ("notes.txt", None)])
def test_the_process_of_a_live_gauge_file(name: str, pid: int | None) -> None:
    assert pid_of(name) == pid


def a_dead_pid() -> int:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(gone.stdout)


def test_live_gauges_of_a_dead_process_are_dropped(tmp_path: Path) -> None:
    dead = a_dead_pid()
    names = [f"gauge_livesum_{dead}.db", f"gauge_livemax_{dead}.db", f"counter_{dead}.db",
             f"gauge_livesum_{os.getpid()}.db"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    forget_dead(tmp_path)
    # What it counted stays in the sums; what it held open (sockets, its loop) went with it.
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([f"counter_{dead}.db", f"gauge_livesum_{os.getpid()}.db"])


def write(path: Path, name: str, sample: str, labels: dict[str, str], value: float) -> None:
    """A value as a process writes it to its file."""
    values = MmapedDict(str(path))  # type: ignore[no-untyped-call]
    key = mmap_key(name, sample, list(labels), list(labels.values()), "help")
    values.write_value(key, value, 0.0)  # type: ignore[no-untyped-call]
    values.close()  # type: ignore[no-untyped-call]


async def test_the_helper_sums_every_process_as_the_worker_would(tmp_path: Path) -> None:
    labels = {"level": "county_centre", "service": "SOC"}
    write(tmp_path / "counter_1001.db", "hallq_tickets_issued", "hallq_tickets_issued_total", labels, 3)
    write(tmp_path / "counter_1002.db", "hallq_tickets_issued", "hallq_tickets_issued_total", labels, 4)
    write(tmp_path / f"gauge_livesum_{a_dead_pid()}.db", "hallq_websockets_open", "hallq_websockets_open",
          {"kind": "display"}, 9)
    sums = ProcessSums()
    try:
        summed = await sums.text(str(tmp_path))
    finally:
        assert sums.helper is not None
        sums.helper.shutdown()
    assert summed == processes_text(str(tmp_path))
    found = {f.name: f for f in text_string_to_metric_families(summed.decode())}
    assert found["hallq_tickets_issued"].samples[0].value == 7
    assert "hallq_websockets_open" not in found  # the gauge of a process that is gone


async def test_each_hall_is_one_series_per_gauge() -> None:
    readings = [HallReading("demo", "county_centre", 4, 1120.0, 1.24, 2, 0.4),
                HallReading("beipo", "village_station", 0, 0.0, 0.0, 0, 0.0)]
    families = {f.name: f for f in text_string_to_metric_families((await text(readings, 0.002, ProcessSums()))
                                                                    .decode())}
    waiting = families["hallq_waiting"]
    assert {(s.labels["hall"], s.labels["level"], s.value) for s in waiting.samples} == \
        {("demo", "county_centre", 4.0), ("beipo", "village_station", 0.0)}
    assert families["hallq_wait_target_ratio"].samples[0].value == 1.24
    assert families["hallq_archive_lag_seconds"].samples[0].value == 0.4
    assert families["hallq_halls_read"].samples[0].value == 2
    assert families["hallq_hall_read_seconds"].samples[0].value == 0.002
    assert all(families[name].type == "gauge" for name, _, _ in HALL_GAUGES)


def test_a_label_value_is_escaped() -> None:
    reading = HallReading('odd"hall\\name', "none", 1, 0.0, 0.0, 0, 0.0)
    (family,) = [f for f in text_string_to_metric_families(hall_text([reading], 0.0)) if f.name == "hallq_waiting"]
    assert family.samples[0].labels["hall"] == 'odd"hall\\name'
