// The lobby display (大厅显示屏): the call being made now, the last calls, each window's state, the waiting
// per service and a notice line; every call is also spoken (voice.js).
//
// Data flow: GET /config (names, hours, time zone) and GET /snapshot once, then the display feed from the
// snapshot's event id. A call is shown and announced straight from its event; the rest of the screen is
// re-read from /snapshot shortly after any event (and every 30 s, since estimates age with the clock).
// The feed (hallq.js) reconnects by itself and replays what it missed: replayed calls older than STALE_MS
// are shown but not announced, so a screen that blinked does not shout a string of old numbers.
//
// URL options: ?repeat=1|2|3 (times each call is spoken, default 2), ?chime=0 (no ding-dong),
// ?rate=0.9 (speech rate), ?notice=text (replaces the notice line), ?lang=en.

import {
  WINDOW_STATE_TEXT, api, applyLanguage, el, forgetToken, follow, label, lang, languageSwitch, minutes,
  showLink, signIn, t, toast,
} from "/assets/floor/hallq.js";
import { createAnnouncer } from "./voice.js";

const STALE_MS = 30_000;
const RECENT = 8; // calls listed under the current one
const REFRESH_DELAY_MS = 200;
const PERIODIC_REFRESH_MS = 30_000;
const MARQUEE_PX_PER_S = 110; // slow enough to read a line of Chinese while walking past
const TILE_ASPECT = 1.8; // a window tile's best shape, width to height: name, state and a line under them

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

const state = {
  token: null,
  config: null,
  snap: null,
  calls: [], // newest first, one entry per number: a recall moves it back to the top
  skewMs: 0, // server clock minus this screen's clock: TV boxes keep poor time
  reloadCalls: false,
  link: "connecting",
  refreshTimer: null,
  refreshSeq: 0,
  refreshFailed: false,
};
let voice = null;

// -- start ----------------------------------------------------------------------------------------
async function main() {
  applyLanguage();
  languageSwitch($("lang-switch"), redraw);
  showLink($("link"), "connecting");
  for (;;) {
    try {
      await start();
      return;
    } catch (error) {
      // The server is unreachable at power-on (the TV came up before the network): keep trying.
      toast(error.message, "error");
      await sleep(5000);
    }
  }
}

async function start() {
  const { token } = await signIn("display", {
    title: t("大厅显示屏登录", "Lobby display sign-in"),
    accept: (who) => (["display", "manager"].includes(who.role) ? null
      : t("此页面需要显示屏或管理员令牌。", "This page needs a display or manager token.")),
  });
  state.token = token;
  const [config, snap] = await Promise.all([api("/config", { token }), api("/snapshot", { token })]);
  state.config = config;
  state.calls = callsFrom(snap);
  applySnapshot(snap);
  renderCalls();
  renderNotice();
  tick();
  setInterval(tick, 1000);
  setInterval(scheduleRefresh, PERIODIC_REFRESH_MS);
  new ResizeObserver(fitWindowGrid).observe($("windows"));

  voice = createAnnouncer({
    repeat: intParam("repeat", 2, 1, 3),
    chime: params.get("chime") !== "0",
    rate: Math.min(1.5, Math.max(0.5, Number(params.get("rate")) || 0.9)), // a hall needs it slow and clear
    onGate: showGate,
  });
  showGate(voice.locked);
  for (const type of ["pointerdown", "keydown", "touchstart"]) {
    document.addEventListener(type, () => voice.unlock(), { passive: true });
  }

  const feed = follow("display", { token, since: snap.event_id, onEvent, onStatus });
  window.hallqDisplay = { feed, voice };
}

// -- events ---------------------------------------------------------------------------------------
function onEvent(event) {
  if (event.type === "ticket.called" || event.type === "ticket.recalled") onCall(event);
  else if (event.type === "day.closed") { state.calls = []; renderCalls(); }
  else if (event.type === "hall.restored") state.reloadCalls = true;
  scheduleRefresh();
}

function onCall(event) {
  const call = {
    number: event.number, window: String(event.window), window_name: event.window_name, at: event.at,
    recall: event.type === "ticket.recalled", holder: event.holder ?? null,
  };
  state.calls = [call, ...state.calls.filter((c) => c.number !== call.number)].slice(0, RECENT + 1);
  renderCalls();
  flash();
  // The window shows the number at once; the snapshot that follows confirms it.
  const win = state.snap?.windows.find((w) => w.id === call.window);
  if (win) { win.state = "calling"; win.ticket = call.number; renderWindows(); }
  if (isFresh(event)) voice.announce(event.announcement || `请${call.number}号到${call.window_name}`);
}

