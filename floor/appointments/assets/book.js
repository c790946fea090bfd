// 预约办理: a citizen books a slot ahead. Choose a service (and its sub-item if it has them), a day and a slot
// with places left, give name, ID number and phone (real-name booking), and get a 6-digit voucher code to check
// in with at the kiosk or the guide desk, and a button to cancel. The booking's unguessable id stays in the URL
// fragment (#appointment=…), never in the query, so the page shows the booking again after a reload; the name,
// ID and phone typed are cleared from the page once sent. The page runs on a kiosk or guide token.

import { api, applyLanguage, el, languageSwitch, signIn, t, toast } from "/assets/floor/hallq.js";
import { checkIdNumber, checkPhone } from "/assets/tickets/issue.js";

const $ = (id) => document.getElementById(id);
const STEPS = ["service", "slot", "form", "done"];
const ROLES = ["guide", "kiosk", "manager", "admin"];
const WEEKDAYS = [["周日", "Sun"], ["周一", "Mon"], ["周二", "Tue"], ["周三", "Wed"], ["周四", "Thu"], ["周五", "Fri"],
  ["周六", "Sat"]];

const state = {
  token: "",
  config: null, // GET /config: services (with sub-items) and the appointment rules
  step: "service",
  service: null,
  item: null,
  slots: null, // GET /appointments/slots for the chosen service and day
  slot: null,
  booking: null, // the booking shown on the last step
  busy: false,
};

// -- what can be booked ---------------------------------------------------------------------------------
function bookable(service) {
  const rules = state.config.appointments;
  if (!rules.enabled || service.bundle?.length) return false;
  if (rules.services.length && !rules.services.includes(service.code)) return false;
  return (rules.capacities[service.code] ?? rules.capacity) > 0;
}

const serviceName = (s) => t(s.name_zh, s.name_en || s.name_zh);
const itemName = (i) => t(i.name_zh, i.name_en || i.name_zh);

function dayLabel(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  const weekday = WEEKDAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()];
  return t(`${m}月${d}日 ${weekday[0]}`, `${weekday[1]} ${d}/${m}`);
}

const hhmm = (iso) => iso.slice(11, 16);

function chosenLine() {
  const parts = [serviceName(state.service)];
  if (state.item) parts.push(itemName(state.item));
  if (state.slot) parts.push(`${dayLabel(state.slot.start.slice(0, 10))} ${hhmm(state.slot.start)}–${hhmm(state.slot.end)}`);
  return parts.join(" · ");
}

function rulesText() {
  const r = state.config.appointments;
  const voidMin = Math.round(r.void_after_s / 60);
  const cancelH = r.cancel_before_s / 3600;
  return t(`请在预约时段开始后 ${voidMin} 分钟内，凭身份证号或预约码在自助取号机或导办台签到取号；逾时预约失效，记爽约一次。`
    + `如需取消，请在时段开始 ${cancelH} 小时前取消。爽约 ${r.no_show_limit} 次，${r.block_days} 天内不能预约。`,
  `Check in at a kiosk or the guide desk with your ID number or voucher code no later than ${voidMin} minutes after `
    + `your slot begins; after that the booking lapses and counts as missed. Cancel at least ${cancelH} hours before `
    + `your slot. After ${r.no_show_limit} missed bookings you cannot book for ${r.block_days} days.`);
}

// -- steps ------------------------------------------------------------------------------------------------
function show(step) {
  state.step = step;
  for (const s of STEPS) $(`step-${s}`).hidden = s !== step;
  for (const li of document.querySelectorAll(".b-steps li")) {
    const i = STEPS.indexOf(li.dataset.step);
    li.classList.toggle("current", li.dataset.step === step);
    li.classList.toggle("done", i < STEPS.indexOf(step));
  }
  render();
}

function render() {
  applyLanguage();
  if (state.step === "service") renderServices();
  if (state.step === "slot") renderSlots();
  if (state.step === "form") {
    $("form-chosen").textContent = chosenLine();
    $("form-rules").textContent = rulesText();
  }
  if (state.step === "done") renderBooking();
}

// 1. service and sub-item
function renderServices() {
  const tiles = state.config.services.filter(bookable).map((s) => el("button", {
    type: "button", class: `b-tile${state.service?.code === s.code ? " chosen" : ""}`, dataset: { code: s.code },
    onclick: () => chooseService(s),
  }, el("span", { class: "b-letter" }, s.letter), el("span", { class: "b-name" }, serviceName(s))));
  $("services").replaceChildren(...tiles);
  const items = state.service?.items ?? [];
  $("items-box").hidden = !items.length;
  $("items").replaceChildren(...items.map((i) => el("button", {
    type: "button", class: `b-item${state.item?.code === i.code ? " chosen" : ""}`, dataset: { code: i.code },
    onclick: () => { state.item = i; loadSlots(); },
  }, itemName(i))));
}

function chooseService(service) {
  state.service = service;
  state.item = null;
  state.slot = null;
  if (service.items?.length) { renderServices(); $("items-box").scrollIntoView({ block: "nearest" }); return; }
  loadSlots();
}

// 2. day and slot
async function loadSlots(day = null) {
  if (state.busy) return;
  state.busy = true;
  $("slot-problem").textContent = "";
  try {
    const query = new URLSearchParams({ service: state.service.code });
    if (day) query.set("day", day);
    state.slots = await api(`/appointments/slots?${query}`, { token: state.token });
    state.slot = null;
    show("slot");
  } catch (error) {
    if (state.step === "slot") $("slot-problem").textContent = error.message;
    else toast(error.message, "error");
  } finally {
    state.busy = false;
  }
}

