// The three charts of a report (GET /reports): tickets and average wait per hour, waits per group, and the rating
// distribution with its 好评率. One home for what each shows, for the reports page (drawn in the page) and the
// dashboard's panel of today's charts (drawn into its <img>s): charts.js draws either at the size it is shown.
import { label, t } from "/assets/floor/hallq.js";
import { LEVEL_COLOURS } from "/assets/reports/charts.js";

export const REPORT_CHARTS = ["hourly", "waits", "ratings"];
export const LEVELS = [[5, "非常满意", "Very satisfied"], [4, "满意", "Satisfied"], [3, "基本满意", "Fairly satisfied"],
  [2, "不满意", "Dissatisfied"], [1, "非常不满意", "Very dissatisfied"]];
const GROUP_TEXT = { service: ["业务", "service"], window: ["窗口", "window"], staff: ["工作人员", "staff"] };

export const percent = (x) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);
// Out of 10, said so: "5.00" alone read as a perfect 5 of 5.
export const score = (x) => (x === null || x === undefined ? "—" : `${x.toFixed(2)}/10`);
const minutesOf = (seconds) => (seconds === null || seconds === undefined ? null : Math.round(seconds / 6) / 10);
const oneDecimal = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1));

/** 好评率 and satisfaction of some figures, as the ratings chart's caption says them. */
export function ratingsCaption(figures) {
  return t(`评价分布 · 好评率 ${percent(figures.good_rate)} · 满意度 ${score(figures.satisfaction)}`,
    `Rating distribution · good ${percent(figures.good_rate)} · satisfaction ${score(figures.satisfaction)}`);
}

/** Each chart of ``report`` as [kind, options, caption] for charts.js. */
export function reportCharts(report) {
  const rows = report.rows.filter((r) => r.key !== null);
  const totals = report.totals;
  return {
    hourly: ["barLine", {
      name: "hourly", xTitle: t("取号时间（整点）", "Hour of issue"), barTitle: t("取号量（张）", "Tickets issued"),
      lineTitle: t("平均等候（分钟）", "Average wait (min)"), lineFormat: oneDecimal,
      points: report.hours.map((h) => ({ label: h.hour, bar: h.issued, line: minutesOf(h.avg_wait_s) })),
    }, t("每小时取号量与平均等候", "Tickets and average wait per hour")],
    waits: ["hbar", {
      name: "waits", xTitle: t("等候时间（分钟）", "Wait (min)"), format: oneDecimal,
      series: [{ title: t("平均等候", "Average wait"), colour: "#2563eb" },
        { title: t("90% 等候不超过", "90th percentile wait"), colour: "#d97706" }],
      markTitle: t("目标等候", "Target wait"),
      rows: rows.map((r) => ({
        label: t(r.name, r.name_en), values: [minutesOf(r.avg_wait_s), minutesOf(r.p90_wait_s)],
        mark: report.by === "service" && report.targets[r.key] ? minutesOf(report.targets[r.key]) : null,
      })),
    }, t(`各${label(GROUP_TEXT, report.by)}等候时间`, `Wait per ${label(GROUP_TEXT, report.by)}`)],
    ratings: ["bar", {
      name: "ratings", xTitle: t("评价等级", "Rating"), yTitle: t("评价数", "Ratings"),
      points: LEVELS.map(([level, zh, en]) => ({
        label: t(zh, en), value: totals.ratings[level], colour: LEVEL_COLOURS[level],
        text: totals.rated ? [String(totals.ratings[level]), percent(totals.rating_shares[level])] : "0",
      })),
    }, ratingsCaption(totals)],
  };
}
