// The window console (窗口工作台): what one window's staff member works with all day. It shows the window's
// state and current ticket, offers only the actions that state allows (F1–F4 for the frequent ones), lists
// who is waiting for this window and its recent no-shows, and keeps itself current from the console feed.
// The server is the only judge: every refusal it sends is shown in its own words.
import {
  ApiError, PRIORITY_TEXT, STATUS_TEXT, WINDOW_STATE_TEXT, api, applyLanguage, clock, duration, el, follow,
  label, languageSwitch, showLink, signIn, signOut, t, toast,
} from "/assets/floor/hallq.js";

const $ = (id) => document.getElementById(id);

const S = {
  token: "", who: null, config: null, snapshot: null,
  window: null,        // the window id this console acts for
  win: null,           // GET /windows/{w}
  waiting: [], misses: [], fetchedAt: 0,
  today: null,
  holders: null,       // GET /session/windows: who is at each window (the picker of a member of staff)
  missedHere: new Set(), // numbers marked 过号 at this window today (see recounts)
  busy: false,         // a request of ours is running: every action waits for it
  offset: 0,           // server clock minus this PC's clock, so timers agree with the hall's screens
  feed: null,
  reloadConfig: false, // the hall's set-up changed: the next refresh reads GET /config too
};

// What each window state lets staff do (queue_engine/model.py is the authority; this only greys out the rest).
const ALLOWED = {
  closed: ["open"],
  idle: ["close", "pause", "call-next", "call"],
  calling: ["recall", "start", "finish", "no-show", "transfer"],
  serving: ["finish", "transfer"],
  paused: ["resume", "close"],
};
const ACTIONS = ["open", "close", "pause", "resume", "call-next", "recall", "start", "finish", "no-show", "transfer"];
// F5 stays the browser's reload; F1 would open the browser's help, so it is taken before the browser sees it.
const SHORTCUTS = { F1: "call-next", F2: "recall", F3: "start", F4: "finish" };
const OUTCOME_TEXT = { done: ["办结", "Done"], consult: ["咨询", "Consult"], pickup: ["取件", "Pick-up"],
  other: ["其他", "Other"] };
const ROLE_TEXT = { staff: ["窗口工作人员", "Window staff"], manager: ["管理员", "Manager"] };
const GREEN_REASON_TEXT = { elderly: ["高龄", "Elderly"], disabled: ["残疾", "Disabled"], pregnant: ["孕妇", "Pregnant"],
  military: ["军人", "Military"] };

// AB岗: a reason starting 离岗 (floor/accounts/stand_in.py) hands the window's services to its B post, so that
// chip fills a reason starting 离岗 in English too (临时离岗 does not start with it: a short absence hands nothing over).
const PAUSE_REASONS = [["午休", "Lunch break"], ["临时离岗", "Away briefly"],
  ["离岗（B岗接替）", "Leaving the post (B post takes over)", "离岗（B岗接替）Leaving the post"],
  ["系统故障", "System fault"], ["业务培训", "Training"]];
const TRANSFER_REASONS = [["需专业窗口办理", "Needs a specialist window"], ["非本窗口业务", "Not this window's business"],
  ["群众申请变更业务", "Citizen asked for another service"]];
const CALL_REASONS = [["群众已到窗口", "Citizen is at the window"], ["特殊群体优先", "Priority for a vulnerable person"],
  ["预约群众到场", "Appointment holder arrived"]];
const MISS_REASONS = [["过号群众返回", "Came back after the call"], ["群众已到窗口", "Citizen is at the window"]];

// -- names and times ------------------------------------------------------------------------------
const service = (code) => S.config?.services.find((s) => s.code === code);
const serviceName = (code) => { const s = service(code); return s ? t(s.name_zh, s.name_en) : code; };
const windowConf = (id) => S.config?.windows.find((w) => w.id === id);
/** A sub-item (事项) of a service by its code, from the hall's catalog. */
const itemConf = (code) => S.config?.services.flatMap((s) => s.items ?? []).find((i) => i.code === code);
const itemName = (code) => { const i = itemConf(code); return i ? t(i.name_zh, i.name_en || i.name_zh) : code; };
/** "绿色通道 · 高龄": the priority, with the green channel's reason when the ticket has one. */
function priorityText(priority, greenReason) {
  const text = label(PRIORITY_TEXT, priority);
  return greenReason ? `${text} · ${label(GREEN_REASON_TEXT, greenReason)}` : text;
}
/** The services of the window, each with the only sub-items it serves of it if its skills name some. */
function skillText(codes, items) {
  return codes.map((code) => {
    const own = (service(code)?.items ?? []).filter((i) => items.includes(i.code));
    return own.length ? `${serviceName(code)}${t("（仅", " (only ")}${own.map((i) => itemName(i.code))
      .join(t("、", ", "))}${t("）", ")")}` : serviceName(code);
  });
}
/** Whether window ``w`` (a snapshot line) may take this ticket: skilled for its service, and its sub-item. */
function windowTakes(w, ticket) {
  if (!w.services.includes(ticket.service)) return false;
  const items = w.items ?? [];
  const restricted = (service(ticket.service)?.items ?? []).some((i) => items.includes(i.code));
  return !restricted || !ticket.item || items.includes(ticket.item);
}
const windowName = (id) => t(windowConf(id)?.name ?? `${id}号窗口`, `Window ${id}`);
const now = () => Date.now() + S.offset;
const since = (iso) => (iso ? (now() - Date.parse(iso)) / 1000 : 0);

