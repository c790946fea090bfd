// The citizen's phone page (/t/{ticket}, opened from the QR code on a printed ticket): their number, how
// many are ahead, the estimated wait and who is being called now; the moment they are called, a card that
// fills the screen, a vibration and a changed tab title. No token: the ticket's unguessable id is the key.
//
// Live through the ticket's own feed (a `ticket.status` with the whole ticket at every change, plus the calls
// of its service). While that feed is down the page polls GET /tickets/{id} every 10 s, so a phone on a
// flaky hall Wi-Fi still learns its turn. Once done, the page offers the 好差评 rating (phone-rating.js).
import { api, ApiError, applyLanguage, clock, follow, languageSwitch, minutes, showLink, STATUS_TEXT, label, t }
  from "/assets/floor/hallq.js";
import { initRating, redrawRating, showRating } from "/assets/ratings/phone-rating.js";

const $ = (id) => document.getElementById(id);
const ticketId = document.querySelector('meta[name="hallq-ticket"]')?.content ?? "";
const POLL_MS = 10000;
const stored = (name) => `hallq.phone.${ticketId}.${name}`;

const state = {
  ticket: null,
  firstService: localStorage.getItem(stored("service")), // to say "moved to …" after a transfer
  lastCall: JSON.parse(localStorage.getItem(stored("lastCall")) ?? "null"), // {number, window, window_name}
  buzzedFor: null, // the call (called_at + recalls) we already vibrated for
  gone: false,
  pollTimer: null,
};

// -- what the page shows ---------------------------------------------------------------------------
const serviceName = (ticket) => t(ticket.service_name, ticket.service_name_en ?? ticket.service_name);
/** The hall's no-show sentence (its rule: when a number is missed, and what to do then), as the server wrote it
 * into the page: the same words as on the printed ticket and the lobby screen. */
const noShowNotice = () => {
  const node = $("no-show-notice");
  return t(node?.dataset.zh ?? "", node?.dataset.en ?? node?.dataset.zh ?? "");
};
const windowText = (ticket) => t(ticket.window_name ?? "", ticket.window ? `window ${ticket.window}` : "");

/** The card for each state after waiting: [head, body, note]; waiting has none. */
function turnCard(ticket) {
  switch (ticket.status) {
    case "called":
      return [t("轮到您了", "It's your turn"), t(`请到 ${ticket.window_name}`, `Please go to ${windowText(ticket)}`),
        ticket.recalls > 0 ? t(`第 ${ticket.recalls + 1} 次呼叫，请尽快前往`, `Call no. ${ticket.recalls + 1}: please hurry`)
          : t(`${ticket.number} 号，请携带材料前往`, `Number ${ticket.number}, bring your documents`)];
    case "serving":
      return [t("正在办理", "Being served"), t(`${ticket.window_name}`, windowText(ticket)),
        t("请配合工作人员办理业务。", "Please follow the staff's guidance.")];
    case "done":
      return [t("办理完成，感谢您的耐心", "All done, thank you for your patience"), "",
        t("如有疑问，请咨询导办台。", "Questions? Please ask at the guide desk.")];
    case "missed":
      return [t("您已过号", "You missed your turn"), "", noShowNotice()];
    case "cancelled":
      return [t("号票已取消", "This ticket was cancelled"), "",
        t("如需办理，请重新取号。", "To be served, please take a new number.")];
    default:
      return null;
  }
}

function render() {
  applyLanguage();
  if (state.gone) {
    document.body.dataset.status = "gone";
    showTurn([t("找不到这张号票", "This ticket cannot be found"), "",
      t("请核对二维码，或到导办台咨询。", "Check the QR code or ask at the guide desk.")]);
    document.title = t("号票不存在", "No such ticket");
    return;
  }
  const ticket = state.ticket;
  if (!ticket) return;
  document.body.dataset.status = ticket.status;
  $("number").textContent = ticket.number;
  $("service").textContent = serviceName(ticket);
  $("status").textContent = label(STATUS_TEXT, ticket.status);
  $("status").className = `badge status-${ticket.status}`;
  const moved = state.firstService && state.firstService !== ticket.service;
  $("moved").hidden = !moved;
  $("moved").textContent = moved ? t(`已为您转到「${ticket.service_name}」排队`, `Moved to the ${serviceName(ticket)} line`) : "";

  const waiting = ticket.status === "waiting";
  $("ahead").textContent = waiting ? ticket.ahead : "—";
  $("ahead-unit").textContent = waiting ? t(" 人", ticket.ahead === 1 ? " person" : " people") : "";
  $("fact-ahead").classList.toggle("next", waiting && ticket.ahead === 0);
  $("wait").textContent = waiting ? waitText(ticket) : "—";
  $("issued").textContent = clock(ticket.issued_at);
  $("last-call").textContent = state.lastCall?.number ?? "—";
  $("last-call-window").textContent = state.lastCall
    ? t(state.lastCall.window_name, `window ${state.lastCall.window}`) : t("暂无", "none yet");

  showTurn(turnCard(ticket));
  document.title = {
    waiting: t(`${ticket.number} · 前面 ${ticket.ahead} 人 · 排队进度`, `${ticket.number} · ${ticket.ahead} ahead`),
    called: t(`【轮到您了】请到${ticket.window_name} · ${ticket.number}`,
      `[Your turn] Go to ${windowText(ticket)} · ${ticket.number}`),
  }[ticket.status] ?? `${ticket.number} · ${label(STATUS_TEXT, ticket.status)}`;
}

