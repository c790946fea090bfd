// 自助取号机: a portrait touch screen by the door. One tap on a service (a theme bundle, 一件事, is one tile), the
// sub-item if the service has them (skippable), an optional ID number on the screen's own keypad (so people of 60
// and over are put in the green channel by the server), the ticket big on screen and on paper, then back to the
// start by itself so the next person never sees it. Someone who booked checks in with the voucher code or their
// ID number instead and gets a Y ticket. The kiosk grants no priority itself (the server refuses it from a kiosk
// token); the guide desk does. A search box finds a service or sub-item by its name (a Chinese IME types into it) or
// by pinyin initials tapped on the screen's own A-Z keys; a citizen's screen shows names only, never codes or pinyin.
// The hall's set-up may change while the kiosk runs (a service added or renamed): it has no feed, so it reads its
// catalog again when a snapshot's services differ from it (within a poll, 5 s) and every minute.
// In a county's network (就近办) the start screen also lists what other halls of the county serve and this one does
// not; touching one (or a ticket refused as not authorised here) shows, in big type, the nearest halls that can,
// with their lines now, and issues nothing. A hall of no network gets an empty list, and the kiosk shows none of it.

import { applyLanguage, el, lang, languageSwitch, minutes, t, toast } from "/assets/floor/hallq.js";
import {
  CATALOG_EVERY_MS, Issuer, NearbyLookup, checkIdNumber, checkIn, elsewhereEntry, elsewhereGroupName, elsewhereName,
  groupElsewhere, itemName, loadCatalog, loadElsewhere, matchElsewhere, matchNote, matchServices, matchedItem,
  nearbyPlaceNodes, orderTiles, pollSnapshot, printTicket, promisedLabel, readCheckIn, searchIndex, serviceName,
  servicesChanged, signInAs, ticketItemName, ticketQrSrc, ticketServiceName,
} from "./issue.js";

const $ = (id) => document.getElementById(id);
const ID_LENGTH = 18;

// Seconds of no touch before the screen goes back to the start: ?reset=N sets it (tests, or a hall
// that wants it shorter). Halfway through typing an ID number people get three times as long.
const RESET_S = (() => {
  const asked = Number(new URLSearchParams(location.search).get("reset"));
  return Number.isFinite(asked) && asked > 0 ? asked : 20;
})();
// The start screen waits for ever, unless someone left a search on it: the next person must see every service.
const SEARCH_IDLE_S = RESET_S * 2;
const SEARCH_COUNTDOWN_S = 10; // the start screen's countdown shows only near its end: no hurry while searching
const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const IDLE_S = { start: 0, "item-step": RESET_S * 2, "id-step": RESET_S * 3, "checkin-step": RESET_S * 3,
  done: RESET_S, oops: RESET_S, "nearby-step": RESET_S * 3 };
const COUNTDOWN = { start: "search-countdown", "item-step": "item-countdown", "id-step": "id-countdown",
  "checkin-step": "ci-countdown", done: "done-countdown", oops: "oops-countdown", "nearby-step": "nb-countdown" };
const SCREENS = ["start", "item-step", "id-step", "checkin-step", "done", "oops", "nearby-step"];

const state = {
  token: "",
  services: [], // GET /catalog's services, bundles among them
  index: [], // what search reads of them (searchIndex), made once
  hallName: "",
  bundles: new Map(), // bundle code -> its catalog entry
  lines: new Map(), // service code -> snapshot line
  chosen: null,
  item: null, // the sub-item chosen, if any
  digits: "", // the ID number being typed; cleared whenever the screen changes
  ciDigits: "", // the voucher code or ID number typed to check a booking in; cleared the same way
  ticket: null,
  screen: "start",
  busy: false,
  issuer: null,
  poll: null,
  deadline: 0,
  oops: null, // [zh, en] or a server sentence, so a language switch can redraw it
  retry: null, // resends the request a "try again" is for, after a network or server failure
  catalog: "", // the catalog last applied, as text: a read that changed nothing redraws nothing
  reloading: null, // the catalog read under way, if any
  elsewhere: [], // 就近办: what other halls of the county serve and this one does not (GET /nearby/items)
  elsewhereText: "", // that list as last applied, as text
  elsewhereDrawn: "", // what the 就近办 list last drew (language, search, list, catalog): else nothing redraws
  nearby: null, // NearbyLookup: the nearest halls for the entry the 就近办 screen shows, if one
};