// -- the hall's no-show rule (GET /config: policy, no_show_notice) --------------------------------
// The server is the judge (a no-show it finds too early is refused, saying what is left); the console only
// greys out 过号 until the rule allows it, says why, and offers a late arrival what the rule gives them.
const rule = () => S.config?.policy ?? {};
/** Recalls still to make and seconds still to wait before the rule lets staff mark the called ticket a no-show. */
function noShowLeft(ticket) {
  const r = rule();
  return {
    recalls: Math.max(0, (r.no_show_after_recalls ?? 0) - (ticket.recalls ?? 0)),
    seconds: Math.max(0, Math.ceil((r.no_show_after_s ?? 0) - since(ticket.called_at))),
  };
}
/** Why 过号 is not offered yet: "按本大厅过号规定，过号须先重呼 1 次，再等 45秒。" */
function noShowWhy({ recalls, seconds }) {
  const zh = [recalls ? `重呼 ${recalls} 次` : "", seconds ? `再等 ${duration(seconds)}` : ""].filter(Boolean);
  const en = [recalls ? `recall ${recalls} more time${recalls > 1 ? "s" : ""}` : "",
    seconds ? `wait ${duration(seconds)} more` : ""].filter(Boolean);
  return t(`按本大厅过号规定，过号须先${zh.join("，")}。`, `By the hall's no-show rule: ${en.join(" and ")} first.`);
}
/** What the rule gives a no-show who comes back: the misses card's title, and what staff are told after a no-show. */
const RETURNING_TEXT = {
  serve: { title: ["过号可直接办理", "Missed, may serve directly"],
    after: (n) => t(`${n} 号已过号，群众返回时可在“过号可直接办理”中叫回。`,
      `${n} marked a no-show; call it back from the missed list if they return.`) },
  requeue: { title: ["过号可重新排队", "Missed, may go back in line"],
    after: (n) => t(`${n} 号已过号，群众返回时可在“过号可重新排队”中为其重新排队。`,
      `${n} marked a no-show; put it back in line from the missed list if they return.`) },
  new_ticket: { title: ["近期过号（须重新取号）", "Missed (they take a new number)"],
    after: (n) => t(`${n} 号已过号，群众返回时请其重新取号。`,
      `${n} marked a no-show; if they return, ask them to take a new number.`) },
};
const returning = () => RETURNING_TEXT[rule().returning] ?? RETURNING_TEXT.serve;

/** How long someone in the list has waited, in whole minutes. */
function waited(seconds) {
  const m = Math.floor(Math.max(0, seconds) / 60);
  return m < 1 ? t("不足1分钟", "< 1 min") : t(`已等 ${m} 分钟`, `${m} min`);
}

// -- messages -------------------------------------------------------------------------------------
// ``message`` is the server's sentence (already in the page's language) or a function of ours that says it
// in the current language, so a switch of language re-words what is on screen.
let lastNotice = () => "";
function notice(message, kind = "info") {
  lastNotice = typeof message === "function" ? message : () => message;
  const node = $("notice");
  node.textContent = lastNotice();
  node.dataset.kind = kind;
}

/** What the state allows instead, for a shortcut pressed when its action is not available. */
function notNow() {
  const w = S.win;
  return {
    closed: t("窗口未开放，请先开窗。", "The window is closed; open it first."),
    paused: t("窗口暂停服务中，请先恢复服务。", "The window is paused; resume it first."),
    idle: t("当前没有号票，请先叫号（F1）。", "No current ticket; call one first (F1)."),
    calling: t(`正在呼叫${w?.ticket?.number ?? ""}号：请开始办理、办结、过号或转窗。`,
      `Calling ${w?.ticket?.number ?? ""}: start, finish, mark a no-show or transfer it first.`),
    serving: t(`正在办理${w?.ticket?.number ?? ""}号：请先办结或转窗。`,
      `Serving ${w?.ticket?.number ?? ""}: finish or transfer it first.`),
  }[w?.state] ?? "";
}

// -- talking to the server ------------------------------------------------------------------------
const windowApi = (path, options = {}) => api(`/windows/${S.window}${path}`, { token: S.token, ...options });

