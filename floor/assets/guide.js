// 导办台: the guide at the hall's entrance finds the citizen's service (by name, code or pinyin initials),
// notes the green channel or VIP, issues the ticket and hands over the printout. Keyboard first (type to
// search, Enter to pick, Enter to issue), and big enough for a tablet.

import { PRIORITY_TEXT, applyLanguage, clock, el, label, languageSwitch, minutes, t, toast } from "./hallq.js";
import {
  Issuer, checkIdNumber, checkPhone, loadConfig, maskId, matchServices, pollSnapshot, printTicket, serviceName,
  signInAs, ticketServiceName,
} from "./issue.js";

const $ = (id) => document.getElementById(id);
const AUTOPRINT_KEY = "hallq.guide.autoprint";

// The green channel's reason is kept here, on the desk, only: the server takes priority "green" but does
// not store why yet. The guide still picks one, so the desk (and later the record) says which it was.
const GREEN_REASONS = {
  elderly: ["高龄", "elderly"], disabled: ["残疾", "disabled"], pregnant: ["孕妇", "pregnant"], military: ["军人", "military"],
};

const state = {
  token: "",
  services: [], // from GET /config, in the hall's order
  lines: new Map(), // service code -> snapshot line (waiting, estimated_wait_s, able_windows)
  tiles: new Map(), // service code -> tile button
  chosen: null, // service code
  idNumber: "", // the checked ID number, held only until the ticket is issued; the field shows it masked
  busy: false,
  ticket: null, // the ticket just issued
  printState: "", // "", printing, printed or failed, for that ticket
  printProblem: "",
  reason: "", // its green-channel reason, if any
  issuer: null,
  poll: null,
};

// -- the service grid -----------------------------------------------------------------------------
function buildGrid() {
  const grid = $("grid");
  for (const service of state.services) {
    const tile = el("button", { type: "button", class: "tile", dataset: { code: service.code },
      onclick: () => choose(service.code) },
    el("span", { class: "letter" }, service.letter),
    el("span", { class: "name" }),
    el("span", { class: "code" }, `${service.code} · ${service.initials ?? ""}`),
    el("span", { class: "stats" },
      el("span", { class: "waiting" }), el("span", { class: "wait" }), el("span", { class: "able" })),
    el("span", { class: "off-note" }));
    state.tiles.set(service.code, tile);
    grid.append(tile);
  }
}

const able = (code) => (state.lines.get(code)?.able_windows ?? 1) > 0; // unknown until the first snapshot

function drawGrid() {
  const shown = new Set(matchServices(state.services, $("search").value).map((s) => s.code));
  for (const service of state.services) {
    const tile = state.tiles.get(service.code);
    const line = state.lines.get(service.code);
    tile.hidden = !shown.has(service.code);
    tile.disabled = !able(service.code);
    tile.classList.toggle("picked", state.chosen === service.code);
    tile.setAttribute("aria-pressed", state.chosen === service.code ? "true" : "false");
    tile.querySelector(".name").textContent = serviceName(service);
    tile.querySelector(".waiting").replaceChildren(
      el("b", {}, line ? String(line.waiting) : "—"), t(" 人等候", " waiting"));
    tile.querySelector(".wait").textContent = line ? t(`预计${minutes(line.estimated_wait_s)}`,
      `wait ${minutes(line.estimated_wait_s)}`) : "";
    tile.querySelector(".able").textContent = line ? t(`${line.able_windows} 个窗口可办`,
      `${line.able_windows} window${line.able_windows === 1 ? "" : "s"}`) : "";
    tile.querySelector(".off-note").textContent = able(service.code) ? "" : t("暂无窗口办理", "No window open for it");
  }
  $("no-match").hidden = shown.size > 0;
  drawChosen();
}

function choose(code) {
  state.chosen = code;
  $("issue-problem").textContent = "";
  drawGrid();
}

function drawChosen() {
  const service = state.services.find((s) => s.code === state.chosen);
  const line = state.lines.get(state.chosen);
  $("chosen").classList.toggle("empty", !service);
  $("chosen-name").textContent = service ? `${service.letter} · ${serviceName(service)}`
    : t("请在左侧选择业务", "Choose a service on the left");
  $("chosen-facts").textContent = !service ? "" : !able(service.code) ? t("暂无窗口办理", "No window open for it")
    : line ? t(`${line.waiting} 人等候，预计${minutes(line.estimated_wait_s)}`,
      `${line.waiting} waiting, ${minutes(line.estimated_wait_s)}`) : "";
  $("chosen-facts").classList.toggle("off", Boolean(service) && !able(service.code));
  $("issue").disabled = state.busy || !service || !able(service.code);
}