// -- screens and the idle clock ------------------------------------------------------------------
function show(screen) {
  state.screen = screen;
  for (const id of SCREENS) $(id).hidden = id !== screen;
  rearm();
}

const searching = () => Boolean($("k-search").value) || !$("k-letters").hidden;

function rearm() {
  const seconds = IDLE_S[state.screen] || (state.screen === "start" && searching() ? SEARCH_IDLE_S : 0);
  state.deadline = seconds ? Date.now() + seconds * 1000 : 0;
  if (!state.deadline) $("search-countdown").textContent = "";
  countdown();
}

function countdown() {
  if (!state.deadline) return;
  const left = Math.ceil((state.deadline - Date.now()) / 1000);
  if (left <= 0) { backToStart(); return; }
  const node = $(COUNTDOWN[state.screen]);
  if (!node) return;
  if (state.screen !== "start") node.textContent = t(`${left} 秒后自动返回首页`, `Back to the start in ${left} s`);
  else {
    node.textContent = left <= SEARCH_COUNTDOWN_S ? t(`${left} 秒后清除查找`, `The search clears in ${left} s`) : "";
  }
}

/** Back to the start screen. ``keepSearch``: a citizen's own 返回 keeps what they searched; idle and 完成 do not. */
function backToStart({ keepSearch = false } = {}) {
  if (!keepSearch) clearSearch({ close: true });
  state.digits = "";
  state.ciDigits = "";
  state.chosen = null;
  state.item = null;
  state.ticket = null;
  state.oops = null;
  state.retry = null; // with it goes any ID number it carried
  state.issuer.reset();
  state.nearby.reset();
  drawNearby();
  // Nothing of the last citizen stays in the page, hidden or not.
  for (const id of ["d-number", "d-service", "d-item", "d-ahead", "d-wait", "d-printing", "oops-text", "ci-problem"]) {
    $(id).textContent = "";
  }
  $("d-qr").removeAttribute("src");
  drawIdStep();
  drawCheckIn();
  show("start");
  state.poll.refresh();
}

// -- the hall's set-up ----------------------------------------------------------------------------
/** Take the catalog (GET /catalog) the kiosk offers; whether it changed anything. */
function applyCatalog(catalog) {
  const text = JSON.stringify(catalog);
  if (text === state.catalog) return false;
  state.catalog = text;
  state.services = catalog.services;
  state.index = searchIndex(catalog.services);
  state.bundles = new Map(catalog.bundles.map((b) => [b.code, b]));
  state.hallName = catalog.name;
  $("hall-name").textContent = catalog.name;
  buildTiles();
  return true;
}

/** Take what other halls of the county serve (null: the read failed, and the list stays); whether it changed. */
function applyElsewhere(items) {
  if (items === null) return false;
  const text = JSON.stringify(items);
  if (text === state.elsewhereText) return false;
  state.elsewhereText = text;
  state.elsewhere = items;
  return true;
}

/** Read the catalog again (one read at a time); a failed read is tried again by the next snapshot or minute. */
function reloadCatalog() {
  state.reloading ??= Promise.all([loadCatalog(state.token), loadElsewhere(state.token).catch(() => null)])
    .then(([catalog, elsewhere]) => {
      const changed = applyCatalog(catalog);
      if (applyElsewhere(elsewhere) || changed) redraw();
    }, () => {})
    .finally(() => { state.reloading = null; });
}

// -- 1. services ----------------------------------------------------------------------------------
const able = (code) => (state.lines.get(code)?.able_windows ?? 1) > 0;

function buildTiles() {
  $("tiles").replaceChildren();
  for (const service of state.services) {
    const tile = el("button", { type: "button", class: `k-tile${service.is_bundle ? " bundle" : ""}`,
      dataset: { code: service.code },
      onclick: () => choose(service.code, tile.dataset.item || null) },
    el("span", { class: "k-letter" }, service.letter),
    el("span", { class: "k-tile-name" }),
    service.is_bundle ? el("span", { class: "k-tile-bundle" }) : null,
    el("span", { class: "k-tile-hit" }),
    el("span", { class: "k-tile-line" }));
    $("tiles").append(tile);
  }
}