let refreshSeq = 0;
/**
 * Re-read the window and its waiting list; an older answer arriving late never overwrites a newer one. After a
 * change to the hall's set-up (hall.configured: a window renamed or added, a service renamed, the no-show rule) it
 * reads GET /config too, until it has it, and redraws the names.
 */
async function refresh() {
  const w = S.window;
  const seq = ++refreshSeq;
  try {
    const [win, waiting, config] = await Promise.all([windowApi(""), windowApi("/waiting"),
      S.reloadConfig ? api("/config", { token: S.token }) : null]);
    if (seq !== refreshSeq || w !== S.window) return;
    if (config) {
      Object.assign(S, { config, reloadConfig: false });
      renderHeader();
    }
    Object.assign(S, { win, waiting: waiting.tickets, misses: waiting.misses, fetchedAt: Date.now() });
    for (const m of waiting.misses) S.missedHere.add(m.number); // those missed before this page opened too
    render();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    notice(error.message, "error");
  }
}

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, 150);
}

async function loadToday() {
  const w = S.window;
  try {
    const today = await windowApi("/today");
    if (w !== S.window) return;
    S.today = today;
    renderToday();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    notice(error.message, "error");
  }
}

// A window's counts are of the tickets last called to it (the reports' rule): they change when one is called
// here, ends here or leaves (transferred, requeued), and when one missed here is called at another window (whose
// event names only its number: another window's ticket ids are not this console's).
const RECOUNTED_BY = new Set(["ticket.called", "ticket.finished", "ticket.missed", "ticket.transferred",
  "ticket.requeued"]);

function recounts(event, id) {
  if (event.type === "day.closed") {
    S.missedHere.clear();
    return true;
  }
  const ours = [event.window, event.from_window, event.to_window].some((w) => String(w ?? "") === id);
  if (ours && event.type === "ticket.missed") S.missedHere.add(event.number);
  if (ours) return RECOUNTED_BY.has(event.type);
  return event.type === "ticket.called" && S.missedHere.delete(event.number);
}

// The counts come from the SQL record, which trails the live events by a moment: read again a little later.
function todaySoon() {
  for (const ms of [400, 1500, 4000]) setTimeout(loadToday, ms);
}

/**
 * Run one action. Every button is disabled until the server has answered and the window is re-read, so a
 * double press never sends a second call. ``problem`` is where a refusal shows (a dialog's own line, or the
 * console's notice). Resolves to the reply, or undefined when refused.
 */
async function run(work, problem = (message) => notice(message, "error")) {
  if (S.busy) return undefined;
  S.busy = true;
  render();
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    problem(error.message);
    return undefined;
  } finally {
    await refresh();
    S.busy = false;
    render();
  }
}

// -- the actions ----------------------------------------------------------------------------------
const outcome = () => document.querySelector('input[name="outcome"]:checked')?.value ?? "done";

const DO = {
  open: () => run(async () => {
    await windowApi("/open", { method: "POST" });
    notice(() => t("窗口已开放，可以叫号。", "The window is open; you can call."), "ok");
  }),
  close: () => run(async () => {
    await windowApi("/close", { method: "POST" });
    notice(() => t("窗口已关闭。", "The window is closed."), "ok");
  }),
  resume: () => run(async () => {
    await windowApi("/resume", { method: "POST" });
    notice(() => t("已恢复服务。", "Service resumed."), "ok");
  }),
  "call-next": () => run(async () => {
    const { ticket } = await windowApi("/call-next", { method: "POST" });
    if (ticket) notice(() => t(`已呼叫 ${ticket.number} 号。`, `Called ${ticket.number}.`), "ok");
    else notice(() => t("当前没有等候本窗口的群众。", "No one is waiting for this window."), "info");
  }),
  recall: () => run(async () => {
    const { ticket } = await windowApi("/recall", { method: "POST" });
    notice(() => t(`已重呼 ${ticket.number} 号（第 ${ticket.recalls} 次）。`,
      `Recalled ${ticket.number} (time ${ticket.recalls}).`), "ok");
  }),
  start: () => run(async () => {
    const { ticket } = await windowApi("/start", { method: "POST" });
    notice(() => t(`开始办理 ${ticket.number} 号。`, `Serving ${ticket.number}.`), "ok");
  }),
  finish: () => run(async () => {
    const chosen = outcome();
    const { ticket } = await windowApi("/finish", { method: "POST", body: { outcome: chosen } });
    notice(() => t(`${ticket.number} 号已办结（${label(OUTCOME_TEXT, chosen)}）。`,
      `${ticket.number} finished (${label(OUTCOME_TEXT, chosen)}).`), "ok");
    document.querySelector('input[name="outcome"][value="done"]').checked = true;
    todaySoon();
  }),
  "no-show": () => run(async () => {
    const { ticket } = await windowApi("/no-show", { method: "POST" });
    notice(() => returning().after(ticket.number), "ok");
    todaySoon();
  }),
  pause: () => openPause(),
  transfer: () => openTransfer(),
};