function isFresh(event) {
  const at = Date.parse(event.at);
  return Number.isNaN(at) || Date.now() + state.skewMs - at < STALE_MS;
}

function onStatus(status, reason) {
  const wasDown = state.link !== "live";
  state.link = status;
  showLink($("link"), status);
  if (status === "live" && wasDown) scheduleRefresh();
  if (status === "refused") signInAgain(reason);
}

/** The token was withdrawn: say so, then go back to the sign-in panel rather than show stale data. */
function signInAgain(reason) {
  toast(reason || t("令牌已失效，请重新登录。", "The token is no longer valid; sign in again."), "error");
  forgetToken("display");
  setTimeout(() => location.reload(), 8000);
}

// -- snapshot -------------------------------------------------------------------------------------
function scheduleRefresh() {
  if (state.refreshTimer) return; // one re-read covers a burst of events
  state.refreshTimer = setTimeout(() => { state.refreshTimer = null; refresh(); }, REFRESH_DELAY_MS);
}

async function refresh() {
  const seq = ++state.refreshSeq;
  try {
    const snap = await api("/snapshot", { token: state.token });
    if (seq !== state.refreshSeq) return; // a newer read is on its way
    if (state.reloadCalls) { state.calls = callsFrom(snap); state.reloadCalls = false; renderCalls(); }
    applySnapshot(snap);
    state.refreshFailed = false;
  } catch (error) {
    if (error.status === 401 || error.status === 403) { signInAgain(error.message); return; }
    if (!state.refreshFailed) toast(error.message, "error"); // once per outage, not every 5 s
    state.refreshFailed = true;
    setTimeout(scheduleRefresh, 5000);
  }
}

function applySnapshot(snap) {
  state.snap = snap;
  const serverNow = Date.parse(snap.at);
  if (!Number.isNaN(serverNow)) state.skewMs = serverNow - Date.now();
  $("hall-name").textContent = snap.name;
  document.title = `${snap.name} · ${t("叫号显示屏", "Lobby display")}`;
  renderWindows();
  renderServices();
}

function callsFrom(snap) {
  const seen = new Set();
  return snap.recent_calls.filter((c) => !seen.has(c.number) && seen.add(c.number))
    .map((c) => ({ ...c, window: String(c.window), recall: false }));
}

// -- drawing --------------------------------------------------------------------------------------
function redraw() {
  if (!state.snap) return;
  applySnapshot(state.snap);
  renderCalls();
  renderNotice();
  tick();
  showLink($("link"), state.link);
}

/** "5号窗口" reads "Window 5" in English; a window with a name of its own keeps it. */
function windowLabel(name, id) {
  if (lang() !== "en") return name;
  const numbered = /^(\d+)号窗口$/.exec(name ?? "");
  return numbered ? `Window ${numbered[1]}` : name ?? `Window ${id}`;
}

function renderCalls() {
  const [now, ...earlier] = state.calls;
  const panel = $("now");
  panel.toggleAttribute("data-empty", !now);
  $("now-recall").hidden = !now?.recall;
  if (now) {
    const where = windowLabel(now.window_name, now.window);
    $("now-number").textContent = now.number;
    // The masked name only: the voice and the LED strip keep to the number (no name is ever spoken).
    $("now-holder").hidden = !now.holder;
    panel.classList.toggle("has-holder", Boolean(now.holder));
    $("now-holder").textContent = now.holder ?? "";
    $("now-window").textContent = where;
    $("now-words").textContent = t(`请${now.number}号到${now.window_name}`, `Number ${now.number}, please go to ${where}`);
  }
  $("recent").replaceChildren(...earlier.slice(0, RECENT).map((c) => el("li", {},
    el("span", { class: "recent-number" }, c.number),
    ...(c.holder ? [el("span", { class: "recent-holder" }, c.holder)] : []),
    el("span", { class: "recent-window" }, windowLabel(c.window_name, c.window)))));
  $("recent-empty").hidden = earlier.length > 0;
}

function flash() {
  const panel = $("now");
  panel.classList.remove("flash");
  void panel.offsetWidth; // restart the animation when calls come back to back
  panel.classList.add("flash");
}

function renderWindows() {
  $("windows").replaceChildren(...state.snap.windows.map((w) => {
    const busy = (w.state === "calling" || w.state === "serving") && w.ticket;
    const sub = busy ? label(WINDOW_STATE_TEXT, w.state) : ""; // a pause's reason is staff's, not the lobby's
    return el("div", { class: "win", dataset: { window: w.id, state: w.state } },
      el("div", { class: "win-name" }, windowLabel(w.name, w.id)),
      el("div", { class: busy ? "win-main win-number" : "win-main" }, busy ? w.ticket : label(WINDOW_STATE_TEXT, w.state)),
      el("div", { class: "win-sub" }, sub));
  }));
  fitWindowGrid();
}

