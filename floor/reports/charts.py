"""Report charts as PNG, drawn by matplotlib's Agg renderer (no display, no pyplot state shared between threads).

Chinese labels need a CJK font: Debian's fonts-wqy-zenhei (``scripts/install`` puts it in). Without it the
charts are drawn with English labels whatever the language asked for, rather than rows of empty boxes.
The module imports matplotlib (half a second), so the API imports it only when a chart is first asked for.
Drawing takes a lock: matplotlib's font cache and text layout are not meant for several threads at once,
and a chart takes a few tens of milliseconds.
"""

from __future__ import annotations

import io
import logging
import math
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from matplotlib import font_manager, rcParams
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from floor.ratings.rules import LEVELS

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
SIZE_IN, DPI = (8.0, 4.0), 100  # 800 x 400 pixels
BLUE, AMBER, RED, GREEN, GREY = "#2563eb", "#d97706", "#dc2626", "#16a34a", "#9ca3af"
_LEVEL_COLOURS = {"5": GREEN, "4": "#65a30d", "3": GREY, "2": AMBER, "1": RED}

log = logging.getLogger("hallq.charts")
_drawing = threading.Lock()


@cache
def cjk_font() -> str | None:
    """The CJK font's family name once registered with matplotlib, or None when the machine has none."""
    if not CJK_FONT.exists():
        log.warning("no CJK font at %s: report charts are labelled in English (apt install fonts-wqy-zenhei)",
                    CJK_FONT)
        return None
    try:
        font_manager.fontManager.addfont(str(CJK_FONT))
        name = str(font_manager.FontProperties(fname=str(CJK_FONT)).get_name())
    except (OSError, RuntimeError, ValueError) as exc:  # an unreadable font file: draw in English, not fail
        log.warning("cannot use the CJK font %s (%s): report charts are labelled in English", CJK_FONT, exc)
        return None
    rcParams["font.family"] = "sans-serif"
    rcParams["font.sans-serif"] = [name, "DejaVu Sans"]
    rcParams["axes.unicode_minus"] = False  # the CJK font has no U+2212 minus sign
    rcParams["font.weight"] = "medium"  # zenhei's only weight: asking for "normal" logs a warning per text
    return name


def _text(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" and cjk_font() is not None else en


def render(chart: str, data: dict[str, Any], lang: str) -> bytes:
    """One of ``floor.reports.rules.CHARTS`` as PNG bytes: ``hourly`` takes ``floor.reports.rules.hourly``'s rows
    as data["hours"], ``waits`` a by-service report's rows as data["rows"], ``ratings`` its totals as data["totals"]."""
    with _drawing:
        cjk_font()
        figure = Figure(figsize=SIZE_IN, dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        {"hourly": _hourly, "waits": _waits, "ratings": _ratings}[chart](figure, data, lang)
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _subtitle(data: dict[str, Any], lang: str) -> str:
    first, last = data["from"], data["to"]
    return first if first == last else f"{first} – {last}" if lang == "en" else f"{first} 至 {last}"


def _legend_below(ax: Any, handles: list[Any]) -> None:
    """The legend under the plot, in one row: inside it would cover bars or points."""
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=len(handles), frameon=False)


def _minutes(seconds: int | None) -> float:
    return 0.0 if seconds is None else seconds / 60


def _hourly(figure: Any, data: dict[str, Any], lang: str) -> None:
    hours: Sequence[dict[str, Any]] = data["hours"]
    ax = figure.add_subplot()
    labels = [h["hour"] for h in hours]
    ax.bar(labels, [h["issued"] for h in hours], color=BLUE, label=_text(lang, "取号量", "Tickets issued"))
    ax.set_ylabel(_text(lang, "取号量（张）", "Tickets"))
    ax.set_xlabel(_text(lang, "取号时间（整点）", "Hour of issue"))
    waits = ax.twinx()
    # An hour without tickets (lunch) breaks the line rather than bridging it.
    minutes = [math.nan if h["avg_wait_s"] is None else h["avg_wait_s"] / 60 for h in hours]
    waits.plot(labels, minutes, color=AMBER, marker="o", label=_text(lang, "平均等候（分钟）", "Average wait (min)"))
    waits.set_ylabel(_text(lang, "平均等候（分钟）", "Average wait (min)"))
    waits.set_ylim(bottom=0)
    ax.set_title(f"{_text(lang, '每小时取号量与平均等候', 'Tickets and average wait per hour')} · "
                 f"{_subtitle(data, lang)}")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    handles = ax.get_legend_handles_labels()[0] + waits.get_legend_handles_labels()[0]
    _legend_below(ax, handles)


def _waits(figure: Any, data: dict[str, Any], lang: str) -> None:
    rows = [r for r in data["rows"] if r["key"] is not None]
    ax = figure.add_subplot()
    names = [r["name"] if lang == "zh" and cjk_font() is not None else r["name_en"] or r["key"] for r in rows]
    positions = list(range(len(rows)))
    width = 0.38
    ax.barh([p - width / 2 for p in positions], [_minutes(r["avg_wait_s"]) for r in rows], height=width,
            color=BLUE, label=_text(lang, "平均等候", "Average wait"))
    ax.barh([p + width / 2 for p in positions], [_minutes(r["p90_wait_s"]) for r in rows], height=width,
            color=AMBER, label=_text(lang, "90% 等候不超过", "90th percentile wait"))
    targets = data.get("targets", {})
    marks = [(p, targets[r["key"]] / 60) for p, r in zip(positions, rows, strict=True) if r["key"] in targets]
    if marks:
        ax.scatter([m[1] for m in marks], [m[0] for m in marks], marker="|", s=400, color=RED, zorder=3,
                   label=_text(lang, "目标等候", "Target wait"))
    ax.set_yticks(positions, names)
    ax.invert_yaxis()
    ax.set_xlabel(_text(lang, "等候时间（分钟）", "Wait (min)"))
    ax.set_xlim(left=0)
    ax.set_title(f"{_text(lang, '各业务等候时间', 'Wait per service')} · {_subtitle(data, lang)}")
    _legend_below(ax, ax.get_legend_handles_labels()[0])


def _ratings(figure: Any, data: dict[str, Any], lang: str) -> None:
    totals = data["totals"]
    keys = ["5", "4", "3", "2", "1"]
    ax = figure.add_subplot()
    labels = [_text(lang, LEVELS[int(k)].zh, LEVELS[int(k)].en) for k in keys]
    counts = [totals["ratings"][k] for k in keys]
    shares = [totals["rating_shares"][k] for k in keys]
    bars = ax.bar(labels, counts, color=[_LEVEL_COLOURS[k] for k in keys])
    # Each bar says its count and its share: the distribution is the figure, not one average.
    ax.bar_label(bars, labels=[f"{n}（{_percent(p)}）" if lang == "zh" and cjk_font() else f"{n} ({_percent(p)})"
                               for n, p in zip(counts, shares, strict=True)], padding=2)
    ax.set_ylabel(_text(lang, "评价数", "Ratings"))
    ax.set_ylim(0, max([*counts, 1]) * 1.15)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    score = totals["satisfaction"]
    shown = "—" if score is None else f"{score:.2f}/10"
    ax.set_title(f"{_text(lang, '评价分布', 'Rating distribution')} · {_subtitle(data, lang)} · "
                 f"{_text(lang, '好评率', 'good')} {_percent(totals['good_rate'])} · "
                 f"{_text(lang, '满意度', 'satisfaction')} {shown}")


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"