// -- dialogs --------------------------------------------------------------------------------------
/** Buttons that fill a reason field with a common reason (the field stays editable); a third text, if any, is
 * what the English chip fills in (a reason the server reads by its Chinese words). */
function chips(box, input, reasons) {
  box.replaceChildren(...reasons.map(([zh, en, enValue]) => el("button", {
    type: "button", class: "chip",
    onclick: () => { input.value = t(zh, enValue ?? en); input.focus(); },
  }, t(zh, en))));
}

function openDialog(dialog) {
  dialog.querySelector(".problem").textContent = "";
  dialog.showModal();
}

/** Submit a dialog's form: check the reason, run the action, close on success, show a refusal inside. */
function dialogSubmit(dialog, work) {
  const form = dialog.querySelector("form");
  const problem = dialog.querySelector(".problem");
  const submit = form.querySelector('[type="submit"]');
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.textContent = "";
    submit.disabled = true;
    try {
      const ok = await run(async () => { await work(); return true; }, (message) => { problem.textContent = message; });
      if (ok) dialog.close();
    } finally {
      submit.disabled = false;
    }
  });
}

function requireReason(input, zh, en) {
  const reason = input.value.trim();
  if (!reason) throw new ApiError(0, "reason_required", t(zh, en));
  return reason;
}

function openPause() {
  chips($("pause-chips"), $("pause-reason"), PAUSE_REASONS);
  $("pause-reason").value = "";
  $("pause-stand-in").textContent = standInText();
  $("pause-stand-in").dataset.standIn = windowConf(S.window)?.stand_in ?? "";
  openDialog($("dlg-pause"));
}

/** What happens to this window's services when its staff pause with 离岗 (AB岗), from the hall's set-up. */
function standInText() {
  const b = windowConf(S.window)?.stand_in;
  if (b && (S.config?.policy?.stand_in ?? "take_over") === "take_over") {
    return t(`选“离岗”：离岗后由 ${windowName(b)} 接替本窗口业务（该窗口开放时），恢复服务后交还。`,
      `Leaving the post: ${windowName(b)} (the B post) takes over this window's services while it is open, and `
      + "gives them back when you resume.");
  }
  const alert = t("若有业务因此无其他开放窗口可办，将立即提醒管理员。",
    "if a service is then left with no open window, the managers are alerted at once.");
  return b ? t(`选“离岗”：本大厅设为不由B岗接替，${alert}`,
    `Leaving the post: this hall does not hand services to the B post; ${alert}`)
    : t(`选“离岗”：本窗口未设B岗，${alert}`, `Leaving the post: this window has no B post; ${alert}`);
}

async function openTransfer() {
  const ticket = S.win?.ticket;
  if (!ticket) return;
  try {
    S.snapshot = await api("/snapshot", { token: S.token });  // which services and windows are open now
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;  // an older snapshot still lists the choices
  }
  $("transfer-number").textContent = ticket.number;
  const able = new Map(S.snapshot.services.map((s) => [s.code, s.able_windows]));
  const others = S.config.services.filter((s) => s.code !== ticket.service);
  $("transfer-service").replaceChildren(...others.map((s) => el("option", {
    value: s.code, disabled: !able.get(s.code),
  }, `${s.letter} ${t(s.name_zh, s.name_en)}${able.get(s.code) ? "" : t("（暂无开放窗口）", " (no window open)")}`)));
  // Only windows that handle the ticket's service (and its sub-item) can take it: their current skills, from the
  // snapshot.
  const windows = S.snapshot.windows.filter((w) => w.id !== S.window && windowTakes(w, ticket));
  $("transfer-window").replaceChildren(...windows.map((w) => el("option", {
    value: w.id, disabled: w.state === "closed",
  }, `${windowName(w.id)} · ${label(WINDOW_STATE_TEXT, w.state)}`)));
  for (const select of [$("transfer-service"), $("transfer-window")]) {
    const first = [...select.options].find((o) => !o.disabled);
    if (first) select.value = first.value;
  }
  chips($("transfer-chips"), $("transfer-reason"), TRANSFER_REASONS);
  $("transfer-reason").value = "";
  openDialog($("dlg-transfer"));
}

function transferTarget() {
  return document.querySelector('input[name="transfer-to"]:checked').value;
}

function showTransferFields() {
  $("transfer-service-field").hidden = transferTarget() !== "service";
  $("transfer-window-field").hidden = transferTarget() !== "window";
}