/** The estimate as a citizen reads it: 0 is a window about to call them, not "0 minutes". */
function waitText(ticket) {
  if (ticket.estimated_wait_s < 60) return t("即将叫号", "Called soon");
  const wait = minutes(ticket.estimated_wait_s);
  return ticket.ahead === 0 ? t(`下一位就是您 · ${wait}`, `You're next · ${wait}`) : wait;
}

function showTurn(card) {
  $("turn").hidden = !card;
  if (!card) return;
  const [head, body, note] = card;
  $("turn-head").textContent = head;
  $("turn-body").textContent = body;
  $("turn-body").hidden = !body;
  $("turn-note").textContent = note;
}

/** Vibrate once per call (and per recall). Browsers refuse vibration before the page has been touched. */
function buzz(ticket) {
  if (ticket.status !== "called") return;
  const key = `${ticket.called_at}|${ticket.recalls}`;
  if (state.buzzedFor === key) return;
  state.buzzedFor = key;
  if (typeof navigator.vibrate !== "function") return;
  if (navigator.userActivation && !navigator.userActivation.hasBeenActive) return;
  try {
    navigator.vibrate([400, 200, 400, 200, 600]);
  } catch {
    // Some browsers throw instead of ignoring; the card and title still say it.
  }
}

function stamp() {
  $("updated").textContent = t(`更新于 ${new Date().toTimeString().slice(0, 8)}`,
    `Updated ${new Date().toTimeString().slice(0, 8)}`);
}

// -- the data --------------------------------------------------------------------------------------
function apply(ticket) {
  state.ticket = ticket;
  if (!state.firstService) {
    state.firstService = ticket.service;
    localStorage.setItem(stored("service"), ticket.service);
  }
  if (ticket.status === "called" || ticket.status === "serving") {
    // Our own call is the latest of our line; say so even if its event came before the page did.
    remember({ number: ticket.number, window: ticket.window, window_name: ticket.window_name });
  }
  buzz(ticket);
  stamp();
  render();
  showRating(ticket);
}

function remember(call) {
  state.lastCall = call;
  localStorage.setItem(stored("lastCall"), JSON.stringify(call));
}

function onEvent(event) {
  if (event.type === "ticket.status") {
    apply(event.ticket);
  } else if ((event.type === "ticket.called" || event.type === "ticket.recalled")
             && (!state.ticket || event.service === state.ticket.service)) {
    remember({ number: event.number, window: event.window, window_name: event.window_name });
    render();
  }
}

async function poll() {
  try {
    apply(await api(`/tickets/${encodeURIComponent(ticketId)}`));
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      state.gone = true;
      stopPolling();
      render();
    }
    // Anything else (no network): the next poll or the feed's return will tell.
  }
}

function startPolling() {
  if (state.pollTimer || state.gone) return;
  state.pollTimer = setInterval(poll, POLL_MS);
  poll();
}

function stopPolling() {
  clearInterval(state.pollTimer);
  state.pollTimer = null;
}

function onStatus(status) {
  showLink($("link"), status);
  document.body.dataset.link = status;
  if (status === "live") stopPolling();
  else if (status !== "connecting") startPolling();
  if (status !== "live" && status !== "connecting") {
    $("link").textContent += t("（每 10 秒自动刷新）", " (refreshing every 10 s)");
  }
}

function main() {
  applyLanguage();
  languageSwitch($("lang"), () => { render(); redrawRating(); });
  initRating(ticketId);
  const tip = $("tip-vibrate");
  tip.hidden = !(typeof navigator.vibrate === "function" && navigator.userActivation
    && !navigator.userActivation.hasBeenActive);
  document.addEventListener("pointerdown", () => { tip.hidden = true; }, { once: true });

  poll(); // shows the ticket even before the socket is up
  follow(`ticket/${encodeURIComponent(ticketId)}`, { onEvent, onStatus });
  // A phone that slept may hold a stale page until its socket notices: look again when it wakes.
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
  render();
}

main();
