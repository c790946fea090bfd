// 区域总览: a county's or town's managers watch every hall below their region and find the few that need them.
//
// One socket (WS /api/v1/regions/{region}/ws/overview) sends the whole region first ("overview"), then only the
// halls whose line changed ("halls"), and a heartbeat when nothing did; the server reads the halls, the page never
// polls. Each hall is one table row made once and kept by hall id: a frame touches the cells of its changed rows and
// nothing else, and the rows are put in order again at most once a second (at once when the manager sorts or
// filters), so a county of 500 halls stays smooth. The longest wait counts on by itself each second from
// ``longest_since_ms`` (on the server's clock: the page keeps the difference to its own), so a quiet hall's wait
// stays true between frames.
//
// The kit (hallq.js) is a hall's: its tokens, API calls and feed name a hall. A region's page keeps its token per
// region (from the #token= fragment, as every page), calls /api/v1/regions/{region} and follows the region's socket
// with the same reconnecting backoff; a session cookie (a region account signed in on any hall's page) needs none.
import { ApiError, applyLanguage, duration, el, lang, languageSwitch, showLink, t } from "/assets/floor/hallq.js";
import { listState } from "/assets/floor/manager-nav.js";

const $ = (id) => document.getElementById(id);
export const region = document.querySelector('meta[name="hallq-region"]')?.content ?? "";

const SORT_EVERY_MS = 1000; // rows are put in order again at most this often while frames come
const HEARTBEAT_S = 15; // the server's; a socket silent for three is taken for dead
const REFUSED = new Set([4400, 4401, 4403, 4404]);

export const LEVEL_TEXT = {
  county_centre: ["县中心", "County centre"], town_centre: ["镇中心", "Town centre"],
  village_station: ["村站", "Village station"], bank_outlet: ["银行网点", "Bank outlet"],
  self_service: ["自助区", "Self-service"],
};
// In the order the chips show, most pressing first.
export const ALERT_TEXT = {
  nobody_serving: ["无人服务", "Nobody serving"], wait_over_target: ["超时", "Over target"],
  case_overdue: ["差评超期", "差评 overdue"], bad_rating_open: ["差评待办", "差评 open"],
};
const pair = (table, key) => (table[key] ? t(...table[key]) : key ?? "");

// -- the region's token ---------------------------------------------------------------------------
// Kept per region, as the kit keeps a hall page's per hall and page; it arrives once in the URL fragment.
const tokenKey = (id) => `hallq.region-token.${id}`;

function takeToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const given = fragment.get("token");
  if (given) {
    localStorage.setItem(tokenKey(region), given);
    fragment.delete("token");
    const rest = fragment.toString();
    history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
  }
  return localStorage.getItem(tokenKey(region));
}

function readCookie(name) {
  const found = document.cookie.split("; ").find((c) => c.startsWith(`${name}=`));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : null;
}

