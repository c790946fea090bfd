// 大厅设置: the hall's set-up, changed live by its managers and admins (GET /setup, and the /setup/... writes).
// Services with their sub-items (materials, forms, legal basis, notice text) and theme bundles; windows with their
// services, primary services, sub-item skills and B posts (AB岗); opening hours (the gaps are lunch), holidays and
// 调休 workdays; the set-up file, downloaded, and for an admin imported (a bad line is named with its field).
//
// Every write names the version it was decided on: the version the page held when a dialog was opened, or when the
// calendar's draft was last taken from the server. A 409 setup_changed shows the server's sentence, reads the set-up
// again, and keeps what the user typed; saving again then writes over the new version. A 422 shows the server's
// sentence and marks the field it names. The dashboard feed's hall.configured event reads the set-up again whenever
// anyone changes it, and says so when it was not this page.
//
// A hall that takes its services from its county's catalog (config.catalog: a village station, a bank outlet) edits
// what it is authorised for of it instead (GET /setup/catalog, PUT /setup/authorised): its services' table gives way
// to the catalog's services and sub-items as ticks. The hall that keeps the catalog (the county centre) edits its
// services as any hall, but only the county's own people may (403 catalog_keepers_only, shown as the server says it),
// and each change answers how every hall of the catalog followed it; the page learns it keeps one from those answers.
import {
  api, applyLanguage, el, follow, hall, label, lang, languageSwitch, ROLE_TEXT, showLink, signIn, signOut, t, toast,
} from "/assets/floor/hallq.js";
import { adminNav, borrowToken, hallDate, listState, managerNav } from "/assets/floor/manager-nav.js";

const $ = (id) => document.getElementById(id);
const PAGE = "setup";
const enc = encodeURIComponent;
const CODE = /^[A-Z][A-Z0-9]{0,7}$/;
const ITEM_CODE = /^[A-Z][A-Z0-9-]{0,15}$/;
const WINDOW_ID = /^[A-Za-z0-9-]{1,8}$/;
const RESERVED_LETTERS = new Set(["V", "Y"]);
const MAX_FILE = 60000;
const MAX_SESSIONS = 6;
const NOTES_MAX = 500;
const PERSON_ROLE_TEXT = {
  guide: ["导办员", "Guide"], staff: ["窗口人员", "Window staff"], manager: ["管理员", "Manager"],
  admin: ["系统管理员", "Administrator"],
};
const KIND_TEXT = { comprehensive: ["综合窗口", "Comprehensive"], special: ["专业窗口", "Special"] };
const WEEKDAYS = [["周日", "Sun"], ["周一", "Mon"], ["周二", "Tue"], ["周三", "Wed"], ["周四", "Thu"], ["周五", "Fri"],
  ["周六", "Sat"]];

const state = {
  token: null, who: null,
  setup: null, // GET /setup's answer: {version, source, config}
  loadError: null,
  mine: new Set(), // versions this page's own writes made
  writing: null, // a write under way (a promise): the feed's event of it waits for its answer
  lastChange: null, // {at, by, version} of the latest hall.configured the feed told
  service: null, // the service dialog: {mode, version, draft, open: Set of item indices}
  window: null, // the window dialog: {mode, version, draft}
  calendar: null, // {version, draft: {hours: [{start, end}], holidays, workdays}, base: JSON of the server's}
  confirm: null, // {run, version, done}
  importFile: null, // {name, text}
  busy: false,
  // A hall of a county catalog: {catalog: GET /setup/catalog's answer, version, base: Set of codes the server has,
  // draft: Set of codes ticked, built: the answer the list was drawn from, builtLang, index: code -> service/item}.
  authorised: null,
  catalogError: null,
  keeper: null, // the hall keeps a county catalog, as the server said: {refused, followers, name, names: hall -> name}
};

const tt = (pair) => t(pair[0], pair[1]);
const list = (xs) => xs.join(t("、", ", "));
const roleName = (role) => (PERSON_ROLE_TEXT[role] ? tt(PERSON_ROLE_TEXT[role]) : role);

// -- names ----------------------------------------------------------------------------------------------------------
const config = () => state.setup?.config ?? null;
const services = () => config()?.services ?? [];
const windows = () => config()?.windows ?? [];
const findService = (code) => services().find((s) => s.code === code);
const findWindow = (id) => windows().find((w) => w.id === id);
const bilingual = (zh, en) => t(zh, en || zh);
const serviceName = (code) => {
  const s = findService(code);
  return s ? bilingual(s.name_zh, s.name_en) : code;
};
const itemOwner = (code) => services().find((s) => (s.items ?? []).some((i) => i.code === code));
const itemName = (code) => {
  const i = itemOwner(code)?.items.find((x) => x.code === code);
  return i ? bilingual(i.name_zh, i.name_en) : code;
};
const postName = (id) => t(`${id}号窗口`, `Window ${id}`);
const windowName = (w) => t(w.name, w.name === `${w.id}号窗口` ? `Window ${w.id}` : w.name);
const trimNumber = (x) => String(Math.round(x * 10) / 10);
const minutesText = (seconds) => (seconds === null || seconds === undefined ? "—"
  : t(`${trimNumber(seconds / 60)} 分钟`, `${trimNumber(seconds / 60)} min`));
const span = (minutes) => {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (!h) return t(`${m}分钟`, `${m} min`);
  return m ? t(`${h}小时${m}分`, `${h} h ${m} min`) : t(`${h}小时`, `${h} h`);
};
const clockMinutes = (hhmm) => {
  const found = /^(\d{2}):(\d{2})/.exec(hhmm ?? "");
  return found ? Number(found[1]) * 60 + Number(found[2]) : null;
};
const weekday = (day) => new Date(`${day}T00:00:00Z`).getUTCDay();

// -- reading the set-up ---------------------------------------------------------------------------------------------
async function load() {
  try {
    const setup = await api("/setup", { token: state.token });
    adopt(setup);
    state.loadError = null;
    if (setup.keeps_catalog && !state.keeper) {  // these services are a county's catalog: say so from the start
      learnKeeper({ refused: null, followers: null, name: setup.keeps_catalog.name });
    }
  } catch (error) {
    state.loadError = error.message;
  }
  if (fromCatalog()) await loadCatalog();
  renderStatus();
}

/** Take a set-up the server answered: every table from it, and the calendar's draft unless it holds changes. */
function adopt(setup) {
  const before = state.setup?.version;
  if (before !== undefined && setup.version < before) return; // an answer overtaken by a newer one
  state.setup = setup;
  const c = state.calendar;
  if (!c || !calendarDirty()) takeCalendar();
  else if (before !== setup.version) {
    c.base = calendarJson(calendarOf(setup.config));
    $("calendar-pending").textContent = t("其间设置已由他人更新；此处尚未保存的修改仍保留，保存时会提示核对。",
      "The set-up was changed meanwhile; your unsaved changes here are kept, and saving asks you to check them.");
  }
  renderAll();
}

function renderAll() {
  renderStatus();
  renderServices();
  renderKeeper();
  renderAuthorised();
  renderWindows();
  renderCalendar();
}

function renderStatus() {
  const s = state.setup;
  $("version").textContent = s ? t(`当前第 ${s.version} 版`, `Version ${s.version}`) : "";
  const source = $("source");
  if (!s) source.replaceChildren();
  else if (s.source.startsWith("file:")) {
    source.replaceChildren(el("span", { class: "badge", dataset: { source: "file" } }, t("由文件导入", "Imported from a file")),
      el("span", { class: "mp-mono fingerprint", title: t("文件指纹（SHA-256）", "The file's fingerprint (SHA-256)") },
        s.source.slice(5, 17)));
  } else {
    source.replaceChildren(el("span", { class: "badge amber", dataset: { source: "live" } }, t("在线修改", "Edited here")));
  }
  const last = state.lastChange;
  $("last-change").textContent = last ? t(`最近修改：${last.at.slice(11, 19)}${last.by ? `，${actorText(last.by)}` : ""}`,
    `Last change: ${last.at.slice(11, 19)}${last.by ? `, by ${actorText(last.by)}` : ""}`) : "";
  if (state.loadError) listState($("setup-state"), "error", state.loadError, load);
  else if (!s) listState($("setup-state"), "loading", t("正在读取大厅设置…", "Reading the hall's set-up…"));
  else listState($("setup-state"), null);
  for (const id of ["add-service", "add-window", "export"]) $(id).disabled = !s;
}

/** "manager:/alice@tok" -> "管理员 alice"; "admin@tok" -> "系统管理员" (``floor.http.kit.actor``). */
function actorText(by) {
  const found = /^([a-z]+)(?::([^/@]*)(?:\/([^@]*))?)?@/.exec(by);
  if (!found) return by;
  return found[3] ? `${roleName(found[1])} ${found[3]}` : roleName(found[1]);
}

// -- the services' table --------------------------------------------------------------------------------------------
function actionButton(cls, text, onclick, kind = "") {
  return el("button", { class: `btn ${kind} ${cls}`.trim(), type: "button", onclick }, text);
}

function renderServices() {
  const rows = services();
  $("service-rows").replaceChildren(...rows.map((s) => el("tr", { dataset: { code: s.code } },
    el("td", { class: "letter" }, el("span", { class: "letter-badge" }, s.letter)),
    el("td", { class: "name" }, s.name_zh,
      s.bundle?.length ? el("span", { class: "badge amber bundle-mark" }, t("一件事", "Bundle")) : null,
      el("span", { class: "mp-mono" }, s.code)),
    el("td", { class: "name-en" }, s.name_en || "—"),
    el("td", { class: "num wait" }, minutesText(s.target_wait_s)),
    el("td", { class: "num handling" }, minutesText(s.handling_s)),
    el("td", { class: "num items" }, s.items?.length ? String(s.items.length) : "—"),
    el("td", { class: "bundle" }, s.bundle?.length
      ? s.bundle.map((code) => el("span", { class: "chip", dataset: { code } }, serviceName(code))) : "—"),
    el("td", { class: "num windows-count" }, String(windows().filter((w) => w.services.includes(s.code)).length)),
    el("td", { class: "actions" },
      actionButton("edit", t("修改", "Change"), () => openService(s.code)),
      actionButton("remove", t("删除", "Remove"), () => askRemoveService(s), "danger")))));
  const bundles = rows.filter((s) => s.bundle?.length).length;
  $("services-count").textContent = state.setup ? t(`共 ${rows.length} 项${bundles ? `，其中一件事 ${bundles} 项` : ""}`,
    `${rows.length} in all${bundles ? `, ${bundles} bundle${bundles > 1 ? "s" : ""}` : ""}`) : "";
}

