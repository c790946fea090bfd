// The dashboard's reports panel: the link to the reports page, and today's PNG charts from
// GET /reports/charts/{chart}.png in a fold under the board. It runs beside dashboard.js without touching it: it
// waits for the dashboard's sign-in to keep the manager token, then, while the fold is open, fetches the charts
// (with the Authorization header, so as blobs) when it opens, every minute, and when the language changes.
import { hall, lang } from "/assets/floor/hallq.js";

const CHARTS = ["hourly", "waits", "ratings"];
const EVERY_MS = 60000;
const TOKEN_KEY = `hallq.token.${hall}.dashboard`;
const urls = {};

/** The role a token was made for, read from its payload (hq1.<base64url JSON>.<signature>); no request. */
function role(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)).r;
  } catch {
    return null;
  }
}

/** Signed in: a manager's token is kept and the dashboard has drawn its first snapshot (so the server took it). */
function signedIn() {
  const token = localStorage.getItem(TOKEN_KEY);
  const drawn = document.getElementById("updated")?.textContent;
  return token && drawn && ["manager", "admin"].includes(role(token)) ? token : null;
}

async function load(token) {
  await Promise.all(CHARTS.map(async (chart) => {
    const img = document.getElementById(`report-chart-${chart}`);
    if (!img) return;
    try {
      // No range: the server's default is the hall's today.
      const reply = await fetch(`/api/v1/halls/${hall}/reports/charts/${chart}.png`, {
        headers: { Authorization: `Bearer ${token}`, "Accept-Language": lang() === "en" ? "en" : "zh-CN" },
      });
      if (!reply.ok) return; // the dashboard already says when the server is unwell; a chart just waits
      const url = URL.createObjectURL(await reply.blob());
      if (urls[chart]) URL.revokeObjectURL(urls[chart]);
      urls[chart] = url;
      img.src = url;
      img.dataset.loaded = "1";
    } catch {
      // network down: the next round tries again
    }
  }));
}

function start() {
  const token = signedIn();
  if (!token) {
    setTimeout(start, 1000); // not signed in yet
    return;
  }
  const panel = document.getElementById("report-panel");
  const refresh = () => { if (panel?.open) load(signedIn() ?? token); };
  panel?.addEventListener("toggle", refresh);
  document.getElementById("lang")?.addEventListener("click", refresh);
  setInterval(refresh, EVERY_MS);
  refresh();
}

start();
