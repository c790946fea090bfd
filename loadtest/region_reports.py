"""A region's roll-up report over 200 halls and 30 days, from PostgreSQL: cold (no summary yet), warm, and the naive
way (every hall's facts loaded and counted, as 200 hall reports), in one run on one seeded database.

    .venv/bin/python -m loadtest.region_reports [--halls 200] [--days 30] [--min 150] [--max 400] [--keep]
                                               [--url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--out FILE]

Seeds a schema of its own (``hq_bench_<random>``, dropped afterwards unless ``--keep``) with ``--halls`` copies of
the demo hall below one county (levels mixed), each with ``--min``..``--max`` tickets a day over ``--days`` days
ending today: issued through the day, most served, some missed, cancelled or transferred, green channel and
appointments among them, their events (issued, called, serving, finished or missed, transferred), ratings for a
third of the served with 差评 cases, each past day ended by a ``day.closed`` in the evening; today is half done
(some tickets still waiting), as at 16:00. Rows go in by COPY.

Then, timed: the region report by hall cold (every past hall-day summarised on the way), warm (the median of
three, per grouping), warm after a late rating (one hall-day summarised again), and the naive way. The naive
per-hall totals are compared with the report's rows figure by figure: a run that finds a difference fails.
Writes ``loadtest/results/region-reports.md``.

The seeding functions are used by the tests too (``tests/floor/regions``, ``tests/server/test_region_reports.py``):
``history`` makes the rows of a hall's days, ``insert`` writes them on any database, ``copy`` on PostgreSQL.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from floor.ratings import cases as case_rules
from floor.ratings.rules import is_bad
from floor.ratings.store import CaseRow, RatingRow
from floor.regions.rollup import RegionGrouping, report
from floor.regions.summaries import HallNow, region_sums
from floor.reports.facts import load_facts
from floor.reports.rules import DateRange
from floor.reports.rules import report as hall_report
from floor.sql.db import TicketEventRow, TicketRow, make_sql_engine, migrate, sync_hall
from queue_engine.config import HallConfig, load_hall
from queue_engine.policy import GREEN_REASONS, TIER_TRANSFERRED, TIER_WALK_IN

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "floor" / "halls" / "demo.toml"
RESULTS = ROOT / "loadtest" / "results" / "region-reports.md"
POSTGRES_URL = os.environ.get("HALLQ_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
LEVELS = ("county_centre", "town_centre", "town_centre", "village_station", "village_station", "village_station",
          "bank_outlet", "self_service")
SCORE_WEIGHTS = ((5, 70), (4, 18), (3, 6), (2, 4), (1, 2))
CASE_STATUSES = ("awaiting_callback", "awaiting_fix", "awaiting_feedback", "closed", "reviewed")
# The figures a hall report and a region report both give (the p90s do not add up; the weights are the region's).
COMPARED = ("issued", "served", "missed", "cancelled", "unfinished", "avg_wait_s", "avg_handling_s", "no_show_rate",
            "over_target", "green", "green_total", "appointments", "appointment_no_shows", "ratings", "rating_shares",
            "rated", "good", "good_rate", "satisfaction", "bad", "cases")


def comparable(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures both reports give, from either (a hall's per-service no-shows are None on other groupings)."""
    return {k: figures[k] for k in COMPARED}


# -- halls -------------------------------------------------------------------------------------------------
def bench_halls(n: int, region: str = "demo-county", prefix: str = "bench") -> list[HallConfig]:
    """``n`` copies of the demo hall below ``region``, levels mixed as a county's are."""
    demo = load_hall(DEMO)
    return [demo.model_copy(update={"id": f"{prefix}-{i:03d}", "name": f"测试大厅{i:03d}", "region": region,
                                    "level": LEVELS[i % len(LEVELS)]}) for i in range(n)]


# -- history -------------------------------------------------------------------------------------------------
@dataclass
class Rows:
    tickets: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    ratings: list[dict[str, Any]] = field(default_factory=list)
    cases: list[dict[str, Any]] = field(default_factory=list)

    def extend(self, other: Rows) -> None:
        self.tickets += other.tickets
        self.events += other.events
        self.ratings += other.ratings
        self.cases += other.cases

    def __len__(self) -> int:
        return len(self.tickets) + len(self.events) + len(self.ratings) + len(self.cases)