function drawTiles() {
  const matches = new Map(matchServices(state.index, $("k-search").value).map((m) => [m.service.code, m]));
  const tiles = [...$("tiles").children];
  const found = [...matches.keys()].map((code) => tiles.find((tile) => tile.dataset.code === code));
  orderTiles($("tiles"), [...found, ...tiles.filter((tile) => !found.includes(tile))]); // best match first
  $("k-no-match").hidden = drawElsewhere() > 0 || matches.size > 0;
  $("start").classList.toggle("searching", searching());
  $("k-search-clear").disabled = !$("k-search").value;
  for (const tile of $("tiles").children) {
    const service = state.services.find((s) => s.code === tile.dataset.code);
    const line = state.lines.get(service.code);
    const match = matches.get(service.code);
    tile.hidden = !match;
    tile.dataset.item = (match && matchedItem(match)?.code) ?? "";
    tile.querySelector(".k-tile-hit").textContent = match ? matchNote(match) : "";
    // Still tappable when no window handles it: the tap explains, where a dead button would not.
    tile.classList.toggle("off", !able(service.code));
    tile.querySelector(".k-tile-name").textContent = serviceName(service);
    const members = state.bundles.get(service.code)?.members;
    if (members) {
      tile.querySelector(".k-tile-bundle").replaceChildren(el("b", {}, t("一件事", "One stop")),
        members.map((m) => t(m.name, m.name_en)).join(" + "));
    }
    const text = tile.querySelector(".k-tile-line");
    if (!able(service.code)) text.replaceChildren(t("暂无窗口办理", "No window open"));
    else if (line) {
      text.replaceChildren(el("b", {}, t(`${line.waiting} 人等候`, `${line.waiting} waiting`)),
        el("span", {}, t(`预计${minutes(line.estimated_wait_s)}`, `wait ${minutes(line.estimated_wait_s)}`)));
    }
  }
}

// -- 1c. 就近办: what other halls of the county serve, and the nearest of them ---------------------------
/** The list of what other halls serve and this one does not, by service, as the search narrows it; how many. */
function drawElsewhere() {
  const query = $("k-search").value;
  const shown = matchElsewhere(state.elsewhere, query, state.index);
  const drawn = JSON.stringify([lang(), query, state.elsewhereText, state.catalog]); // groups follow the catalog
  if (drawn === state.elsewhereDrawn) return shown.length;
  state.elsewhereDrawn = drawn;
  $("k-elsewhere").hidden = !shown.length;
  $("k-elsewhere-groups").replaceChildren(...groupElsewhere(shown, state.services).map((group) => el("div", {
    class: `k-nb-group${group.whole ? " whole" : ""}`, dataset: { service: group.service?.service ?? "" } },
  el("span", { class: "k-nb-service" }, elsewhereGroupName(group)),
  el("span", { class: "k-nb-items" }, ...group.entries.map((entry) => el("button", { type: "button",
    class: "k-nb-item", dataset: { service: entry.service, item: entry.item ?? "" }, onclick: () => openNearby(entry) },
  elsewhereName(entry)))))));
  return shown.length;
}

/** The 就近办 screen for ``entry``: the nearest halls that can serve it, asked afresh each time (lines change). */
function openNearby(entry) {
  state.chosen = null;
  state.item = null;
  state.digits = "";
  state.nearby.open(entry);
  show("nearby-step");
}

function drawNearby() {
  const lookup = state.nearby;
  if (!lookup) return;
  const [before, name, after] = lookup.lead();
  $("k-nb-lead").replaceChildren(before, name ? el("b", {}, name) : "", after);
  const places = lookup.status === "ok" ? lookup.places : [];
  $("k-nb-places").replaceChildren(...nearbyPlaceNodes(places));
  $("k-nb-places").hidden = !places.length;
  const note = $("k-nb-note");
  note.textContent = lookup.note();
  note.dataset.state = lookup.status;
  note.setAttribute("role", lookup.status === "failed" ? "alert" : "status");
  $("k-nb-retry").hidden = lookup.status !== "failed";
}

