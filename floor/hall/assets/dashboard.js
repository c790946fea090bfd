// 管理看板: the hall manager's screen. Queues per service against their targets, every window, today's
// figures and half-hour charts, over-target alerts, and the waiting list where a ticket can be pinned.
//
// Live numbers come from GET /snapshot, re-read shortly after each event of the dashboard feed and every
// 5 s regardless (waits grow while nothing happens). Today's figures and charts come from GET /stats/today
// (the SQL record, a moment behind the events), re-read every 30 s, a second after events settle, and again
// each second while the answer says the record has not caught up. The hall's set-up (GET /config: service
// order, letters and names, windows) is read again when the feed says it changed (hall.configured).
//
// AB岗: a hall.alert of kind service_uncovered (a window's staff left it and no open window can serve one of its
// services any more) shows at once as a red banner, like a 差评; it stays until acknowledged, or until a snapshot
// taken after it shows an open window serving that service again.
import {
  api, applyLanguage, clock, duration, el, follow, label, languageSwitch, PRIORITY_TEXT, ROLE_TEXT, showLink,
  signIn, t, toast, WINDOW_STATE_TEXT,
} from "/assets/floor/hallq.js";
import { barChart, lineChart } from "/assets/reports/charts.js";
import { onRatingEvent, redrawRatings, startRatings } from "/assets/ratings/dashboard-ratings.js";
import { startDisplays } from "/assets/hall/dashboard-displays.js";
import { managerNav } from "/assets/floor/manager-nav.js"; managerNav(); // the managers' pages nav

const $ = (id) => document.getElementById(id);
const AMBER_AT = 0.75; // share of the target where a queue turns amber: time to move staff before it is late
const SNAPSHOT_EVERY_MS = 5000;
const STATS_EVERY_MS = 30000;
const PIN_REASONS = [
  ["老人或行动不便", "Elderly or limited mobility"], ["身体不适", "Feeling unwell"],
  ["投诉处理", "Complaint handling"], ["补办材料后返回", "Back with missing documents"],
];

const state = {
  token: null,
  config: null,
  snapshot: null,
  stats: null,
  alerts: [], // newest first: {seq, service, name, name_en, target_s, longest_s, since, ended}
  over: new Set(), // services past target right now: one alert per crossing, however many refreshes see it
  alertSeq: 0,
  uncovered: [], // newest first: {seq, window, services, stand_in, taken_up, at, event_id}; each service in one only
  queueService: null,
  queue: [],
  queueAt: 0, // when the queue was read: the "waited" column keeps counting from there
  pinning: null,
};

