// 统计报表: a manager picks a date range and a grouping and sees the figures, charts and the windows' stars of the
// month, and 考勤 of a day (attendance.js); CSV and Excel downloads carry the same figures.
//
// Every figure is counted by the server (GET /reports, floor/reports/rules.py); this page only lays them out, and
// draws the charts from them (charts.js) at the size each box has, so their labels read on any screen. Satisfaction
// (out of 10) is never shown alone: 好评率 and the five-level distribution sit beside it. Downloads need the token
// too, so they are fetched (with the Authorization header) and handed to a download link as blobs. Without a token
// of its own the page borrows the dashboard's, so the dashboard's link opens it signed in.
import {
  api, ApiError, applyLanguage, duration, el, hall, label, lang, languageSwitch, ROLE_TEXT, signIn, storeToken,
  t, takeToken, toast,
} from "/assets/floor/hallq.js";
import { chart } from "/assets/reports/charts.js";
import { LEVELS, percent, REPORT_CHARTS, reportCharts, score } from "/assets/reports/report-charts.js";
import { renderAttendance, startAttendance } from "/assets/reports/attendance.js";
import { managerNav } from "/assets/floor/manager-nav.js"; managerNav(); // the managers' pages nav

const $ = (id) => document.getElementById(id);
const GROUP_TEXT = { service: ["业务", "Service"], window: ["窗口", "Window"], staff: ["工作人员", "Staff"] };
const plain = (x) => (x === null || x === undefined ? "—" : String(x));
/** One level of the distribution: its count and its share of the rated, "3（60.0%）". */
const levelText = (row, level) => (row.rated
  ? t(`${row.ratings[level]}（${percent(row.rating_shares[level])}）`,
    `${row.ratings[level]} (${percent(row.rating_shares[level])})`)
  : "0");

// [field, zh, en, format]; the cell's data-field is the field, so a test reads what was shown.
const COLUMNS = [
  ["issued", "取号", "Issued", plain],
  ["served", "办结", "Served", plain],
  ["missed", "过号", "Missed", plain],
  ["no_show_rate", "过号率", "No-show rate", percent],
  ["avg_wait_s", "平均等候", "Avg wait", duration],
  ["p90_wait_s", "90%等候", "P90 wait", duration],
  ["avg_handling_s", "平均办理", "Avg handling", duration],
  ["p90_handling_s", "90%办理", "P90 handling", duration],
  ["over_target", "超时件", "Over target", plain],
  ["green_total", "绿色通道", "Green channel", plain],
  ["appointments", "预约", "Appointments", plain],
  ["appointment_no_shows", "预约未到", "Booking no-shows", plain],
  ["rated", "评价数", "Rated", plain],
  ...LEVELS.map(([level, zh, en]) => [`rating_${level}`, zh, en, null]),
  ["good_rate", "好评率", "Good-rating rate", percent],
  ["satisfaction", "满意度", "Satisfaction", score],
  ["bad", "差评", "Bad", plain],
  ["cases_open", "差评件未办结", "Cases open", plain],
  ["cases_closed", "差评件已办结", "Cases closed", plain],
  ["cases_overdue", "差评件超期", "Cases overdue", plain],
];
const KPIS = [
  ["issued", "取号", "Issued", plain], ["served", "办结", "Served", plain],
  ["avg_wait_s", "平均等候", "Average wait", duration], ["p90_wait_s", "90%等候", "P90 wait", duration],
  ["no_show_rate", "过号率", "No-show rate", percent], ["over_target", "超时件", "Over target", plain],
  ["good_rate", "好评率", "Good-rating rate", percent], ["satisfaction", "满意度", "Satisfaction", score],
  ["bad", "差评", "Bad ratings", plain],
];
const GREEN_TEXT = { elderly: ["高龄", "elderly"], disabled: ["残疾", "disabled"], pregnant: ["孕妇", "pregnant"],
  military: ["军人", "military"], other: ["其他", "other"] };

const state = { token: null, zone: "Asia/Shanghai", windows: [], report: null, stars: null };

