// What the guide desk and the kiosk share: finding a service, checking an ID number before it is sent,
// issuing a ticket so that a retried click never makes a second one, keeping the waiting counts fresh,
// sending a citizen on to the nearest halls of the county that can serve them (就近办), and printing the 58 mm
// ticket. The printed ticket page itself (/t/{id}/print) is rendered from here too.

import { api, clock, el, hall, lang, minutes, newKey, showLink, signIn, t } from "/assets/floor/hallq.js";

// -- signing in -----------------------------------------------------------------------------------
const ROLE_NAMES = { guide: ["导办员", "guide"], kiosk: ["自助机", "kiosk"], manager: ["管理员", "manager"],
  staff: ["窗口人员", "window staff"], display: ["显示屏", "display"], admin: ["系统管理员", "admin"] };

/** signIn() for a page only some roles may use; a token of another role is refused, saying why. */
export function signInAs(page, roles, title, { device = false } = {}) {
  const named = (role) => t(ROLE_NAMES[role]?.[0] ?? role, ROLE_NAMES[role]?.[1] ?? role);
  const accept = (who) => (roles.includes(who.role) ? null
    : t(`此页面需要${roles.map(named).join("或")}令牌，当前令牌属于${named(who.role)}。`,
      `This page needs a ${roles.map(named).join(" or ")} token; this one is for a ${named(who.role)}.`));
  return signIn(page, { title, accept, device });
}

// -- services -------------------------------------------------------------------------------------
/** The hall's name and services (with their pinyin and initials, as GET /config gives them). */
export async function loadConfig(token) {
  return api("/config", { token });
}

/**
 * The hall's catalog (受理事典, GET /catalog): every service (bundles among them) with its pinyin, sub-items,
 * materials and promised time, and the bundles with their members and the union of their materials.
 */
export async function loadCatalog(token) {
  return api("/catalog", { token });
}

/** A sub-item's or bundle member's name in the page's language. */
export function itemName(item) {
  return t(item.name, item.name_en || item.name);
}

/** 即办件 / 承诺件（N 个工作日） in the page's language. */
export function promisedLabel(entry) {
  return t(entry.promised, entry.promised_en);
}

/** Why a ticket is in the green channel, as the guide desk and the ticket say it. */
export const GREEN_REASONS = {
  elderly: ["老年人", "elderly"], disabled: ["残疾人", "disabled"], pregnant: ["孕妇", "pregnant"],
  military: ["军人", "military"],
};

/** A ticket's service in the page's language (the ticket carries both names). */
export function ticketServiceName(ticket) {
  return t(ticket.service_name, ticket.service_name_en ?? ticket.service_name);
}

/** A ticket's sub-item in the page's language, or "" (the ticket carries both names). */
export function ticketItemName(ticket) {
  return ticket.item ? t(ticket.item_name ?? ticket.item, ticket.item_name_en ?? ticket.item_name ?? ticket.item) : "";
}

/** The service's name in the page's language (GET /catalog names it ``name``; GET /config ``name_zh``). */
export function serviceName(service) {
  return t(service.name ?? service.name_zh, service.name_en || service.name || service.name_zh);
}

