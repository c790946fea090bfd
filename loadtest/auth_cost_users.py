"""The hot path signed in two ways, for ``loadtest/auth_cost.py``: a locustfile in the shape of ``hot_path.py``.

12 guides issue tickets (``POST /tickets``) and 12 windows call the next (``POST call-next``) and finish what they
called, each at a fixed rate. How they prove who they are is the point of the measurement, chosen by
``AUTH_COST_MODE``:

- ``token``: ``Authorization: Bearer <token>`` (a guide token, a staff token for each window);
- ``cookie``: the ``hallq_session`` and ``hallq_csrf`` cookies of a signed-in account (``guide``, and ``s01`` ..
  ``s12`` each holding its window), with ``X-CSRF-Token`` on every write, as the pages send them.

The runner signs in and passes the credentials in ``AUTH_COST_CREDENTIALS`` (JSON: ``{"guide": cred, "1": cred,
...}``, a token string or ``{"session": ..., "csrf": ...}``), so no password hashing happens under the load.
``AUTH_COST_ISSUE_RATE`` and ``AUTH_COST_WINDOW_RATE`` are each user's rate (per second); every latency of a
request started ``AUTH_COST_WARMUP_S`` seconds or more after the first user started is written, in milliseconds
as floats (Locust's own statistics round to whole ones), to ``AUTH_COST_SAMPLES`` when Locust quits.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant_throughput, events, task

HALL = "demo"
SERVICES = ("SOC", "HUK", "TAX", "FUND", "BIZ", "INFO")  # as hot_path.py: windows 9 and 10 (PROP only) call nobody
WINDOWS = 12
ISSUE = "POST /tickets"
CALL_NEXT = "POST call-next"
FINISH = "POST finish"

MODE = os.environ.get("AUTH_COST_MODE", "token")
CREDENTIALS: dict[str, Any] = json.loads(os.environ.get("AUTH_COST_CREDENTIALS", "{}"))
ISSUE_RATE = float(os.environ.get("AUTH_COST_ISSUE_RATE", "10"))
WINDOW_RATE = float(os.environ.get("AUTH_COST_WINDOW_RATE", "15"))
WARMUP_S = float(os.environ.get("AUTH_COST_WARMUP_S", "3"))
SAMPLES = os.environ.get("AUTH_COST_SAMPLES", "")

_next_window = itertools.count()
_samples: dict[str, list[float]] = {}
_counts = {"requests": 0, "failures": 0}
_first_start: list[float] = []  # when the first user started (time.time())


def headers(who: str) -> dict[str, str]:
    """What a request of ``who`` (``guide`` or a window's id) carries to prove who sends it."""
    cred = CREDENTIALS[who]
    if MODE == "token":
        return {"Authorization": f"Bearer {cred}"}
    if MODE == "cookie":
        return {"Cookie": f"hallq_session={cred['session']}; hallq_csrf={cred['csrf']}", "X-CSRF-Token": cred["csrf"]}
    raise ValueError(f"AUTH_COST_MODE must be token or cookie, not {MODE!r}")


def _record(name: str, response_time: float, exception: BaseException | None, start_time: float = 0.0,
            **_: Any) -> None:
    _counts["requests"] += 1
    if exception is not None:
        _counts["failures"] += 1
        return
    if _first_start and start_time - _first_start[0] >= WARMUP_S:
        _samples.setdefault(name, []).append(response_time)


def _write(**_: Any) -> None:
    if SAMPLES:
        measured_s = time.time() - _first_start[0] - WARMUP_S if _first_start else 0.0
        Path(SAMPLES).write_text(json.dumps({"samples": _samples, "measured_s": measured_s, **_counts}))


def listen(hook: Any, handler: Callable[..., None]) -> None:
    hook.add_listener(handler)  # through Any: locust's EventHook.add_listener is untyped (as users.py)


listen(events.request, _record)
listen(events.quitting, _write)


class Issuer(FastHttpUser):
    fixed_count = 12
    wait_time = constant_throughput(ISSUE_RATE)

    def on_start(self) -> None:
        _first_start[:] = _first_start or [time.time()]
        self.auth = headers("guide")

    @task
    def issue(self) -> None:
        self.client.post(f"/api/v1/halls/{HALL}/tickets", json={"service": random.choice(SERVICES)},
                         headers=self.auth, name=ISSUE)


class Window(FastHttpUser):
    fixed_count = WINDOWS
    wait_time = constant_throughput(WINDOW_RATE)

    def on_start(self) -> None:
        _first_start[:] = _first_start or [time.time()]
        self.window = str(next(_next_window) % WINDOWS + 1)
        self.auth = headers(self.window)

    @task
    def call_and_finish(self) -> None:
        base = f"/api/v1/halls/{HALL}/windows/{self.window}"
        reply = self.client.post(f"{base}/call-next", headers=self.auth, name=CALL_NEXT)
        if reply.status_code == 200 and reply.json()["ticket"]:
            self.client.post(f"{base}/finish", json={"outcome": "done"}, headers=self.auth, name=FINISH)