function onNearby() {
  drawNearby();
  if (state.nearby.status === "ok" && state.nearby.here) reloadCatalog(); // authorised since: a tile will offer it
}

const NO_WINDOW = ["当前没有窗口办理该业务，请前往导办台咨询", "No window is serving this right now. Please ask at the guide desk."];

/** Choose a service; ``item``, the sub-item search found it by, is taken as chosen: straight on to the ID number. */
function choose(code, item = null) {
  if (!able(code)) { oops(NO_WINDOW); return; }
  state.chosen = code;
  state.item = item;
  state.digits = "";
  $("id-problem").textContent = "";
  const service = state.services.find((s) => s.code === code);
  if (service?.items?.length && !item) {
    drawItemStep();
    show("item-step");
    return;
  }
  toIdStep();
}

function toIdStep() {
  drawIdStep();
  show("id-step");
}

// -- 1a. search -----------------------------------------------------------------------------------
function buildLetters() {
  const key = (label, action, attrs = {}) => el("button", { type: "button", class: "k-letter-key", ...attrs,
    onclick: action }, label);
  $("k-letters").replaceChildren(
    ...[...LETTERS].map((letter) => key(letter, () => typeLetter(letter), { dataset: { key: letter } })),
    key("⌫", eraseLetter, { class: "k-letter-key wide", dataset: { key: "del" } }),
    key("", () => showLetters(false), { class: "k-letter-key wide close", dataset: { key: "close" } }));
}

function drawSearch() {
  $("k-search").setAttribute("aria-label", t("查找业务", "Find a service"));
  $("k-letters").querySelector('[data-key="del"]').setAttribute("aria-label", t("删除", "Delete"));
  $("k-letters").querySelector('[data-key="close"]').textContent = t("收起", "Hide");
  $("k-letters-toggle").setAttribute("aria-expanded", $("k-letters").hidden ? "false" : "true");
}

function showLetters(open) {
  $("k-letters").hidden = !open;
  drawSearch();
  drawTiles();
  rearm();
}

function onSearch() {
  drawTiles();
  rearm();
}

function typeLetter(letter) {
  $("k-search").value += letter; // as the key reads; search is the same in either case
  onSearch();
}

function eraseLetter() {
  $("k-search").value = [...$("k-search").value].slice(0, -1).join(""); // a whole character, Chinese ones too
  onSearch();
}

function clearSearch({ close = false } = {}) {
  $("k-search").value = "";
  if (close) $("k-letters").hidden = true;
  drawSearch();
  drawTiles();
}

// -- 1b. the sub-item -----------------------------------------------------------------------------
function drawItemStep() {
  const service = state.services.find((s) => s.code === state.chosen);
  if (!service) return;
  $("i-letter").textContent = service.letter;
  $("i-name").textContent = serviceName(service);
  $("k-items").replaceChildren(...service.items.map((item) => el("button", { type: "button", class: "k-item-btn",
    dataset: { item: item.code }, onclick: () => { state.item = item.code; toIdStep(); } },
  el("span", { class: "k-item-name" }, itemName(item)), el("span", { class: "k-item-time" }, promisedLabel(item)))));
}

