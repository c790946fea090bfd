// 操作日志: who did what in the hall and when, newest first (GET /audit: ?since, until, actor = a role or a token
// id, window, limit). Each entry reads as a sentence: the role (and window, and the named member of staff), the
// act, the ticket's number and what the act carried (service, reason, outcome, handling time...), by name.
//
// Pages go back in time: the next (older) page asks for entries before the oldest one shown. The API's ``until``
// excludes its own moment, and several entries may share one millisecond, so the page asks up to just after the
// oldest one and leaves out the entries it has shown already: none is skipped, none shown twice.
import {
  api, applyLanguage, clock, duration, el, label, languageSwitch, maskName, PRIORITY_TEXT, ROLE_TEXT, t, toast,
} from "/assets/floor/hallq.js";
import { hallDate, listState, managerNav, managerSignIn } from "/assets/floor/manager-nav.js";

const $ = (id) => document.getElementById(id);
const MAX = 1000;
const ACTION_TEXT = {
  "ticket.issued": ["取号", "Ticket issued"], "ticket.called": ["叫号", "Called"], "ticket.recalled": ["重呼", "Recalled"],
  "ticket.serving": ["开始办理", "Started serving"], "ticket.finished": ["办结", "Finished"],
  "ticket.missed": ["过号", "No-show"], "ticket.transferred": ["转办", "Transferred"],
  "ticket.cancelled": ["取消号票", "Ticket cancelled"], "ticket.pinned": ["置顶", "Pinned"],
  "ticket.rated": ["评价", "Rated"], "ticket.requeued": ["重新排队", "Back in line"],
  "window.opened": ["开窗", "Window opened"], "window.closed": ["关窗", "Window closed"],
  "window.paused": ["暂停服务", "Window paused"], "window.resumed": ["恢复服务", "Window resumed"],
  "window.services_changed": ["修改窗口业务", "Window's services changed"], "day.closed": ["日终结束", "Day closed"],
  "webhook.sent_again": ["重发推送", "Webhook sent again"], "case.callback": ["差评件回访核实", "Case callback"],
  "case.fix": ["差评件整改", "Case fix"], "case.feedback": ["差评件反馈", "Case feedback"],
  "case.review": ["差评件复核", "Case review"],
};
const CHANNEL_TEXT = { guide: ["导办台", "guide desk"], kiosk: ["自助取号机", "kiosk"], appointment: ["预约签到", "booking"],
  api: ["接口", "API"] };
const OUTCOME_TEXT = { done: ["办结", "done"], consult: ["咨询", "consultation"], pickup: ["取件", "pick-up"],
  other: ["其他", "other"] };
const GREEN_TEXT = { elderly: ["高龄", "elderly"], disabled: ["残疾人", "disabled"], pregnant: ["孕妇", "pregnant"],
  military: ["军人", "military"], other: ["其他", "other"] };
const LEVEL_TEXT = { 5: ["非常满意", "very satisfied"], 4: ["满意", "satisfied"], 3: ["基本满意", "fairly satisfied"],
  2: ["不满意", "dissatisfied"], 1: ["非常不满意", "very dissatisfied"] };
const KIND_TEXT = { "ticket.called": ["叫号短信", "called SMS"], "ticket.ahead": ["即将叫号提醒", "turn-coming SMS"],
  "ticket.rated": ["好差评上报", "rating upload"] };
const CASE_STATUS_TEXT = { awaiting_callback: ["待回访核实", "awaiting callback"], awaiting_fix: ["待整改", "awaiting fix"],
  awaiting_feedback: ["待反馈", "awaiting feedback"], closed: ["已办结", "closed"], reviewed: ["已复核", "reviewed"] };

const state = {
  token: null, config: null, zone: "Asia/Shanghai",
  pages: [], // one query per page shown so far: {until, skip: Map(key -> ms)}; the last is the page on screen
  entries: null, more: false, error: null, seq: 0,
};
const tt = (pair) => t(pair[0], pair[1]);
const named = (table, key) => (table[key] ? tt(table[key]) : key);
const key = (e) => e.event_id ?? JSON.stringify(e);
const ms = (iso) => Date.parse(iso);
const list = (xs) => xs.join(t("、", ", "));

function serviceName(code) {
  const s = state.config?.services.find((x) => x.code === code);
  return s ? t(s.name_zh, s.name_en || s.name_zh) : code;
}

function itemName(code) {
  for (const s of state.config?.services ?? []) {
    const i = (s.items ?? []).find((x) => x.code === code);
    if (i) return t(i.name_zh, i.name_en || i.name_zh);
  }
  return code;
}

function windowName(id) {
  const w = state.config?.windows.find((x) => x.id === id);
  return t(w?.name ?? `${id}号窗口`, `Window ${id}`);
}

function staffName(id) {
  const s = state.config?.staff?.find((x) => x.id === id);
  return s ? `${maskName(s.name)}（${id}）` : id; // masked, as the reports show staff
}