/** GET /api/v1/regions/{region}{path}: the JSON body, or an ApiError with the server's sentence. */
async function regionApi(path, token) {
  const headers = { "Accept-Language": lang() === "en" ? "en" : "zh-CN" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let reply;
  try {
    reply = await fetch(`/api/v1/regions/${encodeURIComponent(region)}${path}`, { headers });
  } catch {
    throw new ApiError(0, "network", t("网络连接中断，请检查网络后重试。", "The network is down; check it and try again."));
  }
  let data = null;
  try { data = await reply.json(); } catch { data = null; }
  if (!reply.ok) {
    const error = data?.error;
    throw new ApiError(reply.status, error?.code ?? "http_error",
      error?.message ?? t(`请求失败（${reply.status}），请稍后重试。`, `The request failed (${reply.status}); try again.`));
  }
  return data;
}

/**
 * Follow the region's overview socket: every frame to ``onFrame``; reconnects with backoff (and a little jitter,
 * so a county's screens do not all come back at once after a restart), a socket silent for three heartbeats is
 * replaced, a refusal stops it. Each new socket starts with a whole "overview" again, so nothing is missed.
 */
function followOverview({ token, onFrame, onStatus }) {
  let socket = null;
  let stopped = false;
  let attempt = 0;
  let watchdog = null;
  let refusal = "";
  const url = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = token ? `?token=${encodeURIComponent(token)}` : "";
    return `${scheme}://${location.host}/api/v1/regions/${encodeURIComponent(region)}/ws/overview${query}`;
  };
  const arm = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => socket?.close(), HEARTBEAT_S * 3000);
  };
  const open = () => {
    onStatus(attempt === 0 ? "connecting" : "reconnecting");
    socket = new WebSocket(url());
    socket.onopen = () => { arm(); };
    socket.onmessage = (message) => {
      arm();
      let frame;
      try { frame = JSON.parse(message.data); } catch { return; }
      if (frame.type === "error") { refusal = frame.message; return; }
      if (frame.type === "overview") { attempt = 0; onStatus("live"); }
      onFrame(frame);
    };
    socket.onclose = (close) => {
      clearTimeout(watchdog);
      if (stopped) return;
      if (REFUSED.has(close.code)) { onStatus("refused", refusal || close.reason); return; }
      attempt += 1;
      onStatus("reconnecting");
      const backoff = Math.min(10000, 300 * 2 ** Math.min(attempt, 6)) * (0.8 + Math.random() * 0.4);
      const delay = close.code === 4008 ? 50 : backoff; // 4008: fell behind; come straight back
      setTimeout(open, delay);
    };
  };
  open();
  return {
    close() { stopped = true; clearTimeout(watchdog); socket?.close(); },
    drop() { socket?.close(); },
  };
}

// -- state ----------------------------------------------------------------------------------------
const state = {
  token: null,
  feed: null,
  rows: new Map(), // hall id -> { hall, tr, cells, line, shown }
  totals: null,
  at: null, // the last frame's time (server ms)
  skew: 0, // the server's clock less this browser's, ms: waits count on the server's time
  sort: { key: "attention", dir: -1 },
  filter: { level: "", alerts: false, text: "" },
  sortedAt: -Infinity,
  sortTimer: null,
};
const collator = new Intl.Collator("zh-CN");
const serverNow = () => Date.now() + state.skew;

/** How long the longest-waiting citizen of a line has waited now, in seconds; null when nobody waits. */
function waitOf(line, now = serverNow()) {
  if (line.longest_since_ms === null || line.longest_since_ms === undefined) return null;
  return Math.max(0, (now - line.longest_since_ms) / 1000);
}

// -- rows -----------------------------------------------------------------------------------------
function handOver(event) {
  // A page signed in by token hands it to the hall's dashboard it opens, when that page has none of its own (as the
  // manager nav does between a hall's pages): a region manager's token works in every hall below the region.
  const hall = event.currentTarget.dataset.hall;
  const key = `hallq.token.${hall}.dashboard`;
  if (state.token && !localStorage.getItem(key)) localStorage.setItem(key, state.token);
}

function makeRow(hall) {
  const cells = {
    name: el("b", { class: "ro-name" }),
    level: el("span", { class: "badge ro-level" }),
    place: el("span", { class: "mp-sub ro-place" }),
    waiting: el("td", { class: "num ro-waiting", role: "cell", dataset: { field: "waiting" } }),
    wait: el("td", { class: "num ro-wait", role: "cell", dataset: { field: "wait" } }),
    windows: el("td", { class: "num ro-windows", role: "cell", dataset: { field: "windows" } }),
    alerts: el("td", { class: "ro-alerts", role: "cell", dataset: { field: "alerts" } }),
    link: el("a", { class: "btn ro-drill", href: `/halls/${encodeURIComponent(hall)}/dashboard`,
      dataset: { hall }, onclick: handOver, onauxclick: handOver }),
  };
  // Explicit roles: the rows are laid out as grids (overview.css), which some browsers take for no table at all.
  const tr = el("tr", { class: "ro-row", role: "row", dataset: { hall } },
    el("td", { class: "ro-hall", role: "cell", dataset: { field: "name" } },
      el("div", { class: "ro-title" }, cells.name, cells.level), cells.place),
    cells.waiting, cells.wait, cells.windows, cells.alerts, el("td", { class: "actions", role: "cell" }, cells.link));
  return { hall, tr, cells, line: null, shown: {} };
}

