"""``hallq``: serve the halls, make tokens. Errors are one line a person can act on, never a traceback."""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shlex
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from floor.hall_files import load_halls, read_network
from floor.http.auth import ROLES, make_token
from floor.settings import Settings
from queue_engine.config import Staff

if TYPE_CHECKING:  # the workers import this module: argon2 and SQLAlchemy only where an account is made
    from floor.accounts.setup import Made


class CliError(Exception):
    pass


# How long an idle HTTP connection is kept open (uvicorn's default is 5 s). A window's console calls every few
# minutes and a guide desk issues every minute or so: with 5 s nearly every request of theirs came on a new
# connection, and a loaded worker accepts one connection per turn of its event loop, so those requests queued
# for the accept behind every other. Browsers keep idle connections for 60 s or more; a proxy in front reuses its.
KEEP_ALIVE_S = 75

def cmd_token(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    halls = load_halls(settings)
    hall = halls.get(args.hall)
    if hall is None:
        raise CliError(f"no hall {args.hall!r} is configured; known halls: {', '.join(sorted(halls))}")
    if args.window is not None and hall.window(args.window) is None:
        raise CliError(f"hall {args.hall!r} has no window {args.window!r}; its windows: "
                       f"{', '.join(w.id for w in hall.windows)}")
    if args.staff is not None and hall.staff_member(args.staff) is None:
        known = ", ".join(m.id for m in hall.staff) or "none (the hall file lists no [[staff]])"
        raise CliError(f"hall {args.hall!r} has no member of staff {args.staff!r}; its staff: {known}")
    if args.region is not None:
        regions = {r.id for r in read_network(settings.network).regions} if settings.network else set()
        if args.region not in regions or args.region not in _regions_of(hall.region, settings):
            raise CliError(f"hall {args.hall!r} does not lie in region {args.region!r} of the network; its regions: "
                           f"{', '.join(_regions_of(hall.region, settings)) or 'none'}")
    try:
        print(make_token(settings.secret, args.hall, args.role, args.window, args.ttl, staff=args.staff,
                         region=args.region))
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _regions_of(region: str | None, settings: Settings) -> list[str]:
    if region is None or settings.network is None:
        return []
    return [r.id for r in read_network(settings.network).path(region)]


def cmd_account(args: argparse.Namespace) -> None:
    """Accounts from the server's shell: the first admin of a new hall, a reset when nobody can sign in."""
    import secrets as _secrets

    from floor.accounts import setup, store
    from floor.sql.db import make_sql_engine, migrate

    settings = Settings.from_env()
    halls = load_halls(settings)
    sql = make_sql_engine(settings.database_url)
    try:
        migrate(sql)
        if args.action in ("create", "reset") and not args.username:
            raise CliError(f"account {args.action} needs --username")
        if args.action == "create" and args.region:
            regions = read_network(settings.network).regions if settings.network else ()
            if args.region not in {r.id for r in regions}:
                known = ", ".join(r.id for r in regions) or "none (set HALLQ_NETWORK to the network file)"
                raise CliError(f"no region {args.region!r} in the network; its regions: {known}")
            password = args.password or _secrets.token_urlsafe(9)
            made = setup.create_for_region(sql, args.region, args.username, args.name or args.username, args.role,
                                           password, must_change=args.password is None)
            print(f"{made.username} ({made.role}) can sign in to every hall of region {args.region}"
                  + ("" if args.password else f" with the one-time password {password} (changed at first sign-in)"))
        elif args.action == "create":
            hall = halls.get(args.hall)
            if hall is None:
                raise CliError(f"no hall {args.hall!r} is configured; known halls: {', '.join(sorted(halls))}")
            password = args.password or _secrets.token_urlsafe(9)
            made = setup.create(sql, hall, args.username, args.name or args.username, args.role, password,
                                must_change=args.password is None)
            print(f"{made.username} ({made.role}) can sign in to hall {hall.id}"
                  + ("" if args.password else f" with the one-time password {password} (changed at first sign-in)"))
        elif args.action == "reset":
            password = _secrets.token_urlsafe(9)
            setup.reset(sql, args.username, password)
            print(f"{args.username.lower()}: one-time password {password} (changed at the next sign-in)")
        else:
            for account in store.of_hall(sql, args.hall):
                state = " (disabled)" if account.disabled else ""
                print(f"{account.username:16} {account.role:8} {account.display_name}{state}")
    finally:
        sql.dispose()


async def _current_setup(settings: Settings, hall_id: str) -> tuple[Any, Any, Any]:
    """(engine, SQL engine, Redis shards) for one served hall, the engine on the set-up the hall runs on now."""
    from floor.redis_shards import open_shards
    from floor.sql.db import make_sql_engine, migrate
    from queue_engine.engine import Engine

    halls = load_halls(settings)
    if hall_id not in halls:
        raise CliError(f"hall {hall_id!r} is not served here (HALLQ_HALLS names {', '.join(sorted(halls))})")
    sql = make_sql_engine(settings.database_url)
    migrate(sql)
    shards = open_shards(settings, max_connections=8)
    await shards.start()
    return Engine(shards, halls[hall_id], prefix=settings.key_prefix), sql, shards


def cmd_import(args: argparse.Namespace) -> None:
    """A hall file, checked and run at once by the hall (every worker of a running server follows)."""
    import asyncio

    from floor.hall_files import fingerprint
    from floor.setup import files, live, rules
    from queue_engine.errors import DomainError

    settings = Settings.from_env()
    try:
        text = Path(args.file).read_text(encoding="utf-8")
        new = files.check(text, args.file)
    except rules.SetupRefused as refused:
        raise CliError(refused.en) from None

    async def run() -> str:
        engine, sql, redis = await _current_setup(settings, new.id)
        try:
            await live.settle(engine, sql)
            edit = rules.replace_all(engine.hall, new.model_dump(mode="json"))
            if not edit.changes and engine.config_version:
                return f"hall {new.id}: {args.file} is the set-up it runs on already (version {engine.config_version})"
            await live.apply(engine, edit, engine.config_version, source=fingerprint(text))
            return (f"hall {new.id}: set-up version {engine.config_version} imported from {args.file} "
                    f"({len(edit.changes)} change{'s' if len(edit.changes) != 1 else ''})")
        except DomainError as refused:
            raise CliError(f"hall {new.id}: {refused.message('en')}") from None
        finally:
            await redis.aclose()
            sql.dispose()

    print(asyncio.run(run()))


def cmd_export(args: argparse.Namespace) -> None:
    """The set-up a hall runs on now (changed live or not), as a hall file."""
    import asyncio

    from floor.setup import files, live

    settings = Settings.from_env()

    async def run() -> str:
        engine, sql, redis = await _current_setup(settings, args.hall)
        try:
            await live.settle(engine, sql)
            return files.export(engine.hall)
        finally:
            await redis.aclose()
            sql.dispose()

    text = asyncio.run(run())
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"hall {args.hall}: set-up written to {args.output}")
    else:
        print(text, end="")