// -- what an entry says ------------------------------------------------------------------------------------------
function who(e) {
  const parts = [label(ROLE_TEXT, e.role)];
  if (e.window && ["staff", "pad"].includes(e.role)) parts.push(windowName(e.window));
  if (e.details?.staff) parts.push(staffName(e.details.staff));
  return parts.join(" · ");
}

/** The act's particulars in words; codes become names, ids stay out. */
function describe(e) {
  const d = e.details ?? {};
  const out = [];
  if (e.window && !["staff", "pad"].includes(e.role) && e.action !== "day.closed") out.push(windowName(e.window));
  if (d.from_service || d.to_service || d.to_window) {
    const from = d.from_service ? serviceName(d.from_service) : "";
    const to = d.to_window ? windowName(d.to_window) : serviceName(d.to_service ?? d.service);
    out.push(t(`${from ? `从${from}` : ""}转到${to}`, `${from ? `from ${from} ` : ""}to ${to}`));
  } else if (d.service && e.action.startsWith("ticket.")) out.push(serviceName(d.service));
  if (d.item && e.action.startsWith("ticket.")) out.push(itemName(d.item));
  if (d.channel) out.push(t(`经${named(CHANNEL_TEXT, d.channel)}`, `via ${named(CHANNEL_TEXT, d.channel)}`));
  if (d.priority) out.push(label(PRIORITY_TEXT, d.priority));
  if (d.green_reason) out.push(named(GREEN_TEXT, d.green_reason));
  if (d.holder) out.push(t(`办事人 ${d.holder}`, `holder ${d.holder}`));
  if (d.outcome && !e.action.startsWith("case.")) {
    out.push(t(`结果：${named(OUTCOME_TEXT, d.outcome)}`, `outcome: ${named(OUTCOME_TEXT, d.outcome)}`));
  }
  if (d.handling_ms !== undefined && d.handling_ms !== null) {
    out.push(t(`办理用时 ${duration(d.handling_ms / 1000)}`, `handled in ${duration(d.handling_ms / 1000)}`));
  }
  if (d.reason) {
    const reason = d.reason === "end_of_day" ? t("日终", "end of day") : d.reason;
    out.push(t(`原因：${reason}`, `reason: ${reason}`));
  }
  if (e.action === "window.services_changed") {
    out.push(t(`办理：${list((d.services ?? []).map(serviceName))}`, `serves ${list((d.services ?? []).map(serviceName))}`));
    if (d.primary?.length) out.push(t(`优先：${list(d.primary.map(serviceName))}`, `primary ${list(d.primary.map(serviceName))}`));
    if (d.items?.length) out.push(t(`限定事项：${list(d.items.map(itemName))}`, `only ${list(d.items.map(itemName))}`));
  }
  if (d.score) {
    out.push(named(LEVEL_TEXT, d.score));
    if (d.source) out.push(d.source === "pad" ? t("评价器", "rating pad") : t("扫码", "QR code"));
    if (d.comment) out.push(t(`留言：${d.comment}`, `comment: ${d.comment}`));
  }
  if (e.action === "day.closed") {
    out.push(t(`办结 ${d.finished ?? 0}，过号 ${d.missed ?? 0}`, `${d.finished ?? 0} finished, ${d.missed ?? 0} missed`));
  }
  if (e.action === "webhook.sent_again") {
    if (d.kind) out.push(named(KIND_TEXT, d.kind));
    if (d.last_status) out.push(t(`上次答复 HTTP ${d.last_status}`, `last answer HTTP ${d.last_status}`));
  }
  if (e.action.startsWith("case.")) {
    if (d.status) out.push(t(`转为${named(CASE_STATUS_TEXT, d.status)}`, `now ${named(CASE_STATUS_TEXT, d.status)}`));
    if (d.reached !== undefined) out.push(d.reached ? t("已联系到群众", "citizen reached") : t("未联系到群众", "not reached"));
    if (d.satisfied !== undefined) out.push(d.satisfied ? t("群众满意", "satisfied") : t("群众不满意", "not satisfied"));
    if (d.kind === "appeal") {
      out.push(d.outcome === "upheld" ? t("申诉成立，差评撤销", "appeal upheld: the 差评 is set aside")
        : t("申诉不成立，差评维持", "appeal dismissed: the 差评 stands"));
    } else if (d.kind) out.push(t("群众追评", "citizen's re-rating"));
    if (d.note) out.push(d.note);
  }
  return out.join(t("；", "; "));
}

// -- loading a page ----------------------------------------------------------------------------------------------
function filters() {
  const params = new URLSearchParams();
  const since = $("f-since").value;
  const until = $("f-until").value;
  if (since) params.set("since", since); // no offset: the hall's own clock, as the API reads it
  const actor = $("f-token").value.trim() || $("f-role").value;
  if (actor) params.set("actor", actor);
  if ($("f-window").value) params.set("window", $("f-window").value);
  return { params, since, until };
}

function search() {
  const { since, until } = filters();
  $("problem").textContent = since && until && since >= until
    ? t("开始时间须早于结束时间。", "The start must come before the end.") : "";
  if ($("problem").textContent) return;
  state.pages = [{ until: until || null, skip: new Map() }];
  load();
}

