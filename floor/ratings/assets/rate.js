// 评价器: the rating pad beside a window. Between citizens it invites; when its window finishes a ticket
// (ticket.finished on its window's pad feed) it asks 请为本次服务评价 with five large buttons, thanks the citizen and
// goes back to waiting by itself. It invites, it never insists: a question nobody answers goes away after
// ?prompt= seconds, and the window can call the next citizen meanwhile.
//
// Open as /halls/{hall}/rate#token=<pad token> (`hallq token --role pad --window 5`): the token pairs the pad with
// its window, and only with it the server takes a rating from the pad, for the ticket that window finished last.
// A pad that starts or reconnects asks GET /windows/{w}/rating-pad whether a ticket finished just now is still
// unrated; live, it follows its window's pad feed. Options: ?prompt=60
// (seconds a question stays), ?thanks=6 (seconds the thanks stays), ?lang=en.
import { api, applyLanguage, el, follow, languageSwitch, showLink, signIn, t, toast } from "/assets/floor/hallq.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const seconds = (name, fallback) => {
  const value = Number(params.get(name));
  return value > 0 ? value : fallback;
};
const PROMPT_S = seconds("prompt", 60);
const THANKS_S = seconds("thanks", 6);
// Best first, as the citizen reads them; 2 and 1 are 差评.
const LEVELS = [
  [5, "非常满意", "Very satisfied"], [4, "满意", "Satisfied"], [3, "基本满意", "Fairly satisfied"],
  [2, "不满意", "Dissatisfied"], [1, "非常不满意", "Very dissatisfied"],
];

const state = {
  token: null,
  window: "",
  config: null,
  skewMs: 0, // the server's clock minus this pad's: a cheap tablet keeps poor time
  asking: null, // {id, number, service}: the ticket the pad asks about now
  thanked: null, // [score | null, rated elsewhere?] while the thanks shows
  timer: null,
  sending: false,
};

// -- the three views ------------------------------------------------------------------------------
function show(view) {
  document.body.dataset.view = view;
  for (const name of ["idle", "ask", "thanks"]) $(name).hidden = name !== view;
}

function idle() {
  clearTimeout(state.timer);
  state.asking = null;
  state.thanked = null;
  show("idle");
}

function ask(ticket, forS) {
  clearTimeout(state.timer);
  state.asking = ticket;
  state.thanked = null;
  renderAsk();
  show("ask");
  // The bar runs down with the time left: the question is an invitation, and it ends.
  const bar = $("countdown");
  bar.style.transition = "none";
  bar.style.width = `${Math.min(100, (forS / PROMPT_S) * 100)}%`;
  requestAnimationFrame(() => requestAnimationFrame(() => {
    bar.style.transition = `width ${forS}s linear`;
    bar.style.width = "0%";
  }));
  state.timer = setTimeout(idle, forS * 1000);
}

function thank(score, elsewhere = false) {
  clearTimeout(state.timer);
  state.asking = null;
  state.thanked = [score, elsewhere];
  renderThanks();
  show("thanks");
  state.timer = setTimeout(idle, THANKS_S * 1000);
}

function serviceName(code) {
  const svc = state.config?.services.find((s) => s.code === code);
  return svc ? t(svc.name_zh, svc.name_en) : code;
}

function renderAsk() {
  if (!state.asking) return;
  $("ask-number").textContent = state.asking.number;
  $("ask-service").textContent = serviceName(state.asking.service);
  $("problem").textContent = "";
}

function renderThanks() {
  if (!state.thanked) return;
  const [score, elsewhere] = state.thanked;
  const level = LEVELS.find(([s]) => s === score);
  $("thanks-head").textContent = t("感谢您的评价！", "Thank you for your rating!");
  $("thanks-sub").textContent = level && !elsewhere
    ? t(`您的评价：${level[1]}`, `You rated: ${level[2]}`)
    : t("本次服务已评价。", "This service has been rated.");
}

function renderLevels() {
  $("levels").replaceChildren(...LEVELS.map(([score, zh, en]) => el("button", {
    class: `level l${score}`, type: "button", dataset: { score }, "aria-label": t(zh, en),
    onclick: () => choose(score),
  }, el("span", { class: "stars", "aria-hidden": "true" }, "★".repeat(score) + "☆".repeat(5 - score)),
  el("span", { class: "level-name" }, t(zh, en)))));
}

