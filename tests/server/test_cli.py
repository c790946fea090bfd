"""The ``hallq`` command: tokens the server accepts, one-line errors, and the demo banner."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from floor.http.auth import read_token
from tests.conftest import ROOT
from tests.server.conftest import HALLQ, SECRET, LiveServer, ServerFactory, server_env

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

TOKEN = re.compile(r"^hq1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


def hallq(home: Path, *args: str, secret: str | None = SECRET) -> subprocess.CompletedProcess[str]:
    env = server_env(home, "hqtest-cli-unused", secret=secret)
    return subprocess.run([str(HALLQ), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
                          check=False)


def get(server: LiveServer, path: str, token: str) -> httpx.Response:
    with httpx.Client(base_url=server.base_url, timeout=20, trust_env=False) as client:
        return client.get(f"/api/v1/halls/demo{path}", headers={"Authorization": f"Bearer {token}"})


def post(server: LiveServer, path: str, token: str, body: object = None) -> httpx.Response:
    with httpx.Client(base_url=server.base_url, timeout=20, trust_env=False) as client:
        return client.post(f"/api/v1/halls/demo{path}", headers={"Authorization": f"Bearer {token}"}, json=body)


def test_token_prints_only_a_token_that_the_server_accepts(live_server: ServerFactory) -> None:
    server = live_server()
    display = hallq(server.home, "token", "--hall", "demo", "--role", "display")
    assert display.returncode == 0, display.stderr
    assert display.stderr == ""
    lines = display.stdout.splitlines()
    assert len(lines) == 1, display.stdout
    assert display.stdout == lines[0] + "\n"
    assert TOKEN.match(lines[0]), lines[0]
    assert get(server, "/snapshot", lines[0]).status_code == 200

    staff = hallq(server.home, "token", "--hall", "demo", "--role", "staff", "--window", "5")
    assert staff.returncode == 0, staff.stderr
    token = staff.stdout.strip()
    assert TOKEN.match(token)
    assert get(server, "/windows/5", token).status_code == 200
    refused = get(server, "/windows/3", token)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "wrong_window"


def test_a_token_with_a_ttl_expires(live_server: ServerFactory) -> None:
    server = live_server()
    made = hallq(server.home, "token", "--hall", "demo", "--role", "manager", "--ttl", "3600")
    assert made.returncode == 0, made.stderr
    assert get(server, "/snapshot", made.stdout.strip()).status_code == 200
    # Long enough to outlive the command's own exit on a loaded machine (a 1-s token expired before it was read).
    short = hallq(server.home, "token", "--hall", "demo", "--role", "manager", "--ttl", "5")
    assert short.returncode == 0, short.stderr
    assert read_token(server.secret, short.stdout.strip()).role == "manager"
    time.sleep(6.1)  # expiry is checked to the second
    reply = get(server, "/snapshot", short.stdout.strip())
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "token_expired"


def test_without_hallq_secret_the_cli_and_server_share_the_secret_file(live_server: ServerFactory) -> None:
    server = live_server(secret=None, workers=2)
    assert (server.home / "secret").exists()
    made = hallq(server.home, "token", "--hall", "demo", "--role", "display", secret=None)
    assert made.returncode == 0, made.stderr
    for _ in range(4):  # whichever worker answers
        assert get(server, "/snapshot", made.stdout.strip()).status_code == 200


@pytest.mark.parametrize(("args", "named"), [
    (("--hall", "nowhere", "--role", "guide"), ("nowhere", "demo")),  # and the halls it knows
    (("--hall", "demo", "--role", "staff"), ("--window",)),
    (("--hall", "demo", "--role", "staff", "--window", "99"), ("99",)),
    (("--hall", "demo", "--role", "guide", "--window", "5"), ("--window",)),
])
def test_token_refusals_are_one_line_with_exit_code_2(tmp_path: Path, args: tuple[str, ...],
                                                      named: tuple[str, ...]) -> None:
    result = hallq(tmp_path, "token", *args)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hallq: "), lines[0]
    for word in named:
        assert word in lines[0], (word, lines[0])


def test_serve_demo_prints_accounts_for_people_and_tokens_for_devices(live_server: ServerFactory) -> None:
    server = live_server(args=["--demo"])
    banner = server.stdout()
    lines = banner.splitlines()
    assert lines[0].startswith("hall demo: "), banner
    base = server.base_url
    for url in (f"{base}/api/v1/docs", f"{base}/api/v1/openapi.json", f"{base}/healthz", f"{base}/"):
        assert url in banner, url
    # People's pages carry no token: a person signs in with an account printed below them.
    people = {"guide", "console", "dashboard", "reports", "cases", "bookings", "windows", "setup", "webhooks", "audit",
              "accounts"}
    for page in people:
        assert re.search(rf"{base}/halls/demo/{page}(\s|$)", banner), page
    assert not re.search(rf"{base}/halls/demo/({'|'.join(people)})#token=", banner), banner
    # Devices' pages are signed in by the token in their fragment, of the device's role.
    pages = dict(re.findall(rf"({base}/halls/demo/\w+)#token=(\S+)", banner))
    roles = {"kiosk": "kiosk", "display": "display", "rate": "pad", "book": "kiosk"}
    assert set(pages) == {f"{base}/halls/demo/{page}" for page in roles}, banner
    for page, role in roles.items():
        assert read_token(server.secret, pages[f"{base}/halls/demo/{page}"]).role == role, page
    assert read_token(server.secret, pages[f"{base}/halls/demo/rate"]).window == "1"  # the pad beside window 1
    assert "<" not in banner, banner  # nothing to fill in: every command and address works as printed

    # The accounts printed sign in, each as its role.
    found = re.search(r"accounts \(password (\S+) for each\):", banner)
    assert found, banner
    password = found.group(1)
    accounts = dict(re.findall(r"^    (\S+)\s+(guide|staff|manager|admin)\s", banner, re.MULTILINE))
    assert {"admin", "manager", "guide", "s01"} <= set(accounts), banner
    assert (accounts["admin"], accounts["s01"]) == ("admin", "staff")
    with httpx.Client(base_url=f"{base}/api/v1/halls/demo", trust_env=False, timeout=20) as client:
        for username in ("manager", "s01"):
            signed = client.post("/session", json={"username": username, "password": password})
            assert signed.status_code == 200, signed.text
            assert client.get("/whoami").json()["role"] == accounts[username]
        # s01 (signed in last) takes window 1 and opens it, as the console does.
        for path, body in (("/session/window", {"window": "1"}), ("/windows/1/open", None)):
            done = client.post(path, json=body, headers={"X-CSRF-Token": client.cookies["hallq_csrf"]})
            assert done.status_code == 200, done.text
        # The devices' tokens work for what each does.
        assert get(server, "/snapshot", pages[f"{base}/halls/demo/display"]).status_code == 200
        pad = pages[f"{base}/halls/demo/rate"]
        assert get(server, "/windows/1/rating-pad", pad).status_code == 200  # the pad asks about its own window
        assert get(server, "/windows/2/rating-pad", pad).status_code == 403  # and no other
        assert post(server, "/tickets", pages[f"{base}/halls/demo/kiosk"], {"service": "SOC"}).status_code == 201
        assert client.get(f"{base}/api/v1/docs").status_code == 200


def test_the_banners_token_command_runs_as_printed(live_server: ServerFactory) -> None:
    server = live_server(args=["--demo"])
    found = re.search(r"a token for scripts: (.+)$", server.stdout(), re.MULTILINE)
    assert found, server.stdout()
    command = found.group(1)
    assert command.startswith(".venv/bin/hallq token --hall demo --role staff --window "), command
    env = server_env(server.home, server.key_prefix, secret=server.secret.decode())
    result = subprocess.run(command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    principal = read_token(server.secret, result.stdout.strip())
    assert (principal.hall, principal.role, principal.window) == ("demo", "staff", command.split()[-3])
    assert principal.staff == command.split()[-1]


@pytest.mark.parametrize("command", ["serve", "token", "account", "archive"])
def test_every_option_says_what_it_does(command: str) -> None:
    result = subprocess.run([str(HALLQ), command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    options = re.findall(r"^  (--[a-z-]+)(?: [A-Z{][^ ]*)?(.*)$", result.stdout, re.MULTILINE)
    assert options, result.stdout
    for option, rest in options:
        assert rest.strip(), f"{command} {option} has no help text:\n{result.stdout}"


@pytest.mark.parametrize(("args", "named"), [
    (("serve", "--port", "70000"), "--port"),
    (("serve", "--workers", "0"), "--workers"),
    (("token", "--hall", "demo", "--role", "guide", "--ttl", "soon"), "--ttl"),
])
def test_bad_numbers_are_refused_before_anything_starts(tmp_path: Path, args: tuple[str, ...], named: str) -> None:
    result = hallq(tmp_path, *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert named in result.stderr.splitlines()[-1], result.stderr


def run_hallq(server: LiveServer, *args: str, halls: tuple[Path, ...] = ()) -> subprocess.CompletedProcess[str]:
    """``hallq`` with the running server's settings (its home, Redis prefix and record)."""
    env = server_env(server.home, server.key_prefix, halls=halls)
    return subprocess.run([str(HALLQ), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def test_export_then_import_changes_the_running_hall(live_server: ServerFactory, tmp_path: Path) -> None:
    server = live_server()
    exported = tmp_path / "demo.toml"
    done = run_hallq(server, "export", "--output", str(exported))
    assert done.returncode == 0, done.stderr
    edited = exported.read_text(encoding="utf-8").replace('name = "12号窗口"', 'name = "出件窗口"')
    exported.write_text(edited, encoding="utf-8")
    imported = run_hallq(server, "import", str(exported))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == f"hall demo: set-up version 2 imported from {exported} (1 change)"
    token = read_token_of(server)
    deadline = time.monotonic() + 2
    while (names := {w["id"]: w["name"] for w in get(server, "/config", token).json()["windows"]})["12"] != "出件窗口":
        assert time.monotonic() < deadline, names
        time.sleep(0.05)
    again = run_hallq(server, "import", str(exported))
    assert again.returncode == 0, again.stderr
    assert "already" in again.stdout


def read_token_of(server: LiveServer) -> str:
    from floor.http.auth import make_token

    return make_token(server.secret, "demo", "manager")


@pytest.mark.parametrize("command", ["import", "serve"])
def test_a_wrong_hall_file_is_refused_naming_its_line_and_field(live_server: ServerFactory, tmp_path: Path,
                                                                  command: str) -> None:
    server = live_server()
    text = (ROOT / "floor" / "halls" / "demo.toml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('letter = "B"', 'letter = "V"'), encoding="utf-8")
    line = next(n for n, row in enumerate(bad.read_text(encoding="utf-8").splitlines(), 1) if row == 'letter = "V"')
    result = (run_hallq(server, "import", str(bad)) if command == "import" else
              run_hallq(server, "serve", "--port", "1", halls=(bad,)))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"hallq: {bad}:{line}: services.1.letter: letters V and Y are reserved for VIP and appointment tickets"]
