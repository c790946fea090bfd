// The lobby display (大厅显示屏): the call being made now, the last calls, each window's state, the waiting
// per service and a notice line; every call is also spoken (voice.js).
//
// Its language is the hall's (``screens.language`` in the hall file, read from GET /config), never a button
// a passer-by can press. A display that cannot speak Chinese says so on the screen for whoever sets it up, with
// what to do, and tells the server (POST /displays/voice: on start, on every change, and once a minute, which
// is also how the dashboard knows it is still on), so the manager's dashboard lists the mute and the offline.
//
// Data flow: GET /config (names, hours, time zone) and GET /snapshot once, then the display feed from the
// snapshot's event id. A call is shown and announced straight from its event; the rest of the screen is
// re-read from /snapshot shortly after any event (and every 30 s, since estimates age with the clock).
// A change to the hall's set-up while it runs (hall.configured: a window renamed or added, a service, the hours)
// has GET /config read again with that snapshot, so the screen follows it without a reload.
// The feed (hallq.js) reconnects by itself and replays what it missed: replayed calls older than STALE_MS
// are shown but not announced, so a screen that blinked does not shout a string of old numbers.
//
// URL options: ?repeat=1|2|3 (times each call is spoken, default 2), ?chime=0 (no ding-dong),
// ?rate=0.9 (speech rate), ?notice=text (replaces the notice line), ?name=一楼东 (what the dashboard calls
// this screen).

import {
  WINDOW_STATE_TEXT, api, applyLanguage, el, fixLanguage, forgetToken, follow, hall, label, lang, minutes,
  showLink, signIn, t, toast,
} from "/assets/floor/hallq.js";
import { createAnnouncer } from "./voice.js";

const STALE_MS = 30_000;
const RECENT = 8; // calls listed under the current one
const REFRESH_DELAY_MS = 200;
const PERIODIC_REFRESH_MS = 30_000;
const MARQUEE_PX_PER_S = 110; // slow enough to read a line of Chinese while walking past
const TILE_ASPECT = 1.8; // a window tile's best shape, width to height: name, state and a line under them
const REPORT_EVERY_MS = 60_000; // displays/voice_api.py REPORT_EVERY_S: three missed and the dashboard says offline
const SETUP_NOTICE_MS = 120_000; // the "cannot speak" panel then folds into the bar, so it never hides the calls
const DISPLAY_ID = /^[A-Za-z0-9_-]{1,64}$/;

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

const state = {
  token: null,
  config: null,
  snap: null,
  calls: [], // newest first, one entry per number: a recall moves it back to the top
  skewMs: 0, // server clock minus this screen's clock: TV boxes keep poor time
  reloadCalls: false,
  reloadConfig: false, // the hall's set-up changed: the next re-read takes GET /config too
  link: "connecting",
  refreshTimer: null,
  refreshSeq: 0,
  refreshFailed: false,
  reports: false, // a display token reports this screen's voice; a manager looking at the page does not
  displayId: null,
  voice: null, // what voice.js last said this device can do
  noticeShownFor: null, // the problem the setup panel was last opened for: shown again only for a new one
  noticeTimer: null,
};
let voice = null;