// -- the catalog's keeper: who may change it, and how the halls of it followed --------------------------------------------
// The server tells the page that this hall's services are a county's catalog in two answers: a change of them
// answers ``followers`` (each hall of the catalog: its new version, or why it cannot follow yet), and a principal
// who may not change them is refused with 403 catalog_keepers_only, whose sentence names the catalog.
const FOLLOW_REFUSED = {
  item_has_tickets: ["事典删去的事项在该网点仍有未办结的号票，该网点暂按原设置办理，办结后随事典下次修改同步。",
    "Tickets of an item the catalog dropped are still live there: it keeps its set-up until they are done, and "
    + "follows the catalog's next change."],
  service_has_tickets: ["事典删去的业务在该网点仍有未办结的号票，该网点暂按原设置办理，办结后随事典下次修改同步。",
    "Tickets of a service the catalog dropped are still live there: it keeps its set-up until they are done, and "
    + "follows the catalog's next change."],
  window_left_empty: ["按修改后的事典，该网点将有窗口无业务可办，须先调整其窗口，之后随事典下次修改同步。",
    "With the catalog as changed, a window there would serve nothing: it changes the window first, then follows "
    + "the catalog's next change."],
};

function learnKeeper(update) {
  state.keeper = { ...(state.keeper ?? {}), ...update };
  renderKeeper();
}

/** The names of the county and of its halls (GET /api/v1/regions/{region}), for whoever may change the catalog: a
 *  principal of the region. Without them the halls are named by their ids. */