// -- small helpers --------------------------------------------------------------------------------
/** One run at a time; calls arriving meanwhile fold into a single extra run after it. */
function serial(fn) {
  let running = null;
  let again = false;
  return () => {
    if (running) { again = true; return running; }
    running = (async () => {
      try {
        do { again = false; await fn(); } while (again);
      } finally {
        running = null;
      }
    })();
    return running;
  };
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

function debounce(fn, ms) {
  let timer = null;
  return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
}

// A failing refresh is said once (with the server's words), not every 5 s; its recovery is said too.
const failing = new Set();
async function guarded(name, fn) {
  try {
    await fn();
    if (failing.delete(name) && !failing.size) toast(t("数据已恢复更新。", "Updates are back."), "ok");
  } catch (error) {
    $("updated").classList.add("stale");
    if (!failing.has(name)) toast(error.message, "error");
    failing.add(name);
  }
}

const serviceName = (s) => t(s.name ?? s.name_zh, s.name_en);
const windowName = (w) => t(w.name, `Window ${w.id}`);
const hallTime = () => new Date().toLocaleTimeString("zh-CN",
  { timeZone: state.config?.timezone ?? undefined, hour12: false });

/** "10:30" for the half hour an ISO time falls in (hall-local, as the server writes it). */
function halfHourOf(iso) {
  const hh = iso.slice(11, 13);
  return `${hh}:${Number(iso.slice(14, 16)) < 30 ? "00" : "30"}`;
}

/** green / amber / red against the target; "none" when no open window takes the service and nobody waits, "paused"
 * when every window open for it is paused (离岗, lunch). */
function level(s, working) {
  if (s.able_windows === 0) return s.waiting > 0 ? "red" : "none";
  if (working === 0) return s.waiting > 0 ? "red" : "paused";
  // The worse of what the longest waiter has already waited and what a newcomer is told to expect.
  const ratio = Math.max(s.longest_wait_s, s.estimated_wait_s) / s.target_wait_s;
  if (s.longest_wait_s > s.target_wait_s || ratio > 1) return "red";
  return ratio >= AMBER_AT ? "amber" : "green";
}

const LEVEL_TEXT = {
  green: ["正常", "On target"], amber: ["接近目标", "Near target"], red: ["超过目标", "Over target"],
  none: ["无开放窗口", "No window open"], paused: ["窗口暂停中", "Windows paused"],
};
const WORKING = ["idle", "calling", "serving"]; // a window someone can be served at now

// -- services -------------------------------------------------------------------------------------
function renderServices() {
  const snap = state.snapshot;
  const rows = orderedServices().map((s) => {
    const working = snap.windows.filter((w) => WORKING.includes(w.state) && w.services.includes(s.code)).length;
    const lvl = level(s, working);
    const share = Math.min(1, s.estimated_wait_s / s.target_wait_s);
    const noWindow = s.able_windows === 0 && s.waiting > 0;
    return el("tr", { dataset: { service: s.code, level: lvl } },
      el("td", { class: "svc-name" }, el("b", { class: "letter" }, s.letter), serviceName(s)),
      el("td", { class: "num big", dataset: { field: "waiting" } }, s.waiting),
      el("td", { class: "num", dataset: { field: "longest" } }, s.waiting ? duration(s.longest_wait_s) : "—"),
      el("td", { class: "est" }, el("div", { class: "est-box" },
        el("div", { class: "meter" }, el("i", { style: `width:${(share * 100).toFixed(1)}%` })),
        el("span", { class: "est-text" }, `${duration(s.estimated_wait_s)} / ${duration(s.target_wait_s)}`))),
      el("td", { class: "num", dataset: { field: "able" } }, s.able_windows),
      el("td", {}, el("span", { class: `level ${lvl}` },
        noWindow ? t("无窗口可办", "No window") : label(LEVEL_TEXT, lvl))));
  });
  $("service-rows").replaceChildren(...rows);
  const waiting = snap.services.reduce((sum, s) => sum + s.waiting, 0);
  $("kpi-waiting").textContent = waiting;
  const open = snap.windows.filter((w) => w.state !== "closed").length;
  $("kpi-open").textContent = `${open} / ${snap.windows.length}`;
}

/** The snapshot's services in the order the hall configured them (the order staff know them by). */
function orderedServices() {
  const lines = new Map(state.snapshot.services.map((s) => [s.code, s]));
  const order = state.config.services.map((s) => s.code).filter((code) => lines.has(code));
  const rest = state.snapshot.services.filter((s) => !order.includes(s.code)).map((s) => s.code);
  return [...order, ...rest].map((code) => lines.get(code));
}

// -- windows --------------------------------------------------------------------------------------
function renderWindows() {
  const letters = new Map(state.config.services.map((s) => [s.code, s]));
  const order = state.config.services.map((s) => s.code);
  const tiles = state.snapshot.windows.map((w) => {
    const codes = order.filter((c) => w.services.includes(c));
    return el("div", { class: `win ${w.state}`, dataset: { window: w.id, state: w.state } },
      el("div", { class: "win-head" },
        el("b", { class: "win-name" }, windowName(w)),
        el("span", { class: "win-state" }, label(WINDOW_STATE_TEXT, w.state))),
      el("div", { class: "win-ticket", dataset: { field: "ticket" } }, w.ticket ?? "—"),
      el("div", { class: "win-staff", dataset: { field: "staff" } },
        w.staff ? t(`在岗：${w.staff}`, `At it: ${w.staff}`) : w.state === "closed" ? "" : t("无人登录", "Nobody signed in")),
      el("div", { class: "win-services" }, codes.map((c) => {
        const svc = letters.get(c);
        return el("span", { class: w.primary.includes(c) ? "svc primary" : "svc",
          title: `${svc.name_zh} ${svc.name_en}${w.primary.includes(c) ? t("（优先）", " (primary)") : ""}` },
        svc.letter);
      })),
      w.state === "paused"
        ? el("div", { class: "win-reason", dataset: { field: "reason" } },
          t("暂停原因：", "Reason: ") + (w.reason || t("未填写", "not given")))
        : null);
  });
  $("windows").replaceChildren(...tiles);
}

// -- alerts ---------------------------------------------------------------------------------------
/** Start an alert when a service's longest wait crosses its target; end it (not remove it) when it drops. */
function watchTargets() {
  const snap = state.snapshot;
  for (const s of snap.services) {
    const over = s.waiting > 0 && s.longest_wait_s > s.target_wait_s;
    const current = state.alerts.find((a) => a.service === s.code && !a.ended);
    if (over && !state.over.has(s.code)) {
      state.over.add(s.code);
      state.alerts.unshift({ seq: ++state.alertSeq, service: s.code, name: s.name, name_en: s.name_en,
        target_s: s.target_wait_s, longest_s: s.longest_wait_s, since: snap.at, ended: null });
    } else if (over && current) {
      current.longest_s = Math.max(current.longest_s, s.longest_wait_s);
    } else if (!over && state.over.has(s.code)) {
      state.over.delete(s.code);
      if (current) current.ended = snap.at;
    }
  }
  renderAlerts();
}

function renderAlerts() {
  const rows = state.alerts.map((a) => el("li", { class: a.ended ? "alert ended" : "alert",
    dataset: { service: a.service, seq: a.seq } },
  el("span", { class: "alert-icon", "aria-hidden": "true" }, "!"),
  el("b", { class: "alert-service" }, serviceName(a)),
  el("span", { class: "alert-text" }, t(
    `最长等候 ${duration(a.longest_s)}，已超过目标 ${duration(a.target_s)}`,
    `longest wait ${duration(a.longest_s)}, over the ${duration(a.target_s)} target`)),
  el("span", { class: "alert-since" }, t(`首次发现 ${clock(a.since)}`, `first seen ${clock(a.since)}`)),
  a.ended ? el("span", { class: "badge green" }, t(`${clock(a.ended)} 已回落`, `back under target ${clock(a.ended)}`))
    : null,
  el("button", { class: "btn ack", type: "button", onclick: () => acknowledge(a.seq) }, t("知道了", "Acknowledge"))));
  $("alert-list").replaceChildren(...rows);
  $("alerts").hidden = rows.length === 0;
  renderTitle();
}

/** The tab says how many alerts are open (waits over target, services with nobody). */
function renderTitle() {
  const open = state.alerts.filter((a) => !a.ended).length + state.uncovered.length;
  document.title = `${open ? `(${open}) ` : ""}${t("管理看板", "Dashboard")} · ${state.snapshot?.name ?? ""}`;
}

function acknowledge(seq) {
  state.alerts = state.alerts.filter((a) => a.seq !== seq);
  renderAlerts();
}

// -- services left with nobody (AB岗) ---------------------------------------------------------------
const SERVING = ["idle", "calling", "serving"]; // a window someone can be served at now (floor/accounts/stand_in.py)

const serviceByCode = (code) => {
  const s = state.config?.services.find((x) => x.code === code);
  return s ? serviceName(s) : code;
};
const serviceList = (codes) => codes.map(serviceByCode).join(t("、", ", "));
function windowById(id) {
  const w = state.config?.windows.find((x) => x.id === id);
  return w ? windowName(w) : t(`${id}号窗口`, `Window ${id}`);
}

/** Whether stream id ``a`` ("ms-seq") is not before ``b``. */
function notBefore(a, b) {
  const [am, as] = String(a).split("-").map(Number);
  const [bm, bs] = String(b).split("-").map(Number);
  return am > bm || (am === bm && (as || 0) >= (bs || 0));
}

/** A service_uncovered alert shows at once; a service it names leaves any older alert (one line says it). */
function onHallAlert(event) {
  if (event.type !== "hall.alert" || event.kind !== "service_uncovered") return;
  if (event.event_id && state.uncovered.some((a) => a.event_id === event.event_id)) return;
  const services = [...(event.uncovered ?? [])];
  if (!services.length) return;
  for (const a of state.uncovered) a.services = a.services.filter((c) => !services.includes(c));
  state.uncovered = state.uncovered.filter((a) => a.services.length);
  state.uncovered.unshift({ seq: ++state.alertSeq, window: String(event.window), services,
    stand_in: event.stand_in ?? null, taken_up: event.taken_up ?? [], at: event.at, event_id: event.event_id ?? null });
  renderUncovered();
}

/** A snapshot taken after an alert that shows an open window serving one of its services: that one is covered. */
function watchUncovered() {
  const snap = state.snapshot;
  const open = snap.windows.filter((w) => SERVING.includes(w.state));
  for (const a of state.uncovered) {
    if (a.event_id && !(snap.event_id && notBefore(snap.event_id, a.event_id))) continue; // read before the alert
    a.services = a.services.filter((code) => !open.some((w) => w.services.includes(code)));
  }
  state.uncovered = state.uncovered.filter((a) => a.services.length);
  renderUncovered();
}

function renderUncovered() {
  const rows = state.uncovered.map((a) => {
    const win = windowById(a.window);
    let standIn = null;
    if (a.taken_up.length && a.stand_in) {
      standIn = t(`已由${windowById(a.stand_in)}接替：${serviceList(a.taken_up)}`,
        `${windowById(a.stand_in)} took over ${serviceList(a.taken_up)}`);
    } else if (a.stand_in) {
      standIn = t(`B岗${windowById(a.stand_in)}未能接替`, `its B post, ${windowById(a.stand_in)}, did not take over`);
    }
    return el("li", { class: "uncovered-alert",
      dataset: { window: a.window, services: a.services.join(" "), seq: a.seq } },
    el("span", { class: "uncovered-icon", "aria-hidden": "true" }, "⚠"),
    el("b", { class: "uncovered-services" }, serviceList(a.services)),
    el("span", { class: "uncovered-text" }, t(
      `无人可办：${win}离岗，且无其他开放窗口可办理`,
      `nobody can serve it: ${win} left the post, and no other open window serves it`)),
    standIn ? el("span", { class: "uncovered-taken" }, standIn) : null,
    el("span", { class: "uncovered-at" }, clock(a.at)),
    el("button", { class: "btn ack", type: "button", onclick: () => acknowledgeUncovered(a.seq) },
      t("知道了", "Acknowledge")));
  });
  $("uncovered-list").replaceChildren(...rows);
  $("uncovered").hidden = rows.length === 0;
  renderTitle();
}

function acknowledgeUncovered(seq) {
  state.uncovered = state.uncovered.filter((a) => a.seq !== seq);
  renderUncovered();
}

// -- today's figures and charts -------------------------------------------------------------------
function renderStats() {
  const totals = state.stats.totals;
  const wait = (s) => (s === null || s === undefined ? "—" : duration(s));
  $("kpi-issued").textContent = totals.issued;
  $("kpi-served").textContent = totals.served;
  $("kpi-missed").textContent = totals.missed;
  $("kpi-avg").textContent = wait(totals.avg_wait_s);
  $("kpi-p90").textContent = wait(totals.p90_wait_s);
  $("kpi-green").textContent = totals.green;
  renderCharts();
}

function renderCharts() {
  if (!state.stats) return;
  const bins = state.stats.half_hours;
  const now = state.snapshot ? halfHourOf(state.snapshot.at) : null;
  const xTitle = t("时段", "Half hour starting");
  barChart($("chart-arrivals"), {
    name: "arrivals", highlight: now, xTitle, yTitle: t("取号数（张）", "Tickets"),
    points: bins.map((b) => ({ label: b.start, value: b.arrivals })),
  });
  // Minutes with one decimal: a few seconds' wait must not show as 0, and "12.5" reads at a glance.
  const minutes = (s) => (s === null || s === undefined ? null : Math.round(s / 6) / 10);
  lineChart($("chart-wait"), {
    name: "wait", xTitle, yTitle: t("平均等候（分钟）", "Average wait (min)"),
    format: (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1)),
    points: bins.map((b) => ({ label: b.start, value: minutes(b.avg_wait_s) })),
  });
}

