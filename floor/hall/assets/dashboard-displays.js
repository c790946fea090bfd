// The dashboard's watch on the lobby displays: which cannot speak their calls (no Chinese voice, speech failing)
// and which have stopped reporting (off, or cut off), from GET /displays, so the hall knows before the first
// citizen misses a call. Each display reports itself once a minute (displays/voice_api.py); the panel is hidden
// while every display seen today speaks and is on.
import { api, clock, el, t } from "/assets/floor/hallq.js";

const EVERY_MS = 20_000; // a display is called offline after 3 minutes: a third of a minute late is soon enough
const $ = (id) => document.getElementById(id);
const state = { token: null, displays: [] };

/** What the hall calls the screen (its ?name=), else the start of the id its setup panel shows. */
function displayLabel(d) {
  return d.name ?? t(`显示屏 ${d.display.slice(0, 6)}`, `Display ${d.display.slice(0, 6)}`);
}

function render() {
  const trouble = state.displays.filter((d) => d.mute || d.offline);
  $("displays-list").replaceChildren(...trouble.map((d) => el("li", {
    class: "display-alert", dataset: { display: d.display, mute: String(d.mute), offline: String(d.offline) },
    title: d.display, // two screens of one name are told apart by the id their setup panels show
  },
  el("b", { class: "display-name" }, displayLabel(d)),
  d.offline ? el("span", { class: "badge display-offline" }, t("离线", "Offline")) : null,
  d.mute ? el("span", { class: "badge display-mute" }, t("无语音", "Mute")) : null,
  el("span", { class: "display-why" }, [
    d.mute ? d.problem ?? t("叫号不会播报", "Calls are not announced") : null,
    d.offline ? t(`最后在线 ${clock(d.last_seen)}`, `last seen ${clock(d.last_seen)}`) : null,
  ].filter(Boolean).join(t("；", "; "))))));
  $("displays-watch").hidden = trouble.length === 0;
}

async function refresh() {
  try {
    state.displays = (await api("/displays", { token: state.token })).displays;
    render();
  } catch {
    // The server is out of reach: the rest of the dashboard says so; the last list stays until it answers.
  }
}

export function startDisplays({ token }) {
  state.token = token;
  refresh();
  setInterval(refresh, EVERY_MS);
  // The dashboard's language switch sets <html lang>: say the same in the new language.
  new MutationObserver(render).observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
}