let calling = null;  // the ticket the call dialog is about: {id, number, service, missed}
function openCall(line, missed) {
  calling = { id: line.id, number: line.number, service: line.service, missed };
  $("call-title").textContent = missed
    ? t(`叫回过号 ${line.number} 号 · ${serviceName(line.service)}`,
      `Call back ${line.number} · ${serviceName(line.service)}`)
    : t(`叫 ${line.number} 号 · ${serviceName(line.service)}`, `Call ${line.number} · ${serviceName(line.service)}`);
  const reasons = missed ? MISS_REASONS : CALL_REASONS;
  chips($("call-chips"), $("call-reason"), reasons);
  $("call-reason").value = t(...reasons[0]);
  openDialog($("dlg-call"));
  $("call-reason").select();
}

/** A late arrival put back in line, where the hall's rule says (returning = requeue). */
function requeueMissed(line) {
  return run(async () => {
    const { ticket } = await windowApi("/requeue", { method: "POST", body: { ticket: line.id } });
    notice(() => t(`${ticket.number} 号已重新排队，前面 ${ticket.ahead ?? 0} 人。`,
      `${ticket.number} is back in line, ${ticket.ahead ?? 0} ahead.`), "ok");
  });
}

function wireDialogs() {
  for (const button of document.querySelectorAll("dialog [data-close]")) {
    button.addEventListener("click", () => button.closest("dialog").close());
  }
  dialogSubmit($("dlg-pause"), async () => {
    const reason = requireReason($("pause-reason"), "请选择或填写暂停原因。", "Choose or type a reason.");
    await windowApi("/pause", { method: "POST", body: { reason } });
    notice(() => t(`已暂停服务：${reason}`, `Paused: ${reason}`), "ok");
  });
  dialogSubmit($("dlg-transfer"), async () => {
    const reason = requireReason($("transfer-reason"), "请填写转窗原因。", "Give a reason for the transfer.");
    const toService = transferTarget() === "service";
    const target = toService ? $("transfer-service").value : $("transfer-window").value;
    if (!target) {
      throw new ApiError(0, "no_target", toService ? t("没有可转入的业务。", "No service can take it now.")
        : t("没有可转入的开放窗口。", "No open window can take it."));
    }
    const body = toService ? { to_service: target, reason } : { to_window: target, reason };
    const { ticket } = await windowApi("/transfer", { method: "POST", body });
    const where = () => (toService ? serviceName(target) : windowName(target));
    notice(() => t(`${ticket.number} 号已转至${where()}。`, `${ticket.number} transferred to ${where()}.`), "ok");
  });
  dialogSubmit($("dlg-call"), async () => {
    const reason = requireReason($("call-reason"), "请填写叫号原因。", "Give a reason.");
    const { ticket } = await windowApi("/call", { method: "POST", body: { ticket: calling.id, reason } });
    notice(() => t(`已呼叫 ${ticket.number} 号。`, `Called ${ticket.number}.`), "ok");
  });
  for (const radio of document.querySelectorAll('input[name="transfer-to"]')) {
    radio.addEventListener("change", showTransferFields);
  }
}

// -- drawing --------------------------------------------------------------------------------------
function allowed(action) {
  return !S.busy && (ALLOWED[S.win?.state] ?? []).includes(action);
}

function render() {
  const w = S.win;
  if (!w) return;
  const state = w.state;
  $("state").dataset.state = state;
  $("state").textContent = label(WINDOW_STATE_TEXT, state);
  $("state-detail").textContent = {
    closed: t("开窗后方可叫号", "Open the window to start calling"),
    idle: t(`可以叫号 · 等候本窗口 ${S.waiting.length} 人`, `Ready · ${S.waiting.length} waiting for this window`),
    calling: t(`正在呼叫 ${w.ticket?.number ?? ""} 号，请等候群众到窗口`, `Calling ${w.ticket?.number ?? ""}; wait for them`),
    serving: t(`正在办理 ${w.ticket?.number ?? ""} 号`, `Serving ${w.ticket?.number ?? ""}`),
    paused: t(`原因：${w.reason ?? ""} · ${clock(w.since)} 起`, `Reason: ${w.reason ?? ""} · since ${clock(w.since)}`),
  }[state];
  const items = w.items ?? [];
  const primary = skillText(w.primary, items);
  const rest = skillText(w.services.filter((s) => !w.primary.includes(s)), items);
  $("services-line").textContent = t(`优先叫号：${primary.join("、") || "—"}　兼办：${rest.join("、") || "—"}`,
    `First: ${primary.join(", ") || "—"} · Also: ${rest.join(", ") || "—"}`);

  for (const action of ACTIONS) $(`act-${action}`).disabled = !allowed(action);
  $("act-open").hidden = state !== "closed";
  $("act-resume").hidden = state !== "paused";
  $("act-pause").hidden = state === "closed" || state === "paused";
  $("act-close").hidden = state === "closed";
  for (const radio of document.querySelectorAll('input[name="outcome"]')) radio.disabled = !allowed("finish");
  $("outcomes").classList.toggle("off", !allowed("finish"));

  renderTicket();
  renderLines();
  tick();
}