function redraw() {
  applyLanguage();
  renderLevels();
  renderAsk();
  renderThanks();
  const win = state.config?.windows.find((w) => w.id === state.window);
  $("window-name").textContent = win ? t(win.name, `Window ${win.id}`) : "";
}

// -- rating -----------------------------------------------------------------------------------------
async function choose(score) {
  const ticket = state.asking;
  if (!ticket || state.sending) return;
  state.sending = true;
  for (const button of $("levels").querySelectorAll("button")) button.disabled = true;
  try {
    // The pad token proves the rating comes from this window's pad, for the ticket it just finished.
    const rated = await api(`/tickets/${encodeURIComponent(ticket.id)}/rating`, {
      method: "POST", token: state.token, body: { score },
    });
    thank(rated.score);
  } catch (error) {
    if (error.code === "already_rated") {
      thank(null, true); // rated on the phone a moment before
    } else if (error.status === 404 || error.status === 410 || error.code === "not_finished") {
      toast(error.message, "error");
      idle();
    } else {
      $("problem").textContent = error.message; // the network: the citizen may press again
    }
  } finally {
    state.sending = false;
    for (const button of $("levels").querySelectorAll("button")) button.disabled = false;
  }
}

/** A ticket this window finished a moment ago and nobody rated yet: ask about it (a pad that just started). */
async function offerPending() {
  if (state.asking || state.thanked) return;
  try {
    const { ticket } = await api(`/windows/${encodeURIComponent(state.window)}/rating-pad`, { token: state.token });
    if (ticket && ticket.finished_s_ago < PROMPT_S && !state.asking && !state.thanked) {
      ask({ id: ticket.id, number: ticket.number, service: ticket.service }, PROMPT_S - ticket.finished_s_ago);
    }
  } catch (error) {
    toast(error.message, "error");
  }
}

function onEvent(event) {
  if (event.type === "ticket.finished" && event.window === state.window) {
    // A replayed event (the feed came back after a gap) is only asked about while it is recent.
    const ageS = Math.max(0, (Date.now() + state.skewMs - Date.parse(event.at)) / 1000);
    if (ageS < PROMPT_S) ask({ id: event.ticket, number: event.number, service: event.service }, PROMPT_S - ageS);
  } else if (event.type === "ticket.rated" && state.asking?.id === event.ticket) {
    thank(event.score, true); // the citizen rated on the phone while the pad was asking
  }
}

// -- start ------------------------------------------------------------------------------------------
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

async function main() {
  applyLanguage();
  languageSwitch($("lang"), redraw);
  renderLevels();
  show("idle");
  const { token, who } = await signIn("rate", {
    device: true,
    title: t("评价器登录", "Rating pad sign-in"),
    accept: (w) => (w.role === "pad" ? null : t(
      "评价器使用本窗口的评价器令牌（hallq token --role pad --window 窗口号）。",
      "The rating pad takes its window's pad token (hallq token --role pad --window N).")),
  });
  state.token = token;
  state.window = who.window ?? "";
  let snapshot = null;
  while (!snapshot) {
    try {
      state.config = await api("/config", { token });
      snapshot = await api("/snapshot", { token });
    } catch (error) {
      toast(error.message, "error"); // the server is not up yet (the pad came up first): keep trying
      await sleep(5000);
    }
  }
  state.skewMs = Date.parse(snapshot.at) - Date.now();
  if (!state.config.windows.some((w) => w.id === state.window)) {
    $("window-name").textContent = t("窗口不存在", "No such window");
    $("idle").replaceChildren(el("p", { class: "idle-head" }, t(
      `本评价器令牌的窗口（${state.window}）不在本大厅，请重新生成令牌`,
      `This pad token's window (${state.window}) is not in this hall; make a new token`)));
    return;
  }
  redraw();
  await offerPending();
  let wasLive = false;
  follow("pad", {
    token, params: { window: state.window }, since: snapshot.event_id, onEvent,
    onStatus: (status, why) => {
      showLink($("link"), status);
      if (status === "refused") toast(why || t("实时连接被拒绝。", "The live feed was refused."), "error");
      if (status === "live" && wasLive) offerPending(); // back after a gap: anything finished meanwhile?
      if (status === "live") wasLive = true;
    },
  });
}

main();
