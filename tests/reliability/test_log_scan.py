"""No personal data in any log: a full run at debug level through every path that takes an ID number or a phone
number (issue, duplicates, refusals of bad numbers, phone page lookups, websocket feeds, window work, the archive
process), then every log it wrote, every HTTP body and websocket frame it sent, and the SQL record are scanned
for the numbers used, any 18-digit ID-shaped string, any mobile number and the names sent. The scanner is shown
to find each of those when one is planted, so a clean scan means something.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from floor.logs import RedactPersonalData
from tests.server.conftest import (
    NO_SHOW_AT_ONCE,
    LiveServer,
    ServerFactory,
    id_check_digit,
    make_id_number,
    stop_server,
    with_bad_check_digit,
    write_hall_copy,
    ws_connect,
)

# Bounded by anything but a letter or digit: a stream id's 13-digit milliseconds hold 11 digits starting 17,
# and a hex hash can hold a run of digits, and neither is a person's number.
ID_SHAPED = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
ARCHIVE_TIMEOUT_S = 20.0

ELDER = make_id_number(date(1950, 3, 8), seq=417)  # 60+: the green channel by birth date
ADULT = make_id_number(date(1990, 5, 17), seq=233, area="440305")
OTHER = make_id_number(date(1984, 11, 2), seq=58, area="310101")
LOOKED_UP = make_id_number(date(1977, 7, 7), seq=901, area="510107")  # typed where a ticket id belongs
PHONES = ("13912345678", "15800001234", "18677778888")
NAMES = ("张三丰", "欧阳小明")


def _bad_birth_date() -> str:
    first17 = "11010519901301123"  # born in month 13, with a right check digit
    return first17 + id_check_digit(first17)


BAD_IDS = (with_bad_check_digit(ADULT), ADULT[:17], _bad_birth_date(), ADULT + "123456789012345")
BAD_PHONES = ("12912345678", "1391234567", "139123456789", "+86 158-0000-12345")


@dataclass
class Sent:
    """Every personal value the run sent, and everything the server sent back."""

    values: set[str] = field(default_factory=set)
    replies: list[str] = field(default_factory=list)

    def add(self, *values: str) -> None:
        for v in values:
            self.values.add(v)
            digits = re.sub(r"\D", "", v)
            if len(digits) >= 10:
                self.values.add(digits)
                self.values.add(digits.removeprefix("86"))


def find_personal_data(text: str, sent: set[str]) -> list[str]:
    """Where ``text`` holds a value sent, an ID-shaped string or a mobile number (the value itself is not repeated
    in the finding: the report of a leak must not leak)."""
    found = [f"a value sent ({len(v)} characters) at {text.index(v)}" for v in sorted(sent) if v in text]
    found += [f"an ID-shaped number at {m.start()}" for m in ID_SHAPED.finditer(text)]
    found += [f"a mobile number at {m.start()}" for m in MOBILE.finditer(text)]
    return found


# -- the run -----------------------------------------------------------------------------------------


class Run:
    def __init__(self, server: LiveServer, client: httpx.AsyncClient, sent: Sent) -> None:
        self.server, self.client, self.sent = server, client, sent

    async def call(self, method: str, path: str, *, role: str | None = "guide", window: str | None = None,
                   expect: int | None = None, **kwargs: Any) -> httpx.Response:
        headers = {**(self.server.auth(role, window) if role else {}), **kwargs.pop("headers", {})}
        reply = await self.client.request(method, path, headers=headers, **kwargs)
        self.sent.replies.append(reply.text)
        if expect is not None:
            assert reply.status_code == expect, f"{method} {path}: {reply.status_code} {reply.text}"
        assert reply.status_code < 500, reply.text
        return reply

    async def issue(self, body: dict[str, Any], expect: int, role: str | None = "guide", **kwargs: Any) -> Any:
        for key in ("id_number", "phone"):
            if isinstance(body.get(key), str):
                self.sent.add(body[key])
        return (await self.call("POST", "/api/v1/halls/demo/tickets", role=role, json=body, expect=expect,
                                **kwargs)).json()

    async def window(self, window: str, op: str, body: Any = None) -> Any:
        path = f"/api/v1/halls/demo/windows/{window}/{op}"
        return (await self.call("POST", path, role="staff", window=window, json=body, expect=200)).json()


async def _full_run(server: LiveServer, sent: Sent) -> None:
    async with server.client() as client:
        run = Run(server, client, sent)
        for w in ("1", "5"):
            await run.call("POST", f"/api/v1/halls/demo/windows/{w}/open", role="manager", expect=200)
        display = ws_connect(server.ws_url("display", server.token("display")))
        console = ws_connect(server.ws_url("console", server.token("staff", "1"), window="1"))
        dashboard = ws_connect(server.ws_url("dashboard", server.token("manager")))
        async with display as d, console as c, dashboard as b:
            elder = await run.issue({"service": "SOC", "id_number": ELDER, "phone": PHONES[0]}, 201)
            assert elder["priority"] == "green"
            adult = await run.issue({"service": "HUK", "id_number": ADULT.lower(), "phone": "+86 158-0000-1234"}, 201,
                                    headers={"Idempotency-Key": "desk-1-press-1"})
            await run.issue({"service": "HUK", "id_number": ADULT, "phone": "+86 158-0000-1234"}, 200,
                            headers={"Idempotency-Key": "desk-1-press-1"})
            kiosk = await run.issue({"service": "TAX", "id_number": OTHER, "phone": PHONES[2]}, 201, role="kiosk")
            # Refusals that hold the numbers: none may echo them.
            await run.issue({"service": "HUK", "id_number": ADULT}, 409)  # duplicate_ticket
            await run.issue({"service": "SOC", "id_number": ADULT}, 422, headers={"Idempotency-Key": "desk-1-press-1"})
            for bad in BAD_IDS:
                await run.issue({"service": "SOC", "id_number": bad, "phone": PHONES[1]}, 422)
            for bad in BAD_PHONES:
                await run.issue({"service": "SOC", "id_number": OTHER, "phone": bad}, 422)
            await run.issue({"service": "NOPE", "id_number": OTHER, "phone": PHONES[1]}, 404)
            await run.issue({"service": "SOC", "id_number": OTHER, "priority": "vip"}, 403, role="kiosk")
            await run.issue({"service": "SOC", "id_number": OTHER}, 403, role="display")
            await run.issue({"service": "SOC", "id_number": OTHER}, 401, role=None)
            await run.issue({"service": "SOC", "id_number": int(OTHER[:17])}, 422)  # a number, not a string
            sent.add(OTHER[:17])
            # A real name is masked before the engine sees it: only 张*丰 may ever appear, never the name.
            for name, service in zip(NAMES, ("SOC", "FUND"), strict=True):
                sent.add(name)
                named = await run.issue({"service": service, "name": name, "id_number": OTHER}, 201)
                assert named["holder"] == name[0] + "*" * (len(name) - 2) + name[-1]
            truncated = f'{{"service": "SOC", "id_number": "{OTHER}", "phone": "{PHONES[1]}'.encode()
            await run.call("POST", "/api/v1/halls/demo/tickets", content=truncated,
                           headers={"Content-Type": "application/json"}, expect=422)

            # The citizen's phone: page, printed ticket, status, live line; and lookups that find nothing.
            for tid in (elder["id"], adult["id"], kiosk["id"]):
                for path in (f"/t/{tid}", f"/t/{tid}/print", f"/api/v1/halls/demo/tickets/{tid}"):
                    await run.call("GET", path, role=None, expect=200)
            sent.add(LOOKED_UP, PHONES[1])
            for wrong in (LOOKED_UP, PHONES[1]):
                await run.call("GET", f"/api/v1/halls/demo/tickets/{wrong}", role=None, expect=404)
                await run.call("GET", f"/t/{wrong}", role=None, expect=404)
            async with ws_connect(server.ws_url(f"ticket/{elder['id']}", None)) as phone:
                sent.replies.append(str(await phone.recv()))
                # Window work while the phone, the display, a console and the dashboard watch.
                called = await run.window("1", "call-next")
                assert called["ticket"]["id"] == elder["id"]  # green channel first
                await run.window("1", "recall")
                await run.window("1", "start")
                await run.window("1", "transfer", {"to_service": "TAX", "reason": "需补充材料"})
                await run.window("5", "call-next")
                await run.window("5", "no-show")
                await run.window("1", "call-next")
                await run.window("1", "finish", {"outcome": "done"})
                phone_frames = await _drain(phone)
                assert len(phone_frames) >= 2, phone_frames  # called, then transferred and waiting again
                sent.replies += phone_frames
            async with ws_connect(server.ws_url(f"ticket/{LOOKED_UP}", None)) as nothing:
                sent.replies.append(str(await nothing.recv()))
            for ws in (d, c, b):
                frames = await _drain(ws)
                assert len(frames) >= 8, frames  # the issues and the window work, as each screen saw them
                sent.replies += frames


async def _drain(ws: Any, quiet_s: float = 1.5) -> list[str]:
    """Every frame until the socket has been quiet for ``quiet_s``."""
    frames: list[str] = []
    while True:
        try:
            frames.append(str(await asyncio.wait_for(ws.recv(), quiet_s)))
        except TimeoutError:
            return frames


def _wait_for_archive(server: LiveServer) -> int:
    """The archive process has written every event of the stream to SQL: its paths ran too."""
    want = len(server.events())
    deadline = time.monotonic() + ARCHIVE_TIMEOUT_S
    db = server.home / "hallq.db"
    while time.monotonic() < deadline:
        if db.exists():
            with sqlite3.connect(db) as conn:
                have = conn.execute("SELECT count(*) FROM ticket_events WHERE hall = 'demo'").fetchone()[0]
            if have >= want:
                return int(have)
        time.sleep(0.2)
    pytest.fail(f"the archive process did not write the {want} events within {ARCHIVE_TIMEOUT_S} s")


def _logs(server: LiveServer) -> dict[str, str]:
    """Every file the run left in the server's home but the SQL record: stdout, stderr, anything else written."""
    return {p.name: p.read_text(encoding="utf-8", errors="replace")
            for p in sorted(server.home.rglob("*")) if p.is_file() and not p.name.startswith("hallq.db")}