/** 过号 stays greyed out, with the rule's reason beside it, until the hall's rule allows it (run by tick()). */
function renderNoShow() {
  const ticket = S.win?.state === "calling" ? S.win.ticket : null;
  const left = ticket ? noShowLeft(ticket) : { recalls: 0, seconds: 0 };
  const early = left.recalls > 0 || left.seconds > 0;
  const button = $("act-no-show");
  button.disabled = !allowed("no-show") || early;
  const why = early ? noShowWhy(left) : "";
  button.title = why;
  $("no-show-why").textContent = why;
  $("no-show-why").hidden = !early;
}

/** Between choosing a window and its first answer: nothing of the previous window stays on screen. */
function renderLoading() {
  $("state").dataset.state = "loading";
  $("state").textContent = t("加载中", "Loading");
  $("state-detail").textContent = "";
  $("services-line").textContent = "";
  for (const action of ACTIONS) $(`act-${action}`).disabled = true;
  $("ticket-card").dataset.state = "loading";
  $("ticket-full").hidden = true;
  $("ticket-empty").hidden = false;
  $("empty-title").textContent = "";
  $("empty-hint").textContent = "";
  $("waiting-list").replaceChildren();
  $("miss-list").replaceChildren();
  for (const id of ["today-served", "today-missed", "today-handling", "today-wait"]) $(id).textContent = "—";
  $("today-outcomes").textContent = "";
}

function renderTicket() {
  const w = S.win;
  const ticket = w.ticket;
  $("ticket-card").dataset.state = w.state;
  $("ticket-full").hidden = !ticket;
  $("ticket-empty").hidden = Boolean(ticket);
  if (!ticket) {
    const [title, hint] = {
      closed: [t("窗口未开放", "Window closed"), t("点击“开窗”开始服务。", "Press “Open” to start serving.")],
      idle: [t("等待叫号", "Ready to call"), t(`按 F1 或“叫下一位”呼叫下一位群众，当前等候 ${S.waiting.length} 人。`,
        `Press F1 or “Call next”; ${S.waiting.length} waiting.`)],
      paused: [t("暂停服务中", "Paused"), t(`原因：${w.reason ?? ""}。点击“恢复服务”继续叫号。`,
        `Reason: ${w.reason ?? ""}. Press “Resume” to call again.`)],
    }[w.state] ?? ["", ""];
    $("empty-title").textContent = title;
    $("empty-hint").textContent = hint;
    return;
  }
  $("t-number").textContent = ticket.number;
  $("t-service").textContent = serviceName(ticket.service);
  $("t-item").hidden = !ticket.item;
  $("t-item").textContent = ticket.item ? `${t("事项：", "Item: ")}${itemName(ticket.item)}` : "";
  $("t-holder").hidden = !ticket.holder;
  $("t-holder").textContent = ticket.holder ?? "";
  $("t-holder").title = t("办事人（已脱敏）", "Citizen (name masked)");
  const status = $("t-status");
  status.textContent = label(STATUS_TEXT, ticket.status);
  status.className = `badge status-${ticket.status}`;
  const priority = $("t-priority");
  priority.hidden = !ticket.priority;
  priority.textContent = ticket.priority ? priorityText(ticket.priority, ticket.green_reason) : "";
  priority.className = `badge ${ticket.priority === "green" ? "green" : "vip"}`;
  $("t-timer-label").textContent = ticket.status === "serving"
    ? t(`办理用时（${clock(ticket.serving_at)} 开始）`, `Serving for (since ${clock(ticket.serving_at)})`)
    : t(`呼叫后已过（${clock(ticket.called_at)} 呼叫）`, `Since called (at ${clock(ticket.called_at)})`);
  const waitedS = ticket.called_at ? (Date.parse(ticket.called_at) - Date.parse(ticket.issued_at)) / 1000 : 0;
  $("t-waited").textContent = duration(waitedS);
  $("t-issued").textContent = clock(ticket.issued_at);
  const limit = S.config.policy?.recall_limit;
  $("t-recalls").textContent = limit ? `${ticket.recalls} / ${limit}` : String(ticket.recalls);
}

function badges(line) {
  const out = [];
  if (line.priority) {
    out.push(el("span", { class: `badge ${line.priority === "green" ? "green" : "vip"}` },
      priorityText(line.priority, line.green_reason)));
  }
  if (line.pinned) out.push(el("span", { class: "badge amber", title: line.pinned }, t("置顶", "Pinned")));
  if (line.transferred) out.push(el("span", { class: "badge" }, t("转入", "Transferred")));
  if (line.channel === "appointment") out.push(el("span", { class: "badge" }, t("预约", "Appointment")));
  return out;
}

