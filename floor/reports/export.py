"""A report as a file: CSV (UTF-8 with a byte-order mark, so Excel reads the Chinese right) and XLSX (openpyxl).

Both carry one header row in Chinese and English ("取号 Issued"), a row per group and a total row; the
workbook adds a sheet with each day's totals. Durations are whole seconds, rates and shares fractions
(formatted as percentages in the workbook), empty cells where there is nothing to average. Satisfaction is
never alone: 好评率 and each level's share sit beside it (columns added in issue 22 go after the old ones, so a
sheet that reads columns by position still finds them).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from floor.reports.rules import GREEN_KEYS

Cell = str | int | float | None
Column = tuple[str, Callable[[dict[str, Any]], Cell]]

_GREEN_TEXT = {"elderly": "高龄 Elderly", "disabled": "残疾 Disabled", "pregnant": "孕妇 Pregnant",
               "military": "军人 Military", "other": "其他 Other"}
_RATING_TEXT = {"5": "非常满意 Very satisfied", "4": "满意 Satisfied", "3": "基本满意 Fairly satisfied",
                "2": "不满意 Dissatisfied", "1": "非常不满意 Very dissatisfied"}
GROUP_TEXT = {"service": ("业务代码 Service code", "业务 Service"), "window": ("窗口 Window", "窗口名称 Window name"),
              "staff": ("工号 Staff id", "工作人员 Staff")}
RATE_COLUMN = "过号率 No-show rate"
GOOD_RATE_COLUMN = "好评率 Good-rating rate"


def _figure(name: str) -> Callable[[dict[str, Any]], Cell]:
    return lambda row: row[name]


def _nested(name: str, key: str) -> Callable[[dict[str, Any]], Cell]:
    return lambda row: row[name][key]


FIGURE_COLUMNS: list[Column] = [
    ("取号 Issued", _figure("issued")),
    ("办结 Served", _figure("served")),
    ("过号 Missed", _figure("missed")),
    ("取消 Cancelled", _figure("cancelled")),
    ("未办结 Unfinished", _figure("unfinished")),
    ("平均等候(秒) Avg wait (s)", _figure("avg_wait_s")),
    ("90%等候(秒) P90 wait (s)", _figure("p90_wait_s")),
    ("平均办理(秒) Avg handling (s)", _figure("avg_handling_s")),
    ("90%办理(秒) P90 handling (s)", _figure("p90_handling_s")),
    (RATE_COLUMN, _figure("no_show_rate")),
    ("超时件 Over target", _figure("over_target")),
    ("绿色通道 Green channel", _figure("green_total")),
    *((f"绿色通道·{_GREEN_TEXT[k]}", _nested("green", k)) for k in GREEN_KEYS),
    ("预约 Appointments", _figure("appointments")),
    ("预约未到 Appointment no-shows", _figure("appointment_no_shows")),
    ("评价数 Rated", _figure("rated")),
    *((f"评价·{_RATING_TEXT[k]}", _nested("ratings", k)) for k in ("5", "4", "3", "2", "1")),
    ("满意度 Satisfaction (10/8/6/3/0)", _figure("satisfaction")),
    ("差评 Bad ratings", _figure("bad")),
    ("差评件未办结 Open cases", _nested("cases", "open")),
    ("差评件已办结 Closed cases", _nested("cases", "closed")),
    ("差评件超期 Overdue cases", _nested("cases", "overdue")),
    ("好评 Good ratings", _figure("good")),
    (GOOD_RATE_COLUMN, _figure("good_rate")),
    *((f"评价占比·{_RATING_TEXT[k]}", _nested("rating_shares", k)) for k in ("5", "4", "3", "2", "1")),
]
# Fractions shown as percentages in the workbook.
PERCENT_COLUMNS = (RATE_COLUMN, GOOD_RATE_COLUMN, *(f"评价占比·{_RATING_TEXT[k]}" for k in ("5", "4", "3", "2", "1")))
TOTAL = "合计 Total"


def summary_table(data: dict[str, Any]) -> list[list[Cell]]:
    """The header, a row per group and the total row of a report (``floor.reports.rules.report``'s answer)."""
    key_title, name_title = GROUP_TEXT[data["by"]]
    table: list[list[Cell]] = [[key_title, name_title, *(title for title, _ in FIGURE_COLUMNS)]]
    for row in data["rows"]:
        table.append([row["key"] or "", row["name"], *(get(row) for _, get in FIGURE_COLUMNS)])
    table.append([TOTAL, "", *(get(data["totals"]) for _, get in FIGURE_COLUMNS)])
    return table


def daily_table(data: dict[str, Any]) -> list[list[Cell]]:
    table: list[list[Cell]] = [["日期 Day", *(title for title, _ in FIGURE_COLUMNS)]]
    table += [[day["day"], *(get(day) for _, get in FIGURE_COLUMNS)] for day in data["days"]]
    return table


def filename(data: dict[str, Any], extension: str) -> str:
    """hallq-<hall>-<from>-<to>-<by>.<ext>: the hall id and dates are ASCII, safe in any header."""
    return f"hallq-{data['hall']}-{data['from']}-{data['to']}-{data['by']}.{extension}"


def to_csv(data: dict[str, Any]) -> bytes:
    return csv_file(summary_table(data))


def to_xlsx(data: dict[str, Any], title: str) -> bytes:
    return xlsx_file(summary_table(data), daily_table(data), title)


def csv_file(table: list[list[Any]]) -> bytes:
    """UTF-8 with a byte-order mark (Excel reads the Chinese right), rows as RFC 4180 lines."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerows(["" if cell is None else cell for cell in row] for row in table)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_file(summary_rows: list[list[Any]], daily_rows: list[list[Any]], title: str) -> bytes:
    """A workbook of a report (a hall's or a region's): the groups with their total row last, and each day; bold
    headers, frozen first column, shares as percentages."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    summary = book.active
    summary.title = "汇总 Summary"
    daily = book.create_sheet("每日 Daily")
    for sheet, table in ((summary, summary_rows), (daily, daily_rows)):
        for row in table:
            sheet.append(row)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.freeze_panes = "B2"
        for name in PERCENT_COLUMNS:
            if name not in table[0]:
                continue
            column = table[0].index(name) + 1
            for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
                cell.number_format = "0.0%"
        for column in sheet.columns:
            sheet.column_dimensions[column[0].column_letter].width = 14
    for cell in summary[summary.max_row]:
        cell.font = Font(bold=True)
    book.properties.title = title
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