// -- the waiting list and pinning -----------------------------------------------------------------
function renderQueueChoices() {
  const select = $("queue-service");
  const waiting = new Map((state.snapshot?.services ?? []).map((s) => [s.code, s.waiting]));
  const codes = state.config.services.map((s) => s.code);
  if ([...select.options].map((o) => o.value).join() !== codes.join()) { // the set-up added or removed one
    select.replaceChildren(...codes.map((code) => el("option", { value: code })));
  }
  state.config.services.forEach((s, i) => {
    const count = waiting.get(s.code);
    const counted = count === undefined ? "" : t(`（${count} 人）`, ` (${count})`);
    select.options[i].textContent = `${s.letter} ${t(s.name_zh, s.name_en)}${counted}`;
  });
  select.value = state.queueService;
}

function renderQueue() {
  const elapsed = (Date.now() - state.queueAt) / 1000;
  const rows = state.queue.map((q, i) => el("tr", { dataset: { ticket: q.id, number: q.number } },
    el("td", { class: "num pos" }, i + 1),
    el("td", { class: "number" }, q.number),
    el("td", { class: "flags" },
      q.priority ? el("span", { class: `badge ${q.priority === "green" ? "green" : "vip"}` },
        label(PRIORITY_TEXT, q.priority)) : null,
      q.pinned !== null && q.pinned !== undefined
        ? el("span", { class: "badge amber", title: q.pinned }, t("已置顶", "Pinned")) : null,
      q.transferred ? el("span", { class: "badge" }, t("转入", "Transferred")) : null,
      q.channel === "appointment" ? el("span", { class: "badge" }, t("预约", "Appointment")) : null),
    el("td", {}, clock(q.issued_at)),
    el("td", { class: "num" }, duration(q.waited_s + elapsed)),
    el("td", { class: "act" }, q.pinned !== null && q.pinned !== undefined
      ? el("span", { class: "hint", title: q.pinned }, q.pinned || t("已置顶", "Pinned"))
      : el("button", { class: "btn pin", type: "button", onclick: () => askPin(q) }, t("置顶", "Pin")))));
  $("queue-rows").replaceChildren(...rows);
  $("queue-empty").hidden = rows.length > 0;
}