function renderLines() {
  const canCall = allowed("call");
  $("waiting-count").textContent = String(S.waiting.length);
  $("waiting-empty").hidden = S.waiting.length > 0;
  $("waiting-list").replaceChildren(...S.waiting.map((line, i) => el("li", {
    class: "line", dataset: { ticket: line.id },
  },
    el("span", { class: "l-order" }, String(i + 1)),
    el("span", { class: "l-number" }, line.number),
    el("span", { class: "l-main" },
      el("span", { class: "l-service" }, serviceName(line.service)),
      ...(line.item ? [el("span", { class: "l-item", title: itemName(line.item) }, itemName(line.item))] : []),
      ...badges(line)),
    el("span", { class: "l-waited", dataset: { waited: line.waited_s } }, waited(line.waited_s)),
    el("button", { class: "btn small", type: "button", disabled: !canCall, onclick: () => openCall(line, false) },
      t("叫此号", "Call")))));
  $("miss-title").textContent = t(...returning().title);
  $("miss-rule").textContent = t(S.config.no_show_notice?.zh ?? "", S.config.no_show_notice?.en ?? "");
  $("miss-empty").hidden = S.misses.length > 0;
  $("miss-list").replaceChildren(...S.misses.map((ticket) => el("li", { class: "line", dataset: { ticket: ticket.id } },
    el("span", { class: "l-number" }, ticket.number),
    el("span", { class: "l-main" }, el("span", { class: "l-service" }, serviceName(ticket.service))),
    el("span", { class: "l-waited" }, t(`${clock(ticket.finished_at)} 过号`, `missed ${clock(ticket.finished_at)}`)),
    missAction(ticket, canCall))));
}

/** What the hall's rule lets staff do for a no-show who came back: serve now, put back in line, or nothing here. */
function missAction(ticket, canCall) {
  const mode = rule().returning ?? "serve";
  if (mode === "serve") {
    return el("button", { class: "btn small", type: "button", disabled: !canCall, onclick: () => openCall(ticket, true) },
      t("叫回", "Call back"));
  }
  if (mode === "requeue") {
    return el("button", { class: "btn small", type: "button", disabled: S.busy, onclick: () => requeueMissed(ticket) },
      t("重新排队", "Back in line"));
  }
  return el("span", { class: "hint l-action" }, t("请重新取号", "New number"));
}

function renderToday() {
  const d = S.today;
  if (!d) return;
  $("today-served").textContent = String(d.served);
  $("today-missed").textContent = String(d.missed);
  $("today-handling").textContent = duration(d.avg_handling_s);
  $("today-wait").textContent = duration(d.avg_wait_s);
  $("today-outcomes").textContent = Object.keys(OUTCOME_TEXT)
    .map((key) => `${label(OUTCOME_TEXT, key)} ${d.outcomes?.[key] ?? 0}`).join(" · ");
}

/** The running clocks: twice a second, so a minute boundary never lags a whole second behind. */
function tick() {
  if (S.win) renderNoShow();
  const ticket = S.win?.ticket;
  if (ticket) $("t-timer").textContent = duration(since(ticket.serving_at ?? ticket.called_at));
  const extra = (Date.now() - S.fetchedAt) / 1000;
  for (const node of document.querySelectorAll("#waiting-list .l-waited")) {
    node.textContent = waited(Number(node.dataset.waited) + extra);
  }
}

function renderHeader() {
  $("hall-name").textContent = S.who.hall_name;
  $("window-name").textContent = S.window ? windowName(S.window) : "";
  $("who").textContent = S.who.display_name ?? label(ROLE_TEXT, S.who.role);
  document.title = `${S.window ? `${windowName(S.window)} · ` : ""}${t("窗口工作台", "Window console")}`;
  if (S.who.role === "manager") {
    $("window-pick-wrap").hidden = false;
    const pick = $("window-pick");
    pick.replaceChildren(el("option", { value: "" }, t("请选择", "Choose")),
      ...S.config.windows.map((w) => el("option", { value: w.id }, windowName(w.id))));
    pick.value = S.window ?? "";
  }
}

function renderPicker() {
  const states = new Map((S.snapshot?.windows ?? []).map((w) => [w.id, w.state]));
  const holders = new Map((S.holders ?? []).map((h) => [h.window, h]));
  const taking = S.who.role === "staff";  // a member of staff signed in takes a free window; a manager looks at any
  $("picker-grid").replaceChildren(...S.config.windows.map((w) => {
    const held = holders.get(w.id);
    const other = held?.holder && held.holder !== S.who.username;
    return el("button", {
      class: "card pick", type: "button", disabled: (taking && other) || null,
      dataset: { window: w.id, state: states.get(w.id) ?? "closed" },
      onclick: () => (taking ? take(w.id) : choose(w.id)),
    }, el("b", {}, windowName(w.id)), el("span", { class: "pick-state" }, label(WINDOW_STATE_TEXT, states.get(w.id))),
    held?.holder ? el("span", { class: "pick-holder" }, t(`在岗：${held.holder_name ?? held.holder}`,
      `At it: ${held.holder_name ?? held.holder}`)) : null,
    el("small", {}, w.services.map(serviceName).join("、")));
  }));
}