/** Write ``value`` with ``write`` unless the row shows it already; whether it did. */
function put(row, key, value, write) {
  if (row.shown[key] === value) return false;
  row.shown[key] = value;
  write(value);
  return true;
}

function chip(line, name) {
  let extra = "";
  let title = "";
  if (name === "bad_rating_open" && line.bad_open > 1) extra = String(line.bad_open);
  if (name === "case_overdue" && line.overdue > 1) extra = String(line.overdue);
  if (name === "wait_over_target" && line.over_target?.length) {
    title = t(`超过目标等候的业务：${line.over_target.join("、")}`, `Past their target wait: ${line.over_target.join(", ")}`);
  }
  if (name === "bad_rating_open") title = t(`未办结差评件 ${line.bad_open} 件`, `${line.bad_open} 差评 case(s) open`);
  if (name === "case_overdue") title = t(`超期差评件 ${line.overdue} 件`, `${line.overdue} 差评 case(s) overdue`);
  return el("span", { class: `ro-chip ${name}`, dataset: { alert: name }, title: title || null },
    pair(ALERT_TEXT, name), extra ? el("b", { class: "ro-chip-n" }, extra) : null);
}

/** Draw the cells of ``line`` that changed since the row last showed one; whether any figure changed. */
function paint(row, line) {
  const l = lang();
  row.line = line;
  const { cells, tr } = row;
  put(row, "name", line.name, (v) => { cells.name.textContent = v; });
  put(row, "level", `${line.level}|${l}`, () => {
    cells.level.textContent = pair(LEVEL_TEXT, line.level) || t("大厅", "Hall");
    cells.level.dataset.level = line.level ?? "";
  });
  put(row, "place", line.region_name ?? "", (v) => { cells.place.textContent = v; cells.place.hidden = !v; });
  put(row, "link", l, () => {
    cells.link.textContent = t("看板 →", "Dashboard →");
    cells.link.title = t(`打开${line.name}的管理看板`, `Open the dashboard of ${line.name}`);
  });
  let changed = put(row, "waiting", line.waiting, (v) => {
    cells.waiting.textContent = v;
    cells.waiting.dataset.zero = v ? "" : "1";
  });
  changed = put(row, "windows", `${line.windows_open}/${line.windows_planned}/${line.windows_paused}|${l}`, () => {
    const open = el("span", { class: "ro-open" }, `${line.windows_open} / ${line.windows_planned}`);
    if (line.windows_paused) {
      cells.windows.replaceChildren(open,
        el("span", { class: "ro-paused" }, t(`暂停 ${line.windows_paused}`, `${line.windows_paused} paused`)));
    } else cells.windows.replaceChildren(open);
    cells.windows.dataset.none = line.windows_open ? "" : "1";
  }) || changed;
  const alerts = Object.keys(ALERT_TEXT).filter((name) => line.alerts.includes(name));
  changed = put(row, "alerts", `${alerts.join()}|${line.bad_open}|${line.overdue}|${line.over_target?.join()}|${l}`,
    () => {
      const chips = alerts.map((name) => chip(line, name));
      cells.alerts.replaceChildren(...(chips.length ? [el("div", { class: "ro-chips" }, chips)] : []));
      tr.dataset.alerts = alerts.length ? "1" : "";
      cells.wait.dataset.over = line.alerts.includes("wait_over_target") ? "1" : "";
    }) || changed;
  paintWait(row);
  return changed;
}