async function learnNames() {
  const region = config()?.region;
  if (!region || state.keeper?.names) return;
  const headers = { "Accept-Language": lang() === "en" ? "en" : "zh-CN" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  try {
    const reply = await fetch(`/api/v1/regions/${enc(region)}`, { headers });
    if (!reply.ok) return;
    const data = await reply.json();
    learnKeeper({ name: data.name, names: Object.fromEntries((data.halls ?? []).map((h) => [h.hall, h.name])) });
  } catch {
    // the halls stay named by their ids
  }
}

function renderKeeper() {
  const k = state.keeper;
  const note = $("keeper-note");
  note.hidden = !k || fromCatalog();
  if (note.hidden) {
    $("followers").hidden = true;
    return;
  }
  const name = k.name ?? config()?.region ?? "";
  note.classList.toggle("refused", Boolean(k.refused));
  note.textContent = k.refused ?? t(`这些业务即${name}受理事典，修改后全县各网点同步。`,
    `These services are the ${name} catalog (受理事典): every hall of the county follows a change.`);
  renderFollowers();
}

function followRefusal(f) {
  const pair = FOLLOW_REFUSED[f.refused];
  if (!pair || (lang() === "en" && f.message)) return f.message || f.refused;
  return tt(pair);
}

function renderFollowers() {
  const followers = state.keeper?.followers;
  const box = $("followers");
  box.hidden = !followers;
  if (!followers) return;
  const names = state.keeper.names ?? {};
  const refused = followers.filter((f) => f.refused);
  const followed = followers.filter((f) => !f.refused);
  box.replaceChildren(
    el("h3", {}, t("全县各网点同步结果", "How the county's halls followed"), " ",
      el("small", { class: "mp-count", id: "followers-count" }, t(`${followed.length} 个已同步${refused.length
        ? `，${refused.length} 个暂未同步` : ""}`, `${followed.length} followed${refused.length
        ? `, ${refused.length} not yet` : ""}`))),
    el("ul", { class: "follower-list" }, [...refused, ...followed].map((f) => el("li", {
      class: f.refused ? "refused" : "followed", dataset: { hall: f.hall } },
    el("span", { class: `badge ${f.refused ? "red" : "green"}` }, f.refused ? t("暂未同步", "Not yet") : t("已同步", "Followed")),
    el("b", {}, names[f.hall] ?? f.hall), names[f.hall] ? el("span", { class: "mp-mono" }, f.hall) : null,
    f.refused ? el("span", { class: "why", title: f.message ?? null }, followRefusal(f))
      : el("span", { class: "mp-count" }, t(`第 ${f.version} 版`, `version ${f.version}`))))));
}

// -- a hall of a county catalog: what it is authorised for ----------------------------------------------------------------
// GET /setup/catalog: the county's whole catalog and what this hall is authorised for of it. A service's code
// authorises it whole (every sub-item, and any the catalog adds later); a sub-item's code that sub-item only; a theme
// bundle comes by itself once every service it covers is taken (``floor.network.rules.authorised_services``). The
// draft is a set of codes as PUT /setup/authorised takes them; a service ticked whole keeps its sub-items' own ticks
// underneath, so unticking it gives back what was ticked before. Catalogs run to hundreds of items: the list is drawn
// once per answer (and language), and a tick or the search box only changes what is ticked and shown.
const fromCatalog = () => Boolean(config()?.catalog);
const catalogServices = () => state.authorised?.catalog.services ?? [];
const catalogName = (code) => {
  const found = state.authorised?.index.get(code);
  return found ? bilingual(found.name_zh, found.name_en) : code;
};

async function loadCatalog() {
  try {
    adoptCatalog(await api("/setup/catalog", { token: state.token }));
    state.catalogError = null;
  } catch (error) {
    state.catalogError = error.message;
  }
  renderAuthorised();
}

/** Take the catalog the server answered, and what the hall is authorised for; ticks not yet saved are kept. */
function adoptCatalog(answer) {
  const a = state.authorised;
  if (a && answer.version < a.catalog.version) return; // an answer overtaken by a newer one
  if (a && JSON.stringify(answer) === JSON.stringify(a.catalog)) return; // as it was: the list is not drawn again
  const index = new Map();
  for (const s of answer.services) {
    index.set(s.code, s);
    for (const i of s.items ?? []) index.set(i.code, i);
  }
  const base = new Set(answer.authorised);
  if (!a || !authorisedDirty()) {
    state.authorised = { catalog: answer, index, version: answer.version, base, draft: new Set(base), built: null };
    return;
  }
  Object.assign(a, { catalog: answer, index, base }); // a.version stays: saving asks to check, as the calendar does
}

/** What is taken of the catalog with these codes: services whole, services some of whose sub-items (how many),
 *  every sub-item taken, and the bundles that come with them. */
function taken(codes) {
  const whole = new Set();
  const some = new Map();
  const items = new Set();
  for (const s of catalogServices()) {
    if (s.bundle?.length) continue;
    const own = (s.items ?? []).map((i) => i.code);
    if (codes.has(s.code)) {
      whole.add(s.code);
      for (const c of own) items.add(c);
      continue;
    }
    const ticked = own.filter((c) => codes.has(c));
    if (!ticked.length) continue;
    some.set(s.code, ticked.length);
    for (const c of ticked) items.add(c);
  }
  const members = new Set([...whole, ...some.keys()]);
  const bundles = new Set(catalogServices().filter((s) => s.bundle?.length && s.bundle.every((m) => members.has(m)))
    .map((s) => s.code));
  return { whole, some, items, bundles };
}

/** The codes as PUT sends them, in the catalog's order: a sub-item of a service taken whole is not named again. */
function authorisedBody(codes) {
  const out = [];
  for (const s of catalogServices()) {
    if (codes.has(s.code)) out.push(s.code);
    else out.push(...(s.items ?? []).map((i) => i.code).filter((c) => codes.has(c)));
  }
  const known = state.authorised?.index ?? new Map();
  return [...out, ...[...codes].filter((c) => !known.has(c))]; // none, unless the catalog dropped it: the server says
}

const codesJson = (codes) => JSON.stringify(authorisedBody(codes).sort());
const authorisedDirty = () => Boolean(state.authorised)
  && codesJson(state.authorised.draft) !== codesJson(state.authorised.base);

/** "新增：…；取消：…" between two sets of codes, by what they take. */
function authorisedChange(before, after) {
  const was = taken(before);
  const now = taken(after);
  const wholeName = (code) => ((state.authorised.index.get(code)?.items ?? []).length
    ? t(`${catalogName(code)}（整项）`, `${catalogName(code)} (whole)`) : catalogName(code));
  const ownerOf = (item) => catalogServices().find((s) => (s.items ?? []).some((i) => i.code === item))?.code;
  const added = [...now.whole].filter((c) => !was.whole.has(c)).map(wholeName);
  added.push(...[...now.items].filter((c) => !was.items.has(c) && !(now.whole.has(ownerOf(c)) && !was.whole.has(ownerOf(c))))
    .map(catalogName));
  const removed = [...was.whole].filter((c) => !now.whole.has(c)).map(wholeName);
  removed.push(...[...was.items].filter((c) => {
    if (now.items.has(c)) return false;
    const owner = ownerOf(c);
    return !(was.whole.has(owner) && !now.whole.has(owner) && !now.some.has(owner)); // named whole above
  }).map(catalogName));
  const parts = [];
  if (added.length) parts.push(t(`新增 ${list(added)}`, `adds ${list(added)}`));
  if (removed.length) parts.push(t(`取消 ${list(removed)}`, `withdraws ${list(removed)}`));
  return parts.join(t("；", "; "));
}

function renderAuthorised() {
  const on = fromCatalog();
  $("authorised-card").hidden = !on;
  $("services-card").hidden = on; // its services are the catalog's: changing them is refused (from_catalog)
  if (!on) return;
  const a = state.authorised;
  const name = a?.catalog.name ?? config().catalog;
  $("authorised-title").textContent = t(`授权事项（取自${name}受理事典）`, `Authorised items (from the ${name} catalog, 受理事典)`);
  $("authorised-filter").setAttribute("aria-label", t("搜索业务或事项", "Find a service or sub-item"));
  if (!a) {
    if (state.catalogError) listState($("authorised-state"), "error", state.catalogError, loadCatalog);
    else listState($("authorised-state"), "loading", t("正在读取受理事典…", "Reading the catalog…"));
    $("authorised-list").replaceChildren();
    $("authorised-count").textContent = "";
    $("authorised-save").disabled = true;
    $("authorised-reset").disabled = true;
    return;
  }
  if (a.built !== a.catalog || a.builtLang !== lang()) {
    a.built = a.catalog;
    a.builtLang = lang();
    $("authorised-list").replaceChildren(...catalogServices().map((s) => (s.bundle?.length ? bundleGroup(s)
      : serviceGroup(s))));
  }
  syncAuthorised();
}

function tick(code, on) {
  const a = state.authorised;
  if (!a) return;
  if (on) a.draft.add(code);
  else a.draft.delete(code);
  $("authorised-problem").textContent = "";
  $("authorised-done").hidden = true;
  syncAuthorised();
}

function serviceGroup(s) {
  const items = s.items ?? [];
  const name = bilingual(s.name_zh, s.name_en);
  return el("div", { class: "auth-svc", role: "group", "aria-label": name, dataset: { code: s.code } },
    el("div", { class: "auth-head" },
      el("label", { class: "whole" },
        el("input", { type: "checkbox", class: "whole", value: s.code, onchange: (event) => tick(s.code, event.target.checked) }),
        el("span", { class: "letter" }, s.letter), el("b", {}, name), el("span", { class: "mp-mono" }, s.code),
        items.length ? el("small", { class: "whole-hint" }, t("整项：含全部事项及今后新增的事项",
          "whole: every sub-item, and any added later")) : null),
      el("span", { class: "auth-state badge" })),
    items.length ? el("div", { class: "auth-items" }, items.map((i) => el("label", { class: "item", dataset: { code: i.code } },
      el("input", { type: "checkbox", class: "item", value: i.code, onchange: (event) => tick(i.code, event.target.checked) }),
      el("span", {}, bilingual(i.name_zh, i.name_en)), el("span", { class: "mp-mono" }, i.code)))) : null);
}

function bundleGroup(s) {
  return el("div", { class: "auth-svc bundle", role: "group", "aria-label": bilingual(s.name_zh, s.name_en),
    dataset: { code: s.code } },
  el("div", { class: "auth-head" },
    el("span", { class: "bundle-name" }, el("span", { class: "letter" }, s.letter), el("b", {}, bilingual(s.name_zh, s.name_en)),
      el("span", { class: "mp-mono" }, s.code), el("span", { class: "badge amber" }, t("一件事", "Bundle"))),
    el("span", { class: "auth-state badge" })),
  el("p", { class: "mp-sub" }, t(`含 ${list(s.bundle.map(catalogName))}；所含业务均获授权时自动办理，无须单独勾选。`,
    `Covers ${list(s.bundle.map(catalogName))}; comes by itself once each of them is authorised.`)));
}

function marked(node, on, was) {
  node.classList.toggle("added", on && !was);
  node.classList.toggle("removed", !on && was);
}

function stateBadge(node, kind, text, title = null) {
  node.className = `auth-state badge ${kind}`;
  node.textContent = text;
  if (title) node.title = title;
  else node.removeAttribute("title");
}

/** The ticks, marks, counts and buttons as the draft has them; what the search box and "ticked only" show. */
function syncAuthorised() {
  const a = state.authorised;
  if (!a) return;
  const now = taken(a.draft);
  const was = taken(a.base);
  for (const group of $("authorised-list").children) {
    const code = group.dataset.code;
    const badge = group.querySelector(".auth-state");
    if (group.classList.contains("bundle")) {
      const on = now.bundles.has(code);
      group.classList.toggle("on", on);
      marked(group, on, was.bundles.has(code));
      stateBadge(badge, on ? "green" : "grey", on ? t("随所含业务办理", "comes with its services") : t("未办理", "not served"));
      continue;
    }
    const whole = group.querySelector("input.whole");
    whole.checked = now.whole.has(code);
    marked(whole.closest("label"), now.whole.has(code), was.whole.has(code));
    const boxes = [...group.querySelectorAll("input.item")];
    for (const box of boxes) {
      box.checked = now.items.has(box.value);
      box.disabled = now.whole.has(code);
      const label = box.closest("label");
      label.title = box.disabled ? t("已随整项授权", "Authorised with the whole service") : "";
      marked(label, now.items.has(box.value), was.items.has(box.value));
    }
    const some = now.some.get(code) ?? 0;
    group.dataset.state = now.whole.has(code) ? "whole" : some ? "some" : "none";
    group.classList.toggle("on", group.dataset.state !== "none");
    if (now.whole.has(code)) stateBadge(badge, "green", t("整项授权", "Whole"));
    else if (some && some === boxes.length) {
      stateBadge(badge, "", t(`全部 ${some} 个事项（非整项）`, `All ${some} sub-items (not whole)`),
        t("只授权现有事项：事典今后新增的事项不在其内。", "These sub-items only: any the catalog adds later are not included."));
    } else if (some) stateBadge(badge, "", t(`部分事项 ${some}/${boxes.length}`, `${some} of ${boxes.length} sub-items`));
    else stateBadge(badge, "grey", t("未授权", "Not authorised"));
  }
  const services = now.whole.size + now.some.size;
  const all = catalogServices().filter((s) => !s.bundle?.length);
  const allItems = all.reduce((n, s) => n + (s.items ?? []).length, 0);
  $("authorised-count").textContent = t(`已授权 ${services} 项业务（整项 ${now.whole.size} 项）、${now.items.size} 个事项；`
    + `事典共 ${all.length} 项业务、${allItems} 个事项`, `${services} service${services === 1 ? "" : "s"} authorised `
    + `(${now.whole.size} whole), ${now.items.size} sub-item${now.items.size === 1 ? "" : "s"}; the catalog has `
    + `${all.length} services, ${allItems} sub-items`);
  filterAuthorised(now);
  const dirty = authorisedDirty();
  const pending = $("authorised-pending");
  pending.hidden = !dirty;
  if (dirty) {
    const change = authorisedChange(a.base, a.draft);
    pending.textContent = a.version !== state.setup?.version
      ? t(`其间设置已由他人更新；此处尚未保存的修改（${change}）仍保留，保存时会提示核对。`,
        `The set-up was changed meanwhile; your unsaved changes here (${change}) are kept, and saving asks you to check them.`)
      : t(`尚未保存：${change}。`, `Not saved yet: ${change}.`);
  } else pending.textContent = "";
  $("authorised-save").disabled = !dirty || state.busy;
  $("authorised-reset").disabled = !dirty;
}

function filterAuthorised(now = taken(state.authorised?.draft ?? new Set())) {
  const a = state.authorised;
  if (!a) return;
  const query = $("authorised-filter").value.trim().toLowerCase();
  const only = $("authorised-only").checked;
  const matches = (x) => !query || [x?.code, x?.name_zh, x?.name_en].some((v) => (v ?? "").toLowerCase().includes(query));
  let groups = 0;
  let items = 0;
  for (const group of $("authorised-list").children) {
    const code = group.dataset.code;
    const itself = matches(a.index.get(code));
    let some = false;
    for (const label of group.querySelectorAll("label.item")) {
      const show = (itself || matches(a.index.get(label.dataset.code))) && (!only || now.items.has(label.dataset.code));
      label.hidden = !show;
      if (show) items += 1;
      some ||= show;
    }
    const ticked = now.whole.has(code) || now.some.has(code) || now.bundles.has(code);
    group.hidden = !((itself || some) && (!only || ticked));
    if (!group.hidden) groups += 1;
  }
  const filtered = Boolean(query) || only;
  $("authorised-shown").textContent = filtered ? t(`显示 ${groups} 项业务、${items} 个事项`,
    `Showing ${groups} service${groups === 1 ? "" : "s"}, ${items} sub-item${items === 1 ? "" : "s"}`) : "";
  if (filtered && !groups) {
    listState($("authorised-state"), "empty", only && !query ? t("尚未勾选任何业务或事项。", "Nothing is ticked.")
      : t("没有符合条件的业务或事项。", "No service or sub-item matches."));
  } else listState($("authorised-state"), null);
}

async function saveAuthorised(event) {
  event.preventDefault();
  const a = state.authorised;
  if (!a || state.busy || !authorisedDirty()) return;
  const codes = authorisedBody(a.draft);
  const change = authorisedChange(a.base, a.draft);
  $("authorised-save").disabled = true;
  $("authorised-done").hidden = true;
  const answer = await write(a, (version) => api("/setup/authorised", { method: "PUT", token: state.token,
    body: { version, authorised: codes } }), { problem: $("authorised-problem") });
  if (!answer) { // refused: the server's sentence stays where the button is, and the ticks as they were
    syncAuthorised();
    return;
  }
  a.base = new Set(a.draft); // saved: what the server reads back replaces it
  const done = $("authorised-done");
  done.hidden = false;
  done.textContent = answer.changes.length
    ? t(`授权已保存，即时生效（第 ${answer.version} 版）：${change}。`, `The authorisation is saved and in effect now `
      + `(version ${answer.version}): ${change}.`)
    : t("没有修改：授权与原来相同。", "Nothing changed: the authorisation is as it was.");
  await written(answer, t("授权事项已保存", "The authorisation saved"));
}

// -- the windows' table ---------------------------------------------------------------------------------------------
const inOrder = (codes) => services().map((s) => s.code).filter((c) => codes.has(c));

function renderWindows() {
  const rows = windows();
  $("window-rows").replaceChildren(...rows.map((w) => el("tr", { dataset: { window: w.id } },
    el("td", { class: "id" }, w.id),
    el("td", { class: "name" }, w.name),
    el("td", { class: "kind" }, KIND_TEXT[w.kind] ? tt(KIND_TEXT[w.kind]) : w.kind),
    el("td", { class: "skills" }, inOrder(new Set(w.services)).map((code) => el("span", {
      class: `chip${w.primary.includes(code) ? " primary" : ""}`, dataset: { code },
    }, w.primary.includes(code) ? "★ " : "", serviceName(code)))),
    el("td", { class: "primary" }, w.primary.length ? list(w.primary.map(serviceName)) : "—"),
    el("td", { class: "stand-in" }, w.stand_in ? postName(w.stand_in) : "—"),
    el("td", { class: "items" }, w.items?.length ? list(w.items.map(itemName)) : "—"),
    el("td", { class: "actions" },
      actionButton("edit", t("修改", "Change"), () => openWindow(w.id)),
      actionButton("remove", t("删除", "Remove"), () => askRemoveWindow(w), "danger")))));
  const special = rows.filter((w) => w.kind === "special").length;
  $("windows-count").textContent = state.setup ? t(`共 ${rows.length} 个${special ? `，其中专业窗口 ${special} 个` : ""}`,
    `${rows.length} in all${special ? `, ${special} special` : ""}`) : "";
}

// -- writing: the version, the server's refusal, the set-up read again ------------------------------------------------
/**
 * Run one write (``call(version)``) decided on ``holder.version``. Resolves to its answer, or null when refused: the
 * server's sentence is in ``problem``; fields it names go to ``mark``; on a 409 setup_changed the set-up is read
 * again and ``holder.version`` moves to it (what the user typed stays, and saving again writes it).
 */
async function write(holder, call, { problem, mark = () => {} }) {
  if (state.busy) return null;
  state.busy = true;
  let finished = () => {};
  state.writing = new Promise((resolve) => { finished = resolve; });
  problem.textContent = "";
  try {
    const answer = await call(holder.version);
    if (answer?.version !== undefined) state.mine.add(answer.version);
    return answer;
  } catch (error) {
    problem.textContent = error.message;
    if (error.code === "setup_changed") {
      await load();
      if (state.setup) holder.version = state.setup.version;
      toast(t("设置已被他人修改，已重新读取。请核对后再次保存。", "Someone else changed the set-up; it has been read "
        + "again. Check, then save again."), "error");
    } else {
      if (error.code === "catalog_keepers_only") learnKeeper({ refused: error.message, followers: null });
      mark(error.fields ?? [], error);
    }
    return null;
  } finally {
    state.busy = false;
    state.writing = null;
    finished();
  }
}

/** After a write of this page: what was done, in a toast, and the set-up read again. */
async function written(answer, done) {
  const n = answer.changes?.length ?? 0;
  toast(n ? t(`${done}，即时生效（第 ${answer.version} 版）。`, `${done}, in effect now (version ${answer.version}).`)
    : t("没有修改：设置与原来相同。", "Nothing changed: the set-up is as it was."), "ok");
  if (answer.followers?.length) { // a change of a county's catalog: how each hall of it followed
    learnKeeper({ refused: null, followers: answer.followers });
    learnNames();
  }
  await load();
}

// Which field of a dialog a refusal is about: by its path ("services.3.letter", "service.letter", "window.stand_in"),
// or, for a check of the whole hall (field "hall"), by what its sentence names.
function localPaths(fields, prefix, index) {
  const out = [];
  for (const f of fields) {
    const path = String(f.field ?? "");
    const own = [`${prefix}.`, `${prefix}s.${index}.`].find((p) => path.startsWith(p));
    if (own) out.push(path.slice(own.length));
    else if (path === "hall" || path === "") out.push(...byProblem(String(f.problem ?? "")));
  }
  return out;
}

function byProblem(problem) {
  const twice = /sub-item code used twice: ([^,\s]+)/.exec(problem);
  if (twice && state.service) {
    const i = state.service.draft.items.findIndex((x) => x.code === twice[1]);
    return i >= 0 ? [`items.${i}.code`] : [];
  }
  const rules = [
    [/service letter/, "letter"], [/service code/, "code"], [/window id/, "id"], [/B post/, "stand_in"],
    [/primary services|serves no service|unknown services|sub-item/, "services"],
    [/^bundle/, "bundle"],
  ];
  return rules.filter(([pattern]) => pattern.test(problem)).map(([, path]) => path);
}

function markInvalid(root, paths) {
  for (const node of root.querySelectorAll(".invalid")) node.classList.remove("invalid");
  for (const node of root.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  let first = null;
  for (const path of paths) {
    let node = root.querySelector(`[data-path="${CSS.escape(path)}"]`);
    // A deeper path than the dialog has (items.0.materials.2): its nearest part that the dialog shows.
    for (let parts = path.split("."); !node && parts.length > 1;) {
      parts = parts.slice(0, -1);
      node = root.querySelector(`[data-path="${CSS.escape(parts.join("."))}"]`);
    }
    if (!node) continue;
    node.classList.add("invalid");
    node.setAttribute("aria-invalid", "true");
    for (let up = node.closest("details"); up; up = up.parentElement?.closest("details")) up.open = true;
    first ??= node;
  }
  if (first) {
    first.scrollIntoView({ block: "center" });
    if (typeof first.focus === "function") first.focus({ preventScroll: true });
  }
}

function clearInvalid(node) {
  node.classList.remove("invalid");
  node.removeAttribute("aria-invalid");
}

// -- a dialog's fields --------------------------------------------------------------------------------------------------
let fieldSeq = 0;

function field(path, text, input, hint = null, cls = "") {
  fieldSeq += 1;
  input.id ||= `f${fieldSeq}`;
  input.dataset.path = path;
  return el("div", { class: `field ${cls}`.trim() }, el("label", { for: input.id }, text), input,
    hint ? el("small", {}, hint) : null);
}

/** An input bound to ``obj[key]``: typing changes the draft (``parse`` reads the text). */
function bound(tag, obj, key, attrs = {}, { parse = (v) => v, show = (v) => v ?? "", after = () => {} } = {}) {
  const node = el(tag, { ...attrs, oninput: (event) => {
    obj[key] = parse(event.target.value, event.target);
    clearInvalid(event.target);
    after(event.target);
  } });
  node.value = show(obj[key]);
  return node;
}

const upper = (v, node) => {
  const up = v.toUpperCase();
  if (up !== v) {
    const at = node.selectionStart;
    node.value = up;
    node.setSelectionRange(at, at);
  }
  return up.trim();
};
const minutesIn = (optional) => ({
  parse: (v) => (v.trim() === "" ? (optional ? null : Number.NaN) : Math.round(Number(v) * 60)),
  show: (s) => (s === null || s === undefined || Number.isNaN(s) ? "" : trimNumber(s / 60)),
});
const linesIn = {
  parse: (v) => v.split("\n").map((x) => x.trim()).filter(Boolean),
  show: (xs) => (xs ?? []).join("\n"),
};

// -- a service: its dialog ----------------------------------------------------------------------------------------------
function nextLetter() {
  const used = new Set(services().map((s) => s.letter));
  return [..."ABCDEFGHIJKLMNOPQRSTUWXZ"].find((c) => !used.has(c)) ?? "";
}

const blankItem = () => ({ code: "", name_zh: "", name_en: "", materials: [], forms: [], legal_basis: [],
  promised_days: 0, handling_s: null, notes: "" });

function openService(code = null) {
  const s = code ? findService(code) : null;
  if (code && !s) return;
  state.service = {
    mode: s ? "edit" : "add", version: state.setup.version,
    draft: s ? structuredClone(s) : { code: "", letter: nextLetter(), name_zh: "", name_en: "", target_wait_s: 900,
      handling_s: 600, items: [], bundle: [] },
    open: new Set(),
  };
  $("s-problem").textContent = "";
  $("s-note").hidden = true;
  renderServiceDialog();
  $("service-dialog").showModal();
  $("service-body").querySelector(s ? '[data-path="name_zh"]' : '[data-path="code"]').focus();
}

function renderServiceDialog() {
  const d = state.service;
  if (!d) return;
  const s = d.draft;
  const adding = d.mode === "add";
  $("service-title").textContent = adding ? t("新增业务", "Add a service")
    : t(`修改业务：${s.name_zh}（${s.code}）`, `Change ${bilingual(s.name_zh, s.name_en)} (${s.code})`);
  $("s-save").textContent = adding ? t("新增业务", "Add the service") : t("保存", "Save");
  const code = bound("input", s, "code", { maxlength: 8, autocomplete: "off", spellcheck: "false", class: "mono",
    readonly: adding ? null : true, placeholder: "SOC" }, { parse: upper });
  const letter = bound("input", s, "letter", { maxlength: 1, autocomplete: "off", class: "mono letter-input" },
    { parse: upper });
  const plain = services().filter((x) => !x.bundle?.length && x.code !== s.code);
  const inBundle = services().filter((x) => x.code !== s.code && (x.bundle ?? []).includes(s.code));
  $("service-body").replaceChildren(
    el("div", { class: "grid-fields" },
      field("code", t("业务代码", "Code"), code, adding ? t("1–8 位大写字母或数字，以字母开头；保存后不能修改。",
        "1–8 capital letters or digits, starting with a letter; fixed once saved.")
        : t("业务代码不能修改；如需更改，请新增业务后删除本业务。", "The code is fixed: to change it, add a new service and remove this one.")),
      field("letter", t("号票字母", "Ticket letter"), letter, t("A–Z 中的一个，V、Y 除外。", "One of A–Z, except V and Y.")),
      field("name_zh", t("中文名称", "Chinese name"), bound("input", s, "name_zh", { maxlength: 40, autocomplete: "off" })),
      field("name_en", t("英文名称", "English name"), bound("input", s, "name_en", { maxlength: 80, autocomplete: "off" })),
      field("target_wait_s", t("目标等候（分钟）", "Target wait (minutes)"),
        bound("input", s, "target_wait_s", { type: "number", min: 1, step: "any", inputmode: "decimal" }, minutesIn(false)),
        t("超过即为超时等候，看板提醒。", "Waits beyond it show as over target.")),
      field("handling_s", t("预计办理（分钟）", "Expected handling (minutes)"),
        bound("input", s, "handling_s", { type: "number", min: 1, step: "any", inputmode: "decimal" }, minutesIn(false)),
        t("估算等候时间的起点，之后按实际办理时间修正。", "Where the estimated waits start; then learnt from real handling times."))),
    el("fieldset", { class: "field bundle-field", dataset: { path: "bundle" } },
      el("legend", {}, t("“一件事”联办主题：包含的业务", "Theme bundle (一件事): the services it covers")),
      el("small", {}, inBundle.length
        ? t(`本业务属于联办主题 ${list(inBundle.map((x) => bilingual(x.name_zh, x.name_en)))}，不能再作为联办主题。`,
          `This service is part of ${list(inBundle.map((x) => bilingual(x.name_zh, x.name_en)))}, so it cannot be a bundle itself.`)
        : t("普通业务不勾选。勾选两项及以上即为联办主题：一张号办理全部所选业务，由能办理全部业务的综合窗口受理。",
          "Leave empty for a plain service. Tick two or more to make a bundle: one ticket for them all, served at a window "
          + "that serves every one of them.")),
      el("div", { class: "check-list" }, plain.map((x) => el("label", { class: "check" },
        el("input", { type: "checkbox", value: x.code, checked: s.bundle.includes(x.code), disabled: inBundle.length ? true : null,
          onchange: (event) => {
            const on = new Set(s.bundle);
            if (event.target.checked) on.add(x.code);
            else on.delete(x.code);
            s.bundle = inOrder(on);
          } }),
        el("span", {}, bilingual(x.name_zh, x.name_en)))))),
    el("section", { class: "items-editor" },
      el("h3", {}, t("办理事项", "Sub-items"), " ", el("small", { class: "mp-count" },
        s.items.length ? t(`${s.items.length} 项`, `${s.items.length}`) : t("无（按业务整体办理）", "none (the service as a whole)"))),
      el("div", { class: "item-list", id: "s-items" }, s.items.map(itemEditor)),
      el("button", { class: "btn add-item", type: "button", id: "s-add-item", onclick: addItem }, t("＋ 添加事项", "+ Add a sub-item"))));
}

function itemSummary(item) {
  const bits = [item.promised_days ? t(`承诺 ${item.promised_days} 个工作日`, `${item.promised_days} working days`)
    : t("即办件", "on the spot")];
  bits.push(t(`材料 ${item.materials.length} 项`, `${item.materials.length} document${item.materials.length === 1 ? "" : "s"}`));
  return bits.join(" · ");
}

function itemEditor(item, i) {
  const d = state.service;
  const summary = el("span", { class: "item-summary" });
  const title = el("span", { class: "item-title" });
  const refresh = () => {
    title.replaceChildren(el("b", { class: "mono" }, item.code || t("（新事项）", "(new)")), " ",
      bilingual(item.name_zh, item.name_en));
    summary.textContent = itemSummary(item);
  };
  refresh();
  const notesCount = el("small", { class: "count" });
  const countNotes = () => { notesCount.textContent = `${item.notes.length}/${NOTES_MAX}`; };
  countNotes();
  const p = (key) => `items.${i}.${key}`;
  const node = el("details", { class: "item-editor", dataset: { index: i }, open: d.open.has(i) ? true : null,
    ontoggle: (event) => { if (event.target.open) d.open.add(i); else d.open.delete(i); } },
  el("summary", {}, title, summary),
  el("div", { class: "grid-fields" },
    field(p("code"), t("事项编码", "Code"), bound("input", item, "code", { maxlength: 16, autocomplete: "off",
      spellcheck: "false", class: "mono", placeholder: `${d.draft.code || "SOC"}-REG` }, { parse: upper, after: refresh })),
    field(p("name_zh"), t("中文名称", "Chinese name"), bound("input", item, "name_zh", { maxlength: 60, autocomplete: "off" },
      { after: refresh })),
    field(p("name_en"), t("英文名称", "English name"), bound("input", item, "name_en", { maxlength: 100, autocomplete: "off" },
      { after: refresh })),
    field(p("promised_days"), t("承诺时限（工作日）", "Promised (working days)"), bound("input", item, "promised_days",
      { type: "number", min: 0, step: 1 }, { parse: (v) => (v.trim() === "" ? 0 : Number(v)), show: String, after: refresh }),
    t("0 为即办件。", "0: done on the spot.")),
    field(p("handling_s"), t("预计办理（分钟）", "Handling (minutes)"), bound("input", item, "handling_s",
      { type: "number", min: 1, step: "any", placeholder: t("同业务", "as the service") }, minutesIn(true)),
    t("不填则按业务的预计办理时间。", "Empty: the service's."))),
  materialsEditor(item, i, refresh),
  el("div", { class: "grid-two" },
    field(p("forms"), t("申请表（每行一项）", "Forms (one a line)"), bound("textarea", item, "forms", { rows: 3 }, linesIn)),
    field(p("legal_basis"), t("设定依据（每行一条）", "Legal basis (one a line)"),
      bound("textarea", item, "legal_basis", { rows: 3 }, linesIn))),
  field(p("notes"), t("一次性告知：其他须知（收费、领取方式、可否代办等）", "Notice: anything else people must know (fees, "
    + "collection, who may come in their place)"),
  bound("textarea", item, "notes", { rows: 3, maxlength: NOTES_MAX }, { after: countNotes }), null, "notes-field"),
  notesCount,
  el("div", { class: "item-actions" }, el("button", { class: "btn danger remove-item", type: "button", onclick: () => {
    d.draft.items.splice(i, 1);
    d.open = new Set([...d.open].filter((x) => x !== i).map((x) => (x > i ? x - 1 : x)));
    renderServiceDialog();
  } }, t("删除此事项", "Remove this sub-item"))));
  return node;
}

function materialsEditor(item, i, refresh) {
  const d = state.service;
  const rows = item.materials.map((m, k) => {
    const p = (key) => `items.${i}.materials.${k}.${key}`;
    const input = (key, attrs, how) => {
      const node = bound("input", m, key, attrs, how);
      node.dataset.path = p(key);
      return node;
    };
    const original = el("input", { type: "checkbox", checked: m.original ? true : null, "data-path": p("original"),
      onchange: (event) => { m.original = event.target.checked; } });
    return el("tr", { dataset: { index: k } },
      el("td", {}, input("name", { maxlength: 80, autocomplete: "off", "aria-label": t("材料名称", "Document") })),
      el("td", { class: "copies" }, input("copies", { type: "number", min: 0, step: 1, "aria-label": t("复印件份数", "Copies") },
        { parse: (v) => (v.trim() === "" ? 0 : Number(v)), show: String })),
      el("td", { class: "original" }, el("label", { class: "check" }, original, t("验原件", "Original"))),
      el("td", {}, input("note", { maxlength: 120, autocomplete: "off", "aria-label": t("备注", "Note") })),
      el("td", { class: "actions" }, el("button", { class: "btn remove-material", type: "button", title: t("删除此材料", "Remove"),
        "aria-label": t("删除此材料", "Remove"), onclick: () => {
          item.materials.splice(k, 1);
          d.open.add(i);
          renderServiceDialog();
        } }, "✕")));
  });
  return el("div", { class: "materials-field", dataset: { path: `items.${i}.materials` } },
    el("h4", {}, t("申请材料", "Documents to bring")),
    item.materials.length ? el("table", { class: "grid materials" },
      el("thead", {}, el("tr", {}, el("th", {}, t("材料名称", "Document")), el("th", {}, t("复印件份数", "Copies")),
        el("th", {}, t("原件", "Original")), el("th", {}, t("备注", "Note")), el("th", {}))),
      el("tbody", {}, rows)) : el("p", { class: "hint none" }, t("无须提交材料。", "Nothing to bring.")),
    el("button", { class: "btn add-material", type: "button", onclick: () => {
      item.materials.push({ name: "", copies: 1, original: false, note: "" });
      d.open.add(i);
      renderServiceDialog();
      refresh();
      const last = $("service-body").querySelector(`[data-path="items.${i}.materials.${item.materials.length - 1}.name"]`);
      last?.focus();
    } }, t("＋ 添加材料", "+ Add a document")));
}

function addItem() {
  const d = state.service;
  d.draft.items.push(blankItem());
  const i = d.draft.items.length - 1;
  d.open.add(i);
  renderServiceDialog();
  $("service-body").querySelector(`[data-path="items.${i}.code"]`)?.focus();
}

/** The service as PUT sends it: only its fields, lists cleaned. */
function serviceBody(s) {
  return {
    code: s.code.trim(), letter: s.letter.trim(), name_zh: s.name_zh.trim(), name_en: s.name_en.trim(),
    target_wait_s: s.target_wait_s, handling_s: s.handling_s, bundle: [...s.bundle],
    items: s.items.map((i) => ({
      code: i.code.trim(), name_zh: i.name_zh.trim(), name_en: (i.name_en ?? "").trim(),
      materials: i.materials.map((m) => ({ name: m.name.trim(), copies: m.copies, original: Boolean(m.original),
        note: (m.note ?? "").trim() })),
      forms: [...i.forms], legal_basis: [...i.legal_basis], promised_days: i.promised_days,
      handling_s: i.handling_s ?? null, notes: (i.notes ?? "").trim(),
    })),
  };
}

/** What the page itself can tell before asking: [path, sentence] of the first thing wrong, or null. The server checks
 *  the rest (a letter or code used twice, a bundle's members, ...) and its sentence is shown as it says it. */
function serviceProblem(body, adding) {
  const positive = (x) => Number.isFinite(x) && x > 0;
  if (!CODE.test(body.code)) {
    return ["code", t("业务代码须为 1–8 位大写字母或数字，以字母开头，如 SOC。", "A code is 1–8 capital letters or digits, "
      + "starting with a letter, e.g. SOC.")];
  }
  if (adding && findService(body.code)) {
    return ["code", t(`业务代码 ${body.code} 已被「${serviceName(body.code)}」使用，请换一个。`,
      `The code ${body.code} is ${serviceName(body.code)}'s; choose another.`)];
  }
  if (!/^[A-Z]$/.test(body.letter)) return ["letter", t("号票字母须为一个大写字母 A–Z。", "The letter is one capital A–Z.")];
  if (RESERVED_LETTERS.has(body.letter)) {
    return ["letter", t("字母 V 和 Y 留给 VIP 号和预约号，请换一个字母。", "V and Y are kept for VIP and booked tickets; choose "
      + "another letter.")];
  }
  if (!body.name_zh) return ["name_zh", t("请填写业务的中文名称。", "Give the service its Chinese name.")];
  if (!positive(body.target_wait_s)) return ["target_wait_s", t("目标等候须大于 0 分钟。", "The target wait is more than 0.")];
  if (!positive(body.handling_s)) return ["handling_s", t("预计办理须大于 0 分钟。", "The handling time is more than 0.")];
  if (body.bundle.length === 1) {
    return ["bundle", t("联办主题至少包含两项业务；普通业务请不要勾选。", "A bundle covers two services or more; a plain "
      + "service ticks none.")];
  }
  const codes = new Set();
  for (const [i, item] of body.items.entries()) {
    const n = i + 1;
    if (!ITEM_CODE.test(item.code)) {
      return [`items.${i}.code`, t(`第 ${n} 个事项：事项编码须为 1–16 位大写字母、数字或短横线，以字母开头，如 SOC-REG。`,
        `Sub-item ${n}: its code is 1–16 capital letters, digits or dashes, starting with a letter, e.g. SOC-REG.`)];
    }
    if (codes.has(item.code)) return [`items.${i}.code`, t(`事项编码 ${item.code} 重复。`, `The code ${item.code} is used twice.`)];
    codes.add(item.code);
    if (!item.name_zh) return [`items.${i}.name_zh`, t(`第 ${n} 个事项：请填写中文名称。`, `Sub-item ${n}: give its Chinese name.`)];
    if (!Number.isInteger(item.promised_days) || item.promised_days < 0) {
      return [`items.${i}.promised_days`, t(`第 ${n} 个事项：承诺时限须为不小于 0 的整数。`,
        `Sub-item ${n}: the promised days are a whole number, 0 or more.`)];
    }
    if (item.handling_s !== null && !positive(item.handling_s)) {
      return [`items.${i}.handling_s`, t(`第 ${n} 个事项：预计办理须大于 0 分钟，或不填。`,
        `Sub-item ${n}: the handling time is more than 0, or empty.`)];
    }
    for (const [k, m] of item.materials.entries()) {
      if (!m.name) {
        return [`items.${i}.materials.${k}.name`, t(`第 ${n} 个事项：第 ${k + 1} 项材料没有名称。`,
          `Sub-item ${n}: document ${k + 1} has no name.`)];
      }
      if (!Number.isInteger(m.copies) || m.copies < 0) {
        return [`items.${i}.materials.${k}.copies`, t(`第 ${n} 个事项：复印件份数须为不小于 0 的整数。`,
          `Sub-item ${n}: copies are a whole number, 0 or more.`)];
      }
    }
  }
  return null;
}

async function saveService(event) {
  event.preventDefault();
  const d = state.service;
  if (!d || state.busy) return;
  const body = serviceBody(d.draft);
  const adding = d.mode === "add";
  const wrong = serviceProblem(body, adding);
  markInvalid($("service-body"), wrong ? [wrong[0]] : []);
  $("s-problem").textContent = wrong ? wrong[1] : "";
  if (wrong) return;
  const index = adding ? services().length : services().findIndex((s) => s.code === body.code);
  $("s-save").disabled = true;
  const answer = await write(d, (version) => api(`/setup/services/${enc(body.code)}`, { method: "PUT",
    token: state.token, body: { version, service: body } }), {
    problem: $("s-problem"),
    mark: (fields) => markInvalid($("service-body"), localPaths(fields, "service", index)),
  });
  $("s-save").disabled = false;
  if (!answer) return;
  $("service-dialog").close();
  state.service = null;
  await written(answer, adding ? t(`已新增业务「${body.name_zh}」`, `Added ${body.name_en || body.name_zh}`)
    : t(`业务「${body.name_zh}」已保存`, `${body.name_en || body.name_zh} saved`));
}

function askRemoveService(s) {
  const at = windows().filter((w) => w.services.includes(s.code)).map((w) => w.id);
  confirmDialog({
    title: t(`删除业务「${s.name_zh}」（${s.letter}，${s.code}）？`, `Remove ${bilingual(s.name_zh, s.name_en)} (${s.letter}, ${s.code})?`),
    text: t(`删除后不再为其取号和预约${at.length ? `，${list(at.map(postName))}不再办理它` : ""}。仍有人等候或正在办理时不能删除。`,
      `No more tickets or bookings are taken for it${at.length ? `, and ${list(at.map(postName))} stop serving it` : ""}. `
      + "It cannot be removed while anyone waits for it or is being served."),
    ok: t("删除业务", "Remove the service"),
    run: (version) => api(`/setup/services/${enc(s.code)}?version=${version}`, { method: "DELETE", token: state.token }),
    done: (answer) => written(answer, t(`已删除业务「${s.name_zh}」`, `Removed ${bilingual(s.name_zh, s.name_en)}`)),
  });
}

// -- a window: its dialog ---------------------------------------------------------------------------------------------
function nextWindowId() {
  const numbers = windows().map((w) => Number(w.id)).filter(Number.isInteger);
  return String(numbers.length ? Math.max(...numbers) + 1 : windows().length + 1);
}

function openWindow(id = null) {
  const w = id ? findWindow(id) : null;
  if (id && !w) return;
  const only = new Map();
  for (const code of w?.items ?? []) {
    const owner = itemOwner(code)?.code;
    if (!owner) continue;
    if (!only.has(owner)) only.set(owner, new Set());
    only.get(owner).add(code);
  }
  const newId = nextWindowId();
  state.window = {
    mode: w ? "edit" : "add", version: state.setup.version,
    draft: w ? { id: w.id, name: w.name, kind: w.kind, stand_in: w.stand_in ?? "", services: new Set(w.services),
      primary: new Set(w.primary), only }
      : { id: newId, name: `${newId}号窗口`, kind: "comprehensive", stand_in: "", services: new Set(), primary: new Set(),
        only },
    namedByHand: Boolean(w),
  };
  $("w-problem").textContent = "";
  $("w-note").hidden = true;
  renderWindowDialog();
  $("window-dialog").showModal();
  $("window-body").querySelector(w ? '[data-path="name"]' : '[data-path="id"]').focus();
}

function setIn(set, value, on) {
  if (on) set.add(value);
  else set.delete(value);
}

/** Tick or untick a service; a bundle (一件事) and its members go together, since a window takes a bundle whole. */
function toggleService(s, on) {
  const d = state.window.draft;
  setIn(d.services, s.code, on);
  if (on) {
    for (const m of s.bundle ?? []) d.services.add(m);
  } else {
    d.primary.delete(s.code);
    d.only.delete(s.code);
    for (const bundle of services().filter((b) => (b.bundle ?? []).includes(s.code) && d.services.has(b.code))) {
      d.services.delete(bundle.code);
      d.primary.delete(bundle.code);
    }
  }
  renderWindowDialog();
}

function serviceRow(s) {
  const d = state.window.draft;
  const serves = d.services.has(s.code);
  const only = d.only.get(s.code);
  const items = s.items ?? [];
  return el("li", { class: `svc${serves ? " on" : ""}`, dataset: { code: s.code } },
    el("label", { class: "serve" },
      el("input", { type: "checkbox", class: "serve", value: s.code, checked: serves ? true : null,
        onchange: (event) => toggleService(s, event.target.checked) }),
      el("span", { class: "letter" }, s.letter), el("b", {}, bilingual(s.name_zh, s.name_en)),
      s.bundle?.length ? el("span", { class: "mp-sub" }, t(`一件事：含 ${list(s.bundle.map(serviceName))}，须同时办理`,
        `bundle of ${list(s.bundle.map(serviceName))}, served together`)) : null),
    el("label", { class: "primary" },
      el("input", { type: "checkbox", class: "primary", value: s.code, checked: d.primary.has(s.code) ? true : null,
        disabled: serves ? null : true,
        onchange: (event) => { setIn(d.primary, s.code, event.target.checked); renderWindowDialog(); } }),
      t("优先叫号", "Call first")),
    items.length && serves ? el("div", { class: "items" },
      el("label", { class: "mode" }, el("input", { type: "radio", name: `mode-${s.code}`, value: "all", checked: only ? null : true,
        onchange: () => { d.only.delete(s.code); renderWindowDialog(); } }), t("全部事项", "Every sub-item")),
      el("label", { class: "mode" }, el("input", { type: "radio", name: `mode-${s.code}`, value: "only", checked: only ? true : null,
        onchange: () => { d.only.set(s.code, new Set()); renderWindowDialog(); } }), t("只办以下事项：", "Only these:")),
      only ? el("div", { class: "item-checks" }, items.map((i) => el("label", { class: "item" },
        el("input", { type: "checkbox", class: "item", value: i.code, checked: only.has(i.code) ? true : null,
          onchange: (event) => setIn(only, i.code, event.target.checked) }),
        bilingual(i.name_zh, i.name_en)))) : null) : null);
}

function renderWindowDialog() {
  const dw = state.window;
  if (!dw) return;
  const d = dw.draft;
  const adding = dw.mode === "add";
  $("window-title").textContent = adding ? t("新增窗口", "Add a window") : t(`修改窗口：${d.id}号窗口`, `Change window ${d.id}`);
  $("w-save").textContent = adding ? t("新增窗口", "Add the window") : t("保存", "Save");
  const id = bound("input", d, "id", { maxlength: 8, autocomplete: "off", spellcheck: "false", class: "mono",
    readonly: adding ? null : true }, { parse: (v) => v.trim(), after: (node) => {
    if (!dw.namedByHand) {
      d.name = d.id ? `${d.id}号窗口` : "";
      const name = $("window-body").querySelector('[data-path="name"]');
      if (name) name.value = d.name;
    }
    clearInvalid(node);
  } });
  const name = bound("input", d, "name", { maxlength: 40, autocomplete: "off" }, {
    after: () => { dw.namedByHand = true; } });
  const kind = bound("select", d, "kind", { onchange: (event) => { d.kind = event.target.value; } });
  kind.replaceChildren(...Object.entries(KIND_TEXT).map(([value, pair]) => el("option", { value }, tt(pair))));
  kind.value = d.kind;
  const others = windows().filter((w) => w.id !== d.id);
  const standIn = el("select", { onchange: (event) => { d.stand_in = event.target.value; clearInvalid(event.target); } },
    el("option", { value: "" }, t("不设B岗", "No B post")),
    others.map((w) => el("option", { value: w.id }, w.name === `${w.id}号窗口` ? postName(w.id) : `${postName(w.id)} · ${w.name}`)));
  standIn.value = d.stand_in ?? "";
  const servicesList = el("ul", { class: "svc-list", "data-path": "services", tabindex: -1 }, services().map(serviceRow));
  $("window-body").replaceChildren(
    el("div", { class: "grid-fields" },
      field("id", t("窗口编号", "Id"), id, adding ? t("1–8 位字母、数字或短横线，如 13；保存后不能修改。",
        "1–8 letters, digits or dashes, e.g. 13; fixed once saved.") : t("窗口编号不能修改。", "The id is fixed.")),
      field("name", t("窗口名称（屏幕上显示）", "Name (as screens show it)"), name),
      field("kind", t("窗口类型", "Kind"), kind, t("综合窗口受理多项业务；专业窗口只办专门业务。",
        "A comprehensive window serves many services; a special one its own.")),
      field("stand_in", t("B岗（AB岗接替窗口）", "B post (stands in)"), standIn, t("本窗口人员离岗或退出时，由此窗口接替。",
        "Takes over when this window's staff leave their post or sign out."))),
    el("fieldset", { class: "field services-field" },
      el("legend", {}, t("办理业务", "Services"), " ", el("small", { class: "mp-count" },
        t(`已选 ${d.services.size} 项，优先 ${d.primary.size} 项`, `${d.services.size} chosen, ${d.primary.size} first`))),
      el("small", {}, t("勾选本窗口办理的业务；“优先叫号”的业务先于其他业务叫号。业务下可限定本窗口只办部分事项。",
        "Tick what this window serves; the ones marked “call first” are called before the others. Of a service, a "
        + "window may serve only some sub-items.")),
      servicesList),
    el("p", { class: "hint" }, t("保存后，新的业务技能从本窗口的下一次叫号起生效；新增的窗口可立即开窗。",
      "Once saved, the new skills apply from the window's next call; a new window can be opened at once.")));
}

function windowBody(d) {
  const items = [];
  for (const code of inOrder(d.services)) {
    const only = d.only.get(code);
    if (only) items.push(...(findService(code)?.items ?? []).map((i) => i.code).filter((i) => only.has(i)));
  }
  return { id: d.id.trim(), name: d.name.trim(), kind: d.kind, services: inOrder(d.services),
    primary: inOrder(d.primary).filter((c) => d.services.has(c)), items, stand_in: d.stand_in || null };
}

function windowProblem(body, adding) {
  if (!WINDOW_ID.test(body.id)) return ["id", t("窗口编号须为 1–8 位字母、数字或短横线。", "An id is 1–8 letters, digits or dashes.")];
  if (adding && findWindow(body.id)) {
    return ["id", t(`已有${body.id}号窗口，请换一个编号。`, `Window ${body.id} exists already; choose another id.`)];
  }
  if (!body.name) return ["name", t("请填写窗口名称。", "Give the window a name.")];
  if (!body.services.length) {
    return ["services", t("请至少选择一项业务：窗口不能什么都不办。", "Choose at least one service: a window must serve something.")];
  }
  for (const [code, only] of state.window.draft.only) {
    if (body.services.includes(code) && !only.size) {
      return ["services", t(`请为${serviceName(code)}至少勾选一个事项，或选“全部事项”。`,
        `Tick at least one sub-item of ${serviceName(code)}, or choose “Every sub-item”.`)];
    }
  }
  return null;
}

async function saveWindow(event) {
  event.preventDefault();
  const dw = state.window;
  if (!dw || state.busy) return;
  const body = windowBody(dw.draft);
  const adding = dw.mode === "add";
  const wrong = windowProblem(body, adding);
  markInvalid($("window-body"), wrong ? [wrong[0]] : []);
  $("w-problem").textContent = wrong ? wrong[1] : "";
  if (wrong) return;
  const index = adding ? windows().length : windows().findIndex((w) => w.id === body.id);
  $("w-save").disabled = true;
  const answer = await write(dw, (version) => api(`/setup/windows/${enc(body.id)}`, { method: "PUT", token: state.token,
    body: { version, window: body } }), {
    problem: $("w-problem"),
    mark: (fields) => markInvalid($("window-body"), localPaths(fields, "window", index)),
  });
  $("w-save").disabled = false;
  if (!answer) return;
  $("window-dialog").close();
  state.window = null;
  await written(answer, adding ? t(`已新增「${body.name}」，可以开窗`, `Added “${body.name}”, ready to open`)
    : t(`「${body.name}」已保存`, `“${body.name}” saved`));
  // A window that serves every member of a theme bundle is given the bundle by the hall's rule: say so.
  const given = (findWindow(body.id)?.services ?? []).filter((c) => !body.services.includes(c));
  if (given.length) {
    toast(t(`「${body.name}」已保存。它能办理全部成员业务，按规则同时承接一件事：${list(given.map(serviceName))}。`,
      `“${body.name}” saved. It serves every member, so by the hall's rule it also takes ${list(given.map(serviceName))}.`),
    "ok");
  }
}

function askRemoveWindow(w) {
  const bPostOf = windows().filter((x) => x.stand_in === w.id).map((x) => x.id);
  confirmDialog({
    title: t(`删除「${w.name}」？`, `Remove ${windowName(w)}?`),
    text: t(`删除后该窗口不再叫号${bPostOf.length ? `，${list(bPostOf.map(postName))}将不再有B岗` : ""}。须先关窗、该窗口无人上岗，`
      + "且没有转至该窗口等候的号票。",
    `The window calls no more${bPostOf.length ? `, and ${list(bPostOf.map(postName))} lose their B post` : ""}. It must be `
      + "closed first, with nobody signed in at it and no ticket transferred to it waiting."),
    ok: t("删除窗口", "Remove the window"),
    run: (version) => api(`/setup/windows/${enc(w.id)}?version=${version}`, { method: "DELETE", token: state.token }),
    done: (answer) => written(answer, t(`已删除「${w.name}」`, `Removed ${windowName(w)}`)),
  });
}

// -- the confirm dialog -----------------------------------------------------------------------------------------------
function confirmDialog({ title, text, ok, run, done }) {
  state.confirm = { run, done, version: state.setup.version };
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = ok;
  $("confirm-problem").textContent = "";
  $("confirm").showModal();
}

async function confirmed(event) {
  event.preventDefault();
  const c = state.confirm;
  if (!c || state.busy) return;
  $("confirm-ok").disabled = true;
  const answer = await write(c, c.run, { problem: $("confirm-problem") });
  $("confirm-ok").disabled = false;
  if (!answer) return;
  $("confirm").close();
  state.confirm = null;
  await c.done(answer);
}

// -- the calendar -------------------------------------------------------------------------------------------------------
function calendarOf(cfg) {
  return {
    hours: (cfg.hours ?? []).map((h) => ({ start: h.start.slice(0, 5), end: h.end.slice(0, 5) })),
    holidays: [...(cfg.holidays ?? [])].sort(), workdays: [...(cfg.workdays ?? [])].sort(),
  };
}

const calendarJson = (c) => JSON.stringify({ hours: c.hours.map((h) => `${h.start}-${h.end}`),
  holidays: [...c.holidays].sort(), workdays: [...c.workdays].sort() });

function takeCalendar() {
  const cfg = config();
  if (!cfg) return;
  const draft = calendarOf(cfg);
  state.calendar = { version: state.setup.version, draft, base: calendarJson(draft) };
  $("calendar-problem").textContent = "";
}

const calendarDirty = () => Boolean(state.calendar) && calendarJson(state.calendar.draft) !== state.calendar.base;

function renderCalendar() {
  const c = state.calendar;
  if (!c) return;
  const hours = c.draft.hours;
  const rows = [];
  hours.forEach((h, i) => {
    if (i > 0) rows.push(el("li", { class: "gap", dataset: { gap: i } }));
    const time = (key, text) => el("input", { type: "time", class: key, value: h[key], required: true, "aria-label": text,
      "data-path": `hours.${i}.${key}`, oninput: (event) => { h[key] = event.target.value; clearInvalid(event.target);
        calendarBits(); } });
    rows.push(el("li", { class: "session", dataset: { index: i } },
      el("span", { class: "session-no" }, t(`第 ${i + 1} 时段`, `Session ${i + 1}`)),
      time("start", t(`第 ${i + 1} 时段开始`, `Session ${i + 1} starts`)), el("span", { class: "to" }, t("至", "to")),
      time("end", t(`第 ${i + 1} 时段结束`, `Session ${i + 1} ends`)),
      el("span", { class: "length" }),
      el("button", { class: "btn remove-session", type: "button", disabled: hours.length <= 1 ? true : null,
        title: t("删除此时段", "Remove the session"), "aria-label": t("删除此时段", "Remove the session"),
        onclick: () => { hours.splice(i, 1); renderCalendar(); } }, "✕")));
  });
  $("sessions").replaceChildren(...rows);
  $("add-session").disabled = hours.length >= MAX_SESSIONS;
  renderDays("holidays");
  renderDays("workdays");
  calendarBits();
}

/** What changes as times are typed: each session's length, the gaps (lunch), the day's total, unsaved or not. */
function calendarBits() {
  const c = state.calendar;
  const hours = c.draft.hours;
  let total = 0;
  hours.forEach((h, i) => {
    const start = clockMinutes(h.start);
    const end = clockMinutes(h.end);
    const node = $("sessions").querySelector(`li.session[data-index="${i}"] .length`);
    const ok = start !== null && end !== null && end > start;
    if (ok) total += end - start;
    if (node) {
      node.textContent = ok ? span(end - start) : t("结束须晚于开始", "ends before it starts");
      node.classList.toggle("bad", !ok);
    }
    const gap = i > 0 ? $("sessions").querySelector(`li.gap[data-gap="${i}"]`) : null;
    if (!gap) return;
    const before = clockMinutes(hours[i - 1].end);
    if (before === null || start === null) gap.textContent = "";
    else if (start > before) {
      gap.textContent = t(`午休 ${hours[i - 1].end}–${h.start}（${span(start - before)}）`,
        `Lunch break ${hours[i - 1].end}–${h.start} (${span(start - before)})`);
    } else if (start === before) gap.textContent = t("紧接上一时段，无午休", "Straight after the last session: no break");
    else gap.textContent = t("与上一时段重叠", "Overlaps the session before");
    gap.classList.toggle("bad", start !== null && before !== null && start < before);
  });
  $("calendar-total").textContent = hours.length ? t(`每日办公 ${span(total)}`, `${span(total)} a day`) : "";
  const dirty = calendarDirty();
  const pending = $("calendar-pending");
  pending.hidden = !dirty;
  if (!dirty) pending.textContent = "";
  else if (c.version === state.setup?.version || !pending.textContent) {
    pending.textContent = t("有尚未保存的修改。", "There are unsaved changes.");
  }
  $("calendar-save").disabled = !dirty || !state.setup;
  $("calendar-reset").disabled = !dirty;
}

function renderDays(which) {
  const c = state.calendar;
  const today = hallDate(config()?.timezone);
  const days = c.draft[which];
  const node = $(which);
  node.replaceChildren(...days.map((day) => {
    const wd = weekday(day);
    const weekend = wd === 0 || wd === 6;
    const odd = which === "holidays" ? weekend : !weekend;
    return el("li", { class: `day${day < today ? " past" : ""}`, dataset: { date: day } },
      el("span", { class: "date" }, day), " ", el("span", { class: "weekday" }, tt(WEEKDAYS[wd])),
      odd ? el("span", { class: "odd", title: which === "holidays" ? t("本为周末", "a weekend day anyway")
        : t("本为工作日，无须列入", "a weekday anyway: no need to list it") }, "⚠") : null,
      el("button", { class: "remove-day", type: "button", title: t("删除", "Remove"), "aria-label": t(`删除 ${day}`, `Remove ${day}`),
        onclick: () => { days.splice(days.indexOf(day), 1); renderCalendar(); } }, "✕"));
  }));
  if (!days.length) node.append(el("li", { class: "none" }, t("无", "None")));
}

function addDay(which, inputId) {
  const c = state.calendar;
  const input = $(inputId);
  const day = input.value;
  const problem = $("calendar-problem");
  problem.textContent = "";
  if (!c) return;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) {
    problem.textContent = t("请先选择日期。", "Choose a date first.");
    input.focus();
    return;
  }
  const other = which === "holidays" ? "workdays" : "holidays";
  if (c.draft[other].includes(day)) {
    problem.textContent = which === "holidays" ? t(`${day} 已列为调休上班日，不能同时为节假日。`,
      `${day} is listed as a workday; it cannot be a holiday too.`)
      : t(`${day} 已列为节假日，不能同时为调休上班日。`, `${day} is listed as a holiday; it cannot be a workday too.`);
    return;
  }
  if (!c.draft[which].includes(day)) {
    c.draft[which].push(day);
    c.draft[which].sort();
  }
  input.value = "";
  renderCalendar();
}

function calendarProblem(draft) {
  if (!draft.hours.length) return ["hours.0.start", t("至少需要一个办公时段。", "At least one session.")];
  for (const [i, h] of draft.hours.entries()) {
    if (!/^\d{2}:\d{2}$/.test(h.start)) return [`hours.${i}.start`, t(`第 ${i + 1} 时段：请填写开始时间。`, `Session ${i + 1}: its start.`)];
    if (!/^\d{2}:\d{2}$/.test(h.end)) return [`hours.${i}.end`, t(`第 ${i + 1} 时段：请填写结束时间。`, `Session ${i + 1}: its end.`)];
    if (h.end <= h.start) {
      return [`hours.${i}.end`, t(`第 ${i + 1} 时段的结束时间须晚于开始时间。`, `Session ${i + 1} must end after it starts.`)];
    }
    if (i > 0 && h.start < draft.hours[i - 1].end) {
      return [`hours.${i}.start`, t(`第 ${i + 1} 时段与上一时段重叠。`, `Session ${i + 1} overlaps the one before.`)];
    }
  }
  return null;
}

async function saveCalendar(event) {
  event.preventDefault();
  const c = state.calendar;
  if (!c || state.busy) return;
  c.draft.hours.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  renderCalendar();
  const wrong = calendarProblem(c.draft);
  markInvalid($("calendar-form"), wrong ? [wrong[0]] : []);
  $("calendar-problem").textContent = wrong ? wrong[1] : "";
  if (wrong) return;
  const body = { hours: c.draft.hours.map((h) => `${h.start}-${h.end}`), holidays: [...c.draft.holidays],
    workdays: [...c.draft.workdays] };
  $("calendar-save").disabled = true;
  const answer = await write(c, (version) => api("/setup/calendar", { method: "PUT", token: state.token,
    body: { version, ...body } }), {
    problem: $("calendar-problem"),
    mark: (fields) => markInvalid($("calendar-form"), fields.map((f) => String(f.field ?? "")
      .replace(/^hours\.(\d+)$/, "hours.$1.start"))),
  });
  calendarBits();
  if (!answer) return;
  state.calendar.base = calendarJson(state.calendar.draft); // saved: what the server reads back replaces it
  await written(answer, t("办公时间已保存", "The opening hours saved"));
  takeCalendar();
  renderCalendar();
}

// -- the set-up file: download, import --------------------------------------------------------------------------------
async function download() {
  const button = $("export");
  button.disabled = true;
  try {
    const headers = { "Accept-Language": lang() === "en" ? "en" : "zh-CN" };
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    let reply;
    try {
      reply = await fetch(`/api/v1/halls/${hall}/setup/export`, { headers });
    } catch {
      throw new Error(t("网络连接中断，请检查网络后重试。", "The network is down; check it and try again."));
    }
    if (!reply.ok) {
      let message = null;
      try { message = (await reply.json())?.error?.message; } catch { message = null; }
      throw new Error(message ?? t(`下载失败（${reply.status}），请稍后重试。`, `The download failed (${reply.status}).`));
    }
    const blob = await reply.blob();
    const name = /filename="([^"]+)"/.exec(reply.headers.get("Content-Disposition") ?? "")?.[1] ?? `${hall}.toml`;
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    toast(t(`已下载 ${name}。`, `Downloaded ${name}.`), "ok");
  } catch (error) {
    toast(error.message, "error");
  } finally {
    button.disabled = !state.setup;
  }
}