// -- 2. the ID number -----------------------------------------------------------------------------
function drawIdStep() {
  // Drawn with no service chosen too: going back to the start must wipe what was typed, even hidden.
  const service = state.services.find((s) => s.code === state.chosen);
  $("s-letter").textContent = service?.letter ?? "";
  $("s-name").textContent = service ? serviceName(service) : "";
  const item = service?.items?.find((i) => i.code === state.item);
  $("s-item").textContent = item ? itemName(item) : "";
  // Area code and last four in clear so people can check them; the birth date stays hidden from
  // whoever stands behind. The check digit catches any single wrong digit in the hidden part.
  const slots = [];
  for (let i = 0; i < ID_LENGTH; i += 1) {
    const ch = state.digits[i];
    const hidden = ch !== undefined && i >= 6 && i < 14;
    slots.push(el("span", { class: `slot${ch === undefined ? "" : " filled"}${i === 5 || i === 13 ? " gap" : ""}` },
      ch === undefined ? "" : hidden ? "•" : ch));
  }
  $("id-display").replaceChildren(...slots);
  const n = state.digits.length;
  for (const key of $("keypad").children) {
    const k = key.dataset.key;
    key.disabled = state.busy || (k === "del" ? n === 0 : n >= ID_LENGTH || (k === "X" && n !== ID_LENGTH - 1));
  }
  $("keypad").querySelector('[data-key="del"]').setAttribute("aria-label", t("删除", "Delete"));
  const take = $("take");
  take.textContent = state.busy ? t("正在取号…", "Issuing…") : n === 0 ? t("不输入，直接取号", "Skip, take a ticket")
    : t("确认取号", "Take a ticket");
  take.disabled = state.busy;
  $("back").disabled = state.busy;
}

function press(key) {
  if (state.busy) return;
  if (key === "del") state.digits = state.digits.slice(0, -1);
  else if (state.digits.length < ID_LENGTH && (key !== "X" || state.digits.length === ID_LENGTH - 1)) state.digits += key;
  $("id-problem").textContent = "";
  drawIdStep();
}

async function take() {
  if (state.busy) return;
  const body = { service: state.chosen, channel: "kiosk" };
  if (state.item) body.item = state.item;
  if (state.digits) {
    const { value, problem } = checkIdNumber(state.digits);
    if (problem) {
      $("id-problem").textContent = state.digits.length < ID_LENGTH
        ? t("请输入完整的 18 位身份证号，或全部删除后直接取号。", "Enter all 18 characters, or delete them all to skip.")
        : t("身份证号有误，请核对后重新输入。", "That ID number is not right; please check it and try again.");
      return;
    }
    body.id_number = value;
  }
  await send(body);
}

async function send(body) {
  await busyWith(async () => {
    const ticket = await state.issuer.issue(body);
    state.digits = "";
    showTicket(ticket);
  }, (error) => refused(error, () => send(body), body));
}

async function busyWith(work, onError) {
  state.busy = true;
  state.retry = null;
  drawIdStep();
  drawCheckIn();
  $("oops-retry").disabled = true;
  try {
    await work();
  } catch (error) {
    onError(error);
  } finally {
    state.busy = false;
    drawIdStep();
    drawCheckIn();
    $("oops-retry").disabled = false;
  }
}

function refused(error, again, body = null) {
  if (error.code === "no_window_for_service") { oops(NO_WINDOW); return; }
  if (error.code === "not_authorised" && body) {
    // Not this hall's to do (its authorisation changed while the kiosk ran): the nearest halls that can, no ticket,
    // and the kiosk reads its catalog again.
    openNearby(elsewhereEntry(state.elsewhere, state.services, body.service, body.item ?? null));
    reloadCatalog();
    return;
  }
  if (error.fields?.some((f) => f.field === "id_number")) {
    const where = state.screen === "checkin-step" ? "ci-problem" : "id-problem";
    $(where).textContent = t("身份证号有误，请核对后重新输入。", "That ID number is not right; please check it and try again.");
    return;
  }
  // The network or the server failed: the ticket may exist already. "Try again" resends the very same
  // request (same Idempotency-Key; a check-in made twice returns its ticket), so it never makes a second one.
  const retry = error.status === 0 || error.status >= 500 ? again : null;
  oops(error.message, retry); // the server's own sentence (a ticket already held, no booking today, …)
}

// -- 2b. appointment check-in ----------------------------------------------------------------------
function startCheckIn() {
  state.ciDigits = "";
  $("ci-problem").textContent = "";
  drawCheckIn();
  show("checkin-step");
}