def demo_banner(settings: Settings, host: str, port: int, people: Sequence[Made] = ()) -> str:
    """The demo's front page in a terminal: every page of every hall, the accounts to sign in to them with, and
    the devices' pages signed in (their token rides in the URL fragment, which the browser keeps to itself)."""
    lines = []
    base = f"http://{host}:{port}"
    halls = list(load_halls(settings).values())
    for hall in halls[:1]:
        def page(name: str, role: str | None = None, window: str | None = None, hall_id: str = hall.id) -> str:
            address = f"{base}/halls/{hall_id}/{name}"
            return f"{address}#token={make_token(settings.secret, hall_id, role, window)}" if role else address

        first = hall.windows[0].id
        lines += [
            f"hall {hall.id}: {hall.name}",
            "  people sign in on each page with an account below:",
            f"  guide desk      {page('guide')}",
            f"  staff console   {page('console')}   (a staff account takes a window)",
            f"  dashboard       {page('dashboard')}",
            f"  reports         {page('reports')}",
            f"  差评 cases       {page('cases')}",
            f"  bookings        {page('bookings')}   (预约管理: cancel, lift a booking block)",
            f"  windows         {page('windows')}   (窗口设置: each window's services, live)",
            f"  hall set-up     {page('setup')}   (大厅设置: services, windows, hours, live)",
            f"  webhooks        {page('webhooks')}   (消息推送; an admin also sends again)",
            f"  audit log       {page('audit')}",
            f"  accounts        {page('accounts')}   (账号与密钥, for the admin)",
            "  devices: open a page bare on the device and it shows a pairing code, which the admin pairs on the",
            "  accounts page (配对设备); for a quick trial, these addresses carry a token instead:",
            f"  kiosk           {page('kiosk', 'kiosk')}",
            f"  lobby display   {page('display', 'display')}",
            f"  rating pad      {page('rate', 'pad', first)}   (beside window {first})",
            f"  booking         {page('book', 'kiosk')}   (the hall's portal for appointments)",
            "  a citizen's phone page: scan the QR code on a printed ticket, or open the link the kiosk shows",
            f"  a token for scripts: {_token_command(hall.id, hall.windows[-1].id, hall.staff)}",
        ]
        mine = [p for p in people if p.hall == hall.id]
        if mine:
            lines.append(f"  accounts (password {mine[0].password} for each):")
            lines += [f"    {p.username:8} {p.role:8} {p.display_name}" for p in mine]
    if len(halls) > 1:
        lines += _network_lines(halls[1:], base, people)
    regional = [p for p in people if p.region is not None]
    if regional:
        lines.append(f"region accounts (sign in on any page of a hall below their region; password "
                     f"{regional[0].password}):")
        lines += [f"    {p.username:17} {p.role:8} {p.display_name:12} region {p.region}: "
                  f"{base}/regions/{p.region}/overview   (区域总览)" for p in regional]
    lines += [f"all halls: {base}/", f"API docs: {base}/api/v1/docs", f"OpenAPI:  {base}/api/v1/openapi.json",
              f"health:   {base}/healthz"]
    return "\n".join(lines)