def _ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


class _Stream:
    """A hall's stream ids: (ms of the event, a sequence unique in the hall), in order."""

    def __init__(self, start: int) -> None:
        self.seq = start

    def key(self, at: datetime) -> tuple[int, int]:
        self.seq += 1
        return _ms(at), self.seq


def history(hall: HallConfig, day: date, tickets: int, rand: random.Random, *, now: datetime | None = None,
            closed: bool = True, seq_start: int = 0) -> Rows:
    """A day of ``tickets`` tickets of ``hall``, with their events, ratings and 差评 cases, and (``closed``) the
    ``day.closed`` that ends it once its last ticket is done. Tickets after ``now`` are not issued yet; those close
    before it are still waiting, called or being served. Stream sequences start after ``seq_start`` (keep them
    apart per day)."""
    rows = Rows()
    zone = hall.zone
    stream = _Stream(seq_start)
    services = [s.code for s in hall.services]
    windows = [w.id for w in hall.windows]
    text = day.strftime("%Y%m%d")
    opening = datetime.combine(day, clock_time(8, 30), tzinfo=zone)
    times = sorted(opening + timedelta(seconds=rand.uniform(0, 8.5 * 3600)) for _ in range(tickets))
    for i, issued in enumerate(times):
        if now is not None and issued >= now:
            break
        tid = f"{text}-{i:05d}{rand.randrange(10**8):08d}"
        service = rand.choice(services)
        green = rand.random() < 0.05
        channel = "appointment" if rand.random() < 0.1 else rand.choice(("guide", "kiosk", "kiosk"))
        row: dict[str, Any] = {
            "hall": hall.id, "id": tid, "day": text, "number": f"A{i:03d}", "service": service, "status": "waiting",
            "tier": TIER_WALK_IN, "channel": channel, "priority": "green" if green else None, "appointment_at": None,
            "window": None, "issued_at": issued, "called_at": None, "serving_at": None, "finished_at": None,
            "outcome": None, "handling_ms": None, "recalls": 0, "transfers": 0, "pinned": None, "item": None,
            "green_reason": rand.choice((*GREEN_REASONS, None)) if green else None, "holder": None}
        events = [_event(hall, stream, "ticket.issued", issued, tid, None, {"service": service, "day": text})]
        wait = timedelta(seconds=rand.expovariate(1 / 900))
        fate = rand.random()
        called = issued + wait
        if now is not None and called >= now:
            pass  # still waiting
        elif fate < 0.04:
            row.update(status="cancelled", finished_at=issued + wait / 2)
            events.append(_event(hall, stream, "ticket.cancelled", issued + wait / 2, tid, None, {}))
        else:
            _called(hall, stream, row, events, called, fate, services, windows, rand, now, rows)
        row["last_event_ms"], row["last_event_seq"] = events[-1]["stream_ms"], events[-1]["stream_seq"]
        rows.tickets.append(row)
        rows.events += events
    if closed:  # the manager ends the day once the last ticket is done, 17:45 at the earliest
        last = max((e["at"] for e in rows.events), default=opening)
        at = max(datetime.combine(day, clock_time(17, 45), tzinfo=zone), last + timedelta(minutes=1))
        rows.events.append(_event(hall, stream, "day.closed", at, None, None, {"day": text, "missed": 0,
                                                                               "finished": 0}))
    return rows