async def test_no_personal_data_in_logs_replies_or_the_record(live_server: ServerFactory, tmp_path: Path) -> None:
    # Every kind of request in a few seconds: the no-show rule's recall and minute are not waited out here.
    server = live_server(extra_env={"HALLQ_LOG_LEVEL": "debug"},
                         halls=[write_hall_copy(tmp_path, "demo", NO_SHOW_AT_ONCE)])
    sent = Sent()
    await _full_run(server, sent)
    archived = _wait_for_archive(server)
    stop_server(server)

    logs = _logs(server)
    stderr = server.stderr()
    assert "DEBUG" in stderr, "the server did not log at debug level; the scan would prove little"
    assert archived > 10
    assert {server.stdout_path.name, server.stderr_path.name} <= set(logs)
    assert sum(len(t) for t in logs.values()) > 1000, logs
    assert len(sent.values) >= 12
    findings = {name: find_personal_data(text, sent.values) for name, text in logs.items()}
    findings |= {f"reply {i}": find_personal_data(text, sent.values) for i, text in enumerate(sent.replies)}
    assert {k: v for k, v in findings.items() if v} == {}
    record = (server.home / "hallq.db").read_bytes().decode("latin-1")
    assert find_personal_data(record, {v for v in sent.values if v.isascii()}) == []

    # The scanner finds what it looks for: each kind planted once into a copy of the real log text.
    for planted, kind in ((ELDER, "value sent"), (PHONES[2], "value sent"), (NAMES[0], "value sent"),
                          (make_id_number(date(2001, 2, 3), seq=555), "ID-shaped"),
                          ("13500001111", "mobile number")):
        middle = len(stderr) // 2
        copy = f"{stderr[:middle]} {planted} {stderr[middle:]}"
        assert any(kind in f for f in find_personal_data(copy, sent.values)), (kind, planted)


