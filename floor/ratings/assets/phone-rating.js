// 好差评 on the citizen's phone (the QR path): once the ticket is done, five levels and an optional comment, sent
// once (POST /tickets/{id}/rating with the ticket's key, which the QR code printed on the ticket carries in the
// page address's #key=, as X-Ticket-Key); afterwards "you rated …", also when the citizen rated on the pad beside
// the window instead. Whether it may still be rated comes from GET /tickets/{id}/rating, so a page opened days
// later (within the hall's rating period) still offers it. Without the key (an address typed from the ticket id)
// the page only says where to rate: the id alone proves nothing.
import { api, el, t } from "/assets/floor/hallq.js";

const $ = (id) => document.getElementById(id);
const LEVELS = [
  [5, "非常满意", "Very satisfied"], [4, "满意", "Satisfied"], [3, "基本满意", "Fairly satisfied"],
  [2, "不满意", "Dissatisfied"], [1, "非常不满意", "Very dissatisfied"],
];

const RECHECK_MS = 15000; // a done ticket's line keeps moving; its rating is looked up at most this often
const state = {
  ticketId: "", key: "", done: false, known: null, picked: null, sending: false, checking: null, checkedAt: 0,
};
const keyed = () => ({ headers: { "X-Ticket-Key": state.key } });

function render() {
  const known = state.known;
  const rated = Boolean(state.done && known?.rated);
  $("rated").hidden = !rated;
  $("rate").hidden = !(state.done && known && !known.rated && known.rateable);
  $("rate-keyless").hidden = !(state.done && !state.key);
  if (rated) {
    const level = LEVELS.find(([s]) => s === known.rating.score);
    $("rated-level").textContent = level ? t(level[1], level[2]) : "";
  }
  for (const button of $("rate-levels").querySelectorAll("button")) {
    const on = Number(button.dataset.score) === state.picked;
    button.setAttribute("aria-checked", on ? "true" : "false");
    button.classList.toggle("picked", on);
  }
  $("rate-more").hidden = state.picked === null;
}

function renderLevels() {
  $("rate-levels").replaceChildren(...LEVELS.map(([score, zh, en]) => el("button", {
    class: `rate-level l${score}`, type: "button", role: "radio", dataset: { score },
    onclick: () => { state.picked = score; $("rate-problem").textContent = ""; render(); },
  }, el("span", { class: "stars", "aria-hidden": "true" }, "★".repeat(score) + "☆".repeat(5 - score)),
  el("span", {}, t(zh, en)))));
}

async function check() {
  if (!state.key) return render();
  if (state.checking) return state.checking;
  state.checkedAt = Date.now();
  state.checking = (async () => {
    try {
      state.known = await api(`/tickets/${encodeURIComponent(state.ticketId)}/rating`, keyed());
    } catch {
      // no network for a moment: the next status (or a reload) asks again
    } finally {
      state.checking = null;
    }
    render();
  })();
  return state.checking;
}

async function submit() {
  if (state.picked === null || state.sending) return;
  state.sending = true;
  $("rate-submit").disabled = true;
  // One line: the server refuses line breaks (like every text it keeps).
  const comment = $("rate-comment").value.replace(/\s+/g, " ").trim();
  try {
    const rated = await api(`/tickets/${encodeURIComponent(state.ticketId)}/rating`, {
      ...keyed(), method: "POST", body: { score: state.picked, ...(comment ? { comment } : {}) },
    });
    state.known = { rated: true, rateable: false, rating: { score: rated.score } };
    render();
  } catch (error) {
    if (error.code === "already_rated") {
      await check(); // rated on the pad meanwhile: say so
    } else {
      $("rate-problem").textContent = error.message;
    }
  } finally {
    state.sending = false;
    $("rate-submit").disabled = false;
  }
}

/** Call with every fresh state of the ticket: a done ticket not known to be rated is looked up, and again now and
 *  then (it may have been rated on the pad). */
export function showRating(ticket) {
  state.done = ticket.status === "done";
  if (state.done && !state.known?.rated && (!state.known || Date.now() - state.checkedAt > RECHECK_MS)) check();
  else render();
}

/** The ticket's key: from the address the QR code opened (#key=), kept on this phone so a reload still has it. */
function ticketKey(ticketId) {
  const stored = `hallq.phone.${ticketId}.key`;
  const given = new URLSearchParams(location.hash.slice(1)).get("key");
  try {
    if (given) localStorage.setItem(stored, given);
    return given || localStorage.getItem(stored) || "";
  } catch {
    return given || ""; // private browsing without storage
  }
}

export function initRating(ticketId) {
  state.ticketId = ticketId;
  state.key = ticketKey(ticketId);
  renderLevels();
  $("rate-submit").addEventListener("click", submit);
  render();
}

export function redrawRating() {
  renderLevels();
  render();
}