async function chooseFile() {
  const file = $("import-file").files?.[0];
  state.importFile = null;
  $("import-error").hidden = true;
  $("import-done").hidden = true;
  $("import-submit").disabled = true;
  const chosen = $("import-chosen");
  chosen.textContent = "";
  chosen.classList.remove("bad");
  if (!file) return;
  const text = await file.text();
  if (text.length > MAX_FILE) {
    chosen.textContent = t(`「${file.name}」过大（${text.length} 字符，最多 ${MAX_FILE}）：这不像大厅设置文件。`,
      `“${file.name}” is too large (${text.length} characters, at most ${MAX_FILE}): not a hall's set-up file.`);
    chosen.classList.add("bad");
    return;
  }
  if (!text.trim()) {
    chosen.textContent = t(`「${file.name}」是空文件。`, `“${file.name}” is empty.`);
    chosen.classList.add("bad");
    return;
  }
  state.importFile = { name: file.name, text };
  chosen.textContent = t(`已选择「${file.name}」，${text.split("\n").length} 行。`,
    `Chosen: “${file.name}”, ${text.split("\n").length} lines.`);
  $("import-submit").disabled = false;
}

function askImport(event) {
  event.preventDefault();
  const file = state.importFile;
  if (!file || !state.setup) return;
  confirmDialog({
    title: t(`用「${file.name}」替换全部设置？`, `Replace the whole set-up with “${file.name}”?`),
    text: t("本大厅的业务、窗口、办公时间及其他规则将全部替换为文件中的内容，立即生效。文件有误时不作任何修改，并指出出错的行。",
      "The hall's services, windows, hours and every other rule become the file's, at once. A file with a mistake "
      + "changes nothing, and the line at fault is named."),
    ok: t("导入并替换", "Import and replace"),
    run: async (version) => {
      try {
        return await api("/setup/import", { method: "POST", token: state.token, body: { version, toml: file.text } });
      } catch (error) {
        if (error.status === 422) {
          showImportError(error, file);
          $("confirm").close();
          state.confirm = null;
          return null;
        }
        throw error;
      }
    },
    done: async (answer) => {
      $("import-error").hidden = true;
      $("import-file").value = "";
      $("import-chosen").textContent = "";
      $("import-submit").disabled = true;
      state.importFile = null;
      const done = $("import-done");
      done.hidden = false;
      done.textContent = t(`已导入「${file.name}」：${answer.changes.length} 处变化，当前第 ${answer.version} 版。`,
        `Imported “${file.name}”: ${answer.changes.length} change${answer.changes.length === 1 ? "" : "s"}, now version `
        + `${answer.version}.`);
      await written(answer, t(`已导入「${file.name}」`, `Imported “${file.name}”`));
    },
  });
}