def test_the_patterns_leave_timestamps_stream_ids_and_ticket_ids_alone() -> None:
    """What the logs are full of must not look like a person's number, or every scan would fail for nothing."""
    ordinary = "1763946480123-0 at 1763946480123 ms; ticket 20261124-00112233aabb; port 127.0.0.1:51234"
    assert find_personal_data(ordinary, set()) == []
    assert find_personal_data(f"id={ADULT}", set()) != []
    assert find_personal_data("tel:13912345678.", set()) != []


def test_the_log_filter_masks_messages_arguments_and_tracebacks() -> None:
    """The filter every server handler carries (floor/logs.py), on each part of a record a number can hide in."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactPersonalData())
    log = logging.getLogger(f"hallq.test-{uuid.uuid4().hex[:6]}")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning(f"lookup of {ADULT} failed")
        log.warning("phone %s, id %s, stream %s", "+86 139-1234-5678", ELDER.lower(), "1763946480123-0")
        log.warning("%(who)s called", {"who": PHONES[2]})
        try:
            raise ValueError(f"input_value='{OTHER}'")
        except ValueError:
            log.exception("refused")
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    assert find_personal_data(text, {ADULT, ELDER, ELDER.lower(), OTHER, *PHONES, "13912345678"}) == [], text
    assert text.count("<id-number>") == 3, text
    assert text.count("<phone>") == 2, text
    assert "1763946480123-0" in text  # what is not a person's number is kept
    assert "ValueError" in text  # the traceback is kept, only masked