// -- search and keyboard --------------------------------------------------------------------------
function pickSingleMatch() {
  const matches = matchServices(state.services, $("search").value);
  if (matches.length !== 1) return;
  const [service] = matches;
  if (!able(service.code)) {
    $("issue-problem").textContent = t(`${serviceName(service)}暂无窗口办理，请引导办事人稍后再来或咨询值班长。`,
      `No open window handles ${serviceName(service)} right now.`);
    return;
  }
  choose(service.code);
  $("id-number").focus();
}

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
  const target = event.target;
  const inField = target.matches?.("input:not([type=radio]):not([type=checkbox]), textarea, select");
  if (target.id === "search") {
    if (event.key === "Enter") { event.preventDefault(); pickSingleMatch(); }
    if (event.key === "Escape") { target.value = ""; drawGrid(); }
    return;
  }
  if (inField || document.querySelector(".signin-overlay")) return;
  // Type anywhere to search: the guide hears "社保" and types "sb" without reaching for the box.
  if (event.key.length === 1 && /\S/.test(event.key)) {
    event.preventDefault();
    if (!$("result").hidden) nextCitizen();
    const search = $("search");
    search.focus();
    search.value += event.key;
    drawGrid();
  }
}

// -- the ID number field: masked once checked, never shown again ------------------------------------
function acceptIdNumber() {
  const input = $("id-number");
  if (state.idNumber || !input.value.trim()) return true;
  const { value, problem } = checkIdNumber(input.value);
  $("id-problem").textContent = problem;
  input.classList.toggle("invalid", Boolean(problem));
  if (problem) return false;
  state.idNumber = value;
  input.value = maskId(value);
  input.readOnly = true;
  $("id-clear").hidden = false;
  return true;
}

function clearIdNumber() {
  state.idNumber = "";
  const input = $("id-number");
  input.value = "";
  input.readOnly = false;
  input.classList.remove("invalid");
  $("id-clear").hidden = true;
  $("id-problem").textContent = "";
}

// -- issuing --------------------------------------------------------------------------------------
function priorityChoice() {
  const value = document.querySelector('input[name="priority"]:checked')?.value ?? "";
  if (!value) return { priority: null, reason: "" };
  if (value === "vip") return { priority: "vip", reason: "" };
  return { priority: "green", reason: value };
}

function setBusy(busy) {
  state.busy = busy;
  $("issue-form").classList.toggle("busy", busy);
  drawChosen();
}

async function issue(event) {
  event.preventDefault();
  if (state.busy) return;
  for (const id of ["issue-problem", "phone-problem"]) $(id).textContent = "";
  const service = state.services.find((s) => s.code === state.chosen);
  if (!service) { $("issue-problem").textContent = t("请先选择业务。", "Choose a service first."); return; }
  if (!acceptIdNumber()) { $("id-number").focus(); return; }
  const phone = $("phone").value.trim() ? checkPhone($("phone").value) : null;
  if (phone?.problem) { $("phone-problem").textContent = phone.problem; $("phone").focus(); return; }
  const { priority, reason } = priorityChoice();
  const body = { service: service.code, channel: "guide", priority };
  if (state.idNumber) body.id_number = state.idNumber;
  if (phone) body.phone = phone.value;
  setBusy(true);
  try {
    const ticket = await state.issuer.issue(body);
    state.idNumber = ""; // issued: the number has done its job and is not kept on the page
    showResult(ticket, reason);
    state.poll.refresh();
    if ($("autoprint").checked) print();
  } catch (error) {
    // The server's own sentence, next to the field it is about when it names one.
    const field = error.fields?.[0]?.field;
    const where = field === "id_number" ? "id-problem" : field === "phone" ? "phone-problem" : "issue-problem";
    $(where).textContent = error.message;
    if (field === "id_number") $("id-number").classList.add("invalid");
  } finally {
    setBusy(false);
  }
}

function print() {
  const ticket = state.ticket;
  if (!ticket) return;
  const mark = (printState, problem = "") => {
    if (state.ticket !== ticket) return; // the desk has moved on to the next citizen
    state.printState = printState;
    state.printProblem = problem;
    drawResult();
  };
  mark("printing");
  printTicket(ticket.id).then(() => mark("printed"), (error) => mark("failed", error.message));
}

// -- the result card ------------------------------------------------------------------------------
function showResult(ticket, reason) {
  state.ticket = ticket;
  state.reason = reason;
  state.printState = "";
  $("issue-form").hidden = true;
  $("result").hidden = false;
  $("cancel-confirm").hidden = true;
  $("cancel-problem").textContent = "";
  drawResult();
  $("next").focus();
}