_LEVELS = {"county_centre": "县政务服务中心", "town_centre": "镇便民服务中心", "village_station": "村便民服务站",
           "bank_outlet": "银行便民点", "self_service": "24小时自助区"}


def _network_lines(halls: Sequence[Any], base: str, people: Sequence[Made]) -> list[str]:
    """The county's other halls, a few lines each: the same pages, the admin and manager above sign in to all of
    them, and each has a guide and a member of staff per window of its own."""
    lines = ["the county's other halls (admin and manager above sign in to every one of them; each has these own):"]
    for hall in halls:
        mine = [p.username for p in people if p.hall == hall.id and p.role in ("guide", "staff")]
        level = _LEVELS.get(hall.level or "", "")
        lines += [f"  {hall.id:15} {hall.name}（{level}）  {base}/halls/{hall.id}/guide  …/console  …/dashboard",
                  f"  {'':15} accounts: {', '.join(mine)}" if mine else ""]
    return [line for line in lines if line]


def _token_command(hall: str, window: str, staff: Sequence[Staff]) -> str:
    """A ``hallq token`` line that runs as printed, from the folder the server was started in."""
    program = Path(sys.argv[0])
    if not program.is_absolute() and program.parent != Path("."):
        command = str(program)  # .venv/bin/hallq, as scripts/demo starts it
    elif program.is_absolute() and Path.cwd() in program.parents:
        command = str(program.relative_to(Path.cwd()))
    else:
        command = "hallq"
    line = f"{shlex.quote(command)} token --hall {shlex.quote(hall)} --role staff --window {shlex.quote(window)}"
    return line + (f" --staff {shlex.quote(staff[0].id)}" if staff else "")