/** A member of staff signed in takes window ``id``: the server gives the session that window, then it opens. */
async function take(id) {
  try {
    await api("/session/window", { method: "POST", body: { window: id } });
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    notice(error.message, "error");
    toast(error.message, "error");
    S.holders = (await api("/session/windows")).windows;
    renderPicker();
    return;
  }
  S.who = await api("/whoami");
  await choose(S.who.window);
}

// -- choosing the window --------------------------------------------------------------------------
function setUrlWindow(id) {
  const query = new URLSearchParams(location.search);
  if (id) query.set("window", id); else query.delete("window");
  history.replaceState(null, "", `${location.pathname}?${query}${location.hash}`);
}

/** Work at window ``id``: read it, then follow the console feed from the snapshot's event on. */
async function choose(id) {
  S.feed?.close();
  Object.assign(S, { window: id, win: null, waiting: [], misses: [], today: null, missedHere: new Set() });
  setUrlWindow(id);
  renderHeader();
  renderLoading();
  $("link").hidden = false;
  $("picker").hidden = true;
  $("desk").hidden = false;
  notice("");
  const snapshot = await api("/snapshot", { token: S.token });
  S.snapshot = snapshot;
  S.offset = Date.parse(snapshot.at) - Date.now();
  await refresh();
  await loadToday();
  todaySoon();  // a finish just before the snapshot may not be in the record yet, and the feed starts after it
  S.feed = follow("console", {
    token: S.token, params: { window: id }, since: snapshot.event_id,
    onEvent: (event) => {
      if (event.type === "hall.configured") S.reloadConfig = true;
      refreshSoon();  // other windows' calls change this window's list too
      if (recounts(event, id)) todaySoon();
    },
    onStatus: (status, why) => {
      showLink($("link"), status);
      if (status === "live") refreshSoon();  // whatever happened while the link was down
      if (status === "refused") notice(why || t("实时连接被拒绝。", "The live feed was refused."), "error");
    },
  });
}

function showPicker() {
  S.feed?.close();
  S.window = null;
  setUrlWindow(null);
  renderHeader();
  renderPicker();
  $("link").hidden = true;
  $("desk").hidden = true;
  $("picker").hidden = false;
}

// -- start ----------------------------------------------------------------------------------------
function wireControls() {
  for (const action of ACTIONS) $(`act-${action}`).addEventListener("click", () => DO[action]());
  document.addEventListener("keydown", (event) => {
    const action = SHORTCUTS[event.key];
    if (!action) return;
    event.preventDefault();
    if (!S.win || document.querySelector("dialog[open]") || event.repeat) return;
    if (S.busy) return;
    if (allowed(action)) DO[action]();
    else notice(notNow, "info");
  });
  $("sign-out").addEventListener("click", async () => {
    S.feed?.close();
    await signOut("console");
    location.reload();
  });
  $("window-pick").addEventListener("change", (event) => {
    if (event.target.value) choose(event.target.value);
    else showPicker();
  });
  wireDialogs();
  languageSwitch($("lang"), () => {
    renderHeader();
    render();
    renderToday();
    notice(lastNotice, $("notice").dataset.kind);
    if (!$("picker").hidden) renderPicker();
    showLink($("link"), $("link").dataset.status ?? "connecting");
  });
  setInterval(tick, 500);
  setInterval(() => { if (S.window) loadToday(); }, 60000);
}

async function main() {
  applyLanguage();
  wireControls();
  const { token, who } = await signIn("console", {
    title: t("窗口工作台登录", "Window console sign-in"),
    accept: (w) => (["staff", "manager"].includes(w.role) ? null
      : t("此页面需要窗口工作人员或管理员的令牌。", "This page needs a window staff or manager token.")),
  });
  S.token = token;
  S.who = who;
  S.config = await api("/config", { token });
  const asked = new URLSearchParams(location.search).get("window");
  if (who.role === "staff" && !who.window) {
    // Signed in with an account: the person takes one of the free windows.
    S.snapshot = await api("/snapshot");
    S.holders = (await api("/session/windows")).windows;
    showPicker();
  } else if (who.role === "staff") {
    // A staff token speaks for its own window only; the address cannot change that.
    await choose(who.window);
    if (asked && asked !== who.window) {
      const own = () => windowName(who.window);
      notice(() => t(`此令牌只能用于${own()}，已为您打开${own()}（地址中的窗口 ${asked} 已忽略）。`,
        `This token is for ${own()} only; window ${asked} in the address was ignored.`), "error");
    }
  } else if (windowConf(asked)) {
    await choose(asked);
  } else {
    S.snapshot = await api("/snapshot", { token });
    showPicker();
  }
}

main().catch((error) => {
  if (!(error instanceof ApiError)) throw error;
  toast(error.message, "error");
  notice(error.message, "error");
});