function drawResult() {
  const ticket = state.ticket;
  if (!ticket) return;
  const cancelled = ticket.status === "cancelled";
  $("result").classList.toggle("cancelled", cancelled);
  $("r-title").textContent = cancelled ? t("此号已取消", "Ticket cancelled") : t("取号成功", "Ticket issued");
  $("r-number").textContent = ticket.number;
  $("r-service").textContent = ticketServiceName(ticket);
  const badge = $("r-priority");
  badge.hidden = !ticket.priority;
  badge.className = `badge ${ticket.priority === "green" ? "green" : "vip"}`;
  const why = GREEN_REASONS[state.reason];
  badge.textContent = label(PRIORITY_TEXT, ticket.priority) + (why ? ` · ${t(why[0], why[1])}` : "");
  $("r-time").textContent = clock(ticket.issued_at);
  $("r-ahead").textContent = ticket.ahead === null || cancelled ? "—" : t(`${ticket.ahead} 人`, String(ticket.ahead));
  $("r-wait").textContent = cancelled ? "—" : minutes(ticket.estimated_wait_s);
  $("cancel").hidden = cancelled;
  $("print").disabled = cancelled;
  const printNote = $("r-print-state");
  printNote.dataset.state = state.printState;
  printNote.textContent = {
    printing: t("正在打印…", "Printing…"),
    printed: t("已送打印机，请将号票交给办事人。", "Sent to the printer: hand the ticket over."),
    failed: t(`打印失败：${state.printProblem}`, `Printing failed: ${state.printProblem}`),
  }[state.printState] ?? "";
  $("cancel-question").textContent = t(`确定取消 ${ticket.number} 号？`, `Cancel ticket ${ticket.number}?`);
}

async function cancelTicket() {
  const yes = $("cancel-yes");
  yes.disabled = true;
  $("cancel-problem").textContent = "";
  try {
    state.ticket = await state.issuer.cancel(state.ticket.id);
    $("cancel-confirm").hidden = true;
    drawResult();
    toast(t(`${state.ticket.number} 号已取消`, `Ticket ${state.ticket.number} cancelled`), "ok");
    state.poll.refresh();
  } catch (error) {
    $("cancel-problem").textContent = error.message;
  } finally {
    yes.disabled = false;
  }
}

function nextCitizen() {
  state.ticket = null;
  state.chosen = null;
  state.issuer.reset();
  $("issue-form").reset(); // priority back to 普通, phone emptied
  clearIdNumber();
  for (const id of ["issue-problem", "phone-problem"]) $(id).textContent = "";
  $("result").hidden = true;
  $("issue-form").hidden = false;
  $("search").value = "";
  drawGrid();
  $("search").focus();
}

// -- the page -------------------------------------------------------------------------------------
function redraw() {
  document.title = `${t("导办台", "Guide desk")} · hallq`;
  drawGrid();
  drawResult();
}

function tick() {
  $("clock").textContent = new Date().toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit", hour12: false });
}

async function main() {
  applyLanguage();
  languageSwitch($("lang"), redraw);
  tick();
  setInterval(tick, 10000);
  const { token, who } = await signInAs("guide", ["guide", "manager"], t("导办台登录", "Guide desk sign-in"));
  state.token = token;
  state.issuer = new Issuer(token);
  $("hall-name").textContent = who.hall_name;
  const config = await loadConfig(token);
  state.services = config.services;
  buildGrid();
  $("desk").hidden = false;
  $("autoprint").checked = localStorage.getItem(AUTOPRINT_KEY) !== "off";
  $("autoprint").addEventListener("change", (e) => localStorage.setItem(AUTOPRINT_KEY, e.target.checked ? "on" : "off"));
  $("search").addEventListener("input", () => drawGrid());
  $("issue-form").addEventListener("submit", issue);
  $("id-number").addEventListener("blur", acceptIdNumber);
  $("id-number").addEventListener("input", () => { $("id-problem").textContent = ""; $("id-number").classList.remove("invalid"); });
  $("id-clear").addEventListener("click", () => { clearIdNumber(); $("id-number").focus(); });
  $("phone").addEventListener("input", () => { $("phone-problem").textContent = ""; });
  $("print").addEventListener("click", print);
  $("cancel").addEventListener("click", () => { $("cancel-confirm").hidden = false; $("cancel-no").focus(); });
  $("cancel-no").addEventListener("click", () => { $("cancel-confirm").hidden = true; });
  $("cancel-yes").addEventListener("click", cancelTicket);
  $("next").addEventListener("click", nextCitizen);
  document.addEventListener("keydown", onKey);
  state.poll = pollSnapshot(token, {
    statusNode: $("link"),
    onSnapshot: (snap) => {
      state.lines = new Map(snap.services.map((line) => [line.code, line]));
      drawGrid();
    },
  });
  drawGrid();
  $("search").focus();
}

main().catch((error) => toast(error.message, "error"));
