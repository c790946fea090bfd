// 预约管理: the hall's managers see a day's bookings (today's unless another day is chosen) by slot, filtered by
// service and status, cancel one for a citizen who asks, and lift a person's booking block (爽约 too often): from
// a no-show in the list, or by the person's ID number. Names are masked as everywhere (张*三); an ID number typed
// here is sent once and cleared from the page.
//
// API: GET /appointments (?day, service, status, limit), POST /appointments/{id}/cancel,
// POST /appointment-blocks/lift ({appointment} or {id_number}, and a reason).
import { api, applyLanguage, clock, el, languageSwitch, t, toast } from "/assets/floor/hallq.js";
import { hallDate, hallSetUp, listState, managerNav, managerSignIn } from "/assets/floor/manager-nav.js";

const $ = (id) => document.getElementById(id);
const MAX = 500;
const STATUS_TEXT = {
  booked: ["已预约", "Booked"], checked_in: ["已签到取号", "Checked in"], cancelled: ["已取消", "Cancelled"],
  void: ["爽约", "No-show"],
};
const STATUS_BADGE = { booked: "", checked_in: "green", cancelled: "grey", void: "red" };
const WEEKDAYS = [["周日", "Sun"], ["周一", "Mon"], ["周二", "Tue"], ["周三", "Wed"], ["周四", "Thu"], ["周五", "Fri"],
  ["周六", "Sat"]];

const state = { token: null, config: null, zone: "Asia/Shanghai", rows: null, shownDay: "", error: null, seq: 0,
  busy: false, confirm: null, lift: null };
const tt = (pair) => t(pair[0], pair[1]);
const serviceName = (b) => t(b.service_name, b.service_name_en || b.service_name);
const itemName = (b) => (b.item ? t(b.item_name ?? b.item, b.item_name_en ?? b.item_name ?? b.item) : "");
const slotText = (b) => `${clock(b.slot_start)}–${clock(b.slot_end)}`;
const dayTime = (iso) => (iso ? `${iso.slice(5, 10)} ${clock(iso)}` : "—");

function dayLabel(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  const weekday = WEEKDAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()];
  return t(`${y}年${m}月${d}日 ${weekday[0]}`, `${weekday[1]} ${iso}`);
}