function paintWait(row, now = serverNow()) {
  const wait = waitOf(row.line, now);
  put(row, "wait", wait === null ? "—" : duration(wait), (v) => { row.cells.wait.textContent = v; });
}

function matches(line) {
  const f = state.filter;
  if (f.level && line.level !== f.level) return false;
  if (f.alerts && !line.alerts.length) return false;
  if (f.text) {
    const hay = `${line.name} ${line.region_name ?? ""} ${line.hall}`.toLowerCase();
    if (!hay.includes(f.text)) return false;
  }
  return true;
}

function showOrHide(row) {
  const hidden = !matches(row.line);
  if (row.tr.hidden !== hidden) row.tr.hidden = hidden;
}

function upsert(line, live) {
  let row = state.rows.get(line.hall);
  const fresh = !row;
  if (fresh) {
    row = makeRow(line.hall);
    state.rows.set(line.hall, row);
    $("rows").append(row.tr);
  }
  const changed = paint(row, line);
  showOrHide(row);
  if (live && changed && !fresh) {
    // Two animation names in turn: changing the name restarts the flash without forcing a layout.
    row.tr.dataset.flash = row.tr.dataset.flash === "a" ? "b" : "a";
  }
}

// -- order ----------------------------------------------------------------------------------------
const cmp = (x, y) => (x > y) - (x < y);
const waitKey = (line) => (line.longest_since_ms === null || line.longest_since_ms === undefined
  ? -Infinity : -line.longest_since_ms); // the earlier the ticket, the longer the wait
const KEYS = {
  attention: [(l) => (l.alerts.length ? 1 : 0), waitKey],
  name: [(l) => l.name],
  waiting: [(l) => l.waiting, waitKey],
  wait: [waitKey, (l) => l.waiting],
  windows: [(l) => l.windows_open, (l) => l.windows_planned],
  alerts: [(l) => l.alerts.length, waitKey],
};
const DEFAULT_DIR = { name: 1 }; // names A to Z; every figure largest first

function comparator() {
  const { key, dir } = state.sort;
  const keys = KEYS[key];
  return (a, b) => {
    for (const k of keys) {
      const va = k(a.line);
      const vb = k(b.line);
      const c = typeof va === "string" ? collator.compare(va, vb) : cmp(va, vb);
      if (c) return dir * c;
    }
    return collator.compare(a.line.name, b.line.name) || cmp(a.hall, b.hall);
  };
}

/** Put the rows in order now: moves only the rows out of place, keeps every row's node. */
function reorder() {
  clearTimeout(state.sortTimer);
  state.sortTimer = null;
  state.sortedAt = performance.now();
  const body = $("rows");
  let node = body.firstElementChild;
  for (const row of [...state.rows.values()].sort(comparator())) {
    if (row.tr === node) node = node.nextElementSibling;
    else body.insertBefore(row.tr, node);
  }
}

/** Put the rows in order soon: at most once a second, however many frames come. */
function reorderSoon() {
  if (state.sortTimer) return;
  state.sortTimer = setTimeout(reorder, Math.max(0, state.sortedAt + SORT_EVERY_MS - performance.now()));
}

function showSort() {
  for (const th of document.querySelectorAll("#halls th[data-col]")) {
    const on = th.dataset.col === state.sort.key;
    th.setAttribute("aria-sort", on ? (state.sort.dir > 0 ? "ascending" : "descending") : "none");
  }
  $("sort-default").hidden = state.sort.key === "attention";
}

function sortBy(key) {
  state.sort = state.sort.key === key ? { key, dir: -state.sort.dir } : { key, dir: DEFAULT_DIR[key] ?? -1 };
  showSort();
  reorder();
}

