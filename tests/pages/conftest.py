"""Pages in the machine's real Chromium (Debian's /usr/bin/chromium, driven by Playwright's Python package),
against a real ``hallq serve`` with real Redis.

- ``browser``: one headless Chromium for the session.
- ``pages_server``: one server for the module, serving a pool of demo-hall copies; ``hall`` hands each test
  a hall of its own (``Hall``: tokens, sync HTTP calls, a page opener).
- ``hall.open_page(path, role=..., window=..., size=(w, h))`` opens a page already signed in (the token goes
  in the URL fragment, as a hall's IT staff would bookmark it). Speech synthesis is replaced by a recorder:
  ``spoken(page)`` lists what the page asked to say. A JavaScript error on any page fails the test.
- ``screenshot(page, name)`` renders the page to PNG. Under ``scripts/screenshots`` (``HALLQ_SCREENSHOTS=1``) it
  writes ``docs/screenshots/<name>.png``, which the README shows; a plain test run writes to a temporary folder,
  so it leaves the checkout clean.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from floor.http.auth import make_token
from tests.conftest import ROOT
from tests.server.conftest import DEMO_TOML, LiveServer, delete_prefix_sync, start_server, stop_server, write_hall_copy

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]
SCREENSHOTS = ROOT / "docs" / "screenshots"
WRITE_DOCS = os.environ.get("HALLQ_SCREENSHOTS") == "1"
POOL = 40

# Headless Chromium has no voices: speak() would say nothing and leave no trace. This recorder keeps every
# utterance (with its language, rate and voice) and finishes it after a short while, like a real voice would, so
# the page's own queue (one announcement at a time, never cut off) runs as it does in a hall.
# ``window.__voice`` (open_page's ``voice``) is the device it stands for: "zh", a Mandarin voice, as a hall's TV
# needs (the default); "en-only", voices listed (voiceschanged) but none Chinese; "none", no voice ever listed (as
# headless Chromium itself); "error", a Mandarin voice whose every utterance fails; "missing", no speech synthesis at
# all. ``window.__setVoices(kind)`` changes the voices later and says so (voiceschanged), as installing one does.
SPEECH_RECORDER = """
(() => {
  const kind = window.__voice ?? "zh";
  if (kind === "missing") {
    for (const name of ["speechSynthesis", "SpeechSynthesisUtterance"]) {
      Object.defineProperty(window, name, {value: undefined, configurable: true});
    }
    return;
  }
  const mandarin = {name: "Test Mandarin", lang: "zh-CN", voiceURI: "test-zh", localService: true, default: true};
  const english = {name: "Test English", lang: "en-US", voiceURI: "test-en", localService: true, default: true};
  const VOICES = {zh: [english, mandarin], "en-only": [english], none: [], error: [mandarin]};
  let voices = kind === "en-only" ? [] : VOICES[kind] ?? [];
  window.__spoken = [];
  let speaking = null;
  const queue = [];
  const next = () => {
    if (speaking || !queue.length) return;
    speaking = queue.shift();
    window.__spoken.push({text: speaking.text, lang: speaking.lang, rate: speaking.rate,
                          voice: speaking.voice ? speaking.voice.name : null, at: Date.now()});
    const u = speaking;
    setTimeout(() => {
      speaking = null;
      if (kind === "error") { if (u.onerror) u.onerror({error: "synthesis-failed"}); } else if (u.onend) u.onend({});
      next();
    }, window.__speechMs ?? 150);
  };
  const listeners = new Set();
  const fake = {
    speak(u) { queue.push(u); setTimeout(() => { if (u.onstart) u.onstart({}); }, 0); next(); },
    cancel() { window.__cancelled = (window.__cancelled || 0) + 1; queue.length = 0; },
    pause() {}, resume() {},
    getVoices() { return voices.slice(); },
    get speaking() { return speaking !== null; },
    get pending() { return queue.length > 0; },
    addEventListener(type, f) { if (type === "voiceschanged") listeners.add(f); },
    removeEventListener(type, f) { listeners.delete(f); },
    onvoiceschanged: null,
  };
  window.__setVoices = (next) => {
    voices = VOICES[next] ?? [];
    for (const f of [fake.onvoiceschanged, ...listeners]) if (f) f({type: "voiceschanged"});
  };
  // The engine lists its voices a moment after the page starts, as Chromium does when it has some.
  if (kind === "en-only") setTimeout(() => window.__setVoices("en-only"), 300);
  // A plain utterance object: Chromium's own refuses a voice that is not one of its SpeechSynthesisVoice objects.
  window.SpeechSynthesisUtterance = class {
    constructor(text) { Object.assign(this, {text, lang: "", rate: 1, voice: null, onend: null, onerror: null}); }
  };
  Object.defineProperty(window, 'speechSynthesis', {value: fake, configurable: true});
})();
"""


# Package scope, not session: Playwright's sync API keeps an event loop running on this thread while it lives,
# and pytest-asyncio's tests elsewhere cannot start theirs until it has stopped.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed; run scripts/test (scripts/install puts it in)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class PagesServer:
    server: LiveServer
    pool: Iterator[str]


@pytest.fixture(scope="module")
def pages_server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[PagesServer]:
    """One server for the module: "demo" and a pool of demo copies, with the module's ``HALL_POLICY`` if it sets one
    (tests/server/conftest.py ``NO_SHOW_AT_ONCE``)."""
    policy = getattr(request.module, "HALL_POLICY", None)
    home = tmp_path_factory.mktemp("pages")
    halls_dir = home / "halls"
    halls_dir.mkdir()
    pool = [f"page-{i:02d}" for i in range(POOL)]
    paths = [DEMO_TOML, *(write_hall_copy(halls_dir, h, policy) for h in pool)]
    prefix = f"hqtest-{uuid.uuid4().hex[:10]}"
    server = start_server(home / "server", prefix, halls=paths, hall_ids=("demo", *pool), heartbeat_s=1.0)
    try:
        yield PagesServer(server, iter(pool))
    finally:
        stop_server(server)
        delete_prefix_sync(prefix)


@dataclass
class Hall:
    """One hall of the pages server: tokens, synchronous API calls and pages opened in Chromium."""

    server: LiveServer
    id: str
    browser: Browser
    errors: list[str] = field(default_factory=list)
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.server.base_url, timeout=20.0, trust_env=False)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def token(self, role: str, window: str | None = None) -> str:
        return make_token(self.server.secret, self.id, role, window)

    def call(self, method: str, path: str, *, role: str = "manager", window: str | None = None,
             json: Any = None, expect: int | None = 200) -> Any:
        reply = self.http.request(method, f"/api/v1/halls/{self.id}{path}", json=json,
                                  headers={"Authorization": f"Bearer {self.token(role, window)}"})
        if expect is not None:
            assert reply.status_code == expect, f"{method} {path}: {reply.status_code} {reply.text}"
        return reply.json()

    def open_windows(self, *windows: str) -> None:
        for w in windows:
            self.call("POST", f"/windows/{w}/open")

    def issue(self, service: str = "SOC", **body: Any) -> Any:
        return self.call("POST", "/tickets", role="guide", json={"service": service, **body}, expect=201)

    def rate(self, ticket: dict[str, Any], score: int, *, pad: str | None = None, expect: int | None = 201,
             **extra: Any) -> Any:
        """Rate ``ticket`` as the citizen served: with its key (``ticket["key"]``, as issued: what its QR code
        carries), or, with ``pad`` (a window), from that window's rating pad (its pad token)."""
        headers = ({"Authorization": f"Bearer {self.token('pad', pad)}"} if pad is not None
                   else {"X-Ticket-Key": ticket["key"]})
        reply = self.http.post(f"/api/v1/halls/{self.id}/tickets/{ticket['id']}/rating",
                               json={"score": score, **extra}, headers=headers)
        if expect is not None:
            assert reply.status_code == expect, f"rating {ticket['id']}: {reply.status_code} {reply.text}"
        return reply.json()

    def rating_state(self, ticket: dict[str, Any]) -> Any:
        """GET /tickets/{id}/rating as the phone asks it: with the ticket's key."""
        reply = self.http.get(f"/api/v1/halls/{self.id}/tickets/{ticket['id']}/rating",
                              headers={"X-Ticket-Key": ticket["key"]})
        assert reply.status_code == 200, f"rating state of {ticket['id']}: {reply.status_code} {reply.text}"
        return reply.json()

    def window_op(self, window: str, op: str, body: Any = None, expect: int = 200) -> Any:
        return self.call("POST", f"/windows/{window}/{op}", role="staff", window=window, json=body, expect=expect)

    def forgive_refusals(self, status: int) -> None:
        """Chromium logs every 4xx answer to fetch() as a console error; a refusal the test provoked on purpose
        (and saw shown to the user) is not a fault of the page."""
        self.errors[:] = [e for e in self.errors if f"status of {status}" not in e]

    def open_page(self, path: str, *, role: str | None = None, window: str | None = None,
                  size: tuple[int, int] = (1280, 800), lang: str | None = None, speech_ms: int = 150,
                  device_scale: float = 1, voice: str = "zh") -> Page:
        """Open ``path`` (``{hall}`` is replaced by this hall's id) signed in as ``role``, if given, on a device whose
        speech is ``voice`` (see SPEECH_RECORDER)."""
        # bypass_csp: Playwright's wait_for_function compiles its predicate with eval inside the page, which the
        # pages' Content-Security-Policy (no 'unsafe-eval') refuses. The policy itself is tested without it, on
        # every page, in tests/pages/test_csp_and_framing.py.
        context = self.browser.new_context(viewport={"width": size[0], "height": size[1]},
                                           device_scale_factor=device_scale, locale="zh-CN",
                                           timezone_id="Asia/Shanghai", bypass_csp=True)
        context.add_init_script(f"window.__voice = {json.dumps(voice)};")
        context.add_init_script(SPEECH_RECORDER)
        context.add_init_script(f"window.__speechMs = {speech_ms};")
        if lang:
            context.add_init_script(f"localStorage.setItem('hallq.lang', '{lang}');")
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{path}: {exc}"))
        page.on("console", lambda msg: self.errors.append(f"{path}: console.{msg.type}: {msg.text}")
                if msg.type == "error" else None)
        url = self.base_url + path.replace("{hall}", self.id)
        if role:
            url += f"#token={self.token(role, window)}"
        page.goto(url)
        return page


@pytest.fixture
def hall(pages_server: PagesServer, browser: Browser) -> Iterator[Hall]:
    """A hall of its own (windows closed, no tickets) on the module's server; fails the test on any JS error."""
    hall_id = next(pages_server.pool, None)
    if hall_id is None:
        pytest.fail(f"the pages server's pool of {POOL} halls is used up; raise POOL")
    h = Hall(pages_server.server, hall_id, browser)
    yield h
    h.http.close()
    for context in browser.contexts:
        context.close()
    assert not h.errors, "errors in the page:\n" + "\n".join(h.errors)


def spoken(page: Page) -> list[dict[str, Any]]:
    """What the page asked the speech synthesizer to say, in order."""
    result: list[dict[str, Any]] = page.evaluate("window.__spoken")
    return result


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    folder = SCREENSHOTS if WRITE_DOCS else Path(tempfile.gettempdir()) / "hallq-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