async function load() {
  const size = Number($("f-size").value);
  const page = state.pages[state.pages.length - 1];
  const { params } = filters();
  if (page.until) params.set("until", page.until);
  params.set("limit", String(Math.min(MAX, size + page.skip.size + 1))); // one more: is there an older page?
  const seq = ++state.seq;
  state.entries = null;
  state.error = null;
  render();
  let entries = null;
  let problem = null;
  try {
    entries = (await api(`/audit?${params}`, { token: state.token })).entries;
  } catch (error) {
    problem = error.message;
  }
  if (seq !== state.seq) return;
  state.error = problem;
  if (entries) {
    const fresh = entries.filter((e) => !page.skip.has(key(e)));
    state.more = fresh.length > size;
    state.entries = fresh.slice(0, size);
  }
  render();
}

function older() {
  const page = state.pages[state.pages.length - 1];
  const shown = state.entries ?? [];
  if (!shown.length || !state.more) return;
  const oldest = ms(shown[shown.length - 1].at);
  const skip = new Map();
  for (const e of shown) if (ms(e.at) >= oldest) skip.set(key(e), ms(e.at));
  for (const [k, at] of page.skip) if (at >= oldest) skip.set(k, at);
  state.pages.push({ until: new Date(oldest + 1).toISOString(), skip });
  load();
}

function newer() {
  if (state.pages.length < 2) return;
  state.pages.pop();
  load();
}

function timeCell(iso) {
  return el("td", { class: "when", title: iso }, `${iso.slice(5, 10)} ${clock(iso)}`,
    el("small", { class: "secs" }, iso.slice(16, 19)));
}

function render() {
  const entries = state.entries ?? [];
  $("rows").replaceChildren(...entries.map((e) => el("tr", {
    dataset: { action: e.action, role: e.role, window: e.window ?? "", event: e.event_id ?? "" },
  },
  timeCell(e.at),
  el("td", { class: "who" }, who(e),
    el("button", { class: "token-link mp-mono", type: "button", title: t("只看这个令牌的操作", "Only this token's entries"),
      onclick: () => { $("f-token").value = e.token_id; search(); } }, e.token_id)),
  el("td", { class: "action" }, named(ACTION_TEXT, e.action)),
  el("td", { class: "number" }, e.details?.number ?? "—"),
  el("td", { class: "details", title: JSON.stringify(e.details ?? {}) }, describe(e)))));
  if (state.error) listState($("state"), "error", state.error, load);
  else if (state.entries === null) listState($("state"), "loading", t("正在读取操作日志…", "Reading the audit log…"));
  else if (!entries.length) {
    listState($("state"), "empty", state.pages.length > 1 ? t("没有更早的记录了。", "Nothing older.")
      : t("没有符合条件的操作记录。", "No entry matches."));
  } else listState($("state"), null);
  const n = state.pages.length;
  $("page-no").textContent = t(`第 ${n} 页`, `Page ${n}`);
  $("count").textContent = entries.length ? t(`本页 ${entries.length} 条${state.more ? "，还有更早的" : ""}`,
    `${entries.length} on this page${state.more ? ", more before" : ""}`) : "";
  $("newer").disabled = n < 2;
  $("older").disabled = !state.more || state.entries === null;
}

function fillChoices() {
  const role = $("f-role");
  const roleValue = role.value;
  role.replaceChildren(el("option", { value: "" }, t("全部", "All")),
    ...Object.keys(ROLE_TEXT).map((r) => el("option", { value: r }, label(ROLE_TEXT, r))));
  role.value = roleValue;
  const win = $("f-window");
  const winValue = win.value;
  win.replaceChildren(el("option", { value: "" }, t("全部", "All")),
    ...(state.config?.windows ?? []).map((w) => el("option", { value: w.id }, windowName(w.id))));
  win.value = winValue;
}

function quick(kind) {
  const today = hallDate(state.zone);
  const first = new Date(`${today}T12:00:00Z`);
  first.setUTCDate(first.getUTCDate() - 6);
  $("f-since").value = { today: `${today}T00:00`, week: `${first.toISOString().slice(0, 10)}T00:00`, all: "" }[kind];
  $("f-until").value = "";
  search();
}

function redraw() {
  applyLanguage();
  fillChoices();
  render();
}

async function main() {
  managerNav();
  applyLanguage();
  languageSwitch($("lang"), redraw);
  listState($("state"), "loading", t("正在登录…", "Signing in…"));
  const { token } = await managerSignIn("audit", ["操作日志", "Audit log"]);
  state.token = token;
  try {
    state.config = await api("/config", { token });
    state.zone = state.config.timezone || state.zone;
  } catch (error) {
    toast(error.message, "error"); // names only: the log still shows without them
  }
  fillChoices();
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); search(); });
  for (const button of document.querySelectorAll("[data-quick]")) {
    button.addEventListener("click", () => quick(button.dataset.quick));
  }
  for (const id of ["f-role", "f-window", "f-size"]) $(id).addEventListener("change", search);
  $("older").addEventListener("click", older);
  $("newer").addEventListener("click", newer);
  search();
  document.body.dataset.ready = "1";
}

main();