def _called(hall: HallConfig, stream: _Stream, row: dict[str, Any], events: list[dict[str, Any]], called: datetime,
            fate: float, services: list[str], windows: list[str], rand: random.Random, now: datetime | None,
            rows: Rows) -> None:
    """A ticket called (after a first call and a transfer, for a few), then missed or served, or still at its
    window at ``now``."""
    tid, service = row["id"], row["service"]
    window = rand.choice(windows)
    if fate > 0.97:  # transferred after a first call: it stays with the service it was issued for
        moved_to = rand.choice([s for s in services if s != service] or services)
        events.append(_event(hall, stream, "ticket.called", called, tid, window, {}))
        moved = called + timedelta(seconds=rand.uniform(60, 300))
        if now is not None and moved >= now:
            row.update(status="called", window=window, called_at=called)
            return
        events.append(_event(hall, stream, "ticket.transferred", moved, tid, None,
                             {"from_service": service, "service": moved_to}))
        row.update(service=moved_to, tier=TIER_TRANSFERRED, transfers=1)
        called = moved + timedelta(seconds=rand.uniform(60, 600))
        if now is not None and called >= now:
            row.update(status="waiting")
            return
    events.append(_event(hall, stream, "ticket.called", called, tid, window, {}))
    row.update(status="called", window=window, called_at=called)
    if fate < 0.10:
        missed_at = called + timedelta(seconds=rand.uniform(60, 180))
        if now is None or missed_at < now:
            events.append(_event(hall, stream, "ticket.missed", missed_at, tid, window, {}))
            row.update(status="missed", finished_at=missed_at)
        return
    serving = called + timedelta(seconds=rand.uniform(5, 60))
    if now is not None and serving >= now:
        return
    events.append(_event(hall, stream, "ticket.serving", serving, tid, window, {}))
    row.update(status="serving", serving_at=serving)
    handling = timedelta(seconds=rand.uniform(120, 1500), microseconds=rand.randrange(1000) * 1000)
    finished = serving + handling
    if now is not None and finished >= now:
        return
    handling_ms = round(handling.total_seconds() * 1000)
    events.append(_event(hall, stream, "ticket.finished", finished, tid, window,
                         {"outcome": "done", "handling_ms": handling_ms}))
    row.update(status="done", finished_at=finished, outcome="done", handling_ms=handling_ms)
    rated_at = finished + timedelta(minutes=rand.uniform(1, 60))
    if rand.random() < 0.3 and (now is None or rated_at < now):
        _rate(hall, row, rated_at, rand, rows, stream)


def _event(hall: HallConfig, stream: _Stream, kind: str, at: datetime, ticket: str | None, window: str | None,
           extra: dict[str, Any]) -> dict[str, Any]:
    ms, seq = stream.key(at)
    payload = {"type": kind, "at": ms, **({"ticket": ticket} if ticket else {}),
               **({"window": window} if window else {}), **extra}
    return {"hall": hall.id, "stream_ms": ms, "stream_seq": seq, "type": kind, "at": at, "ticket": ticket,
            "window": window, "actor": None, "payload": payload}


def _rate(hall: HallConfig, ticket: dict[str, Any], at: datetime, rand: random.Random, rows: Rows,
          stream: _Stream) -> None:
    score = rand.choices([s for s, _ in SCORE_WEIGHTS], [w for _, w in SCORE_WEIGHTS])[0]
    ms, seq = stream.key(at)
    rows.ratings.append({"hall": hall.id, "ticket": ticket["id"], "day": ticket["day"], "number": ticket["number"],
                         "service": ticket["service"], "window": ticket["window"], "score": score,
                         "bad": is_bad(score), "source": "qr", "comment": None, "late": False, "rated_at": at,
                         "stream_ms": ms, "stream_seq": seq})
    if is_bad(score):
        due = case_rules.deadlines(hall, at)
        status = rand.choice(CASE_STATUSES)
        step = CASE_STATUSES.index(status)
        rows.cases.append({
            "hall": hall.id, "ticket": ticket["id"], "day": ticket["day"], "number": ticket["number"],
            "service": ticket["service"], "window": ticket["window"], "score": score, "status": status,
            "opened_at": at, "callback_due": due.callback_due, "fix_due": due.fix_due,
            "callback_at": at + timedelta(hours=2) if step >= 1 else None,
            "fix_at": at + timedelta(days=1) if step >= 2 else None,
            "feedback_at": at + timedelta(days=2) if step >= 3 else None,
            "review_at": at + timedelta(days=3) if step >= 4 else None})


def region_history(halls: Sequence[HallConfig], days: Sequence[date], low: int, high: int, now: datetime,
                   seed: int = 7) -> Iterator[Rows]:
    """``history`` of every hall and day, one hall at a time; today (now's day) half done and not closed."""
    rand = random.Random(seed)
    for hall in halls:
        rows = Rows()
        for i, day in enumerate(days):
            today = day == now.astimezone(hall.zone).date()
            rows.extend(history(hall, day, rand.randint(low, high), rand, now=now if today else None,
                                closed=not today, seq_start=i * 100_000))
        yield rows


