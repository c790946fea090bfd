// 考勤 on the reports page: for a day (the hall's today unless picked), each person who signed in, when they signed
// in and out, the windows they sat at, how long, and every pause with its reason and length. The server works it
// all out from the sign-ins and the windows' pause events (GET /attendance, floor/reports/attendance.py); this
// module only lays it out, on the hall's clock whatever the browser's time zone, and offers the table as CSV
// (made here, from the same rows). Each cell has a data-field, so a test reads what was shown.
import { api, duration, el, hall, label, ROLE_TEXT, t, toast } from "/assets/floor/hallq.js";

const $ = (id) => document.getElementById(id);
const ctx = { token: null, zone: "Asia/Shanghai", windows: [] };
const state = { answer: null, asked: 0 };

// -- the hall's clock ----------------------------------------------------------------------------------------------
function hallParts(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return null;
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: ctx.zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(date).map((p) => [p.type, p.value]));
  return { day: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}` };
}

export function hallToday() {
  return hallParts(new Date().toISOString()).day;
}

/** "09:02" on the hall's clock; "04-30 17:58" when it falls on another day than the one shown. */
function at(iso) {
  if (!iso) return "—";
  const parts = hallParts(iso);
  if (!parts) return iso;
  return parts.day === state.answer?.day ? parts.time : `${parts.day.slice(5)} ${parts.time}`;
}

function windowName(id) {
  const w = ctx.windows.find((x) => x.id === id);
  return t(w?.name ?? `${id}号窗口`, `Window ${id}`);
}

/** "09:02–11:58"; still open: "09:02–至今". */
const span = (start, end) => `${at(start)}–${end ? at(end) : t("至今", "now")}`;
const stintText = (s) => `${windowName(s.window)} ${span(s.start, s.end)}`;
const reasonText = (p) => p.reason || t("未注明原因", "no reason given");
/** "午休 1小时2分", and "（暂停中）" while it lasts. */
const pauseText = (p) => `${reasonText(p)} ${duration(p.seconds)}${p.end ? "" : t("（暂停中）", " (still paused)")}`;
const pauseWhere = (p) => `${windowName(p.window)} ${span(p.start, p.end)}`;
const pauseCount = (n) => t(`${n}次`, n === 1 ? "1 pause" : `${n} pauses`);

// -- the table -------------------------------------------------------------------------------------------------------
function pausesCell(person) {
  const pauses = person.pauses;
  if (!pauses.length) return el("td", { "data-field": "pauses", "data-count": "0" }, "—");
  const detail = pauses.map((p) => t(`${pauseText(p)}（${pauseWhere(p)}）`, `${pauseText(p)} (${pauseWhere(p)})`));
  return el("td", { "data-field": "pauses", "data-count": pauses.length },
    el("details", { class: "pause-list", title: detail.join("\n") },
      el("summary", {}, t(`${pauseCount(pauses.length)}，共${duration(person.paused_s)}`,
        `${pauseCount(pauses.length)}, ${duration(person.paused_s)} in all`)),
      el("ul", {}, ...pauses.map((p) => el("li", { class: "pause", "data-reason": p.reason, "data-window": p.window },
        el("span", { class: "pause-what" }, pauseText(p)), " ",
        el("span", { class: "pause-where" }, pauseWhere(p)))))));
}

function row(person) {
  return el("tr", { "data-username": person.username },
    el("th", { scope: "row", "data-field": "name" },
      el("span", { class: "display-name" }, person.display_name), " ",
      el("small", { class: "username" }, person.username)),
    el("td", { "data-field": "role" }, label(ROLE_TEXT, person.role)),
    el("td", { class: "num", "data-field": "signed_in" }, at(person.signed_in)),
    person.signed_out
      ? el("td", { class: "num", "data-field": "signed_out" }, at(person.signed_out))
      : el("td", { class: "on-duty", "data-field": "signed_out", "data-on-duty": "1" }, t("在岗中", "On duty")),
    el("td", { class: "stints", "data-field": "windows" }, person.windows.length
      ? person.windows.map((s) => el("span", { class: "stint", "data-window": s.window }, stintText(s)))
      : t("未上窗口", "no window")),
    el("td", { class: "num", "data-field": "at_windows" }, duration(person.at_windows_s)),
    pausesCell(person),
    el("td", { class: "num", "data-field": "paused" }, duration(person.paused_s)));
}

export function renderAttendance() {
  const answer = state.answer;
  if (!answer) return;
  const people = answer.people;
  $("attendance-rows").replaceChildren(...people.map(row));
  $("attendance-table").closest(".table-scroll").hidden = !people.length;
  $("attendance-empty").hidden = people.length > 0;
  $("attendance-empty").textContent = people.length ? "" : t(
    `${answer.day} 没有工作人员签到，没有考勤记录。`, `Nobody signed in on ${answer.day}: no attendance to show.`);
  $("attendance-csv").disabled = !people.length;
}

export async function loadAttendance() {
  const day = $("attendance-day").value || hallToday();
  const asked = ++state.asked;
  $("attendance-problem").textContent = "";
  try {
    const answer = await api(`/attendance?day=${encodeURIComponent(day)}`, { token: ctx.token });
    if (asked !== state.asked) return; // another day was picked meanwhile
    state.answer = answer;
    renderAttendance();
  } catch (error) {
    if (asked !== state.asked) return;
    state.answer = null;
    $("attendance-rows").replaceChildren();
    $("attendance-empty").hidden = true;
    $("attendance-csv").disabled = true;
    $("attendance-problem").textContent = error.message;
  }
}

// -- CSV, from the rows shown --------------------------------------------------------------------------------------
const CSV_HEAD = ["姓名 Name", "用户名 Username", "角色 Role", "签到 Signed in", "签退 Signed out", "窗口 Windows",
  "在窗口时长 At windows", "在窗口秒数 At windows (s)", "暂停次数 Pauses", "暂停时长 Paused", "暂停秒数 Paused (s)",
  "暂停明细 Pause details"];

function csvCell(value) {
  let text = String(value ?? "");
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`; // never a formula in a spreadsheet
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csv(answer) {
  const lines = answer.people.map((p) => [p.display_name, p.username, label(ROLE_TEXT, p.role), at(p.signed_in),
    p.signed_out ? at(p.signed_out) : t("在岗中", "On duty"), p.windows.map(stintText).join("; "),
    duration(p.at_windows_s), p.at_windows_s, p.pauses.length, duration(p.paused_s), p.paused_s,
    p.pauses.map((x) => `${pauseText(x)} (${pauseWhere(x)})`).join("; ")]);
  return `\ufeff${[CSV_HEAD, ...lines].map((line) => line.map(csvCell).join(",")).join("\r\n")}\r\n`;
}

function downloadCsv() {
  const answer = state.answer;
  if (!answer) return;
  const name = `hallq-${hall}-attendance-${answer.day}.csv`;
  const url = URL.createObjectURL(new Blob([csv(answer)], { type: "text/csv;charset=utf-8" }));
  const link = el("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  toast(t(`已下载 ${name}`, `Downloaded ${name}`), "ok");
}

/** Wire the section up and load the hall's today; resolves once it is shown (or its problem is). */
export function startAttendance({ token, zone, windows }) {
  Object.assign(ctx, { token, zone: zone || ctx.zone, windows: windows ?? [] });
  $("attendance-day").value = hallToday();
  $("attendance-day").addEventListener("change", loadAttendance);
  $("attendance-today").addEventListener("click", () => {
    $("attendance-day").value = hallToday();
    loadAttendance();
  });
  $("attendance-refresh").addEventListener("click", loadAttendance);
  $("attendance-csv").addEventListener("click", downloadCsv);
  $("attendance-csv").disabled = true;
  return loadAttendance();
}