/** A file the server refused: the line and the field it names, its sentence, and that line of the file. */
function showImportError(error, file) {
  const first = error.fields?.[0] ?? {};
  const where = /^[^\n:]*:(\d+):(?: ([A-Za-z0-9_.]+):)?/.exec(error.message);
  const line = Number(first.line ?? where?.[1]) || null;
  const named = String(first.field ?? "").replace(/^toml(\.|$)/, ""); // the request's field "toml": the file itself
  const fieldName = (named && named !== "hall" ? named : null) ?? where?.[2] ?? null;
  const text = line ? file.text.split("\n")[line - 1] : null;
  const box = $("import-error");
  box.replaceChildren(
    el("p", { class: "where" },
      el("b", {}, t(`「${file.name}」未导入，设置没有任何改动。`, `“${file.name}” was not imported; nothing changed.`)), " ",
      line ? el("span", { class: "badge red", id: "import-line" }, t(`第 ${line} 行`, `Line ${line}`)) : null, " ",
      fieldName ? el("span", { class: "badge", id: "import-field" }, t(`字段 ${fieldName}`, `Field ${fieldName}`)) : null),
    el("p", { class: "what", id: "import-message" }, error.message),
    text !== null && text !== undefined ? el("pre", { class: "line-text" }, el("span", { class: "line-no" }, String(line)),
      text) : null);
  box.hidden = false;
  $("import-done").hidden = true;
}