# -- writing -------------------------------------------------------------------------------------------------
TABLES = ((TicketRow, "tickets"), (TicketEventRow, "events"), (RatingRow, "ratings"), (CaseRow, "cases"))


def insert(sql: Engine, rows: Rows) -> None:
    """Write the rows on any database (executemany, one transaction)."""
    with Session(sql) as session, session.begin():
        for table, name in TABLES:
            batch = getattr(rows, name)
            if batch:
                session.execute(sa.insert(table), batch)


def copy(sql: Engine, rows: Rows) -> None:
    """Write the rows on PostgreSQL with COPY (one transaction): a month of a county in minutes, not hours."""
    from psycopg.types.json import Jsonb

    raw = sql.raw_connection()
    try:
        conn: Any = raw.driver_connection
        with conn.cursor() as cursor:
            # A benchmark's own schema: no fsync wait per commit, and the rows are known to hold together (their
            # foreign keys are not checked one by one; session_replication_role needs the superuser of the test
            # database).
            cursor.execute("SET synchronous_commit = off")
            cursor.execute("SET session_replication_role = replica")
            for table, name in TABLES:
                batch = getattr(rows, name)
                if not batch:
                    continue
                columns = [c.name for c in table.__table__.columns]
                names = ", ".join(f'"{c}"' for c in columns)
                with cursor.copy(f"COPY {table.__tablename__} ({names}) FROM STDIN") as out:
                    for row in batch:
                        out.write_row([Jsonb(row[c]) if c == "payload" else row.get(c) for c in columns])
        conn.commit()
    finally:
        raw.close()


@contextlib.contextmanager
def without_indexes(sql: Engine) -> Iterator[None]:
    """The secondary indexes of the seeded tables dropped while seeding and made again after: building an index
    once is minutes faster than keeping it up to date row by row."""
    indexes = [index for table, _ in TABLES for index in cast(sa.Table, table.__table__).indexes]
    with sql.begin() as conn:
        for index in indexes:
            conn.exec_driver_sql(f'DROP INDEX "{index.name}"')
    try:
        yield
    finally:
        with sql.begin() as conn:
            for index in indexes:
                index.create(conn)
        # As autovacuum leaves a month-old table: statistics up to date, pages marked all-visible.
        with sql.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def add_halls(sql: Engine, halls: Sequence[HallConfig]) -> None:
    with Session(sql) as session, session.begin():
        for hall in halls:
            sync_hall(session, hall)


# -- counting ------------------------------------------------------------------------------------------------
def region_report(sql: Engine, halls: Sequence[HallConfig], rng: DateRange, now: datetime,
                  by: RegionGrouping = "hall") -> dict[str, Any]:
    """The region report as the endpoint makes it (``floor.regions.reports_api``), without the HTTP."""
    at = [HallNow(h, now.astimezone(h.zone)) for h in halls]
    sums, sources = region_sums(sql, at, rng)
    return report({"region": "bench", "name": "bench"}, halls, rng, by, sums) | {"sources": vars(sources)}


def naive(sql: Engine, halls: Sequence[HallConfig], rng: DateRange, now: datetime) -> dict[str, dict[str, Any]]:
    """Each hall's own report totals, as ``GET /halls/{hall}/reports`` counts them: every fact loaded."""
    return {h.id: hall_report(h, rng, "service", load_facts(sql, h, rng, now.astimezone(h.zone)))["totals"]
            for h in halls}


def differences(region: dict[str, Any], halls: dict[str, dict[str, Any]]) -> list[str]:
    """Where the region's per-hall rows differ from the halls' own totals (none, or the run fails)."""
    found = []
    rows = {row["key"]: row for row in region["rows"]}
    for hall, totals in halls.items():
        theirs, ours = comparable(totals), comparable(rows[hall])
        found += [f"{hall} {k}: hall {theirs[k]!r} region {ours[k]!r}" for k in COMPARED if theirs[k] != ours[k]]
    return found


# -- the run -------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def bench_schema(url: str, keep: bool) -> Iterator[str]:
    admin = sa.create_engine(url, poolclass=NullPool)
    schema = f"hq_bench_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        if not keep:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        else:
            print(f"kept schema {schema}")
        admin.dispose()