def raise_open_files_limit() -> None:
    """Every lobby screen and phone page holds a socket: lift the soft limit (often 1,024) to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def check_hall_files(settings: Settings) -> None:
    """Every hall file, checked before the workers start: a wrong one is named by line and field. Halls with
    services of their own first: a county's catalog may be one of them."""
    from pydantic import ValidationError

    from floor.hall_files import read_network
    from floor.network.rules import Network
    from floor.setup import files, rules
    from queue_engine.config import Invalid

    try:
        network: Network | None = read_network(settings.network) if settings.network else None
    except (ValidationError, OSError, ValueError) as exc:
        raise CliError(f"{settings.network}: {str(exc).splitlines()[0]} ({str(exc).splitlines()[-1].strip()})"
                       ) from None
    try:
        files.read_all(settings.halls, network)
    except rules.SetupRefused as refused:
        raise CliError(refused.en) from None
    except Invalid as refused:
        raise CliError(f"{settings.network}: {refused}") from None
    load_halls(settings)  # two files of one hall


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from floor.metrics.directory import prepare

    raise_open_files_limit()  # before the workers start: they inherit it
    prepare()  # the metrics directory, emptied, for the workers and the archive process (docs/monitoring.md)

    settings = Settings.from_env()  # also creates the secret file once, before workers read it
    check_hall_files(settings)  # a broken hall file stops here, naming its line and field, not in every worker
    from floor.sql.db import migrate

    try:
        migrate(settings.database_url)  # once, before the workers start
    except Exception as exc:  # an unreachable database: one line, not a traceback
        raise CliError(f"cannot prepare the database {without_password(settings.database_url)}: "
                       f"{str(exc).splitlines()[0]}") from None
    _check_redis(settings.redis_url)  # workers wait out an outage once serving; a first start says what is wrong
    if args.demo:
        from floor.accounts.setup import ensure_demo
        from floor.sql.db import make_sql_engine

        sql = make_sql_engine(settings.database_url)
        try:
            people = ensure_demo(sql, list(load_halls(settings).values()))
        finally:
            sql.dispose()
        print(demo_banner(settings, args.host, args.port, people), flush=True)
    from floor.archive_process import ArchiveSupervisor
    from floor.logs import uvicorn_log_config

    archiver = ArchiveSupervisor() if settings.archive else None
    if archiver is not None:
        archiver.start()
    # uvicorn catches SIGTERM while it serves, then puts back the handler it found and raises the signal again.
    # Python's default handler would end the process on the spot, past the ``finally`` that stops the archiver,
    # which then read on alone until it noticed its parent gone. This one unwinds through it.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        # No permessage-deflate: browsers ask for it, and it would cost each screen its zlib state (~40 KiB,
        # 400 MB over 10,000 screens) and triple the CPU of every send, to shrink ~300-byte frames on a LAN.
        level = os.environ.get("HALLQ_LOG_LEVEL", "info")
        uvicorn.run("floor.app:app_from_env", factory=True, host=args.host, port=args.port, workers=args.workers,
                    ws_max_size=64 * 1024, ws_per_message_deflate=False, timeout_keep_alive=KEEP_ALIVE_S,
                    log_level=level, log_config=uvicorn_log_config(level), access_log=False)
    finally:
        if archiver is not None:
            archiver.stop()


