"""The multiprocess directory: chosen from the settings' home or HALLQ_METRICS_DIR, emptied of metric files only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from floor.metrics.directory import VARIABLE, metrics_dir, prepare
from tests.conftest import ROOT


def test_the_directory_is_the_homes_unless_named() -> None:
    assert metrics_dir({}) == Path("var") / "metrics"
    assert metrics_dir({"HALLQ_HOME": "/srv/hallq"}) == Path("/srv/hallq/metrics")
    assert metrics_dir({"HALLQ_HOME": "/srv/hallq", "HALLQ_METRICS_DIR": "/dev/shm/hallq"}) == Path("/dev/shm/hallq")


def test_prepare_empties_the_metric_files_of_an_earlier_run_and_nothing_else(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    for name in ("counter_123.db", "histogram_123.db", "gauge_livesum_456.db"):
        (directory / name).write_bytes(b"\0" * 64)
    (directory / "notes.txt").write_text("kept")
    env = {"HALLQ_HOME": str(tmp_path)}
    assert prepare(env) == directory.resolve()
    assert sorted(p.name for p in directory.iterdir()) == ["notes.txt"]
    assert env[VARIABLE] == str(directory.resolve())


def test_prepare_makes_the_directory(tmp_path: Path) -> None:
    env = {"HALLQ_METRICS_DIR": str(tmp_path / "a" / "b")}
    assert prepare(env).is_dir()


def test_a_directory_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(OSError, match=r"metrics directory .*file/m"):
        prepare({"HALLQ_METRICS_DIR": str(tmp_path / "file" / "m")})


def test_hallq_serve_can_prepare_it_before_prometheus_client_is_imported() -> None:
    """prometheus_client decides at its first import whether values go to files: the module ``hallq serve`` calls
    first must not import it."""
    code = "import sys, floor.cli, floor.metrics.directory; print('prometheus_client' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"