// -- header, counts -------------------------------------------------------------------------------
function showTotals() {
  const totals = state.totals;
  if (!totals) return;
  $("total-halls").textContent = totals.halls;
  $("total-waiting").textContent = totals.waiting;
  $("total-windows").textContent = `${totals.windows_open} / ${totals.windows_planned}`;
  $("total-alerting").textContent = totals.halls_alerting;
  $("total-alerting").parentElement.dataset.on = totals.halls_alerting ? "1" : "";
  showLongest();
}

function showLongest(now = serverNow()) {
  let longest = null;
  for (const row of state.rows.values()) {
    const wait = waitOf(row.line, now);
    if (wait !== null && (longest === null || wait > longest)) longest = wait;
  }
  const text = longest === null ? "—" : duration(longest);
  if ($("total-longest").textContent !== text) $("total-longest").textContent = text;
}

function showCount() {
  let shown = 0;
  for (const row of state.rows.values()) if (!row.tr.hidden) shown += 1;
  const all = state.rows.size;
  $("count").textContent = shown === all ? t(`共 ${all} 个大厅`, `${all} halls`)
    : t(`显示 ${shown} / ${all} 个大厅`, `${shown} of ${all} halls`);
  if (!all) listState($("state"), "empty", t("本地区没有大厅。", "There is no hall in this region."));
  else if (!shown) {
    listState($("state"), "empty", t("没有符合条件的大厅。", "No hall matches."));
    $("state").append(el("button", { class: "btn", type: "button", onclick: clearFilters },
      t("清除筛选", "Clear the filters")));
  } else listState($("state"), null);
}

function showUpdated() {
  if (!state.at) return;
  const when = new Date(state.at).toLocaleTimeString(lang() === "en" ? "en-GB" : "zh-CN", { hour12: false });
  $("updated").textContent = t(`更新于 ${when}`, `Updated ${when}`);
}

function refilter() {
  for (const row of state.rows.values()) showOrHide(row);
  showCount();
  reorder();
}

function clearFilters() {
  state.filter = { level: "", alerts: false, text: "" };
  $("f-level").value = "";
  $("f-alerts").checked = false;
  $("f-alerts").parentElement.dataset.on = "";
  $("f-search").value = "";
  refilter();
}

// -- frames ---------------------------------------------------------------------------------------
function onFrame(frame) {
  if (frame.type !== "overview" && frame.type !== "halls") return;
  if (frame.at) {
    state.at = frame.at;
    state.skew = frame.at - Date.now();
  }
  if (frame.type === "overview") {
    // The whole region (first, and again on each reconnection): halls gone from it go from the table.
    const seen = new Set();
    for (const line of frame.halls) { seen.add(line.hall); upsert(line, false); }
    for (const [hall, row] of state.rows) {
      if (!seen.has(hall)) { row.tr.remove(); state.rows.delete(hall); }
    }
    if (frame.name) showName(frame.name);
    reorder();
  } else {
    for (const line of frame.halls) upsert(line, true);
    reorderSoon();
  }
  if (frame.totals) state.totals = frame.totals;
  showTotals();
  showCount();
  showUpdated();
  $("updated").classList.remove("stale");
}

function tick() {
  const now = serverNow();
  for (const row of state.rows.values()) {
    if (row.line.longest_since_ms !== null && row.line.longest_since_ms !== undefined) paintWait(row, now);
  }
  showLongest(now);
}

// -- the region, sign-in, refusal -----------------------------------------------------------------
let regionName = document.getElementById("region-name").textContent;
function showName(name) {
  regionName = name;
  $("region-name").textContent = name;
  document.title = `${t("区域总览", "Region overview")} · ${name}`;
}

function showRegion(info) {
  showName(info.name);
  const path = info.path?.length ? info.path : [{ region: info.region, name: info.name }];
  $("crumb-list").replaceChildren(...path.map((r, i) => el("li",
    { "aria-current": i === path.length - 1 ? "page" : null, dataset: { region: r.region } }, r.name)));
  const under = info.regions ?? [];
  $("under").hidden = !under.length;
  $("under-list").replaceChildren(...under.map((r) => el("a", {
    href: `/regions/${encodeURIComponent(r.region)}/overview`, dataset: { region: r.region },
    onclick: () => {
      const key = tokenKey(r.region);
      if (state.token && !localStorage.getItem(key)) localStorage.setItem(key, state.token);
    },
  }, r.name)));
}

