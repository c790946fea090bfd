"""The server's hot path alone, for profiling: guides issue, windows call next and finish, nothing else.

A locustfile; its numbers before and after each change are in ``loadtest/results/hot-path.md``::

    HALLQ_SECRET=s HALLQ_HOME=/tmp/hp taskset -c 0 .venv/bin/hallq serve --port 8031 &
    HALLQ_SECRET=s PYTHONPATH=. taskset -c 1 .venv/bin/locust -f loadtest/hot_path.py --headless \\
        -u 24 -r 24 -t 20s --host http://127.0.0.1:8031 --only-summary

12 issuers at up to 50 tickets/s each and 12 windows (demo hall) at up to 100 requests/s each: more than one
worker can serve, so the figures are its capacity and its latency when saturated.
"""

from __future__ import annotations

import itertools
import os
import random
from typing import ClassVar

from locust import FastHttpUser, constant_throughput, task

from floor.http.auth import make_token

SECRET = os.environ["HALLQ_SECRET"].encode()
HALL = "demo"
SERVICES = ("SOC", "HUK", "TAX", "FUND", "BIZ", "INFO")  # PROP has special windows; the demo's 1-12 all do these
WINDOWS = 12
_next_window = itertools.count()


class Issuer(FastHttpUser):
    wait_time = constant_throughput(50)
    auth: ClassVar[dict[str, str]] = {"Authorization": "Bearer " + make_token(SECRET, HALL, "guide")}

    @task
    def issue(self) -> None:
        self.client.post(f"/api/v1/halls/{HALL}/tickets", json={"service": random.choice(SERVICES)},
                         headers=self.auth, name="POST /tickets")


class Window(FastHttpUser):
    wait_time = constant_throughput(100)
    auth: ClassVar[dict[str, str]] = {"Authorization": "Bearer " + make_token(SECRET, HALL, "manager")}

    def on_start(self) -> None:
        self.window = str(next(_next_window) % WINDOWS + 1)
        self.client.post(f"/api/v1/halls/{HALL}/windows/{self.window}/open", headers=self.auth, name="open")

    @task
    def call_and_finish(self) -> None:
        reply = self.client.post(f"/api/v1/halls/{HALL}/windows/{self.window}/call-next", headers=self.auth,
                                 name="POST call-next")
        if reply.status_code == 200 and reply.json()["ticket"]:
            self.client.post(f"/api/v1/halls/{HALL}/windows/{self.window}/finish", json={"outcome": "done"},
                             headers=self.auth, name="POST finish")