function shiftDay(iso, days) {
  const d = new Date(`${iso}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

// -- the list -----------------------------------------------------------------------------------------------
function bookable(service) {
  const rules = state.config.appointments;
  if (service.bundle?.length) return false;
  if (rules.services?.length && !rules.services.includes(service.code)) return false;
  return (rules.capacities?.[service.code] ?? rules.capacity) > 0;
}

function fillServices() {
  const select = $("f-service");
  const value = select.value;
  select.replaceChildren(el("option", { value: "" }, t("全部", "All")),
    ...state.config.services.filter(bookable).map((s) => el("option", { value: s.code },
      t(s.name_zh, s.name_en || s.name_zh))));
  select.value = value;
}

async function load() {
  if (!$("f-day").value) $("f-day").value = hallDate(state.zone);
  const params = new URLSearchParams({ day: $("f-day").value, limit: String(MAX) });
  if ($("f-service").value) params.set("service", $("f-service").value);
  if ($("f-status").value) params.set("status", $("f-status").value);
  const seq = ++state.seq; // only the last load asked for is shown
  state.shownDay = $("f-day").value;
  state.rows = null;
  state.error = null;
  render();
  let rows = null;
  let problem = null;
  try {
    rows = (await api(`/appointments?${params}`, { token: state.token })).appointments;
  } catch (error) {
    problem = error.message;
  }
  if (seq !== state.seq) return;
  state.rows = rows;
  state.error = problem;
  render();
}

function actions(b) {
  if (b.status === "booked") {
    if (Date.now() <= Date.parse(b.cancel_until)) {
      return el("button", { class: "btn cancel", type: "button", onclick: () => askCancel(b) }, t("取消预约", "Cancel"));
    }
    return el("span", { class: "mp-sub" }, t(`已过取消时限（${clock(b.cancel_until)}）`,
      `Too late to cancel (${clock(b.cancel_until)})`));
  }
  if (b.status === "void") {
    return el("button", { class: "btn warn lift", type: "button", onclick: () => askLift(b) },
      t("解除限制", "Lift block"));
  }
  return null;
}

function statusCell(b) {
  const when = b.status === "checked_in" ? b.checked_in_at : b.status === "cancelled" ? b.cancelled_at : null;
  return el("td", { class: "status" },
    el("span", { class: `badge ${STATUS_BADGE[b.status]}`.trim() }, tt(STATUS_TEXT[b.status])),
    when ? el("span", { class: "mp-sub" }, clock(when)) : null,
    b.status === "void" ? el("span", { class: "mp-sub" }, t(`${clock(b.void_at)} 前未签到`,
      `not checked in by ${clock(b.void_at)}`)) : null);
}

function render() {
  $("list-title").textContent = state.shownDay ? t(`${dayLabel(state.shownDay)}的预约`,
    `Bookings of ${dayLabel(state.shownDay)}`) : t("预约", "Bookings");
  const rows = state.rows ?? [];
  $("rows").replaceChildren(...rows.map((b) => el("tr", { dataset: { appointment: b.id, status: b.status } },
    el("td", { class: "when" }, slotText(b)),
    el("td", {}, serviceName(b), b.item ? el("span", { class: "mp-sub" }, itemName(b)) : null),
    el("td", { class: "holder" }, b.holder),
    el("td", { class: "code" }, b.code),
    statusCell(b),
    el("td", { class: "when" }, dayTime(b.booked_at)),
    el("td", { class: "actions" }, actions(b)))));
  if (state.error) listState($("state"), "error", state.error, load);
  else if (state.rows === null) listState($("state"), "loading", t("正在读取预约…", "Reading the bookings…"));
  else if (!rows.length) {
    listState($("state"), "empty", $("f-service").value || $("f-status").value
      ? t("这一天没有符合条件的预约。", "No booking of this day matches.")
      : t("这一天没有预约。", "Nobody booked this day."));
  } else listState($("state"), null);
  $("count").textContent = state.rows ? countText(rows) : "";
}

function countText(rows) {
  if (!rows.length) return "";
  const by = {};
  for (const b of rows) by[b.status] = (by[b.status] ?? 0) + 1;
  const parts = Object.keys(STATUS_TEXT).filter((s) => by[s]).map((s) => t(`${STATUS_TEXT[s][0]} ${by[s]}`,
    `${STATUS_TEXT[s][1].toLowerCase()} ${by[s]}`));
  const more = rows.length >= MAX ? t(`（只显示前 ${MAX} 条）`, ` (the first ${MAX} only)`) : "";
  return t(`共 ${rows.length} 条${parts.length ? `：${parts.join("，")}` : ""}${more}`,
    `${rows.length} in all${parts.length ? `: ${parts.join(", ")}` : ""}${more}`);
}

// -- cancel and lift, confirmed first ---------------------------------------------------------------------
function who(b) {
  return `${slotText(b)} ${serviceName(b)}${b.item ? ` · ${itemName(b)}` : ""} · ${b.holder}`;
}

function confirmDialog({ title, text, ok, reason = false, run }) {
  state.confirm = run;
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = ok;
  $("confirm-reason-field").hidden = !reason;
  $("confirm-reason").value = "";
  $("confirm-problem").textContent = "";
  $("confirm").showModal();
}

function askCancel(b) {
  confirmDialog({
    title: t("取消这条预约？", "Cancel this booking?"),
    text: t(`${dayLabel(b.day)} ${who(b)}。取消后名额释放，不能恢复；请确认是办事人本人要求取消。`,
      `${dayLabel(b.day)} ${who(b)}. Its place is freed and it cannot be undone; make sure the citizen asked.`),
    ok: t("确认取消预约", "Cancel the booking"),
    run: async () => {
      await api(`/appointments/${encodeURIComponent(b.id)}/cancel`, { method: "POST", token: state.token });
      toast(t(`已取消：${who(b)}`, `Cancelled: ${who(b)}`), "ok");
    },
  });
}

function askLift(b) {
  confirmDialog({
    title: t("解除这位办事人的预约限制？", "Lift this person's booking block?"),
    text: t(`按这条爽约的预约找到办事人：${dayLabel(b.day)} ${who(b)}。解除后其此前的爽约不再计数，可以重新预约。`,
      `The person is found by this no-show: ${dayLabel(b.day)} ${who(b)}. Their no-shows so far stop counting and `
      + "they may book again."),
    ok: t("解除限制", "Lift the block"),
    reason: true,
    run: async () => {
      const answer = await api("/appointment-blocks/lift", { method: "POST", token: state.token,
        body: { appointment: b.id, reason: oneLine($("confirm-reason").value) } });
      showLifted(answer, b.holder);
    },
  });
}

async function confirmed(event) {
  event.preventDefault();
  if (!state.confirm || state.busy) return;
  state.busy = true;
  $("confirm-ok").disabled = true;
  try {
    await state.confirm();
    $("confirm").close();
    state.confirm = null;
    load();
  } catch (error) {
    $("confirm-problem").textContent = error.message;
  } finally {
    state.busy = false;
    $("confirm-ok").disabled = false;
  }
}

// One line: the API refuses control characters in any text, line breaks included.
const oneLine = (text) => text.replace(/\s*[\r\n]+\s*/g, " ").trim();

function showLifted(answer, holder) {
  state.lift = { answer, holder };
  renderLifted();
  toast(t("已解除预约限制。", "The booking block is lifted."), "ok");
}

function renderLifted() {
  const box = $("lift-result");
  if (!state.lift) { box.hidden = true; return; }
  const { answer, holder } = state.lift;
  const person = holder ? t(`办事人 ${holder}`, `${holder}`) : t("该办事人", "This person");
  const at = clock(answer.lifted_at);
  box.hidden = false;
  box.dataset.blocked = answer.was_blocked ? "1" : "0";
  box.textContent = answer.was_blocked
    ? t(`${at} 已解除：${person}原在 ${answer.blocked_until} 前不能预约，现在可以预约了；此前的爽约不再计数。`,
      `Lifted at ${at}: ${person} could not book until ${answer.blocked_until}, and now can; their no-shows so far `
      + "no longer count.")
    : t(`${at} 已记录：${person}目前没有被限制预约，可以正常预约；此前的爽约不再计数。`,
      `Recorded at ${at}: ${person} was not blocked and may book; their no-shows so far no longer count.`);
}

async function liftById(event) {
  event.preventDefault();
  if (state.busy) return;
  const idNumber = $("lift-id").value.trim();
  $("lift-problem").textContent = "";
  if (!idNumber) {
    $("lift-problem").textContent = t("请填写办事人的身份证号。", "Enter the person's ID number.");
    return;
  }
  state.busy = true;
  $("lift-submit").disabled = true;
  try {
    const answer = await api("/appointment-blocks/lift", { method: "POST", token: state.token,
      body: { id_number: idNumber, reason: oneLine($("lift-reason").value) } });
    $("lift-id").value = ""; // the ID number leaves the page once sent
    $("lift-reason").value = "";
    showLifted(answer, "");
    load();
  } catch (error) {
    $("lift-problem").textContent = error.message;
  } finally {
    state.busy = false;
    $("lift-submit").disabled = false;
  }
}

function ruleText() {
  const r = state.config?.appointments;
  $("lift-rule").textContent = r ? t(
    `预约时段开始 ${Math.round(r.void_after_s / 60)} 分钟后仍未签到，记爽约一次；爽约 ${r.no_show_limit} 次，${r.block_days} 天内不能预约。`
    + "核实情有可原的，可在此解除，解除后此前的爽约不再计数。",
    `A booking not checked in ${Math.round(r.void_after_s / 60)} minutes after its slot starts is a no-show; `
    + `${r.no_show_limit} no-shows close booking for ${r.block_days} days. Lift it here when there was good reason: `
    + "the no-shows so far then stop counting.") : "";
}

function redraw() {
  applyLanguage();
  if (state.config) fillServices();
  ruleText();
  render();
  renderLifted();
}

async function main() {
  managerNav();
  applyLanguage();
  languageSwitch($("lang"), redraw);
  listState($("state"), "loading", t("正在登录…", "Signing in…"));
  const { token } = await managerSignIn("bookings", ["预约管理", "Bookings"]);
  state.token = token;
  state.config = await hallSetUp(token, $("state"));
  state.zone = state.config.timezone || state.zone;
  fillServices();
  ruleText();
  $("f-day").value = hallDate(state.zone);
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); load(); });
  for (const button of document.querySelectorAll("[data-shift]")) {
    button.addEventListener("click", () => {
      const shift = Number(button.dataset.shift);
      $("f-day").value = shift === 0 || !$("f-day").value ? hallDate(state.zone) : shiftDay($("f-day").value, shift);
      load();
    });
  }
  for (const id of ["f-day", "f-service", "f-status"]) $(id).addEventListener("change", load);
  $("confirm-form").addEventListener("submit", confirmed);
  $("confirm-back").addEventListener("click", () => $("confirm").close());
  $("lift-form").addEventListener("submit", liftById);
  await load();
  document.body.dataset.ready = "1";
}

main();