def timed(step: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = step()
    return time.perf_counter() - start, result


def late_rating(sql: Engine, hall: HallConfig, day: date) -> None:
    """A rating arriving for a ticket of a summarised day that had none: its summary goes stale."""
    text = day.strftime("%Y%m%d")
    with Session(sql) as session, session.begin():
        rated = sa.select(RatingRow.ticket).where(RatingRow.hall == hall.id, RatingRow.day == text)
        ticket = session.execute(sa.select(TicketRow).where(
            TicketRow.hall == hall.id, TicketRow.day == text, TicketRow.status == "done",
            TicketRow.id.not_in(rated)).limit(1)).scalar_one()
        at = datetime.now(UTC)
        session.execute(sa.insert(RatingRow).values(
            hall=hall.id, ticket=ticket.id, day=text, number=ticket.number, service=ticket.service,
            window=ticket.window, score=4, bad=False, source="qr", comment=None, late=True, rated_at=at,
            stream_ms=_ms(at), stream_seq=0))


def machine() -> dict[str, str]:
    def first(path: str, prefix: str) -> str:
        with contextlib.suppress(OSError):
            for line in Path(path).read_text().splitlines():
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
        return "?"

    mem = first("/proc/meminfo", "MemTotal").split()[0]
    return {"cpu": first("/proc/cpuinfo", "model name"), "cores": f"{os.cpu_count()}",
            "ram": f"{int(mem) / 1024 / 1024:.1f} GiB" if mem.isdigit() else "?",
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "load": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--halls", type=int, default=200)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--min", type=int, default=150)
    parser.add_argument("--max", type=int, default=400)
    parser.add_argument("--url", default=POSTGRES_URL)
    parser.add_argument("--keep", action="store_true", help="keep the seeded schema (its name is printed)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    halls = bench_halls(args.halls)
    zone = halls[0].zone
    today = datetime.now(zone).date()
    now = datetime.combine(today, clock_time(16, 0), tzinfo=zone)  # the halls' clock: 16:00, today half done
    rng = DateRange(today - timedelta(days=args.days - 1), today)
    started = time.perf_counter()
    figures: dict[str, Any] = {"halls": args.halls, "days": args.days, "from": rng.first.isoformat(),
                               "to": rng.last.isoformat()}
    with bench_schema(args.url, args.keep) as url:
        migrate(url)
        sql = make_sql_engine(url)
        try:
            start = time.perf_counter()
            add_halls(sql, halls)
            counts = {"tickets": 0, "events": 0, "ratings": 0, "cases": 0}
            with without_indexes(sql):
                for i, rows in enumerate(region_history(halls, rng.days, args.min, args.max, now)):
                    copy(sql, rows)
                    for name in counts:
                        counts[name] += len(getattr(rows, name))
                    if (i + 1) % 20 == 0:
                        print(f"seeded {i + 1} halls, {counts['tickets']:,} tickets, "
                              f"{time.perf_counter() - start:.0f} s", flush=True)
            figures["seed_s"] = time.perf_counter() - start
            figures["rows"] = counts
            print(f"seeded {counts} in {figures['seed_s']:.0f} s", flush=True)

            figures["cold_s"], cold = timed(lambda: region_report(sql, halls, rng, now))
            figures["cold_sources"] = cold["sources"]
            print(f"cold: {figures['cold_s']:.2f} s {cold['sources']}", flush=True)
            warm: dict[str, list[float]] = {}
            for by in ("hall", "level", "service"):
                for _ in range(3):
                    seconds, data = timed(lambda by=by: region_report(sql, halls, rng, now, by))
                    warm.setdefault(by, []).append(seconds)
                print(f"warm by {by}: {', '.join(f'{s:.2f}' for s in warm[by])} s {data['sources']}", flush=True)
            figures["warm_s"] = {by: statistics.median(times) for by, times in warm.items()}
            figures["warm_runs_s"] = warm
            late_rating(sql, halls[3], rng.first + timedelta(days=2))
            figures["after_rating_s"], refreshed = timed(lambda: region_report(sql, halls, rng, now))
            figures["after_rating_sources"] = refreshed["sources"]
            print(f"after a late rating: {figures['after_rating_s']:.2f} s {refreshed['sources']}", flush=True)
            figures["naive_s"], halls_own = timed(lambda: naive(sql, halls, rng, now))
            print(f"naive (every hall's facts): {figures['naive_s']:.2f} s", flush=True)
            wrong = differences(refreshed, halls_own)
            figures["differences"] = len(wrong)
            total = refreshed["totals"]
            figures["totals"] = {k: total[k] for k in ("issued", "served", "missed", "rated", "avg_wait_s")}
            print(f"differences from the hall reports: {len(wrong)}", *wrong[:20], sep="\n", flush=True)
        finally:
            sql.dispose()
    figures["command"] = " ".join([".venv/bin/python -m loadtest.region_reports",
                                   *(argv if argv is not None else sys.argv[1:])])
    figures["machine"] = machine()
    figures["at"] = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    figures["run_s"] = time.perf_counter() - started
    write_results(args.out, figures)
    return 1 if figures["differences"] else 0


def write_results(path: Path, f: dict[str, Any]) -> None:
    m = f["machine"]
    warm = f["warm_s"]
    lines = [
        "# Region roll-up report: 200 halls, 30 days, PostgreSQL",
        "",
        f"Command (from the repository root; the whole run, seeding included, took {f['run_s'] / 60:.0f} minutes):",
        "",
        "```",
        f["command"],
        "```",
        "",
        f"Run {f['at']} on {m['cpu']}, {m['cores']} cores (a shared VM: other people's tests ran beside it), "
        f"{m['ram']} RAM, {m['os']}, Python {m['python']}; PostgreSQL 15 on the same machine (its defaults: "
        f"shared_buffers 128 MB, work_mem 4 MB); load average at the end {m['load']}.",
        "",
        f"Seeded, in a schema of its own dropped afterwards: {f['halls']} copies of the demo hall below one county "
        f"(levels mixed), {f['days']} days ({f['from']} .. {f['to']}), 150-400 tickets a hall a day, today half "
        f"done (the halls' clock at 16:00), every past day ended by a `day.closed`: {f['rows']['tickets']:,} "
        f"tickets, {f['rows']['events']:,} events, {f['rows']['ratings']:,} ratings, {f['rows']['cases']:,} 差评 "
        f"cases, by COPY (secondary indexes made afterwards, then VACUUM ANALYZE) in {f['seed_s']:.0f} s.",
        "",
        "Timed in the benchmark's process: `floor.regions.summaries.region_sums` and `floor.regions.rollup.report`, "
        "what `GET /api/v1/regions/{region}/reports` runs in its worker thread (no HTTP, no JSON), over the 30 days "
        "by hall. Naive: each hall's own report (`floor.reports.facts.load_facts` and `floor.reports.rules.report`, "
        "what `GET /api/v1/halls/{hall}/reports` runs) for the same range, one hall after another.",
        "",
        "| what | seconds |",
        "|---|---:|",
        f"| cold: no summary yet, every past hall-day summarised on the way (by hall) | {f['cold_s']:.2f} |",
        *(f"| warm, by {by} (median of 3) | {warm[by]:.2f} |" for by in ("hall", "level", "service")),
        f"| warm after a late rating (one hall-day summarised again) | {f['after_rating_s']:.2f} |",
        f"| naive: every hall's facts loaded and counted (200 hall reports) | {f['naive_s']:.2f} |",
        "",
        f"Warm runs: {json.dumps(f['warm_runs_s'])}. Sources cold: {json.dumps(f['cold_sources'])}; after the "
        f"rating: {json.dumps(f['after_rating_sources'])}.",
        "",
        f"Totals: {json.dumps(f['totals'])}. The region's row of each hall against that hall's own report totals, "
        f"figure by figure (p90 left out): {f['differences']} differences.",
        "",
        "Target: warm under 2 s. Today is never summarised: the 200 halls' tickets of today (about 50,000 at 16:00) "
        "are read and counted live at every report, in a thread of their own beside the summaries; that read is "
        "about half of the warm time. The cold report reads every ticket once (by query per 300 hall-days, the next "
        "read while the last is counted) and writes the summaries; it is paid once per hall-day.",
        "",
        f"<!-- region-reports {json.dumps(f)} -->",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
