"""The charts' labels are readable where they are shown: on the reports page and on the dashboard (its own charts
and the panel of today's charts), at 1366x768 and 1920x1080, every axis label is at least 12 CSS px as rendered.

Measured, not assumed: an inline chart's text by its computed font size times the scale the SVG is drawn at on the
screen (its screen CTM); a chart shown as an image by the font size in the image's SVG times the scale the image
is shown at. A picture drawn at one size and shrunk into a smaller box fails here, whatever its font size."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from playwright.sync_api import expect

from tests.pages.conftest import Hall
from tests.pages.test_reports import ZONE, seed_day

pytestmark = pytest.mark.slow  # handed out first (see tests/conftest.py)

REPORTS = "/halls/{hall}/reports"
DASHBOARD = "/halls/{hall}/dashboard"
SIZES = [(1366, 768), (1920, 1080)]
SMALLEST_PX = 12
AXIS_LABELS = "text.tick, text.axis-title"

INLINE_SIZES = """(hosts) => hosts.flatMap((host) => [...host.querySelectorAll("AXIS_LABELS")].map((text) => {
  const m = text.getScreenCTM();
  const box = text.getBoundingClientRect();
  return {chart: host.id, text: text.textContent, shown: box.width > 0 && box.height > 0,
          px: parseFloat(getComputedStyle(text).fontSize) * Math.hypot(m.a, m.b)};
}))""".replace("AXIS_LABELS", AXIS_LABELS)

IMAGE_SIZES = """async (imgs) => (await Promise.all(imgs.map(async (img) => {
  const source = await (await fetch(img.src)).text();
  const svg = new DOMParser().parseFromString(source, "image/svg+xml").querySelector("svg");
  if (!svg) return [];
  const [, , width, height] = svg.getAttribute("viewBox").split(/[ ,]+/).map(Number);
  const box = img.getBoundingClientRect();
  const scale = Math.min(box.width / width, box.height / height);  // an SVG image is fitted whole into its box
  return [...svg.querySelectorAll("AXIS_LABELS")].map((text) => ({
    chart: img.id, text: text.textContent, shown: box.width > 0,
    px: parseFloat(text.style.fontSize || text.getAttribute("font-size")) * scale,
  }));
}))).flat()""".replace("AXIS_LABELS", AXIS_LABELS)


def assert_readable(labels: list[dict[str, object]], charts: list[str]) -> None:
    for chart in charts:
        mine = [label for label in labels if label["chart"] == chart]
        assert len(mine) >= 4, f"{chart}: no axis labels to read ({len(mine)})"
        assert all(label["shown"] for label in mine), chart
        small = [label for label in mine if float(str(label["px"])) < SMALLEST_PX]
        assert not small, f"{chart}: labels under {SMALLEST_PX} px as shown: {small[:5]}"


def seeded(hall: Hall) -> None:
    """Today in the record: a county hall's day of tickets, waits and ratings, so every chart has its axes full."""
    seed_day(hall, datetime.now(ZONE).date())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_reports_pages_charts_read_at_12_px_or_more(hall: Hall, size: tuple[int, int]) -> None:
    seeded(hall)
    page = hall.open_page(REPORTS, role="manager", size=size)
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    charts = ["chart-hourly", "chart-waits", "chart-ratings"]
    for chart in charts:
        expect(page.locator(f"#{chart} svg")).to_have_count(1)
    assert_readable(page.locator(", ".join(f"#{c}" for c in charts)).evaluate_all(INLINE_SIZES), charts)
    # Drawn at the size they are shown: the SVG's own box is its host's, not a picture scaled into it.
    for chart in charts:
        host = page.locator(f"#{chart}").bounding_box()
        drawn = page.locator(f"#{chart} svg").bounding_box()
        assert host is not None
        assert drawn is not None
        assert abs(host["width"] - drawn["width"]) <= 1, chart


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_dashboards_charts_read_at_12_px_or_more(hall: Hall, size: tuple[int, int]) -> None:
    seeded(hall)
    page = hall.open_page(DASHBOARD, role="manager", size=size)
    own = ["chart-arrivals", "chart-wait"]
    for chart in own:
        expect(page.locator(f"#{chart} svg")).to_have_count(1)
    expect(page.locator("#kpi-issued")).not_to_have_text("—")
    assert_readable(page.locator("#chart-arrivals, #chart-wait").evaluate_all(INLINE_SIZES), own)

    page.locator("#report-panel summary").click()
    panel = ["report-chart-hourly", "report-chart-waits", "report-chart-ratings"]
    for chart in panel:
        expect(page.locator(f"#{chart}")).to_have_attribute("src", re.compile(r"^blob:"), timeout=15000)
    assert_readable(page.locator(", ".join(f"#{c}" for c in panel)).evaluate_all(IMAGE_SIZES), panel)