const refreshQueue = serial(() => guarded("queue", async () => {
  if (!state.queueService) return;
  const service = state.queueService;
  const data = await api(`/queue?service=${encodeURIComponent(service)}&limit=100`, { token: state.token });
  if (service !== state.queueService) return; // the manager picked another service meanwhile
  state.queue = data.tickets;
  state.queueAt = Date.now();
  renderQueue();
}));

function askPin(ticket) {
  state.pinning = ticket;
  $("pin-title").textContent = t(`置顶 ${ticket.number}`, `Pin ${ticket.number}`);
  $("pin-reason").value = "";
  $("pin-problem").textContent = "";
  $("pin-presets").replaceChildren(...PIN_REASONS.map(([zh, en]) => el("button", {
    class: "btn chip", type: "button", onclick: () => { $("pin-reason").value = t(zh, en); $("pin-reason").focus(); },
  }, t(zh, en))));
  $("pin-dialog").showModal();
  $("pin-reason").focus();
}

async function submitPin(event) {
  event.preventDefault();
  const ticket = state.pinning;
  const reason = $("pin-reason").value.trim();
  if (!reason) {
    $("pin-problem").textContent = t("请填写置顶原因。", "Give a reason for pinning.");
    return;
  }
  const submit = $("pin-submit");
  submit.disabled = true;
  try {
    await api(`/tickets/${encodeURIComponent(ticket.id)}/pin`, { method: "POST", token: state.token, body: { reason } });
    $("pin-dialog").close();
    toast(t(`${ticket.number} 已置顶，将被下一个叫号。`, `${ticket.number} is pinned and will be called next.`), "ok");
    refreshQueue();
  } catch (error) {
    $("pin-problem").textContent = error.message;
  } finally {
    submit.disabled = false;
  }
}