function renderSlots() {
  const { days, day, slots } = state.slots;
  $("slot-chosen").textContent = chosenLine();
  $("days").replaceChildren(...days.map((d) => el("button", {
    type: "button", class: `b-day${d === day ? " chosen" : ""}`, dataset: { day: d },
    onclick: () => { if (d !== day) loadSlots(d); },
  }, dayLabel(d))));
  const buttons = slots.map((s) => el("button", {
    type: "button", class: "b-slot", dataset: { start: s.start }, disabled: s.left <= 0,
    onclick: () => { state.slot = s; show("form"); $("name").focus(); },
  }, el("b", {}, `${hhmm(s.start)}–${hhmm(s.end)}`),
  el("small", {}, s.left > 0 ? t(`余 ${s.left} 个`, `${s.left} left`) : t("已约满", "Full"))));
  $("slots").replaceChildren(...(buttons.length ? buttons
    : [el("p", { class: "hint" }, t("当天已无可预约时段，请另选日期。", "No slot is left that day; choose another."))]));
}

// 3. the citizen's details
async function submit(event) {
  event.preventDefault();
  if (state.busy) return;
  const name = $("name").value.trim();
  const id = checkIdNumber($("id-number").value);
  const phone = checkPhone($("phone").value);
  const problem = !name ? t("请填写姓名。", "Please enter your name.") : id.problem || phone.problem;
  $("form-problem").textContent = problem;
  if (problem) return;
  state.busy = true;
  $("submit").disabled = true;
  try {
    const body = { service: state.service.code, slot: state.slot.start, name, id_number: id.value, phone: phone.value };
    if (state.item) body.item = state.item.code;
    const booking = await api("/appointments", { method: "POST", body, token: state.token });
    clearForm();
    showBooking(booking);
  } catch (error) {
    $("form-problem").textContent = error.message;
    if (error.code === "slot_full") {  // taken meanwhile: back to the slots, refreshed, with the reason
      state.busy = false;
      await loadSlots(state.slot.start.slice(0, 10));
      $("slot-problem").textContent = error.message;
    }
  } finally {
    state.busy = false;
    $("submit").disabled = false;
  }
}

function clearForm() {
  for (const id of ["name", "id-number", "phone"]) $(id).value = "";
  $("form-problem").textContent = "";
}

// 4. the booking
function showBooking(booking) {
  state.booking = booking;
  history.replaceState(null, "", `${location.pathname}${location.search}#appointment=${booking.id}`);
  show("done");
}

const STATUS = {
  booked: ["预约成功", "Booked"], checked_in: ["已签到取号", "Checked in"], cancelled: ["已取消", "Cancelled"],
  void: ["已失效（未按时签到）", "Lapsed (not checked in in time)"],
};

function renderBooking() {
  const b = state.booking;
  const service = state.config.services.find((s) => s.code === b.service);
  $("d-status").textContent = t(...STATUS[b.status]);
  $("d-status").dataset.status = b.status;
  $("d-code").textContent = b.code;
  const item = b.item ? ` · ${t(b.item_name ?? b.item, b.item_name_en ?? b.item_name ?? b.item)}` : "";
  $("d-service").textContent = (service ? serviceName(service) : t(b.service_name, b.service_name_en)) + item;
  $("d-time").textContent = `${dayLabel(b.day)} ${hhmm(b.slot_start)}–${hhmm(b.slot_end)}`;
  $("d-holder").textContent = b.holder;
  $("d-rules").textContent = rulesText();
  $("cancel").hidden = b.status !== "booked";
}

async function cancel() {
  if (state.busy) return;
  if (!confirm(t("确定取消这次预约吗？", "Cancel this booking?"))) return;
  state.busy = true;
  $("done-problem").textContent = "";
  try {
    state.booking = await api(`/appointments/${state.booking.id}/cancel`, { method: "POST", token: state.token });
    renderBooking();
    toast(t("预约已取消。", "The booking is cancelled."), "ok");
  } catch (error) {
    $("done-problem").textContent = error.message;
  } finally {
    state.busy = false;
  }
}

function again() {
  history.replaceState(null, "", location.pathname + location.search);
  Object.assign(state, { service: null, item: null, slots: null, slot: null, booking: null });
  $("done-problem").textContent = "";
  show("service");
}

// -- start --------------------------------------------------------------------------------------------------
async function start() {
  languageSwitch($("lang"), render);
  applyLanguage();
  const shown = new URLSearchParams(location.hash.slice(1)).get("appointment");
  const { token } = await signIn("book", {
    device: true,
    title: t("预约办理：登录", "Bookings: sign in"),
    accept: (who) => (ROLES.includes(who.role) ? null
      : t("此页面需要导办台、自助机或管理员令牌。", "This page needs a guide desk, kiosk or manager token.")),
  });
  state.token = token;
  state.config = await api("/config", { token });
  $("book").hidden = false;
  $("form").addEventListener("submit", submit);
  $("slot-back").addEventListener("click", () => show("service"));
  $("form-back").addEventListener("click", () => show("slot"));
  $("cancel").addEventListener("click", cancel);
  $("again").addEventListener("click", again);
  if (shown) {
    try {
      showBooking(await api(`/appointments/${encodeURIComponent(shown)}`));
      return;
    } catch (error) {
      toast(error.message, "error");
    }
  }
  show("service");
}

start();