// -- finding a service ----------------------------------------------------------------------------
/** What was typed, as the terms are kept: lower case, without spaces or the marks pinyin is typed with (xi'an). */
function typed(text) {
  return (text ?? "").toLowerCase().replace(/[\s'’·]/g, "");
}

/** A service's or sub-item's terms: Chinese name, code, English name, full pinyin, pinyin initials. */
function termsOf(entry) {
  return [entry.name ?? entry.name_zh, entry.code, entry.name_en, entry.pinyin, entry.initials]
    .filter(Boolean).map(typed);
}

/**
 * What search reads of each catalog service and its sub-items (事项), worked out once when the catalog arrives
 * rather than on every key. A bundle (一件事) is a service of its own and is found by its own name.
 */
export function searchIndex(services) {
  return services.map((service) => ({ service, terms: termsOf(service),
    items: (service.items ?? []).map((item) => ({ item, terms: termsOf(item) })) }));
}

/** 0 when a term starts with ``q``, 1 when one contains it, else null. */
function rankIn(terms, q) {
  if (terms.some((term) => term.startsWith(q))) return 0;
  return terms.some((term) => term.includes(q)) ? 1 : null;
}

/**
 * Services matching what a guide or citizen typed: by Chinese name (any part of it), code, English name, full
 * pinyin or initials ("sb" -> 社保医保, "开餐馆" -> 开餐馆一件事), or by one of their sub-items' (个体工商户 ->
 * 企业开办). Best first, so the likeliest service is the first tile: a term that starts with it, then one that
 * contains it, then a sub-item's term that starts with it, then one that contains it; the hall's order within each.
 * Returns [{ service, items }]: ``items`` are the sub-items that matched when the service matched only by them.
 */
export function matchServices(index, query) {
  const q = typed(query);
  if (!q) return index.map(({ service }) => ({ service, items: [] }));
  const found = [];
  for (const entry of index) {
    const own = rankIn(entry.terms, q);
    if (own !== null) {
      found.push({ rank: own, service: entry.service, items: [] });
      continue;
    }
    const hits = entry.items.map(({ item, terms }) => ({ item, rank: rankIn(terms, q) }))
      .filter((hit) => hit.rank !== null).sort((a, b) => a.rank - b.rank);
    if (hits.length) found.push({ rank: 2 + hits[0].rank, service: entry.service, items: hits.map((hit) => hit.item) });
  }
  return found.sort((a, b) => a.rank - b.rank).map(({ service, items }) => ({ service, items }));
}

/**
 * Put ``tiles`` in ``container`` in that order, only when they are not already: moving a node takes the focus off
 * it, and the waiting counts redraw the tiles every few seconds.
 */
export function orderTiles(container, tiles) {
  const now = [...container.children];
  if (now.length === tiles.length && now.every((node, i) => node === tiles[i])) return;
  container.replaceChildren(...tiles);
}

/** The sub-item a match leads to: the one that matched, when exactly one did. */
export function matchedItem(match) {
  return match.items.length === 1 ? match.items[0] : null;
}

/** "含：个体工商户设立登记" on a tile found by its sub-items, so the guide or citizen sees why it is there. */
export function matchNote(match) {
  if (!match.items.length) return "";
  const names = match.items.map(itemName);
  return t(`含：${names.join("、")}`, `Includes: ${names.join(", ")}`);
}

// -- identity -------------------------------------------------------------------------------------
const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = "10X98765432";

/**
 * Check a resident ID number (GB 11643: 17 digits and a check digit, 0-9 or X) before it is sent, so
 * a mistyped digit is caught at the desk. The mod-11 check digit catches every single wrong digit and
 * every swap of two neighbours. The server checks again (and the birth date, and age for the green
 * channel). Returns { value, problem }: value upper-cased, problem a sentence or "".
 */
export function checkIdNumber(raw) {
  const value = (raw ?? "").replace(/\s+/g, "").toUpperCase();
  if (!/^\d{17}[\dX]$/.test(value)) {
    return { value, problem: t(`身份证号应为 18 位（末位可为 X），当前 ${value.length} 位。`,
      `An ID number has 18 characters (the last may be X); this one has ${value.length}.`) };
  }
  const sum = ID_WEIGHTS.reduce((total, weight, i) => total + weight * Number(value[i]), 0);
  if (ID_CHECK[sum % 11] !== value[17]) {
    return { value, problem: t("身份证号校验位不符，请逐位核对。", "The ID number's check digit does not match; check each digit.") };
  }
  return { value, problem: "" };
}

/** 110105195001011234 -> 110***********1234: an ID number is never shown in clear once entered. */
export function maskId(value) {
  if (!value) return "";
  return value.length <= 7 ? "*".repeat(value.length) : `${value.slice(0, 3)}${"*".repeat(value.length - 7)}${value.slice(-4)}`;
}

/** A mobile number as the server takes it (11 digits from 1, spaces/dashes/+86 allowed). */
export function checkPhone(raw) {
  let value = (raw ?? "").replace(/[\s-]/g, "");
  if (value.startsWith("+86")) value = value.slice(3);
  const ok = /^1[3-9]\d{9}$/.test(value);
  return { value, problem: ok ? "" : t("手机号应为 11 位，以 1 开头。", "A mobile number has 11 digits and starts with 1.") };
}

/** Age in whole years on ``today`` of a checked 18-digit ID number (its birth date is digits 7-14). */
export function ageFromId(value, today = new Date()) {
  const year = Number(value.slice(6, 10));
  const month = Number(value.slice(10, 12));
  const day = Number(value.slice(12, 14));
  const before = today.getMonth() + 1 < month || (today.getMonth() + 1 === month && today.getDate() < day);
  return today.getFullYear() - year - (before ? 1 : 0);
}

// -- appointments -----------------------------------------------------------------------------------
/**
 * What was typed in a check-in box: a 6-digit voucher code, or an 18-character ID number (checked here first).
 * Returns { body, problem }: body for POST /appointments/check-in, problem a sentence or "".
 */
export function readCheckIn(raw) {
  const value = (raw ?? "").replace(/\s+/g, "").toUpperCase();
  if (/^\d{6}$/.test(value)) return { body: { code: value }, problem: "" };
  if (value.length >= 15) {
    const { value: id, problem } = checkIdNumber(value);
    return problem ? { body: null, problem } : { body: { id_number: id }, problem: "" };
  }
  return { body: null, problem: t("请输入 6 位预约码或 18 位身份证号。", "Enter the 6-digit voucher code or the 18-character ID number.") };
}

/** Check a booking in (POST /appointments/check-in): resolves to { appointment, ticket }, the Y ticket to print. */
export async function checkIn(token, body) {
  return api("/appointments/check-in", { method: "POST", body, token });
}

// -- issuing --------------------------------------------------------------------------------------
/**
 * Issues tickets with an Idempotency-Key per citizen: clicking again after a network failure or a
 * server error sends the same key for the same request, so the server hands back the ticket it may
 * already have made instead of a second one. A changed request or a ticket received starts a new key.
 */
export class Issuer {
  constructor(token) {
    this.token = token;
    this.pending = null; // { fingerprint, key } of the last request that did not end in a ticket
  }

  async issue(body) {
    const fingerprint = JSON.stringify(body);
    if (this.pending?.fingerprint !== fingerprint) this.pending = { fingerprint, key: newKey() };
    const ticket = await api("/tickets", { method: "POST", body, token: this.token, idempotencyKey: this.pending.key });
    this.pending = null;
    return ticket;
  }

  /** Cancel a ticket (guide, manager): the citizen changed their mind or took the wrong service. */
  async cancel(ticketId) {
    return api(`/tickets/${encodeURIComponent(ticketId)}/cancel`, { method: "POST", token: this.token });
  }

  /** The next citizen: whatever happened before, their request gets a key of its own. */
  reset() {
    this.pending = null;
  }
}

// -- 就近办: what other halls of the county serve ------------------------------------------------------
/**
 * What other halls of the county serve and this one does not (GET /nearby/items): [{ service, service_name,
 * service_name_en, item, item_name, item_name_en }], ``item`` null for a whole service without sub-items. A hall
 * of no county network gets an empty list, and its pages show nothing of 就近办.
 */
export async function loadElsewhere(token) {
  return (await api("/nearby/items", { token })).items ?? [];
}

/** The nearest halls that can serve ``service`` (and ``item``): GET /nearby's { here, nearby }, nearest first. */
export async function loadNearby(token, service, item = null) {
  const query = new URLSearchParams({ service });
  if (item) query.set("item", item);
  return api(`/nearby?${query}`, { token });
}

/** An entry's own name in the page's language: its sub-item's, or the whole service's. */
export function elsewhereName(entry) {
  return entry.item ? t(entry.item_name ?? entry.item, entry.item_name_en || entry.item_name || entry.item)
    : t(entry.service_name ?? entry.service, entry.service_name_en || entry.service_name || entry.service);
}

/** An entry's service's name in the page's language. */
export function elsewhereServiceName(entry) {
  return t(entry.service_name ?? entry.service, entry.service_name_en || entry.service_name || entry.service);
}

/** The key of an entry ("SOC/SOC-RETIRE", "TAX/"): the same service and sub-item are the same entry. */
export function elsewhereKey(entry) {
  return `${entry.service}/${entry.item ?? ""}`;
}

/**
 * Entries matching what was typed: by either name or code of the sub-item or its service, or by the service's own
 * search terms (pinyin, initials) when this hall has the service too (``index``, searchIndex of the catalog), so
 * "sb" finds 社保's sub-items elsewhere as it finds the 社保 tile. Every entry when nothing was typed.
 */
export function matchElsewhere(entries, query, index = []) {
  const q = typed(query);
  if (!q) return entries;
  const serviceTerms = new Map(index.map(({ service, terms }) => [service.code, terms]));
  return entries.filter((entry) => [entry.service, entry.item, entry.service_name, entry.service_name_en,
    entry.item_name, entry.item_name_en].filter(Boolean).map(typed).concat(serviceTerms.get(entry.service) ?? [])
    .some((term) => term.includes(q)));
}

/**
 * The entries by service: [{ service, whole, entries }]. The services this hall has too (``services``, its catalog,
 * in its order) first, so 社保's sub-items done elsewhere stand first where 社保 is a tile; then the rest as they came
 * (the server sorts them). Whole services (no sub-items) come last, together in one group (``whole``).
 */
export function groupElsewhere(entries, services = []) {
  const order = new Map(services.map((s, i) => [s.code, i]));
  const rank = (code) => order.get(code) ?? services.length;
  const groups = new Map();
  const whole = [];
  for (const entry of entries) {
    if (!entry.item) { whole.push(entry); continue; }
    if (!groups.has(entry.service)) groups.set(entry.service, { service: entry, whole: false, entries: [] });
    groups.get(entry.service).entries.push(entry);
  }
  const sorted = [...groups.values()].sort((a, b) => rank(a.service.service) - rank(b.service.service));
  return whole.length ? [...sorted, { service: null, whole: true, entries: whole }] : sorted;
}

/** A group's label: its service's name, or "其他业务" for the whole services gathered last. */
export function elsewhereGroupName(group) {
  return group.whole ? t("其他业务", "Other services") : elsewhereServiceName(group.service);
}

/**
 * The entry for a service (and sub-item) a ticket was refused for (422 not_authorised): GET /nearby/items' own when
 * it is there, else named from the catalog the page had (the hall's authorisation changed while the page ran).
 */
export function elsewhereEntry(entries, services, service, item = null) {
  const found = entries.find((e) => e.service === service && (e.item ?? null) === (item ?? null));
  if (found) return found;
  const svc = services.find((s) => s.code === service);
  const sub = svc?.items?.find((i) => i.code === item);
  return { service, item, service_name: svc?.name ?? svc?.name_zh ?? service, service_name_en: svc?.name_en ?? null,
    item_name: sub?.name ?? item, item_name_en: sub?.name_en ?? null };
}

/**
 * What a nearby hall's line is now, as the pages say it: [{ kind, text }] of distance (约2.7公里), waiting (3人等候)
 * and estimated wait (约8分钟); what the server does not know is left out.
 */
export function placeFacts(place) {
  const facts = [];
  const known = (value) => value !== null && value !== undefined;
  if (known(place.distance_km)) {
    facts.push({ kind: "distance", text: t(`约${place.distance_km}公里`, `${place.distance_km} km away`) });
  }
  if (known(place.waiting)) {
    facts.push({ kind: "waiting", text: t(`${place.waiting}人等候`, `${place.waiting} waiting`) });
    if (!place.waiting) facts.push({ kind: "wait", text: t("无需等候", "no wait") });
    else if (known(place.estimated_wait_s)) {
      const m = Math.max(1, Math.round(place.estimated_wait_s / 60));
      const text = m < 60 ? t(`约${m}分钟`, `about ${m} min`)
        : t(`约${Math.floor(m / 60)}小时${m % 60}分钟`, `about ${Math.floor(m / 60)} h ${m % 60} min`);
      facts.push({ kind: "wait", text });
    }
  }
  return facts;
}

/** The nearby halls as list items, nearest first: name, address and their line now (classes nb-*, styled per page). */
export function nearbyPlaceNodes(places) {
  return places.map((place, i) => el("li", { class: "nb-place", dataset: { hall: place.hall } },
    el("span", { class: "nb-rank", "aria-hidden": "true" }, String(i + 1)),
    el("span", { class: "nb-name" }, place.name),
    place.address ? el("span", { class: "nb-address" }, place.address) : null,
    el("span", { class: "nb-facts" },
      ...placeFacts(place).map((fact) => el("span", { class: `nb-fact ${fact.kind}` }, fact.text)))));
}

/**
 * Where else, for one entry at a time (GET /nearby, asked again each time it opens: lines change). ``onChange``
 * is called whenever there is something new to draw; an answer to an earlier ask is dropped. ``status`` is "",
 * "loading", "ok" or "failed"; ``here`` says this hall can serve it after all (its authorisation changed).
 */
export class NearbyLookup {
  constructor(token, onChange) {
    this.token = token;
    this.onChange = onChange;
    this.asked = 0;
    this.reset();
  }

  reset() {
    this.asked += 1;
    Object.assign(this, { entry: null, status: "", here: false, places: [] });
  }

  async open(entry) {
    this.reset();
    this.entry = entry;
    this.status = "loading";
    const asked = this.asked;
    this.onChange();
    let found = null;
    try {
      found = await loadNearby(this.token, entry.service, entry.item);
    } catch {
      found = null;
    }
    if (asked !== this.asked) return; // closed, or another entry asked for since
    Object.assign(this, found ? { status: "ok", here: found.here === true, places: found.nearby ?? [] }
      : { status: "failed" });
    this.onChange();
  }

  retry() {
    if (this.entry) this.open(this.entry);
  }

  close() {
    this.reset();
    this.onChange();
  }

  /** The lead sentence as [before, name, after], the name to be set apart: 本站暂不能办理 X，可就近到： */
  lead() {
    if (!this.entry) return ["", "", ""];
    const name = elsewhereName(this.entry);
    if (this.status === "ok" && this.here) return [t("本站可以办理", "This hall handles "), name, t("。", ".")];
    if (this.status === "ok" && !this.places.length) {
      return [t("本站暂不能办理", "This hall cannot handle "), name, t("。", ".")];
    }
    return [t("本站暂不能办理", "This hall cannot handle "), name, t("，可就近到：", "; the nearest halls that can:")];
  }

  /** What to say besides the halls: looking them up, the look-up failed, or there are none. */
  note() {
    if (this.status === "loading") return t("正在查询附近可办理的网点…", "Looking up the nearest halls…");
    if (this.status === "failed") {
      return t("暂时查不到附近网点，请稍后重试或咨询工作人员。",
        "Could not look up the nearest halls. Try again, or ask the staff.");
    }
    if (this.status === "ok" && this.here) return t("请返回直接取号。", "Go back and take a ticket here.");
    if (this.status === "ok" && !this.places.length) {
      return t("县内其他网点暂时也不能办理，请咨询工作人员。", "No other hall of the county handles it now; please ask the staff.");
    }
    return "";
  }
}

// -- the set-up changing while the page runs --------------------------------------------------------
/** How often a guide desk or kiosk reads its catalog again whatever its snapshots say: sub-items and materials do
 *  not show in a snapshot, and promised dates move on with the day. */
export const CATALOG_EVERY_MS = 60_000;

/**
 * Whether a snapshot's services differ from the catalog's in what a tile shows (a service added, removed, renamed
 * or given another letter): the hall's set-up changed while the page ran, and its catalog is to be read again.
 * Guides and kiosks have no feed to hear it by (hall.configured), but they read a snapshot every few seconds.
 */
export function servicesChanged(services, snap) {
  const shown = (s) => [s.code, s.letter, s.name ?? s.name_zh, s.name_en].join("\u0001");
  const known = new Set(services.map(shown));
  return snap.services.length !== known.size || snap.services.some((line) => !known.has(shown(line)));
}

// -- live counts ----------------------------------------------------------------------------------
/**
 * Poll GET /snapshot every few seconds (guides and kiosks have no feed of their own; a count a few
 * seconds old is fine at a desk). ``onSnapshot`` gets each snapshot; ``statusNode`` (optional) shows
 * whether the last poll worked. Returns { refresh(), stop() }.
 */
export function pollSnapshot(token, { onSnapshot, statusNode = null, everyMs = 5000 }) {
  let timer = null;
  let running = null;
  let stopped = false;
  const refresh = () => {
    if (running) return running;
    running = api("/snapshot", { token }).then((snap) => {
      if (statusNode) showLink(statusNode, "live");
      onSnapshot(snap);
    }).catch((error) => {
      // A refused token will not start working by itself: stop and say so; anything else is retried.
      if (error.status === 401 || error.status === 403) stopped = true;
      if (statusNode) showLink(statusNode, stopped ? "refused" : "reconnecting");
    }).finally(() => {
      running = null;
      clearTimeout(timer);
      if (!stopped) timer = setTimeout(refresh, everyMs);
    });
    return running;
  };
  if (statusNode) showLink(statusNode, "connecting");
  refresh();
  return { refresh, stop() { stopped = true; clearTimeout(timer); } };
}

// -- printing -------------------------------------------------------------------------------------
const printFrames = new Map(); // class -> the frame last printed from: a ticket and a notice never share one

/**
 * Print a ticket: load /t/{id}/print in an invisible frame, wait until it has drawn the ticket (and
 * its QR code), then print that frame, so what prints is exactly the page a reprint would show.
 * ``ticket`` is the ticket as POST /tickets answered it (its ``key`` goes into the QR code). Resolves once the
 * print has been handed to the browser; rejects with the reason it could not.
 */
export function printTicket(ticket) {
  const query = new URLSearchParams({ lang: lang() });
  if (ticket.key) query.set("key", ticket.key);
  return printInFrame("hallq-print-frame", `/t/${encodeURIComponent(ticket.id)}/print?${query}`);
}

/** The address of a ticket's QR code: only whoever holds the ticket's key may have it (the server checks it). */
export function ticketQrSrc(ticketId, key) {
  return `/t/${encodeURIComponent(ticketId)}/qr.svg?key=${encodeURIComponent(key ?? "")}`;
}

/**
 * Print the 一次性告知书 of a sub-item (``item``) or a bundle (``service``), marking the documents numbered in
 * ``missing`` (1-based, as the notice numbers them) as still to bring. It is the notice page, printed from a frame.
 */
export function printNotice({ item = null, service = null, missing = [], paper = null }) {
  const query = new URLSearchParams(item ? { item } : { service });
  if (missing.length) query.set("missing", missing.join(","));
  if (paper) query.set("paper", paper);
  query.set("lang", lang());
  return printInFrame("hallq-notice-frame", `/halls/${hall}/notice?${query}`);
}

function printInFrame(kind, src) {
  printFrames.get(kind)?.remove();
  const frame = el("iframe", { class: kind, title: "print", "aria-hidden": "true", tabindex: "-1", src });
  // Not display:none: a frame without layout prints blank in some browsers.
  frame.style.cssText = "position:fixed;right:0;bottom:0;width:0;height:0;border:0;opacity:0;pointer-events:none";
  printFrames.set(kind, frame);
  return new Promise((resolve, reject) => {
    frame.addEventListener("load", async () => {
      try {
        const win = frame.contentWindow;
        await win.hallqReady;
        win.print(); // no win.focus() first: the desk's keyboard must stay on the desk
        resolve();
      } catch (error) {
        reject(error);
      }
    }, { once: true });
    document.body.append(frame);
  });
}

// -- the printed ticket page ------------------------------------------------------------------------
/** The hall's name, filled in by the server: the ticket page has no token to ask with. */
function hallName() {
  return document.querySelector('meta[name="hallq-hall-name"]')?.content ?? "";
}

function whenLoaded(img) {
  if (img.complete && img.naturalWidth) return Promise.resolve();
  return new Promise((resolve) => {
    img.addEventListener("load", resolve, { once: true });
    img.addEventListener("error", resolve, { once: true }); // print without it rather than never
  });
}

/** Render /t/{id}/print; window.hallqReady resolves when it is ready to print (rejects if it cannot be). */
export function renderTicketPage() {
  const ticketId = document.querySelector('meta[name="hallq-ticket"]')?.content ?? "";
  const ready = (async () => {
    const [ticket, name] = await Promise.all([api(`/tickets/${encodeURIComponent(ticketId)}`), hallName()]);
    fillTicket(ticket, name);
    const qr = document.getElementById("qr");
    if (qr.getAttribute("src")) await whenLoaded(qr); // an <img> without a source never loads
    document.body.classList.add("ready");
  })();
  window.hallqReady = ready;
  ready.then(() => {
    if (new URLSearchParams(location.search).get("print") === "1") window.print();
  }).catch((error) => {
    document.getElementById("ticket").replaceChildren(
      el("p", { class: "failed", role: "alert" }, error.message));
  });
  document.getElementById("print-now")?.addEventListener("click", () => window.print());
  return ready;
}

/** As big as the 48 mm printable width allows, however long the number grows (A001, VB1234). */
function fitWidth(node, maxMm) {
  for (let size = maxMm; size >= 6; size -= 0.5) {
    node.style.fontSize = `${size}mm`;
    if (node.scrollWidth <= node.clientWidth) return;
  }
}

function fillTicket(ticket, name) {
  const set = (id, text) => { document.getElementById(id).textContent = text; };
  document.title = `${ticket.number} · ${t("排队号票", "Queue ticket")}`;
  set("hall-name", name || t("政务服务中心", "Government Service Centre"));
  const number = document.getElementById("number");
  number.textContent = ticket.number;
  fitWidth(number, 18);
  set("service", ticketServiceName(ticket));
  set("item", ticketItemName(ticket)); // the sub-item, so the window knows what the citizen came for
  document.getElementById("item").hidden = !ticket.item;
  set("issued", `${ticket.issued_at.slice(0, 10)} ${clock(ticket.issued_at)}`);
  const waiting = ticket.status === "waiting";
  document.getElementById("line").hidden = !waiting;
  if (waiting) {
    set("ahead", t(`前面还有 ${ticket.ahead ?? 0} 人`, `${ticket.ahead ?? 0} ahead of you`));
    set("wait", t(`预计等候 ${minutes(ticket.estimated_wait_s)}`, `Estimated wait ${minutes(ticket.estimated_wait_s)}`));
  }
  const mark = document.getElementById("mark");
  const marks = { green: t("绿色通道", "Green channel"), vip: t("优先", "Priority"),
    appointment: t("预约", "Booked") };
  const status = { cancelled: t("已取消", "Cancelled"), missed: t("已过号", "Missed"), done: t("已办结", "Done"),
    called: t("已叫号", "Called"), serving: t("办理中", "Being served") };
  mark.textContent = status[ticket.status] ?? marks[ticket.priority] ??
    (ticket.channel === "appointment" ? marks.appointment : "");
  mark.hidden = !mark.textContent;
  // The key came in this page's own address (?key=, from printTicket): the ticket as the API reads it has none.
  const key = new URLSearchParams(location.search).get("key");
  const qr = document.getElementById("qr");
  const figure = qr.closest("figure");
  figure.hidden = !key; // no key, no code: the ticket prints without it rather than with a broken image
  // Refused (e.g. 400 unknown_host: the server has no HALLQ_PUBLIC_URL and was reached by a name it does not know).
  qr.addEventListener("error", () => { figure.hidden = true; }, { once: true });
  if (key) qr.src = ticketQrSrc(ticket.id, key);
}
