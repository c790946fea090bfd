"""``python -m loadtest.faults [worker-kill|redis-restart|postgres-outage|ws-drop|all] [--duration S]``

Runs each fault under load for ``--duration`` seconds (the default sizes ``all`` to about eight minutes), prints
its figures and writes them, with what each fault did, the machine, the commit and this command, into
``docs/reliability.md``. The exit status is 1 if any check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from loadtest.machine import describe, git_commit

from .run import CLUSTER_FAULTS, DEFAULT_DURATION_S, FAULTS, WINDOWS, Deployment, Outcome, Plan, Services, run_fault
from .services import ROOT

REPORT = ROOT / "docs" / "reliability.md"
KEPT_FROM = "## Acknowledged means replicated"  # the report's hand-written sections begin here

WHAT = {
    "worker-kill": "`kill -9` of one of the two uvicorn workers (the one with the lower pid), under load; uvicorn "
                   "starts a new one. Requests and sockets the worker held are cut; guides retry with the same "
                   "Idempotency-Key, windows read their state again, displays reconnect with `since`.",
    "redis-restart": "Redis `SHUTDOWN NOSAVE`, left down a few seconds, then started again empty on the same port: "
                     "the live day, the function library, the stream and the archiver's consumer group are gone. "
                     "The server must answer 503 with Retry-After meanwhile, then rebuild each hall from the SQL "
                     "record (completed with the events the workers had read and the archiver had not copied yet) "
                     "before the first script runs again.",
    "postgres-outage": "PostgreSQL stopped (`pg_ctl stop -m fast`) for 60 s, then started. The hall must not notice; "
                       "the archiver backs off, keeps its batch and catches up.",
    "primary-kill": "On a Redis Cluster of 3 primaries and 3 replicas (private, no persistence), `kill -9` of the "
                    "primary serving the hall's slot; its replica takes over (cluster-node-timeout 2 s), the "
                    "killed node is started again and rejoins as a replica. The server runs with "
                    "`HALLQ_ACK_REPLICAS=1`: a change is acknowledged only once a replica has it (WAIT), and "
                    "answered 503 while no replica confirms it; guides retry with their Idempotency-Key.",
    "ws-drop": "Every display's TCP connection aborted at once (client side, as a network blip does), one second "
               "without screens while the windows keep calling, then reconnection with `since=<last event id>`.",
}

SUITE = [
    "## In the suite",
    "",
    "`tests/reliability/test_faults.py` runs the same code for seconds per fault (the whole file in about a minute),",
    "one `hallq serve --workers 2` for the module, a hall of its own per test, and asserts zero violations of every",
    "check, no 5xx but 503, no hang, every 503 with Retry-After, and load acknowledged before and after the fault:",
    "",
    "- `test_a_worker_killed_with_sigkill_is_replaced_and_its_screens_resume`: SIGKILL of a worker; uvicorn starts",
    "  another, nothing acknowledged is lost, six displays still receive every call.",
    "- `test_redis_restarted_empty_is_rebuilt_without_losing_or_reissuing_a_number`: SHUTDOWN NOSAVE, 2 s down;",
    "  503s meanwhile, then the hall is rebuilt from the record and its tail, numbering carrying on.",
    "- `test_postgres_down_keeps_the_hall_working_and_the_archiver_catches_up`: PostgreSQL stopped 4 s; not one",
    "  request fails, and SQL equals the stream afterwards.",
    "- `test_screens_cut_off_resume_and_miss_no_call`: every display's socket aborted three times; each display",
    "  resumes and has every call.",
    "- two tests of the checks themselves (they report each kind of violation planted in a record, and pass a record",
    "  that kept everything), and one that the long plans fit the runner's time budget.",
]

FOUND = [
    "## What the faults found, and what was changed",
    "",
    "- **Redis restarted empty under a running server was never rebuilt.** The rebuild from SQL ran only at start-up:",
    "  afterwards every window got `hall_not_ready`, the first issue numbered from A001 again (duplicates), and every",
    "  acknowledged ticket was gone. Now the first script call that finds the function library gone rebuilds every",
    "  hall before loading it again (`queue_engine/fcall_pipe.py` `when_functions_lost`, `floor/record/recovery.py`),",
    "  so no script can run on an empty hall; the hub also starts the rebuild as soon as Redis answers again, for",
    "  halls where only phones are reading. The day is replayed in a thread, and a call waits for the rebuild at most",
    "  2 s, then gets 503 with Retry-After.",
    "- **The archiver's tail was lost with Redis.** The record trails the stream by a fraction of a second; the",
    "  tickets issued in it were lost and their numbers issued again (4 of 79 acknowledged tickets in one short run).",
    "  Each worker's hub now keeps the last minute of events it read and adds them to the record (idempotent by",
    "  stream id) when it loses Redis and before a rebuild (`floor/realtime/hub.py` `recent`,",
    "  `Recovery.record_tails`); in the long run below that put back 5 to 25 events per restart.",
    "- **Replies handed to the wrong request after a reconnection.** The first full run of this runner on Redis",
    "  restarts gave 21 500s (`KeyError: 'ticket'`: an issue got another command's reply) and 5 tickets acknowledged",
    "  as called by two windows (a window got another window's call-next reply). The pipelined connection",
    "  (`queue_engine/fcall_pipe.py` `Pipe`) kept one list of calls awaiting replies across connections, so a reader",
    "  left on an old connection could resolve calls made on the next one. Each connection now has its own list and",
    "  its reader its own stream; the next full run had no 500 and no double call.",
    "- **Requests hung past 10 s right after SHUTDOWN** (3 to 7 per run of three restarts). A connection made as",
    "  Redis went away was dropped before the caller resumed, and the call was queued on it anyway: no reply, and the",
    "  watchdog skipped a pipe without a connection. The caller now connects again until it holds a live connection",
    "  (or gets the error: 503), a late call is failed even without a connection, at its own deadline rather than up",
    "  to a whole timeout later, and connecting is bounded (2 s). A rebuild that takes longer than 2 s gives 503 too.",
    "- **Stale pooled connections after a Redis restart** failed one request each (a 503 long after Redis was back)",
    "  and crashed display sockets opening with a backlog; idle pooled connections are dropped when Redis answers",
    "  again (`Recovery.redis_is_back`).",
    "- **A 503 of a hall being rebuilt** (`hall_not_ready`, between Redis coming back and the rebuild) now carries",
    "  Retry-After like every other 503: the route kit adds it to every 503 it answers.",
    "- **A change acknowledged a moment before Redis went, read by no hub, was lost** (1 ticket in a short run on a",
    "  loaded CI machine, where the hubs read late). Every script's reply now carries the events it appended, and the",
    "  worker that acknowledges the change keeps them for a minute beside what its hub read (`Engine.on_written`,",
    "  `Recovery.remember`); they go into the record before the rebuild. Only a Redis lost together with the worker",
    "  that acknowledged the change can still lose it; Redis persistence (AOF, docs/deploy.md) closes that too.",
]

FIGURES = [
    ("requests", "requests"), ("acknowledged tickets", "acknowledged tickets"),
    ("acknowledged calls", "acknowledged calls"), ("tickets/s", "acknowledged tickets/s"),
    ("faults injected", "faults injected"),
    ("tickets lost", "**tickets lost**"), ("duplicate numbers", "**duplicate numbers**"),
    ("double calls", "**double calls**"), ("calls a display missed", "**calls a display missed**"),
    ("SQL differs from the stream", "**SQL ≠ stream**"), ("5xx other than 503", "**5xx (not 503)**"),
    ("503", "503"), ("503 without Retry-After", "503 without Retry-After"), ("hangs (> 10 s)", "hangs (> 10 s)"),
    ("unanswered (connection refused/reset)", "unanswered (conn. reset)"),
    ("max time to recover_s", "max time to recover (s)"), ("display reconnects", "display reconnects"),
    ("archive lag after the load_s", "archive lag after load (s)"), ("request p50_ms", "request p50 (ms)"),
    ("request p99_ms", "request p99 (ms)"), ("duration_s", "load duration (s)"),
]


def print_outcome(outcome: Outcome) -> None:
    print(f"\n== {outcome.plan.fault}: {'OK' if outcome.ok() else 'FAILED'}")
    for key, value in outcome.figures.items():
        print(f"  {key:40} {value}")
    for note in outcome.fault_notes:
        print(f"  fault: {note}")
    for check, violations in outcome.violations.items():
        for violation in violations[:5]:
            print(f"  VIOLATION {check}: {violation}")
    for line in outcome.load.server_errors[:5] + outcome.load.unavailable_without_retry_after[:5]:
        print(f"  RESPONSE {line}")
    for line in outcome.load.hangs[:5]:
        print(f"  HUNG {line}")


def report(outcomes: list[Outcome], command: str, started: datetime, machine: dict[str, str]) -> str:
    lines = [
        "# Reliability: faults under load",
        "",
        "What a hall keeps through the faults of a bad morning, measured by `loadtest/faults/` against a real",
        "`hallq serve --workers 2` on a private Redis and a private PostgreSQL (the runner starts, kills and restarts",
        "them; the machine's shared instances are never touched). Short versions of the same runs are in the suite:",
        "`tests/reliability/test_faults.py`.",
        "",
        "Command (from the repository root):",
        "",
        "```",
        command,
        "```",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC; code: `{git_commit(ROOT)}`",
        "- machine: " + "; ".join(f"{k} {v}" for k, v in machine.items() if k not in ("redis", "locust")),
        "- Redis and PostgreSQL: private instances on the same machine (redis-server 7, PostgreSQL 15, fsync off)",
        "- the machine was shared with other engineers' test runs while this ran: timings (latencies, time to",
        "  recover, archive lag) are noisy. The counts of lost, duplicate and double-called tickets are what matter.",
        "",
        "## The load",
        "",
        "Per fault, a hall of its own (a copy of the demo hall): guides each issuing a ticket every 0.1 s (plus the",
        "request's own time), each issue retried with the same Idempotency-Key until acknowledged; windows 1-4 looping",
        "call-next, start, finish with 50 ms between steps, so the queue grows all along (reading their state again",
        "after any failure); lobby displays on the websocket feed from the first event,",
        "reconnecting with `since=<last event id>`. Every request has a 10 s timeout; every acknowledged ticket and",
        "call, every 5xx, every 503 with its Retry-After, every hang and every call a display received is recorded.",
        "",
        "## The checks, after each fault",
        "",
        "Once the load stops, the archiver is given a bounded wait to catch up, then",
        "(`loadtest/faults/invariants.py`):",
        "",
        "- **tickets lost**: every acknowledged ticket exists in the hall's live state, with its number, at least as",
        "  far along as the last response said (exactly done if acknowledged done);",
        "- **duplicate numbers**: no (day, service, number) belongs to two tickets, counting the record, the live",
        "  state and the acknowledgements;",
        "- **double calls**: no ticket was called by two windows (record and acknowledged calls);",
        "- **calls a display missed**: every display received every `ticket.called` of the day's record;",
        "- **SQL ≠ stream**: SQL (`ticket_events`) holds every event of the Redis stream, identical, and each ticket's",
        "  status in `tickets` is the live one.",
        "",
        "## Results",
        "",
        "| figure | " + " | ".join(o.plan.fault for o in outcomes) + " |",
        "|---|" + "---:|" * len(outcomes),
    ]
    for key, label in FIGURES:
        cells = []
        for o in outcomes:
            value = o.figures.get(key)
            cells.append("-" if value is None else f"{value:,}" if isinstance(value, int) else str(value))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("| Retry-After values | " + " | ".join(
        ", ".join(f"{k} s × {v}" for k, v in o.figures["Retry-After values"].items()) or "-" for o in outcomes) + " |")
    lines += ["", "## What each fault did", ""]
    lines_after = ["", *SUITE, "", *FOUND]
    for o in outcomes:
        lines += [f"### {o.plan.fault}: {'all checks held' if o.ok() else 'CHECKS FAILED'}", "", WHAT[o.plan.fault], ""]
        lines.append(f"Plan: load {o.plan.before_s:g} s, then {o.plan.faults} fault(s) {o.plan.every_s:g} s apart, "
                     f"then {o.plan.after_s:g} s of load after the last; {o.plan.guides} guides, "
                     f"{len(WINDOWS)} windows, {o.plan.displays} displays.")
        lines.append("")
        notes = sorted(set(o.fault_notes))
        lines += [f"- {note}" for note in notes[:6]]
        problems = [f"{check}: {v}" for check, vs in o.violations.items() for v in vs[:3]]
        problems += [f"response: {r}" for r in o.load.server_errors[:3] + o.load.unavailable_without_retry_after[:3]]
        problems += [f"hung: {h}" for h in o.load.hangs[:3]]
        if problems:
            lines += ["", "Found:", ""] + [f"- {p}" for p in problems]
        lines.append("")
    return "\n".join(lines + lines_after).rstrip() + "\n"


async def run_all(services: Services, faults: list[str], duration_s: float) -> list[Outcome]:
    outcomes = []
    for on_cluster in (False, True):  # one Redis for most faults; a cluster, acknowledging by replica, for its own
        these = [f for f in faults if (f in CLUSTER_FAULTS) == on_cluster]
        if not these:
            continue
        deployment = Deployment(services, len(these), cluster=on_cluster, ack_replicas=1 if on_cluster else 0)
        try:
            await asyncio.to_thread(deployment.start)
            for fault in these:
                print(f"running {fault} for about {duration_s:g} s ...", flush=True)
                outcome = await run_fault(Plan.long(fault, duration_s), deployment)
                print_outcome(outcome)
                outcomes.append(outcome)
        finally:
            await asyncio.to_thread(deployment.close)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.faults", description=__doc__.splitlines()[0])
    parser.add_argument("fault", choices=[*FAULTS, "all"])
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION_S,
                        help=f"seconds of load per fault (default {DEFAULT_DURATION_S:g})")
    parser.add_argument("--no-report", action="store_true", help=f"print only; leave {REPORT.name} alone")
    args = parser.parse_args(argv)
    faults = list(FAULTS) if args.fault == "all" else [args.fault]
    started = datetime.now(UTC)
    machine = describe("redis://127.0.0.1:1/0")  # no Redis of ours to describe: the private ones are gone by now
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="hallq-faults-"))
    services = Services.start(workdir)
    try:  # out here, so that an interrupted run (Ctrl-C) still stops the private PostgreSQL
        outcomes = asyncio.run(run_all(services, faults, args.duration))
    finally:
        services.close()
    if all(o.ok() for o in outcomes):
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"the server's log is kept in {workdir}")
    print(f"\n{len(outcomes)} fault(s) in {time.monotonic() - began:.0f} s")
    if not args.no_report:
        command = " ".join([".venv/bin/python -m loadtest.faults", *(argv if argv is not None else sys.argv[1:])])
        # The sections written by hand (from KEPT_FROM on) stay as they are.
        kept = REPORT.read_text(encoding="utf-8").partition(KEPT_FROM)
        REPORT.write_text(report(outcomes, command, started, machine) + (f"\n{KEPT_FROM}{kept[2]}" if kept[1] else ""),
                          encoding="utf-8")
        print(f"wrote {REPORT.relative_to(ROOT)}")
    return 0 if all(o.ok() for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
