"""Staff tokens that name a member of staff (``hallq token --role staff --window 5 --staff S05``): the CLI checks
the id against the hall's staff, the token carries it, and every event the token causes records who served."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import orjson
import pytest

from floor.http.auth import make_token, read_token
from floor.http.kit import actor
from queue_engine.keys import HallKeys
from tests.conftest import ROOT, sync_redis
from tests.server.conftest import HALLQ, SECRET, HallApi, server_env


def hallq(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HALLQ), *args], cwd=ROOT, env=server_env(home, "hqtest-staff-unused"),
                          capture_output=True, text=True, timeout=60, check=False)


def recorded_by(api: HallApi) -> list[tuple[str, str | None]]:
    """(type, by) of every event in the hall's stream."""
    client = sync_redis()
    try:
        entries = client.xrange(HallKeys(api.hall, api.server.key_prefix).events)
    finally:
        client.close()
    assert entries is not None
    events = []
    for _, fields in entries:
        assert fields is not None
        events.append(orjson.loads(fields[b"e"]))
    return [(e["type"], e.get("by")) for e in events]


# -- the CLI ---------------------------------------------------------------------------------------
def test_a_staff_token_names_the_member_of_staff_it_was_made_for(tmp_path: Path) -> None:
    made = hallq(tmp_path, "token", "--hall", "demo", "--role", "staff", "--window", "5", "--staff", "S05")
    assert made.returncode == 0, made.stderr
    assert made.stderr == ""
    principal = read_token(SECRET.encode(), made.stdout.strip())
    assert (principal.role, principal.window, principal.staff) == ("staff", "5", "S05")
    plain = hallq(tmp_path, "token", "--hall", "demo", "--role", "staff", "--window", "5")
    assert read_token(SECRET.encode(), plain.stdout.strip()).staff is None


@pytest.mark.parametrize(("args", "words"), [
    (("--role", "staff", "--window", "5", "--staff", "S99"), ("no member of staff 'S99'", "S01", "S12")),
    (("--role", "manager", "--staff", "S05"), ("only a staff token names a member of staff",)),
])
def test_an_unknown_or_misplaced_staff_id_is_one_line_without_a_traceback(
    tmp_path: Path, args: tuple[str, ...], words: tuple[str, ...]
) -> None:
    result = hallq(tmp_path, "token", "--hall", "demo", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hallq: ")
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_make_token_refuses_a_staff_id_on_any_other_role() -> None:
    with pytest.raises(ValueError, match="only a staff token"):
        make_token(b"k", "demo", "guide", staff="S01")


def test_the_actor_string_gains_the_staff_id_and_keeps_its_old_shape_without() -> None:
    named = read_token(b"k", make_token(b"k", "demo", "staff", "5", staff="S05"))
    plain = read_token(b"k", make_token(b"k", "demo", "staff", "5"))
    manager = read_token(b"k", make_token(b"k", "demo", "manager"))
    assert actor(named) == f"staff:5/S05@{named.token_id}"
    assert actor(plain) == f"staff:5@{plain.token_id}"
    assert actor(manager) == f"manager@{manager.token_id}"


# -- the server ------------------------------------------------------------------------------------
async def test_events_caused_by_a_named_token_record_the_staff_id_and_the_audit_shows_it(api: HallApi) -> None:
    named = make_token(api.server.secret, api.hall, "staff", "5", staff="S05")
    token_id = read_token(api.server.secret, named).token_id
    headers = {"Authorization": f"Bearer {named}"}
    for op in ("open", "call-next"):
        if op == "call-next":
            await api.issue("TAX")
        reply = await api.client.post(api.path(f"/windows/5/{op}"), headers=headers)
        assert reply.status_code == 200, reply.text
    by = dict(recorded_by(api))
    assert by["window.opened"] == by["ticket.called"] == f"staff:5/S05@{token_id}"
    issued_by = by["ticket.issued"]
    assert issued_by is not None
    assert issued_by.startswith("guide@")

    for _ in range(150):  # the archiver writes the audit a moment later
        entries = (await api.ok("GET", "/audit", params={"window": "5"}))["entries"]
        if len(entries) == 2:
            break
        await asyncio.sleep(0.1)
    assert [(e["action"], e["role"], e["token_id"], e["details"].get("staff")) for e in entries] == [
        ("ticket.called", "staff", token_id, "S05"), ("window.opened", "staff", token_id, "S05")]


async def test_a_token_naming_nobody_records_events_as_before(api: HallApi) -> None:
    await api.open("3")
    await api.window_op("3", "close")
    closed = [by for kind, by in recorded_by(api) if kind == "window.closed"]
    assert len(closed) == 1
    assert re.fullmatch(r"staff:3@[0-9a-f]{12}", closed[0] or ""), closed
