"""The lobby display on every screen a hall hangs in its lobby: a busy hall at each size, with no text clipped
or spilling out of its box or off the screen, every window's name showing and every service named in full.

Lobby TVs come in several sizes and are hung either way up; the display is laid out for the screen it finds,
and these checks are what "fits" means for it. Each size leaves a screenshot to look at."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.pages.conftest import Hall, screenshot

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

SIZES = [(1366, 768), (1600, 900), (1920, 1080), (3840, 2160), (1080, 1920)]

# Text smaller than this share of the screen's shorter side cannot be read from across a hall: a 4K screen
# showing the layout of a 1080p one at half the size fails this as surely as one that clips.
READABLE_SHARE = 1 / 50

# One pass over the page in the browser. Every visible element holding text of its own is measured where it is
# drawn (the boxes of its text, not of the element), and each of these is a problem:
# - clipped: an element that hides its overflow (overflow hidden/clip, an ellipsis, a line clamp) has more text
#   than room, or a text leaves the box of an ancestor that clips;
# - spilled: a text leaves the nearest ancestor that draws a box (a tile, a row, a panel), or the screen;
# - overlapping: two texts drawn over each other;
# - too small to read (see READABLE_SHARE).
# The notice line is a marquee: its text runs past the screen's edges on purpose, so only its height is held
# to the screen. The small link status and the mark of a screen that cannot speak are for the staff who set the
# screen up.
AUDIT = """
({windows, services, readable}) => {
  const TOL = 1;
  const vw = innerWidth, vh = innerHeight;
  const MARQUEE = ".notice-track";
  const STAFF_ONLY = ".bar-tools";

  const describe = (el) => {
    const parts = [];
    for (let n = el; n && n !== document.body; n = n.parentElement) {
      let s = n.tagName.toLowerCase();
      if (n.id) s += "#" + n.id;
      for (const c of n.classList) s += "." + c;
      for (const k of ["window", "service"]) if (n.dataset[k]) s += `[data-${k}="${n.dataset[k]}"]`;
      parts.unshift(s);
      if (n.id && n !== el) break;
    }
    return parts.join(" > ");
  };
  const px = (n) => Math.round(n);
  const box = (r) => `${px(r.width)}x${px(r.height)} at (${px(r.left)},${px(r.top)})`;
  const label = (el) => `${JSON.stringify(el.textContent.trim().slice(0, 40))} ${describe(el)}`;
  const ownText = (el) => [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.data.trim());
  const visible = (el) => el.checkVisibility({ opacityProperty: true, visibilityProperty: true })
    && el.getClientRects().length > 0;
  // Where a line of text is drawn: its advance across, and its em box down, centred in the line's content area
  // (a font pads the content area with leading it never draws into).
  const textRects = (el) => {
    const rects = [];
    const em = parseFloat(getComputedStyle(el).fontSize);
    for (const node of el.childNodes) {
      if (node.nodeType !== Node.TEXT_NODE || !node.data.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const r of range.getClientRects()) {
        if (r.width <= 0 || r.height <= 0) continue;
        const inset = Math.max(0, (r.height - em) / 2);
        rects.push(new DOMRect(r.left, r.top + inset, r.width, r.height - 2 * inset));
      }
    }
    return rects;
  };
  const clips = (v) => v !== "visible";
  const paddingBox = (el) => {
    const r = el.getBoundingClientRect();
    const left = r.left + el.clientLeft, top = r.top + el.clientTop;
    return { left, top, right: left + el.clientWidth, bottom: top + el.clientHeight,
             width: el.clientWidth, height: el.clientHeight };
  };
  const drawsBox = (cs) => ["Top", "Right", "Bottom", "Left"].some((s) => parseFloat(cs[`border${s}Width`]) > 0)
    || !/^rgba\\(.*, 0\\)$|^transparent$/.test(cs.backgroundColor) || cs.backgroundImage !== "none";
  const inside = (r, b, x = true, y = true) => (!x || (r.left >= b.left - TOL && r.right <= b.right + TOL))
    && (!y || (r.top >= b.top - TOL && r.bottom <= b.bottom + TOL));

  /** What is wrong with one element's text where it is drawn. */
  const textProblems = (el) => {
    if (!visible(el)) return [`hidden: ${label(el)}`];
    const rects = textRects(el);
    if (!rects.length) return [`no text drawn: ${label(el)}`];
    const problems = [];
    const marquee = el.closest(MARQUEE) !== null;
    const cs = getComputedStyle(el);
    const ellipsis = cs.textOverflow === "ellipsis";
    const clamped = cs.webkitLineClamp !== "none";
    if (!marquee && (clips(cs.overflowX) || ellipsis) && el.scrollWidth > el.clientWidth + TOL)
      problems.push(`clipped across (text needs ${el.scrollWidth}px, has ${el.clientWidth}px): ${label(el)}`);
    if ((clips(cs.overflowY) || clamped) && el.scrollHeight > el.clientHeight + TOL)
      problems.push(`clipped down (text needs ${el.scrollHeight}px, has ${el.clientHeight}px): ${label(el)}`);
    let tile = null;
    for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
      const acs = getComputedStyle(a);
      const x = clips(acs.overflowX) && !(marquee && a.contains(document.querySelector(MARQUEE)));
      const y = clips(acs.overflowY);
      if ((x || y) && a !== document.body) {
        const pb = paddingBox(a);
        const out = rects.find((r) => !inside(r, pb, x, y));
        if (out) problems.push(`clipped by ${describe(a)} (${box(pb)}), text ${box(out)}: ${label(el)}`);
      }
      if (!tile && drawsBox(acs)) tile = a;
    }
    if (tile && tile !== document.body) {
      const tb = tile.getBoundingClientRect();
      const out = rects.find((r) => !inside(r, tb, !marquee, true));
      if (out) problems.push(`spills out of ${describe(tile)} (${box(tb)}), text ${box(out)}: ${label(el)}`);
    }
    const screen = { left: 0, top: 0, right: vw, bottom: vh };
    const off = rects.find((r) => !inside(r, screen, !marquee, true));
    if (off) problems.push(`off the screen, text ${box(off)}: ${label(el)}`);
    if (!el.closest(STAFF_ONLY)) {
      const size = parseFloat(cs.fontSize);
      if (size < readable) problems.push(`too small to read (${size}px, needs ${px(readable)}px): ${label(el)}`);
    }
    return problems;
  };

  /** Whether the text is on top where it is drawn (nothing covers it). */
  const uncovered = (el) => textRects(el).every((r) => {
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return hit !== null && el.contains(hit);
  });

  const texts = [...document.body.querySelectorAll("*")]
    .filter((el) => !["SCRIPT", "STYLE"].includes(el.tagName) && ownText(el) && visible(el));
  const problems = texts.flatMap(textProblems);

  const drawn = texts.map((el) => [el, textRects(el)]);
  for (let i = 0; i < drawn.length; i++) {
    for (let j = i + 1; j < drawn.length; j++) {
      const [a, ra] = drawn[i], [b, rb] = drawn[j];
      if (a.contains(b) || b.contains(a)) continue;
      const hit = ra.some((p) => rb.some((q) => Math.min(p.right, q.right) - Math.max(p.left, q.left) > TOL
        && Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top) > TOL));
      if (hit) problems.push(`overlapping: ${label(a)} and ${label(b)}`);
    }
  }
  const page = document.documentElement;
  if (page.scrollWidth > vw + TOL || page.scrollHeight > vh + TOL)
    problems.push(`the page is ${page.scrollWidth}x${page.scrollHeight}, larger than the screen`);

  /** The visible element whose whole text is `text` inside `scope`, checked like any other text, and on top. */
  const shown = (scope, text, what) => {
    const el = scope && [...scope.querySelectorAll("*")].find((e) => e.textContent.trim() === text && visible(e)
      && ownText(e));
    if (!el) return [`${what}: ${JSON.stringify(text)} is not shown`];
    const found = textProblems(el).map((p) => `${what}: ${p}`);
    if (!uncovered(el)) found.push(`${what}: covered by something else: ${label(el)}`);
    return found;
  };
  const missing = [
    ...windows.flatMap((w) => shown(document.querySelector(`#windows [data-window="${CSS.escape(w.id)}"]`),
                                    w.name, `window ${w.id}`)),
    ...services.flatMap((s) => shown(document.querySelector("#services"), s.name_zh, `service ${s.code}`)),
  ];
  return { problems, missing, checked: texts.length };
}
"""


def busy_morning(hall: Hall) -> None:
    """A hall at its busiest: most windows calling or serving, one paused (its reason not shown), an idle one, closed
    ones, real-name tickets (a compound surname, the longest masked name) and double-figure queues."""
    hall.open_windows(*(str(w) for w in range(1, 10)))
    hall.issue("SOC", name="欧阳小明")  # window 1's first call: later among the recent calls
    hall.issue("BIZ", name="司马相如")  # called last, at window 7: the call on screen now
    for service, count in (("SOC", 14), ("HUK", 6), ("TAX", 5), ("FUND", 3), ("BIZ", 1), ("PROP", 3),
                           ("INFO", 2), ("FOOD", 1), ("RESTO", 1)):
        for _ in range(count):
            hall.issue(service)
    for window in ("1", "2"):
        hall.window_op(window, "call-next")
        hall.window_op(window, "start")
        hall.window_op(window, "finish", {"outcome": "done"})
    for window in ("1", "2", "3", "4", "5", "6", "7"):
        hall.window_op(window, "call-next")
    for window in ("1", "3", "4"):
        hall.window_op(window, "start")
    hall.window_op("8", "pause", {"reason": "系统维护，请至其他窗口"})
    # Window 9 is open and idle; 10 to 12 are not open today.


def open_settled(hall: Hall, size: tuple[int, int], voice: str = "zh") -> Page:
    """The display built from the snapshot, sound turned on with the one click a screen gets when it is set up,
    fonts loaded and the flash of a call over (the marquee runs for ever and is left alone)."""
    page = hall.open_page("/halls/{hall}/display?chime=0", role="display", size=size, voice=voice)
    expect(page.locator("#link")).to_have_attribute("data-status", "live")
    expect(page.locator("#recent li")).to_have_count(8)
    expect(page.locator('.win[data-window="8"] .win-main')).to_have_text("暂停服务")
    expect(page.locator('.win[data-window="8"] .win-sub')).to_have_text("")  # the pause's reason is staff's
    expect(page.locator("body")).not_to_contain_text("系统维护")
    expect(page.locator("#now-holder")).to_have_text("司**如")
    page.mouse.click(size[0] // 2, size[1] // 2)
    expect(page.locator("#voice-gate")).to_be_hidden()
    page.evaluate("document.fonts.ready.then(() => true)")
    page.wait_for_function(
        "document.getAnimations().every(a => a.effect.getComputedTiming().iterations === Infinity)")
    return page


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_a_busy_hall_fits_the_screen_with_every_window_and_service_shown_whole(
        hall: Hall, size: tuple[int, int]) -> None:
    busy_morning(hall)
    config = hall.call("GET", "/config", role="display")
    page = open_settled(hall, size)
    path = screenshot(page, f"display-{size[0]}x{size[1]}")

    result: dict[str, Any] = page.evaluate(AUDIT, {
        "windows": [{"id": w["id"], "name": w["name"]} for w in config["windows"]],
        "services": [{"code": s["code"], "name_zh": s["name_zh"]} for s in config["services"]],
        "readable": min(size) * READABLE_SHARE,
    })

    assert result["checked"] > 50, f"too few texts found to judge the page ({result['checked']}); see {path}"
    found = result["missing"] + result["problems"]
    assert not found, (f"{len(found)} problems at {size[0]}x{size[1]} (see {path}):\n" + "\n".join(found))


# The panel a screen that cannot speak shows whoever sets it up: on the screen, every line whole and readable.
PANEL_AUDIT = """
(readable) => {
  const card = document.querySelector(".voice-problem-card");
  const r = card.getBoundingClientRect();
  const problems = [];
  if (r.left < 0 || r.top < 0 || r.right > innerWidth + 1 || r.bottom > innerHeight + 1)
    problems.push(`the panel ${Math.round(r.width)}x${Math.round(r.height)} leaves the screen`);
  for (const el of card.querySelectorAll("h2, p, button")) {
    if (el.hidden) continue;
    const e = el.getBoundingClientRect();
    const what = JSON.stringify(el.textContent.slice(0, 30));
    if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1) problems.push(`clipped: ${what}`);
    if (e.left < r.left - 1 || e.right > r.right + 1 || e.bottom > r.bottom + 1) problems.push(`spills: ${what}`);
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < readable) problems.push(`too small (${size}px): ${what}`);
  }
  return problems;
}
"""


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_a_screen_that_cannot_speak_says_so_in_a_panel_that_fits_and_still_fits_the_hall_once_folded(
        hall: Hall, size: tuple[int, int]) -> None:
    busy_morning(hall)
    config = hall.call("GET", "/config", role="display")
    page = hall.open_page("/halls/{hall}/display?chime=0&name=一楼大厅东侧靠近导办台", role="display", size=size,
                          voice="en-only")
    expect(page.locator("#voice-problem")).to_be_visible(timeout=15_000)  # the voices load late on a loaded machine
    page.evaluate("document.fonts.ready.then(() => true)")
    path = Path(tempfile.gettempdir()) / f"hallq-display-no-voice-{size[0]}x{size[1]}.png"  # to look at, not docs
    page.screenshot(path=str(path))
    problems = page.evaluate(PANEL_AUDIT, min(size) * READABLE_SHARE)
    assert not problems, f"the cannot-speak panel at {size[0]}x{size[1]} (see {path}):\n" + "\n".join(problems)

    # Folded away, the bar keeps its mark, and the hall's board still fits as it does on a screen that speaks.
    page.locator("#voice-problem-ok").click()
    page.close()
    folded = open_settled(hall, size, voice="en-only")
    folded.locator("#voice-problem-ok").click()
    expect(folded.locator("#voice-status")).to_be_visible()
    result: dict[str, Any] = folded.evaluate(AUDIT, {
        "windows": [{"id": w["id"], "name": w["name"]} for w in config["windows"]],
        "services": [{"code": s["code"], "name_zh": s["name_zh"]} for s in config["services"]],
        "readable": min(size) * READABLE_SHARE,
    })
    found = result["missing"] + result["problems"]
    assert not found, (f"{len(found)} problems at {size[0]}x{size[1]} with the mark in the bar:\n" + "\n".join(found))