// -- refreshing -----------------------------------------------------------------------------------
const refreshSnapshot = serial(() => guarded("snapshot", async () => {
  state.snapshot = await api("/snapshot", { token: state.token });
  $("hall-name").textContent = state.snapshot.name;
  $("updated").textContent = t(`更新于 ${state.snapshot.at.slice(11, 19)}`, `Updated ${state.snapshot.at.slice(11, 19)}`);
  $("updated").classList.remove("stale");
  renderServices();
  renderWindows();
  renderQueueChoices();
  watchTargets();
  watchUncovered();
}));

const refreshStats = serial(() => guarded("stats", async () => {
  state.stats = await api("/stats/today", { token: state.token });
  renderStats();
  if (state.stats.unrecorded > 0) soonStats(); // the record is still writing events: read again once it has
}));

/**
 * The hall's set-up changed (hall.configured): read GET /config into the same object (the ratings panel names
 * windows from it too), then redraw with a fresh snapshot: a new window gets its tile, a removed one loses it.
 */
const reloadConfig = serial(() => guarded("config", async () => {
  Object.assign(state.config, await api("/config", { token: state.token }));
  if (!state.config.services.some((s) => s.code === state.queueService)) { // its service was removed
    state.queueService = state.config.services[0]?.code ?? null;
    state.queue = [];
    renderQueue();
    refreshQueue();
  }
  redrawRatings();
  await refreshSnapshot();
}));