function drawCheckIn() {
  const n = state.ciDigits.length;
  // Six slots for a voucher code; past six it is an ID number, and its birth date is hidden as on the ID step.
  const slots = [];
  for (let i = 0; i < (n <= 6 ? 6 : ID_LENGTH); i += 1) {
    const ch = state.ciDigits[i];
    const hidden = ch !== undefined && n > 6 && i >= 6 && i < 14;
    slots.push(el("span", { class: `slot${ch === undefined ? "" : " filled"}${n > 6 && (i === 5 || i === 13) ? " gap" : ""}` },
      ch === undefined ? "" : hidden ? "•" : ch));
  }
  $("ci-display").replaceChildren(...slots);
  for (const key of $("ci-keypad").children) {
    const k = key.dataset.key;
    key.disabled = state.busy || (k === "del" ? n === 0 : n >= ID_LENGTH || (k === "X" && n !== ID_LENGTH - 1));
  }
  $("ci-keypad").querySelector('[data-key="del"]').setAttribute("aria-label", t("删除", "Delete"));
  $("ci-take").disabled = state.busy || n === 0;
  $("ci-take").textContent = state.busy ? t("正在签到…", "Checking in…") : t("签到取号", "Check in");
  $("ci-back").disabled = state.busy;
}

function pressCheckIn(key) {
  if (state.busy) return;
  const n = state.ciDigits.length;
  if (key === "del") state.ciDigits = state.ciDigits.slice(0, -1);
  else if (n < ID_LENGTH && (key !== "X" || n === ID_LENGTH - 1)) state.ciDigits += key;
  $("ci-problem").textContent = "";
  drawCheckIn();
}

async function takeCheckIn() {
  if (state.busy || !state.ciDigits) return;
  const { body, problem } = readCheckIn(state.ciDigits);
  if (problem) { $("ci-problem").textContent = problem; return; }
  await sendCheckIn(body);
}

async function sendCheckIn(body) {
  await busyWith(async () => {
    const { ticket } = await checkIn(state.token, body);
    state.ciDigits = "";
    showTicket(ticket);
  }, (error) => refused(error, () => sendCheckIn(body)));
}

function oops(message, retry = null) {
  state.oops = message;
  state.retry = retry;
  state.digits = "";
  state.ciDigits = "";
  $("oops-retry").hidden = !retry;
  $("oops-home").classList.toggle("k-take", !retry); // the one way forward is the big blue button
  drawOops();
  show("oops");
}

function drawOops() {
  const m = state.oops;
  $("oops-text").textContent = Array.isArray(m) ? t(m[0], m[1]) : m ?? "";
}

// -- 3. the ticket --------------------------------------------------------------------------------
function showTicket(ticket) {
  state.ticket = ticket;
  drawTicket();
  // The code is the citizen's proof of holding the ticket: the server gives it only with the ticket's key.
  if (ticket.key) $("d-qr").src = ticketQrSrc(ticket.id, ticket.key);
  else $("d-qr").removeAttribute("src");
  show("done");
  state.poll.refresh();
  $("d-printing").dataset.state = "printing";
  drawTicket();
  printTicket(ticket).then(() => {
    if (state.ticket?.id === ticket.id) { $("d-printing").dataset.state = "printed"; drawTicket(); }
  }).catch(() => {
    if (state.ticket?.id === ticket.id) { $("d-printing").dataset.state = "failed"; drawTicket(); }
  });
}

function drawTicket() {
  const ticket = state.ticket;
  if (!ticket) return;
  $("d-number").textContent = ticket.number;
  $("d-service").textContent = ticketServiceName(ticket);
  $("d-green").hidden = ticket.priority !== "green";
  $("d-booked").hidden = ticket.channel !== "appointment";
  $("d-item").textContent = ticketItemName(ticket);
  $("d-ahead").textContent = t(`${ticket.ahead ?? 0} 人`, `${ticket.ahead ?? 0}`);
  $("d-wait").textContent = minutes(ticket.estimated_wait_s);
  $("d-printing").textContent = {
    printing: t("号票正在打印，请取走号票。", "Your ticket is printing; please take it."),
    printed: t("请取走打印的号票。", "Please take your printed ticket."),
    failed: t("打印机暂时故障，请记下号码或扫码，也可到导办台补打。",
      "The printer is not working: note your number or scan the code; the guide desk can reprint it."),
  }[$("d-printing").dataset.state] ?? "";
}