def without_password(url: str) -> str:
    """A store's address as an error may print it: a password in it is not for the terminal or the log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{netloc[-1]}"))


def _check_redis(url: str) -> None:
    """Every Redis holding halls answers (one server, or each primary of a cluster), or the serve stops here."""
    import asyncio

    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from queue_engine.shards import Shards

    async def ping() -> None:
        shards = Shards.from_url(url, lambda node: Redis.from_url(node, socket_connect_timeout=5, socket_timeout=5))
        try:
            await shards.start()
            for client in shards.clients():
                await client.ping()
        finally:
            await shards.aclose()

    try:
        asyncio.run(ping())
    except (RedisError, ValueError) as exc:
        raise CliError(f"cannot reach Redis at {without_password(url)}: {str(exc).splitlines()[0]}") from None


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def cmd_archive(args: argparse.Namespace) -> None:
    from floor.app import CALL_WORDS
    from floor.archive_process import run

    run(args.parent, CALL_WORDS)


def cmd_doctor(_: argparse.Namespace) -> None:
    from floor import doctor

    findings = doctor.examine(os.environ)
    print(doctor.report(findings), flush=True)
    code = doctor.exit_code(findings)
    if code:  # main's 0 is for "nothing wrong"; 2 stays "the command itself was refused"
        raise SystemExit(code)


def _whole(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high], refused in words a person can act on."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low}..{high}")
        return value
    return parse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hallq", description="Queue calling for government service halls. The settings come from HALLQ_* "
        "environment variables (docs/configuration.md); the halls from their TOML files.")
    sub = p.add_subparsers(dest="command", required=True, metavar="{serve,token,account,import,export,archive,doctor}")
    defaults = argparse.ArgumentDefaultsHelpFormatter
    serve = sub.add_parser("serve", help="serve the configured halls", formatter_class=defaults,
                           description="Serve every configured hall: API, pages, lobby feeds, and the archiver "
                                       "that copies the day's events into the SQL record.")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on; 0.0.0.0 for the hall's LAN (put TLS in front, docs/deploy.md)")
    serve.add_argument("--port", type=_whole(1, 65535), default=8000, help="TCP port to listen on")
    serve.add_argument("--workers", type=_whole(1, 64), default=1,
                       help="server processes; one holds a county centre, add one per core for more screens")
    serve.add_argument("--demo", action="store_true",
                       help="print every page's signed-in address and a token for each role (for a trial, "
                            "never in a real hall: the addresses carry the tokens)")
    serve.set_defaults(func=cmd_serve)
    token = sub.add_parser("token", help="make a token; prints only the token", formatter_class=defaults,
                           description="Make a signed token for one role of one hall, with the secret the server "
                                       "uses (HALLQ_SECRET, or the secret file in HALLQ_HOME).")
    token.add_argument("--hall", required=True, help="the hall's id, as in its TOML file (e.g. demo)")
    token.add_argument("--role", required=True, choices=ROLES, help="what the token may do")
    token.add_argument("--window", help="the window a staff token acts for, or a rating pad (role pad) sits beside "
                                        "(a window id of the hall, e.g. 1)")
    token.add_argument("--staff", help="the member of staff signing in with a staff token (an id of the hall's "
                                       "[[staff]], e.g. S05), so the record and reports know who served")
    token.add_argument("--region", help="a manager or admin token that also acts in every hall of this region of "
                                         "the network and below it (the hall given lies in it)")
    token.add_argument("--ttl", type=_whole(1, 10 * 365 * 86400),
                       help="seconds until the token expires; without it the token never expires")
    token.set_defaults(func=cmd_token)
    account = sub.add_parser("account", help="create, reset or list accounts from the server's shell",
                             formatter_class=defaults,
                             description="People sign in with accounts; a hall's admin manages them on its "
                                         "accounts page. This makes the first admin, and resets a password when "
                                         "nobody who could is able to sign in.")
    account.add_argument("action", choices=("create", "reset", "list"))
    account.add_argument("--hall", default="demo", help="the hall's id (create, list)")
    account.add_argument("--region", help="create a manager or admin who answers for every hall of this region "
                                          "of the network (HALLQ_NETWORK) and below it, instead of one hall")
    account.add_argument("--username", help="the account's username (create, reset)")
    account.add_argument("--name", help="the name screens show (create)")
    account.add_argument("--role", choices=("guide", "staff", "manager", "admin"), default="admin",
                         help="what the person does (create)")
    account.add_argument("--password", help="the password (create); without it a one-time password is printed, to "
                                            "be changed at the first sign-in")
    account.set_defaults(func=cmd_account)
    imports = sub.add_parser("import", help="run a hall on a hall file (TOML) now; refuses a bad file by line",
                             formatter_class=defaults,
                             description="Check a hall file and make it the set-up its hall runs on, at once and in "
                                         "every worker of a running server, as the admin page's import does. The "
                                         "change is audited; a service with waiting tickets is not removed.")
    imports.add_argument("file", help="the hall file (.toml, .yaml), e.g. one `hallq export` wrote")
    imports.set_defaults(func=cmd_import)
    export = sub.add_parser("export", help="write the set-up a hall runs on as a hall file (TOML)",
                            formatter_class=defaults)
    export.add_argument("--hall", default="demo", help="the hall's id")
    export.add_argument("--output", help="the file to write; without it, the standard output")
    export.set_defaults(func=cmd_export)
    archive = sub.add_parser("archive", help="copy every hall's events into SQL (hallq serve runs this itself)",
                             formatter_class=defaults)
    archive.add_argument("--parent", type=int, help="stop when the process with this id is gone")
    archive.set_defaults(func=cmd_archive)
    doctor = sub.add_parser("doctor", help="check this deployment and say what is wrong (exit 1 if anything is)",
                            description="Check the deployment the HALLQ_* settings describe, as hallq serve reads "
                                        "them: the secret, the public address, the hall files, every Redis primary "
                                        "(reachable, persistence, eviction, hallq's functions, clock) and the record "
                                        "(reachable, migrated, clock). One line in Chinese and one in English per "
                                        "finding; exit code 0 when nothing is wrong, 1 otherwise (docs/deploy.md).")
    doctor.set_defaults(func=cmd_doctor)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except (CliError, ValueError, OSError) as exc:
        print(f"hallq: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
