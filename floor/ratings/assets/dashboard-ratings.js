// The dashboard's 好差评 watch. A 差评 (不满意 or 非常不满意) raises a red banner the moment its ticket.rated
// event arrives on the dashboard feed, with the number, the window and the level, and a short tone when the page
// may play sound (?sound=0 silences it); each banner stays until acknowledged. Below the charts, the 差评 cases
// still open (GET /cases?status=open), overdue ones first and marked, each a link to the cases page.
import { api, clock, el, t, toast } from "/assets/floor/hallq.js";
import { dueText } from "/assets/ratings/due.js";

const $ = (id) => document.getElementById(id);
const CASES_EVERY_MS = 30000; // deadlines pass at midnight with no event: re-read now and then
const CASES_AFTER_MS = 1000; // the archiver opens a case a moment after its rating
const LEVEL_TEXT = { 5: ["非常满意", "Very satisfied"], 4: ["满意", "Satisfied"], 3: ["基本满意", "Fairly satisfied"],
  2: ["不满意", "Dissatisfied"], 1: ["非常不满意", "Very dissatisfied"] };
const STATUS_TEXT = {
  awaiting_callback: ["待回访核实", "Awaiting callback"], awaiting_fix: ["待整改", "Awaiting fix"],
  awaiting_feedback: ["待反馈", "Awaiting feedback"],
};

const state = {
  token: null,
  config: null,
  bad: [], // newest first: the ticket.rated events of 差评 not yet acknowledged
  cases: [],
  audio: null,
  casesTimer: null,
};
const sound = new URLSearchParams(location.search).get("sound") !== "0";
const level = (score) => t(...LEVEL_TEXT[score]);

function windowName(id) {
  const w = state.config?.windows.find((win) => win.id === id);
  return w ? t(w.name, `Window ${w.id}`) : t(`${id}号窗口`, `Window ${id}`);
}

/** The cases page, signed in with this dashboard's token (kept in the fragment, never sent to the server). */
function casesHref(caseId) {
  const fragment = new URLSearchParams({ token: state.token });
  if (caseId) fragment.set("case", caseId);
  return `cases#${fragment}`;
}

// -- the 差评 banner -------------------------------------------------------------------------------
function beep() {
  if (!sound) return false;
  try {
    state.audio ??= new AudioContext();
    const ctx = state.audio;
    if (ctx.state === "suspended") ctx.resume();
    if (ctx.state !== "running") return false; // no click on the page yet: the browser keeps it silent
    for (const [start, freq] of [[0, 880], [0.25, 660]]) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.2, ctx.currentTime + start);
      gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + start + 0.22);
      osc.connect(gain).connect(ctx.destination);
      osc.start(ctx.currentTime + start);
      osc.stop(ctx.currentTime + start + 0.22);
    }
    return true;
  } catch {
    return false; // no audio device: the banner still says it
  }
}

function renderBad() {
  const rows = state.bad.map((e) => el("li", {
    class: "bad-alert", dataset: { ticket: e.ticket, score: e.score, shownAt: e.shownAt ?? "", sound: e.sound },
  },
  el("span", { class: "bad-icon", "aria-hidden": "true" }, t("差", "!")),
  el("b", { class: "bad-title" }, t("差评", "Bad rating")),
  el("span", { class: "bad-number" }, e.number),
  el("span", { class: "bad-window" }, windowName(e.window)),
  el("span", { class: "bad-level" }, level(e.score)),
  e.comment ? el("span", { class: "bad-comment", title: e.comment }, `“${e.comment}”`) : null,
  el("span", { class: "bad-at" }, clock(e.at)),
  el("a", { class: "btn bad-open", href: casesHref(e.ticket), target: "_blank" }, t("处理", "Open case")),
  el("button", { class: "btn ack", type: "button", onclick: () => acknowledge(e.ticket) }, t("知道了", "Acknowledge"))));
  $("bad-list").replaceChildren(...rows);
  $("bad-ratings").hidden = rows.length === 0;
}

function acknowledge(ticket) {
  state.bad = state.bad.filter((e) => e.ticket !== ticket);
  renderBad();
}

/** Every event of the dashboard feed passes here; a 差评 shows at once, before anything else is re-read. */
export function onRatingEvent(event) {
  if (event.type !== "ticket.rated") return;
  if (event.bad && !state.bad.some((e) => e.ticket === event.ticket)) {
    const entry = { ...event, shownAt: null, sound: beep() ? "on" : "off" };
    state.bad.unshift(entry);
    renderBad();
    entry.shownAt = Date.now(); // on the row too: how fast the alert came is measured, not guessed
    const row = $("bad-list").querySelector(`li[data-ticket="${CSS.escape(event.ticket)}"]`);
    if (row) row.dataset.shownAt = String(entry.shownAt);
  }
  clearTimeout(state.casesTimer);
  state.casesTimer = setTimeout(refreshCases, CASES_AFTER_MS);
}

// -- the cases panel --------------------------------------------------------------------------------
function nextDue(c) {
  if (c.status === "awaiting_callback") return c.callback_due;
  if (c.status === "awaiting_fix") return c.fix_due;
  return null;
}

function renderCases() {
  const ordered = [...state.cases].sort((a, b) => (b.overdue.length > 0) - (a.overdue.length > 0));
  const rows = ordered.map((c) => el("tr", { class: c.overdue.length ? "overdue" : null, dataset: { case: c.id } },
    el("td", { class: "number" }, el("a", { href: casesHref(c.id), target: "_blank" }, c.number)),
    el("td", {}, windowName(c.window)),
    el("td", {}, level(c.score)),
    el("td", {}, t(...(STATUS_TEXT[c.status] ?? [c.status, c.status]))),
    el("td", { class: "due" }, dueText(nextDue(c)),
      c.overdue.length ? el("span", { class: "badge overdue-badge" }, t("超期", "Overdue")) : null)));
  $("case-rows").replaceChildren(...rows);
  $("cases-empty").hidden = rows.length > 0;
  const late = state.cases.filter((c) => c.overdue.length).length;
  $("cases-overdue").hidden = late === 0;
  $("cases-overdue").textContent = t(`${late} 件超期`, `${late} overdue`);
  $("cases-count").textContent = t(`${state.cases.length} 件未办结`, `${state.cases.length} open`);
  $("cases-link").href = casesHref(null);
}

async function refreshCases() {
  try {
    state.cases = (await api("/cases?status=open&limit=100", { token: state.token })).cases;
    renderCases();
  } catch (error) {
    toast(error.message, "error");
  }
}

export function startRatings({ token, config }) {
  state.token = token;
  state.config = config;
  // A click anywhere lets the browser play the 差评 tone from then on.
  document.addEventListener("pointerdown", () => {
    if (!sound) return;
    try {
      state.audio ??= new AudioContext();
      state.audio.resume();
    } catch {
      // no audio device: the banners still say it
    }
  }, { once: true });
  refreshCases();
  // A 差评 just before the page opened has its case opened by the archiver a moment later, and the feed
  // starts after it: read once more then.
  state.casesTimer = setTimeout(refreshCases, CASES_AFTER_MS);
  setInterval(refreshCases, CASES_EVERY_MS);
}

export function redrawRatings() {
  renderBad();
  if (state.token) renderCases();
}