const soonSnapshot = debounce(refreshSnapshot, 200);
const soonConfig = debounce(reloadConfig, 200);
const soonQueue = debounce(refreshQueue, 200);
const soonStats = debounce(refreshStats, 1000); // the record trails the events by a moment

function onEvent(event) {
  onRatingEvent(event); // a 差评 shows at once, before anything is re-read
  onHallAlert(event); // so does a service left with nobody
  if (event.type === "hall.configured") soonConfig();
  soonSnapshot();
  if (event.type.startsWith("ticket.") || event.type === "hall.restored" || event.type === "day.closed") {
    soonQueue();
    soonStats();
  }
}

function redraw() {
  applyLanguage();
  if (!state.snapshot) return;
  renderServices();
  renderWindows();
  renderQueueChoices();
  renderAlerts();
  renderUncovered();
  renderQueue();
  if (state.stats) renderStats();
  redrawRatings();
  $("updated").textContent = t(`更新于 ${state.snapshot.at.slice(11, 19)}`, `Updated ${state.snapshot.at.slice(11, 19)}`);
}

async function main() {
  applyLanguage();
  languageSwitch($("lang"), redraw);
  const { token } = await signIn("dashboard", {
    title: t("管理看板登录", "Dashboard sign-in"),
    accept: (who) => (who.role === "manager" ? null : t(
      `管理看板只接受管理员（manager）令牌，这是${label(ROLE_TEXT, who.role)}的令牌。`,
      `The dashboard takes a manager token; this one is for the ${label(ROLE_TEXT, who.role)}.`)),
  });
  state.token = token;
  // Nothing to show without the hall's layout and a first snapshot: keep trying (the error is on screen).
  while (!state.config) {
    await guarded("config", async () => { state.config = await api("/config", { token }); });
    if (!state.config) await sleep(SNAPSHOT_EVERY_MS);
  }
  while (!state.snapshot) {
    await refreshSnapshot();
    if (!state.snapshot) await sleep(SNAPSHOT_EVERY_MS);
  }
  const busiest = [...state.snapshot.services].sort((a, b) => b.waiting - a.waiting)[0];
  state.queueService = busiest?.waiting ? busiest.code : state.config.services[0]?.code;
  renderQueueChoices();
  refreshQueue();
  refreshStats();
  startRatings({ token, config: state.config });
  startDisplays({ token });

  follow("dashboard", {
    token, since: state.snapshot.event_id, onEvent,
    onStatus: (status, why) => {
      showLink($("link"), status);
      if (status === "refused") toast(why || t("实时连接被拒绝。", "The live feed was refused."), "error");
    },
  });
  setInterval(() => {
    if (failing.has("config")) reloadConfig(); // a set-up change the page could not read yet
    refreshSnapshot();
    refreshQueue();
  }, SNAPSHOT_EVERY_MS);
  setInterval(refreshStats, STATS_EVERY_MS);
  setInterval(() => { $("now").textContent = hallTime(); }, 1000);
  $("now").textContent = hallTime();

  $("queue-service").addEventListener("change", (event) => {
    state.queueService = event.target.value;
    state.queue = [];
    renderQueue();
    refreshQueue();
  });
  $("pin-form").addEventListener("submit", submitPin);
  $("pin-cancel").addEventListener("click", () => $("pin-dialog").close());
  // Charts are drawn at their box's pixel size: redraw when the window (and so the box) changes size.
  new ResizeObserver(debounce(renderCharts, 100)).observe($("chart-arrivals"));
}

main();