// -- the live feed: someone changed the set-up ----------------------------------------------------------------------------
async function onEvent(event) {
  if (event.type !== "hall.configured") return;
  if (state.writing) await state.writing; // this page's own write: its answer first, to know the version is ours
  state.lastChange = { at: event.at ?? "", by: event.by ?? null, version: event.version };
  const ours = state.mine.has(event.version);
  if (!state.setup || event.version > state.setup.version) await load();
  else renderStatus();
  if (ours) return;
  toast(t(`设置已由他人更新（第 ${event.version} 版）。`, `The set-up was changed by someone else (version ${event.version}).`));
  const note = t(`其间设置已由他人更新（第 ${event.version} 版）。您的修改仍保留；保存时会提示核对，再次保存即可。`,
    `The set-up was changed meanwhile (version ${event.version}). What you typed is kept; saving asks you to check, `
    + "then save again.");
  if (state.service && $("service-dialog").open && event.version > state.service.version) {
    $("s-note").textContent = note;
    $("s-note").hidden = false;
  }
  if (state.window && $("window-dialog").open && event.version > state.window.version) {
    $("w-note").textContent = note;
    $("w-note").hidden = false;
  }
}

function followChanges() {
  const link = $("link");
  let wasLive = false;
  follow("dashboard", {
    token: state.token, onEvent: (event) => { onEvent(event); },
    onStatus: (status, why) => {
      link.hidden = false;
      showLink(link, status);
      link.title = status === "live" ? t("他人修改设置时，本页自动更新。", "Changes by others show here by themselves.") : "";
      if (status === "refused") toast(why || t("实时连接被拒绝。", "The live feed was refused."), "error");
      if (status === "live" && wasLive) load(); // back after a break: what changed meanwhile
      if (status === "live") wasLive = true;
    },
  });
}