function refuse(message) {
  state.feed?.close();
  state.feed = null;
  showLink($("link"), "refused");
  $("board").hidden = true;
  $("refusal").hidden = false;
  $("refusal-text").textContent = message;
}

/** The region, as the page's sign-in may see it: a token first, else the session cookie. */
async function readRegion() {
  if (state.token) {
    try {
      return await regionApi("", state.token);
    } catch (error) {
      if (error.status !== 401 && error.status !== 403) throw error;
      localStorage.removeItem(tokenKey(region));
      state.token = null;
      if (!readCookie("hallq_csrf")) throw error;
    }
  }
  return regionApi("");
}

async function open() {
  let info;
  try {
    info = await readRegion();
  } catch (error) {
    if (error.status === 401 || error.status === 403) {
      refuse(error.message);
      return;
    }
    $("board").hidden = false;
    listState($("state"), "error", error.message, () => { open(); });
    return;
  }
  showRegion(info);
  $("refusal").hidden = true;
  $("board").hidden = false;
  if (!state.rows.size) listState($("state"), "loading", t("正在读取各大厅…", "Reading the halls…"));
  state.feed?.close();
  state.feed = followOverview({
    token: state.token, onFrame,
    onStatus: (status, why) => {
      showLink($("link"), status);
      if (status === "reconnecting") $("updated").classList.add("stale");
      if (status === "refused") refuse(why || t("实时连接被拒绝。", "The live feed was refused."));
    },
  });
}

async function useToken(event) {
  event.preventDefault();
  const token = $("token-input").value.trim();
  $("token-problem").textContent = "";
  if (!token) {
    $("token-problem").textContent = t("请先粘贴令牌。", "Paste a token first.");
    return;
  }
  $("token-submit").disabled = true;
  try {
    await regionApi("", token);
    localStorage.setItem(tokenKey(region), token);
    state.token = token;
    $("token-input").value = "";
    await open();
  } catch (error) {
    $("token-problem").textContent = error.message;
  } finally {
    $("token-submit").disabled = false;
  }
}

function redraw() {
  for (const row of state.rows.values()) paint(row, row.line);
  showName(regionName);
  showTotals();
  if (state.totals) showCount(); // before the first frame the list's state (connecting, a failure) stays
  showUpdated();
  showLink($("link"), $("link").dataset.status);
}

function start() {
  applyLanguage();
  languageSwitch($("lang"), redraw);
  showName(regionName);
  listState($("state"), "loading", t("正在连接…", "Connecting…"));
  for (const button of document.querySelectorAll("#halls button.sort")) {
    button.addEventListener("click", () => sortBy(button.dataset.sort));
  }
  const reset = el("button", { class: "btn chip", type: "button", id: "sort-default", hidden: true,
    "data-zh": "默认排序", "data-en": "Default order",
    onclick: () => { state.sort = { key: "attention", dir: -1 }; showSort(); reorder(); },
  }, t("默认排序", "Default order"));
  $("count").before(reset);
  showSort();
  $("f-level").addEventListener("change", () => { state.filter.level = $("f-level").value; refilter(); });
  $("f-alerts").addEventListener("change", () => {
    state.filter.alerts = $("f-alerts").checked;
    $("f-alerts").parentElement.dataset.on = state.filter.alerts ? "1" : "";
    refilter();
  });
  $("f-search").addEventListener("input", () => {
    state.filter.text = $("f-search").value.trim().toLowerCase();
    refilter();
  });
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  $("token-form").addEventListener("submit", useToken);
  setInterval(tick, 1000);
  state.token = takeToken();
  open();
}

start();