// -- the page -------------------------------------------------------------------------------------
function redraw() {
  document.title = `${t("自助取号", "Take a ticket")} · ${state.hallName}`;
  drawSearch();
  drawTiles();
  drawItemStep();
  drawIdStep();
  drawCheckIn();
  drawTicket();
  drawOops();
  drawNearby();
  countdown();
}

function tick() {
  $("clock").textContent = new Date().toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit", hour12: false });
}

function onKey(event) {
  // A hardware keypad or keyboard works as the on-screen one does.
  const keypad = { "id-step": [press, take], "checkin-step": [pressCheckIn, takeCheckIn] }[state.screen];
  if (!keypad || event.ctrlKey || event.metaKey || event.altKey) return;
  const [pressKey, submit] = keypad;
  const key = event.key.toUpperCase();
  if (/^[0-9X]$/.test(key)) pressKey(key);
  else if (event.key === "Backspace") pressKey("del");
  else if (event.key === "Enter") submit();
  else return;
  event.preventDefault();
}

async function main() {
  applyLanguage();
  languageSwitch($("lang"), redraw);
  tick();
  setInterval(tick, 10000);
  setInterval(countdown, 250);
  const { token, who } = await signInAs("kiosk", ["kiosk", "manager"], t("自助取号机登录", "Kiosk sign-in"),
    { device: true });
  state.token = token;
  state.issuer = new Issuer(token);
  state.nearby = new NearbyLookup(token, onNearby);
  state.hallName = who.hall_name;
  $("hall-name").textContent = who.hall_name;
  const [catalog, elsewhere] = await Promise.all([loadCatalog(token),
    loadElsewhere(token).catch(() => null)]); // 就近办 is an extra: the kiosk works without it
  applyCatalog(catalog);
  applyElsewhere(elsewhere);
  buildLetters();
  $("k-search").addEventListener("input", onSearch);
  $("k-search").addEventListener("pointerdown", () => { if ($("k-letters").hidden) showLetters(true); });
  $("k-search").addEventListener("keydown", (event) => { if (event.key === "Enter") $("k-search").blur(); });
  $("k-search-clear").addEventListener("click", () => { clearSearch(); rearm(); });
  $("k-letters-toggle").addEventListener("click", () => showLetters($("k-letters").hidden));
  for (const key of $("keypad").children) key.addEventListener("click", () => press(key.dataset.key));
  for (const key of $("ci-keypad").children) key.addEventListener("click", () => pressCheckIn(key.dataset.key));
  $("item-back").addEventListener("click", () => backToStart({ keepSearch: true }));
  $("item-skip").addEventListener("click", () => { state.item = null; toIdStep(); });
  $("checkin-start").addEventListener("click", startCheckIn);
  $("ci-back").addEventListener("click", () => backToStart({ keepSearch: true }));
  $("ci-take").addEventListener("click", takeCheckIn);
  $("take").addEventListener("click", take);
  $("back").addEventListener("click", () => backToStart({ keepSearch: true }));
  $("finish").addEventListener("click", () => backToStart());
  $("oops-home").addEventListener("click", () => backToStart());
  $("oops-retry").addEventListener("click", () => { if (state.retry) state.retry(); });
  $("k-nb-back").addEventListener("click", () => backToStart({ keepSearch: true }));
  $("k-nb-retry").addEventListener("click", () => { state.nearby.retry(); rearm(); });
  // Any touch means someone is still there: restart the idle clock.
  document.addEventListener("pointerdown", rearm, true);
  document.addEventListener("keydown", (event) => { rearm(); onKey(event); }, true);
  document.addEventListener("contextmenu", (event) => event.preventDefault()); // long press on a touch screen
  state.poll = pollSnapshot(token, {
    statusNode: $("link"),
    onSnapshot: (snap) => {
      state.lines = new Map(snap.services.map((line) => [line.code, line]));
      if (servicesChanged(state.services, snap)) reloadCatalog();
      drawTiles();
    },
  });
  setInterval(reloadCatalog, CATALOG_EVERY_MS);
  drawSearch();
  drawTiles();
  $("main").hidden = false;
  show("start");
}

main().catch((error) => toast(error.message, "error"));