// -- start ----------------------------------------------------------------------------------------
async function main() {
  applyLanguage();
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
  const { token, who } = await signIn("display", {
    device: true,
    title: t("大厅显示屏登录", "Lobby display sign-in"),
    accept: (who) => (["display", "manager"].includes(who.role) ? null
      : t("此页面需要显示屏或管理员令牌。", "This page needs a display or manager token.")),
  });
  state.token = token;
  state.reports = who.role === "display";
  state.displayId = displayId();
  const [config, snap] = await Promise.all([api("/config", { token }), api("/snapshot", { token })]);
  state.calls = callsFrom(snap);
  applyConfig(config);
  applySnapshot(snap);
  setInterval(tick, 1000);
  setInterval(scheduleRefresh, PERIODIC_REFRESH_MS);
  new ResizeObserver(fitWindowGrid).observe($("windows"));

  voice = createAnnouncer({
    repeat: intParam("repeat", 2, 1, 3),
    chime: params.get("chime") !== "0",
    rate: Math.min(1.5, Math.max(0.5, Number(params.get("rate")) || 0.9)), // a hall needs it slow and clear
    onGate: showGate,
    onVoice: onVoiceChange,
  });
  showGate(voice.locked);
  setInterval(reportVoice, REPORT_EVERY_MS);
  $("voice-problem-ok").addEventListener("click", foldVoiceNotice);
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
  else if (event.type === "hall.configured") state.reloadConfig = true;
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
    const [snap, config] = await Promise.all([api("/snapshot", { token: state.token }),
      state.reloadConfig ? api("/config", { token: state.token }) : null]);
    if (seq !== state.refreshSeq) return; // a newer read is on its way (and reads the set-up again, if asked)
    if (config) { state.reloadConfig = false; applyConfig(config); }
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

/** The hall's set-up (GET /config): at start, and again whenever it changes while the hall runs. */
function applyConfig(config) {
  state.config = config;
  fixLanguage(config.screens?.language); // the hall's choice, whatever this browser was set to before
  applyLanguage();
  renderCalls();
  renderNotice();
  tick();
}

function applySnapshot(snap) {
  state.snap = snap;
  const serverNow = Date.parse(snap.at);
  if (!Number.isNaN(serverNow)) state.skewMs = serverNow - Date.now();
  $("hall-name").textContent = snap.name;
  document.title = t(`${snap.name} 叫号显示`, `${snap.name} queue display`);
  renderWindows();
  renderServices();
}

function callsFrom(snap) {
  const seen = new Set();
  return snap.recent_calls.filter((c) => !seen.has(c.number) && seen.add(c.number))
    .map((c) => ({ ...c, window: String(c.window), recall: false }));
}

// -- drawing --------------------------------------------------------------------------------------
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
    // Who serves there, by name (亮牌服务), else what the window is doing; a pause's reason is staff's, not the lobby's.
    const open = w.state === "idle" || busy;
    const sub = open && w.staff ? w.staff : busy ? label(WINDOW_STATE_TEXT, w.state) : "";
    return el("div", { class: "win", dataset: { window: w.id, state: w.state, staff: w.staff ?? "" } },
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
  // What a citizen who missed the call should do is the hall's rule (no_show_notice), when its file says it.
  const noShow = state.config.no_show_notice ?? {};
  const zhNoShow = sentence(noShow.zh, "。") ?? "过号请到导办台重新排队。";
  const enNoShow = sentence(noShow.en, ".");
  // A screen that cannot speak tells the people waiting too: they must watch it rather than listen for it.
  const mute = state.voice && !state.voice.speaking;
  return t(`${mute ? "本屏暂不语音播报叫号，请留意屏幕。" : ""}${zhHours}请留意叫号，${zhNoShow}`,
    `${mute ? "This screen does not announce calls aloud: please watch it. " : ""}${enHours}`
    + (enNoShow ? `Please watch for your number. ${enNoShow}`
      : "Please watch for your number; if you miss your call, see the guide desk to queue again."));
}

/** A sentence the hall wrote, ending as a sentence should; null when there is none. */
function sentence(text, stop) {
  const trimmed = typeof text === "string" ? text.trim() : "";
  if (!trimmed) return null;
  return /[。！？.!?]$/.test(trimmed) ? trimmed : trimmed + stop;
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

// -- a display that cannot speak --------------------------------------------------------------------
const VOICE_PROBLEMS = {
  no_zh_voice: {
    title: ["本机无中文语音，叫号不会播报", "No Chinese voice on this device: calls will not be announced"],
    help: ["请在本机安装中文（普通话）语音包（系统设置 → 语言 → 文字转语音），或换用有中文语音的电视盒子或电脑。",
      "Install a Chinese (Mandarin) text-to-speech voice on this device (settings → language → text-to-speech), "
      + "or use a different box or computer that has one."],
  },
  no_speech: {
    title: ["本机浏览器不能语音播报，叫号不会播报", "This browser cannot speak: calls will not be announced"],
    help: ["请换用能语音播报的浏览器（如 Chrome、Edge）并安装中文语音包，或换用其他电视盒子或电脑。",
      "Use a browser that can speak (Chrome, Edge) with a Chinese voice installed, or a different box or computer."],
  },
  speech_error: {
    title: ["本机语音播报出错，叫号不会播报", "Speech fails on this device: calls are not being announced"],
    help: ["请检查本机的文字转语音设置和音量，或重新安装中文（普通话）语音包；仍不行请换用其他电视盒子或电脑。",
      "Check this device's text-to-speech settings and volume, or reinstall its Chinese (Mandarin) voice; "
      + "if it still fails, use a different box or computer."],
  },
};

function onVoiceChange(health) {
  state.voice = health;
  showVoiceProblem();
  renderNotice();
  reportVoice();
}

/** The panel for whoever sets the screen up, and a mark in the bar that stays after it is folded away. */
function showVoiceProblem() {
  const health = state.voice;
  const problem = health && !health.speaking ? VOICE_PROBLEMS[health.problem] ?? VOICE_PROBLEMS.no_speech : null;
  $("voice-status").hidden = !problem;
  $("voice-status").textContent = problem ? t("无语音播报", "No voice calls") : "";
  const key = problem ? `${health.problem}:${health.detail ?? ""}` : null;
  if (!problem) {
    foldVoiceNotice();
    state.noticeShownFor = null;
    return;
  }
  if (key === state.noticeShownFor) return; // folded away by hand or by time: the bar keeps saying it
  state.noticeShownFor = key;
  $("voice-problem-title").textContent = t(...problem.title);
  $("voice-problem-help").textContent = t(...problem.help);
  $("voice-problem-detail").textContent = health.detail ? t(`浏览器报告：${health.detail}`, `The browser says: ${health.detail}`) : "";
  $("voice-problem-detail").hidden = !health.detail;
  $("voice-problem-where").textContent = whereText();
  $("voice-problem").hidden = false;
  $("voice-problem-ok").focus(); // a TV remote's OK key folds it
  clearTimeout(state.noticeTimer);
  state.noticeTimer = setTimeout(foldVoiceNotice, SETUP_NOTICE_MS);
}

function foldVoiceNotice() {
  clearTimeout(state.noticeTimer);
  $("voice-problem").hidden = true;
}

/** Which screen this is, as the dashboard lists it, so whoever fixes it finds the right one. */
function whereText() {
  const short = state.displayId.slice(0, 6);
  const name = displayName();
  const which = name ? t(`${name}（编号 ${short}）`, `${name} (id ${short})`) : t(`显示屏 ${short}`, `Display ${short}`);
  return state.reports ? t(`本屏：${which}。管理看板会列出本屏。`, `This screen: ${which}. The manager's dashboard lists it.`)
    : t(`本屏：${which}。`, `This screen: ${which}.`);
}

/** The hall's own name for this screen (?name=), kept to one line the server takes. */
function displayName() {
  const name = (params.get("name") ?? "").replace(/[\u0000-\u001f\u007f-\u009f]/g, "").trim().slice(0, 40);
  return name || null;
}

/** The id this screen made for itself once and keeps, so the dashboard lists it as one display however often
 *  it restarts. Random, not derived from anything of the device. */
function displayId() {
  const key = `hallq.display.${hall}.id`;
  let id = localStorage.getItem(key);
  if (!id || !DISPLAY_ID.test(id)) {
    // getRandomValues, not randomUUID: a hall's LAN address (http://10.x.x.x) is not a secure context.
    id = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
    localStorage.setItem(key, id);
  }
  return id;
}

async function reportVoice() {
  if (!state.reports || !state.voice) return; // nothing known yet: the first verdict reports itself
  const health = state.voice;
  const problem = health.speaking ? null : t(...(VOICE_PROBLEMS[health.problem] ?? VOICE_PROBLEMS.no_speech).title);
  try {
    await api("/displays/voice", { method: "POST", token: state.token, body: {
      display: state.displayId, name: displayName(), voice: health.voice?.slice(0, 100) ?? null,
      speaking: health.speaking, problem,
    } });
  } catch {
    // The server is out of reach: the feed and the snapshot say so on screen; the next report tries again.
  }
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
