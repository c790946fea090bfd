"""The multiprocess directory: where every process of one ``hallq serve`` writes its metrics (mmap files).

``HALLQ_METRICS_DIR``, else ``$HALLQ_HOME/metrics``. ``hallq serve`` empties it and sets PROMETHEUS_MULTIPROC_DIR
before its workers and its archive process start, which inherit it. Emptied, because files of an earlier run would
be summed into this one's counters. Only prometheus_client's ``*.db`` files are removed: a directory named by
mistake loses nothing else. One directory per server: two servers sharing one would count each other's requests.

This module must not import prometheus_client: the client chooses, when first imported, whether values go to
files, so it must not be imported in ``hallq serve`` before the variable is set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def metrics_dir(env: Mapping[str, str]) -> Path:
    if env.get("HALLQ_METRICS_DIR"):
        return Path(env["HALLQ_METRICS_DIR"])
    return Path(env.get("HALLQ_HOME", "var")) / "metrics"


def prepare(env: MutableMapping[str, str] = os.environ) -> Path:
    """Make the directory, empty it of metric files and point PROMETHEUS_MULTIPROC_DIR at it (as an absolute path:
    a worker may start in another directory). Raises OSError naming the directory if it cannot be used."""
    path = metrics_dir(env).resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        for old in path.glob("*.db"):
            old.unlink()
    except OSError as exc:
        raise OSError(f"cannot prepare the metrics directory {path} (HALLQ_METRICS_DIR): {exc.strerror or exc}"
                      ) from None
    env[VARIABLE] = str(path)
    return path