// -- signing in -------------------------------------------------------------------------------------------------------
function refusal(who) {
  if (who.role === "manager" || who.role === "admin") return null;
  const what = who.kind === "session" ? t("账号", "account") : t("令牌", "token");
  return t(`大厅设置只供管理员（manager）和系统管理员（admin）使用；这是${label(ROLE_TEXT, who.role)}（${who.role}）的${what}，`
    + "请用管理员账号登录。",
  `Hall set-up is for the hall's managers and administrators only; this ${what} is a `
    + `${label(ROLE_TEXT, who.role)}'s (${who.role}). Sign in with a manager's account.`);
}

function renderWho() {
  const who = state.who;
  if (!who) return;
  $("who").textContent = who.display_name ? `${roleName(who.role)} · ${who.display_name}` : roleName(who.role);
  $("sign-out").hidden = who.kind !== "session";
}

function redraw() {
  applyLanguage();
  renderWho();
  renderAll();
  if ($("service-dialog").open) renderServiceDialog();
  if ($("window-dialog").open) renderWindowDialog();
  const link = $("link");
  if (!link.hidden && link.dataset.status) showLink(link, link.dataset.status);
}

function wire() {
  $("reload").addEventListener("click", load);
  $("add-service").addEventListener("click", () => openService());
  $("add-window").addEventListener("click", () => openWindow());
  $("service-form").addEventListener("submit", saveService);
  $("s-cancel").addEventListener("click", () => $("service-dialog").close());
  $("service-dialog").addEventListener("close", () => { state.service = null; });
  $("window-form").addEventListener("submit", saveWindow);
  $("w-cancel").addEventListener("click", () => $("window-dialog").close());
  $("window-dialog").addEventListener("close", () => { state.window = null; });
  $("confirm-form").addEventListener("submit", confirmed);
  $("confirm-back").addEventListener("click", () => $("confirm").close());
  $("confirm").addEventListener("close", () => { state.confirm = null; });
  $("authorised-form").addEventListener("submit", saveAuthorised);
  $("authorised-reset").addEventListener("click", () => {
    const a = state.authorised;
    if (!a) return;
    a.draft = new Set(a.base);
    $("authorised-problem").textContent = "";
    syncAuthorised();
  });
  $("authorised-filter").addEventListener("input", () => filterAuthorised());
  $("authorised-filter").addEventListener("keydown", (event) => { // Enter searches; it does not save
    if (event.key === "Enter") event.preventDefault();
  });
  $("authorised-only").addEventListener("change", () => filterAuthorised());
  $("calendar-form").addEventListener("submit", saveCalendar);
  $("calendar-reset").addEventListener("click", () => { takeCalendar(); markInvalid($("calendar-form"), []); renderCalendar(); });
  $("add-session").addEventListener("click", () => {
    const hours = state.calendar?.draft.hours;
    if (!hours || hours.length >= MAX_SESSIONS) return;
    const last = hours[hours.length - 1];
    const from = clockMinutes(last?.end) ?? 8 * 60 + 30;
    const hhmm = (m) => `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
    hours.push({ start: hhmm(Math.min(from, 23 * 60 - 1)), end: hhmm(Math.min(from + 60, 23 * 60 + 59)) });
    renderCalendar();
    $("sessions").querySelector(`li.session[data-index="${hours.length - 1}"] input.start`)?.focus();
  });
  $("add-holiday").addEventListener("click", () => addDay("holidays", "holiday-date"));
  $("add-workday").addEventListener("click", () => addDay("workdays", "workday-date"));
  $("export").addEventListener("click", download);
  $("import-file").addEventListener("change", chooseFile);
  $("import-form").addEventListener("submit", askImport);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !state.busy && state.setup) load();
  });
}

async function main() {
  managerNav();
  applyLanguage();
  languageSwitch($("lang"), redraw);
  $("sign-out").addEventListener("click", async () => { await signOut(PAGE); location.reload(); });
  listState($("setup-state"), "loading", t("正在登录…", "Signing in…"));
  borrowToken(PAGE); // signed in on another manager page: that token (a manager's or an admin's; others are refused)
  const { token, who } = await signIn(PAGE, { title: t("大厅设置登录", "Hall set-up sign-in"), accept: refusal });
  state.token = token;
  state.who = who;
  adminNav(who);
  renderWho();
  $("import-form").hidden = who.role !== "admin";
  $("import-admin-only").hidden = who.role === "admin";
  wire();
  renderStatus();
  await load();
  while (!state.setup) { // nothing to show without it: the reason is on screen, with a button to try at once
    await new Promise((resolve) => { setTimeout(resolve, 5000); });
    await load();
  }
  followChanges();
  document.body.dataset.ready = "1";
}

main();
