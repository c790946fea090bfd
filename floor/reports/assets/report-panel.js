// The dashboard's reports panel: the link to the reports page, and today's charts in a fold under the board. It
// runs beside dashboard.js without touching it: it waits for the dashboard's sign-in to keep the manager token,
// then, while the fold is open, reads today's report (GET /reports) when it opens, every minute, and when the
// language changes, and draws each chart into its <img> as an SVG image of the img's own size (charts.js), so
// its labels read at the size they are shown. The ratings chart says 好评率 and each level's count and share.
import { api, hall } from "/assets/floor/hallq.js";
import { chartImage } from "/assets/reports/charts.js";
import { REPORT_CHARTS, reportCharts } from "/assets/reports/report-charts.js";

const EVERY_MS = 60000;
const TOKEN_KEY = `hallq.token.${hall}.dashboard`;

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
  let report;
  try {
    report = await api("/reports", { token }); // no range: the server's default is the hall's today
  } catch {
    return; // the dashboard already says when the server is unwell; the charts just wait for the next round
  }
  const charts = reportCharts(report);
  for (const name of REPORT_CHARTS) {
    const img = document.getElementById(`report-chart-${name}`);
    if (!img) continue;
    const [kind, options, caption] = charts[name];
    chartImage(img, kind, options);
    img.alt = caption;
    img.title = caption;
    img.dataset.loaded = "1";
  }
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