// -- dates in the hall's own time zone ----------------------------------------------------------------
function hallDate(date = new Date()) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: state.zone, year: "numeric", month: "2-digit",
    day: "2-digit" }).format(date);
}

function shiftDays(iso, days) {
  const d = new Date(`${iso}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

function quick(kind) {
  const today = hallDate();
  const first = { today, week: shiftDays(today, -6), month: `${today.slice(0, 8)}01` }[kind];
  $("from").value = first;
  $("to").value = today;
  run();
}

function query() {
  return new URLSearchParams({ from: $("from").value, to: $("to").value, by: $("by").value }).toString();
}

// -- fetching what is not JSON: the downloads -------------------------------------------------------
async function fetchBlob(path) {
  const reply = await fetch(`/api/v1/halls/${hall}${path}`, {
    headers: { Authorization: `Bearer ${state.token}`, "Accept-Language": lang() === "en" ? "en" : "zh-CN" },
  });
  if (!reply.ok) {
    let error = null;
    try { error = (await reply.json()).error; } catch { error = null; }
    throw new ApiError(reply.status, error?.code ?? "http_error",
      error?.message ?? t(`请求失败（${reply.status}）。`, `The request failed (${reply.status}).`));
  }
  const disposition = reply.headers.get("content-disposition") ?? "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? "";
  return { blob: await reply.blob(), name };
}

async function download(extension) {
  const button = $(`download-${extension}`);
  button.disabled = true;
  try {
    const { blob, name } = await fetchBlob(`/reports.${extension}?${query()}`);
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: name || `report.${extension}`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    toast(t(`已下载 ${name}`, `Downloaded ${name}`), "ok");
  } catch (error) {
    $("problem").textContent = error.message;
  } finally {
    button.disabled = false;
  }
}

// -- charts, drawn from the report's own figures -------------------------------------------------------
function drawCharts() {
  if (!state.report) return;
  const charts = reportCharts(state.report);
  for (const name of REPORT_CHARTS) {
    const [kind, options, caption] = charts[name];
    chart($(`chart-${name}`), kind, options);
    $(`chart-${name}-caption`).textContent = caption;
  }
}

// -- rendering ---------------------------------------------------------------------------------------
function value(row, field) {
  if (field.startsWith("cases_")) return row.cases[field.slice(6)];
  return row[field];
}

function shown(row, field, format) {
  return field.startsWith("rating_") ? levelText(row, field.slice(7)) : format(value(row, field));
}

function cells(row, tag = "td") {
  return COLUMNS.map(([field, , , format]) => {
    const cell = el(tag, { class: "num", "data-field": field }, shown(row, field, format));
    if (field === "green_total" && row.green_total) {
      cell.title = Object.entries(row.green).filter(([, n]) => n)
        .map(([reason, n]) => `${label(GREEN_TEXT, reason)} ${n}`).join(t("，", ", "));
    }
    if (field === "cases_overdue" && row.cases.overdue) cell.classList.add("alarm");
    return cell;
  });
}

function renderReport() {
  const report = state.report;
  if (!report) return;
  $("table-title").textContent = t(`按${label(GROUP_TEXT, report.by)}统计 · ${report.from} 至 ${report.to}`,
    `By ${label(GROUP_TEXT, report.by).toLowerCase()} · ${report.from} to ${report.to}`);
  $("report-head").replaceChildren(el("th", {}, label(GROUP_TEXT, report.by)),
    ...COLUMNS.map(([field, zh, en]) => el("th", { class: "num", "data-field": field }, t(zh, en))));
  // Services and windows go by their names alone; staff by their number and name (the hall's own staff, unmasked).
  $("report-rows").replaceChildren(...report.rows.map((row) => el("tr", { "data-key": row.key ?? "" },
    el("th", { scope: "row" }, row.key && report.by === "staff" ? `${row.key} ${t(row.name, row.name_en)}`
      : t(row.name, row.name_en)),
    ...cells(row))));
  $("report-total").replaceChildren(el("tr", { "data-key": "total" }, el("th", { scope: "row" }, t("合计", "Total")),
    ...cells(report.totals)));
  $("totals").replaceChildren(...KPIS.map(([field, zh, en, format]) => el("div", { class: "kpi", "data-field": field },
    el("span", { class: "kpi-label" }, t(zh, en)), el("b", { class: "kpi-value" }, format(report.totals[field])))));
}

function starText(n) {
  return n === null || n === undefined ? t("未评星", "no stars") : "★".repeat(n) + "☆".repeat(5 - n);
}

function distribution(row) {
  return LEVELS.map(([level, zh, en]) => el("span", { class: "level", "data-level": level, title: t(zh, en) },
    levelText(row, level)));
}

function renderStars() {
  const stars = state.stars;
  if (!stars) return;
  $("star-rows").replaceChildren(...stars.windows.map((w) => el("tr", { "data-window": w.window },
    el("td", {}, t(w.name, `Window ${w.window}`)),
    el("td", { class: "star-cell", "data-stars": w.stars ?? "" }, starText(w.stars)),
    el("td", { class: "num", "data-field": "satisfaction" }, score(w.satisfaction)),
    el("td", { class: "num", "data-field": "good_rate" }, percent(w.good_rate)),
    el("td", { class: "num" }, w.rated),
    el("td", { class: "levels", "data-field": "ratings" }, ...distribution(w)),
    el("td", { class: "num" }, w.bad),
    el("td", { class: "num" }, w.open_cases),
    el("td", { class: `num${w.overdue_cases ? " alarm" : ""}` }, w.overdue_cases))));
  $("star-rule").textContent = lang() === "en" ? stars.rule.en : stars.rule.zh;
}

// -- actions -----------------------------------------------------------------------------------------
async function run(event) {
  event?.preventDefault();
  $("problem").textContent = "";
  $("run").disabled = true;
  try {
    state.report = await api(`/reports?${query()}`, { token: state.token });
    renderReport();
    drawCharts();
  } catch (error) {
    $("problem").textContent = error.message;
  } finally {
    $("run").disabled = false;
  }
}

async function loadStars() {
  try {
    state.stars = await api(`/reports/stars?month=${$("month").value}`, { token: state.token });
    renderStars();
  } catch (error) {
    $("problem").textContent = error.message;
  }
}

function redraw() {
  applyLanguage();
  renderReport();
  renderStars();
  renderAttendance();
  drawCharts();
}

async function main() {
  applyLanguage();
  languageSwitch($("lang"), redraw);
  // Opened from the dashboard: its manager token will do (the token itself never leaves this browser).
  if (!takeToken("reports")) {
    const dashboard = localStorage.getItem(`hallq.token.${hall}.dashboard`);
    if (dashboard) storeToken("reports", dashboard);
  }
  const { token } = await signIn("reports", {
    title: t("统计报表登录", "Reports sign-in"),
    accept: (who) => (["manager", "admin"].includes(who.role) ? null : t(
      `统计报表只接受管理员（manager）令牌，这是${label(ROLE_TEXT, who.role)}的令牌。`,
      `Reports take a manager token; this one is for the ${label(ROLE_TEXT, who.role)}.`)),
  });
  state.token = token;
  try {
    const config = await api("/config", { token });
    state.zone = config.timezone || state.zone;
    state.windows = config.windows ?? [];
  } catch (error) {
    toast(error.message, "error");
  }
  const today = hallDate();
  $("from").value = today;
  $("to").value = today;
  $("month").value = today.slice(0, 7);
  $("controls").addEventListener("submit", run);
  for (const button of document.querySelectorAll("[data-quick]")) {
    button.addEventListener("click", () => quick(button.dataset.quick));
  }
  $("by").addEventListener("change", () => run());
  $("download-csv").addEventListener("click", () => download("csv"));
  $("download-xlsx").addEventListener("click", () => download("xlsx"));
  $("month").addEventListener("change", loadStars);
  await Promise.all([run(), loadStars(),
    startAttendance({ token, zone: state.zone, windows: state.windows })]);
  document.body.dataset.ready = "1";
}

main();