/** Columns and rows for the window tiles: of every way to lay them out in the room they share, the one whose
 * tiles come closest to their best shape at the largest size, so a hall with many windows gets more, smaller
 * tiles (their text shrinks with them) rather than rows squashed until the text is cut. */
function fitWindowGrid() {
  const grid = $("windows");
  const count = grid.children.length;
  const style = getComputedStyle(grid);
  const width = grid.clientWidth, height = grid.clientHeight;
  if (!count || !width || !height) return;
  const colGap = Number.parseFloat(style.columnGap) || 0, rowGap = Number.parseFloat(style.rowGap) || 0;
  let best = { cols: 1, rows: count, size: 0 };
  for (let cols = 1; cols <= count; cols++) {
    const rows = Math.ceil(count / cols);
    const tileW = (width - colGap * (cols - 1)) / cols, tileH = (height - rowGap * (rows - 1)) / rows;
    const size = Math.min(tileW / TILE_ASPECT, tileH); // the height the tile's text can use at its best shape
    if (size > best.size) best = { cols, rows, size };
  }
  grid.style.setProperty("--cols", String(best.cols));
  grid.style.setProperty("--rows", String(best.rows));
}

function renderServices() {
  $("services").replaceChildren(...state.snap.services.map((s) => {
    let eta;
    if (!s.able_windows) eta = t("暂停办理", "Not available");
    else if (!s.waiting) eta = t("无需等候", "No wait");
    else eta = minutes(s.estimated_wait_s); // "约 12 分钟": the estimated wait of someone taking a number now
    return el("li", { dataset: { service: s.code }, class: s.able_windows ? "" : "off" },
      el("span", { class: "svc-letter" }, s.letter),
      el("span", { class: "svc-name" }, lang() === "en" ? s.name_en : s.name),
      el("span", { class: "svc-eta" }, eta),
      el("span", { class: "svc-waiting" }, el("b", {}, String(s.waiting)), t(" 人", " waiting")));
  }));
}

function tick() {
  if (!state.config) return;
  const now = new Date(Date.now() + state.skewMs);
  const zone = state.config.timezone;
  const hhmm = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const day = new Intl.DateTimeFormat(lang() === "en" ? "en-GB" : "zh-CN",
    { timeZone: zone, month: lang() === "en" ? "short" : "long", day: "numeric", weekday: "long" });
  $("clock").textContent = hhmm.format(now);
  $("date").textContent = day.format(now);
}

// -- notice line ----------------------------------------------------------------------------------
function noticeText() {
  const custom = params.get("notice");
  if (custom) return custom;
  const span = (h) => `${h.start.slice(0, 5)}–${h.end.slice(0, 5)}`;
  const part = (start) => {
    const hour = Number(start.slice(0, 2));
    return hour < 12 ? t("上午", "morning") : hour < 18 ? t("下午", "afternoon") : t("晚上", "evening");
  };
  const hours = state.config.hours ?? [];
  const zhHours = hours.length ? `办公时间：${hours.map((h) => `${part(h.start)} ${span(h)}`).join("，")}。` : "";
  const enHours = hours.length ? `Opening hours: ${hours.map((h) => `${span(h)} (${part(h.start)})`).join(", ")}. ` : "";
  return t(`${zhHours}请留意叫号，过号请到导办台重新排队。`,
    `${enHours}Please watch for your number; if you miss your call, see the guide desk to queue again.`);
}

function renderNotice() {
  const text = noticeText();
  const track = $("notice-track");
  // Two copies side by side scroll by one copy's width: the loop has no visible seam.
  track.replaceChildren(el("span", {}, text), el("span", { "aria-hidden": "true" }, text));
  requestAnimationFrame(() => {
    const width = track.firstElementChild.getBoundingClientRect().width;
    track.style.setProperty("--marquee-s", `${Math.max(10, width / MARQUEE_PX_PER_S).toFixed(1)}s`);
  });
}

// -- voice gate -----------------------------------------------------------------------------------
function showGate(locked) {
  $("voice-gate").hidden = !locked;
}

// -- helpers --------------------------------------------------------------------------------------
function intParam(name, fallback, low, high) {
  const value = Number.parseInt(params.get(name) ?? "", 10);
  return Number.isInteger(value) && value >= low && value <= high ? value : fallback;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

main();
