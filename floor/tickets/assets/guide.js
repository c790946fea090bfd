// 导办台: the guide at the hall's entrance finds the citizen's service (by name, code or pinyin initials), picks
// the sub-item from the catalog (受理事典) and ticks the documents the citizen has brought: anything missing goes on
// a printed 一次性告知书, so they come back once with everything. Then the green channel or VIP, the ticket and its
// printout; or a booking checked in for its Y ticket. Keyboard first (type to search, Enter to pick, Enter to
// issue), and big enough for a tablet.
//
// In a county's network (就近办) the desk also lists what other halls of the county serve and this one does not;
// picking one (or a ticket refused as not authorised here) shows the nearest halls that can, with their lines now,
// in place of the ticket. A hall of no network gets an empty list, and the desk shows nothing of it.
//
// The hall's set-up may change while the desk runs (a service added or renamed, its sub-items): the desk has no feed,
// so it reads its catalog again when a snapshot's services differ from it (within a poll, 5 s) and every minute.

import {
  PRIORITY_TEXT, applyLanguage, clock, el, label, lang, languageSwitch, minutes, t, toast,
} from "/assets/floor/hallq.js";
import {
  CATALOG_EVERY_MS, GREEN_REASONS, Issuer, NearbyLookup, ageFromId, checkIdNumber, checkIn, checkPhone,
  elsewhereEntry, elsewhereGroupName, elsewhereKey, elsewhereName, elsewhereServiceName, groupElsewhere, itemName,
  loadCatalog, loadConfig, loadElsewhere, maskId, matchElsewhere, matchNote, matchServices, matchedItem,
  nearbyPlaceNodes, orderTiles, pollSnapshot, printNotice, printTicket, promisedLabel, readCheckIn, searchIndex,
  serviceName, servicesChanged, signInAs, ticketItemName, ticketServiceName,
} from "./issue.js";
import { lacking } from "./lacking.js";

const $ = (id) => document.getElementById(id);
const AUTOPRINT_KEY = "hallq.guide.autoprint";
const ELDERLY_AGE = 60;

const state = {
  token: "",
  services: [], // GET /catalog's services, in the hall's order (bundles among them)
  index: [], // what search reads of them (searchIndex), made once
  hallName: "",
  showCodes: false, // the hall's screens.show_codes: codes and initials on the tiles, for staff who search by them
  bundles: new Map(), // bundle code -> its catalog entry (members, union of materials)
  lines: new Map(), // service code -> snapshot line (waiting, estimated_wait_s, able_windows)
  tiles: new Map(), // service code -> tile button
  chosen: null, // service code
  item: null, // sub-item code, or null
  have: new Set(), // numbers (1-based, as the notice counts them) of the documents ticked as brought
  view: "grid", // the left column shows the grid, or the chosen service's detail
  idNumber: "", // the checked ID number, held only until the ticket is issued; the field shows it masked
  busy: false,
  ticket: null, // the ticket just issued (or checked in)
  printState: "", // "", printing, printed or failed, for that ticket
  printProblem: "",
  noticeState: "", // the same, for the notice
  noticeProblem: "",
  reason: "", // the green-channel reason the desk asked for, if any
  issuer: null,
  poll: null,
  setup: "", // the catalog and config last applied, as text: a read that changed nothing redraws nothing
  reloading: null, // the catalog read under way, if any
  elsewhere: [], // 就近办: what other halls of the county serve and this one does not (GET /nearby/items)
  elsewhereText: "", // that list as last applied, as text
  elsewhereDrawn: "", // what the 就近办 list last drew (language, search, list, entry open, catalog)
  nearby: null, // NearbyLookup: the nearest halls for the entry the panel shows, if one
};

const service = (code) => state.services.find((s) => s.code === code);
const chosenService = () => service(state.chosen);
const hasDetail = (svc) => Boolean(svc && (svc.is_bundle || svc.items.length));

// -- the hall's set-up ----------------------------------------------------------------------------
/** Take the catalog and config (GET /catalog, GET /config) the desk works from; whether they changed anything. */
function applySetup(catalog, config) {
  const text = JSON.stringify([catalog, config.screens?.show_codes]);
  if (text === state.setup) return false;
  state.setup = text;
  state.services = catalog.services;
  state.index = searchIndex(catalog.services);
  state.showCodes = config.screens?.show_codes === true;
  state.bundles = new Map(catalog.bundles.map((b) => [b.code, b]));
  state.hallName = catalog.name;
  $("hall-name").textContent = catalog.name;
  // What the desk had chosen may be gone: a service removed, or a sub-item no longer in it.
  if (state.chosen && !chosenService()) Object.assign(state, { chosen: null, view: "grid" });
  if (state.item && !chosenService()?.items.some((i) => i.code === state.item)) {
    Object.assign(state, { item: null, have: new Set(), noticeState: "" });
  }
  buildGrid();
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

/** Read the set-up again (one read at a time); a failed read is tried again by the next snapshot or minute. */
function reloadSetup() {
  state.reloading ??= Promise.all([loadCatalog(state.token), loadConfig(state.token),
    loadElsewhere(state.token).catch(() => null)])
    .then(([catalog, config, elsewhere]) => {
      const changed = applySetup(catalog, config);
      if (applyElsewhere(elsewhere) || changed) redraw();
    }, () => {})
    .finally(() => { state.reloading = null; });
}

// -- the service grid -----------------------------------------------------------------------------
function buildGrid() {
  const grid = $("grid");
  const focused = document.activeElement?.closest?.(".tile")?.dataset.code; // kept on its tile when rebuilt
  state.tiles = new Map();
  grid.replaceChildren();
  for (const svc of state.services) {
    const tile = el("button", { type: "button", class: `tile${svc.is_bundle ? " bundle" : ""}`,
      dataset: { code: svc.code }, onclick: () => choose(svc.code, tile.dataset.item || null) },
    el("span", { class: "letter" }, svc.letter),
    el("span", { class: "name" }),
    state.showCodes ? el("span", { class: "code" }, `${svc.code} · ${svc.initials ?? ""}`) : null,
    el("span", { class: "hit" }),
    el("span", { class: "tags" }),
    el("span", { class: "stats" },
      el("span", { class: "waiting" }), el("span", { class: "wait" }), el("span", { class: "able" })),
    el("span", { class: "off-note" }));
    state.tiles.set(svc.code, tile);
    grid.append(tile);
  }
  if (focused) state.tiles.get(focused)?.focus();
}

const able = (code) => (state.lines.get(code)?.able_windows ?? 1) > 0; // unknown until the first snapshot

function tileTags(svc) {
  if (svc.is_bundle) {
    const members = state.bundles.get(svc.code)?.members ?? [];
    return [el("b", { class: "tag bundle" }, t("一件事", "Bundle")),
      members.map((m) => t(m.name, m.name_en)).join(" + ")];
  }
  return svc.items.length ? [el("span", { class: "tag" }, t(`${svc.items.length} 个事项`,
    `${svc.items.length} sub-item${svc.items.length === 1 ? "" : "s"}`))] : [];
}

function drawGrid() {
  const matches = new Map(matchServices(state.index, $("search").value).map((m) => [m.service.code, m]));
  // Best match first, in the page's order too (not only on screen), so Tab and a screen reader follow it.
  const tiles = [...matches.keys()].map((code) => state.tiles.get(code));
  orderTiles($("grid"), [...tiles, ...[...state.tiles.values()].filter((tile) => !tiles.includes(tile))]);
  for (const svc of state.services) {
    const tile = state.tiles.get(svc.code);
    const line = state.lines.get(svc.code);
    const match = matches.get(svc.code);
    tile.hidden = !match;
    tile.dataset.item = (match && matchedItem(match)?.code) ?? "";
    tile.querySelector(".hit").textContent = match ? matchNote(match) : "";
    tile.disabled = !able(svc.code);
    tile.classList.toggle("picked", state.chosen === svc.code);
    tile.setAttribute("aria-pressed", state.chosen === svc.code ? "true" : "false");
    tile.querySelector(".name").textContent = serviceName(svc);
    tile.querySelector(".tags").replaceChildren(...tileTags(svc));
    tile.querySelector(".waiting").replaceChildren(
      el("b", {}, line ? String(line.waiting) : "—"), t(" 人等候", " waiting"));
    tile.querySelector(".wait").textContent = line ? t(`预计${minutes(line.estimated_wait_s)}`,
      `wait ${minutes(line.estimated_wait_s)}`) : "";
    tile.querySelector(".able").textContent = line ? t(`${line.able_windows} 个窗口可办`,
      `${line.able_windows} window${line.able_windows === 1 ? "" : "s"}`) : "";
    tile.querySelector(".off-note").textContent = able(svc.code) ? "" : t("暂无窗口办理", "No window open for it");
  }
  $("no-match").hidden = drawElsewhere() > 0 || matches.size > 0;
  $("grid-view").hidden = state.view !== "grid";
  $("detail").hidden = state.view !== "detail";
  drawChosen();
}

// -- 就近办: what other halls of the county serve, and the nearest of them ----------------------------
/** The list of what other halls serve and this one does not, by service, as the search narrows it; how many. */
function drawElsewhere() {
  const query = $("search").value;
  const shown = matchElsewhere(state.elsewhere, query, state.index);
  const open = state.nearby?.entry ? elsewhereKey(state.nearby.entry) : "";
  const drawn = JSON.stringify([lang(), query, state.elsewhereText, open, state.setup]); // groups follow the catalog
  if (drawn === state.elsewhereDrawn) return shown.length;
  state.elsewhereDrawn = drawn;
  $("elsewhere").hidden = !shown.length;
  $("elsewhere-groups").replaceChildren(...groupElsewhere(shown, state.services).map((group) => el("div", {
    class: `nb-group${group.whole ? " whole" : ""}`, dataset: { service: group.service?.service ?? "" } },
  el("span", { class: "nb-service-name" }, elsewhereGroupName(group)),
  el("span", { class: "nb-items" }, ...group.entries.map(elsewhereButton)))));
  return shown.length;
}

/** A 就近办 entry to pick: pressed while the panel shows it. */
function elsewhereButton(entry) {
  const open = state.nearby?.entry ? elsewhereKey(state.nearby.entry) : "";
  return el("button", { type: "button", class: "nb-item", dataset: { service: entry.service, item: entry.item ?? "" },
    "aria-pressed": elsewhereKey(entry) === open ? "true" : "false", onclick: () => openNearby(entry) },
  elsewhereName(entry));
}

/** Which card the right-hand column shows: the issue form, the ticket just issued, or the nearest halls. */
function showAside(which) {
  $("issue-form").hidden = which !== "form";
  $("result").hidden = which !== "result";
  $("nearby").hidden = which !== "nearby";
}

/** Show the nearest halls that can serve ``entry``, in place of a ticket: asked afresh each time (lines change). */
function openNearby(entry) {
  if (!$("result").hidden) nextCitizen({ keepSearch: true });
  $("issue-problem").textContent = "";
  showAside("nearby");
  state.nearby.open(entry);
  drawGrid();
  drawDetail();
  $("nb-back").focus();
}

function closeNearby({ focus = true } = {}) {
  if (!state.nearby.entry) return;
  state.nearby.close();
  showAside("form");
  drawGrid();
  drawDetail();
  if (focus) $("search").focus();
}

function drawNearby() {
  const lookup = state.nearby;
  if (!lookup) return;
  const [before, name, after] = lookup.lead();
  $("nb-service").textContent = lookup.entry?.item ? elsewhereServiceName(lookup.entry) : "";
  $("nb-lead").replaceChildren(before, name ? el("b", {}, name) : "", after);
  const places = lookup.status === "ok" ? lookup.places : [];
  $("nb-places").replaceChildren(...nearbyPlaceNodes(places));
  $("nb-places").hidden = !places.length;
  const note = $("nb-note");
  note.textContent = lookup.note();
  note.dataset.state = lookup.status;
  note.setAttribute("role", lookup.status === "failed" ? "alert" : "status");
  $("nb-retry").hidden = lookup.status !== "failed";
}

function onNearby() {
  drawNearby();
  if (state.nearby.status === "ok" && state.nearby.here) reloadSetup(); // authorised since: the grid will offer it
}

/** Choose a service; ``item`` preselects the sub-item search found it by. */
function choose(code, item = null) {
  closeNearby({ focus: false });
  if (state.chosen !== code || (item && item !== state.item)) {
    state.item = item;
    state.have = new Set();
    state.noticeState = "";
  }
  state.chosen = code;
  $("issue-problem").textContent = "";
  state.view = hasDetail(service(code)) ? "detail" : "grid";
  drawGrid();
  drawDetail();
}

function showGrid() {
  state.view = "grid";
  drawGrid();
}

function drawChosen() {
  const svc = chosenService();
  const line = state.lines.get(state.chosen);
  $("chosen").classList.toggle("empty", !svc);
  $("chosen-name").textContent = svc ? `${svc.letter} · ${serviceName(svc)}` : t("请在左侧选择业务", "Choose a service on the left");
  const item = svc?.items.find((i) => i.code === state.item);
  const bundle = svc?.is_bundle ? state.bundles.get(svc.code) : null;
  $("chosen-item").textContent = item ? `${itemName(item)} · ${promisedLabel(item)}`
    : bundle ? t(`一件事：${bundle.members.map((m) => m.name).join(" + ")}`,
      `Bundle: ${bundle.members.map((m) => m.name_en).join(" + ")}`) : "";
  $("chosen-facts").textContent = !svc ? "" : !able(svc.code) ? t("暂无窗口办理", "No window open for it")
    : line ? t(`${line.waiting} 人等候，预计${minutes(line.estimated_wait_s)}`,
      `${line.waiting} waiting, ${minutes(line.estimated_wait_s)}`) : "";
  $("chosen-facts").classList.toggle("off", Boolean(svc) && !able(svc.code));
  $("issue").disabled = state.busy || !svc || !able(svc.code);
}

// -- the chosen service: sub-items, a bundle's members, the checklist -----------------------------------
function drawDetail() {
  const svc = chosenService();
  if (!svc) return;
  $("d-letter").textContent = svc.letter;
  $("d-name").textContent = serviceName(svc);
  $("d-bundle").hidden = !svc.is_bundle;
  const bundle = svc.is_bundle ? state.bundles.get(svc.code) : null;
  $("items-block").hidden = !svc.items.length;
  $("members-block").hidden = !bundle;
  $("no-items").hidden = Boolean(bundle) || svc.items.length > 0;
  if (svc.items.length) drawItems(svc);
  if (bundle) drawMembers(bundle);
  drawChecklist();
}

function drawItems(svc) {
  const chip = (code, text, sub) => el("button", { type: "button", class: "item-chip", role: "radio",
    "aria-checked": state.item === code ? "true" : "false", dataset: { item: code ?? "" },
    onclick: () => pickItem(code) }, el("span", { class: "item-name" }, text), sub ? el("small", {}, sub) : null);
  $("items").replaceChildren(chip(null, t("不指定", "Not sure yet"), t("仅咨询或未定", "enquiry or undecided")),
    ...svc.items.map((item) => chip(item.code, itemName(item), promisedLabel(item))));
  // 就近办: what of this service only other halls of the county do, so the guide sees it where they look for it.
  const elsewhere = state.elsewhere.filter((entry) => entry.service === svc.code && entry.item);
  $("items-elsewhere").hidden = !elsewhere.length;
  $("items-elsewhere-list").replaceChildren(...elsewhere.map(elsewhereButton));
}

function drawMembers(bundle) {
  $("members").replaceChildren(...bundle.members.map((m) => {
    const member = service(m.code);
    const items = (member?.items ?? []).map((i) => itemName(i));
    return el("li", {}, el("span", { class: "letter small" }, member?.letter ?? ""),
      el("b", {}, t(m.name, m.name_en)), items.length ? el("span", { class: "member-items" }, items.join(t("、", ", "))) : null);
  }));
}

function pickItem(code) {
  state.item = code;
  state.have = new Set();
  state.noticeState = "";
  drawDetail();
  drawChosen();
}

/** The documents of the chosen sub-item or bundle (the bundle's are the union of its members'), or null. */
function materials() {
  const svc = chosenService();
  if (!svc) return null;
  if (svc.is_bundle) return state.bundles.get(svc.code)?.materials ?? [];
  return svc.items.find((i) => i.code === state.item)?.materials ?? null;
}

function entryFacts() {
  const svc = chosenService();
  const entry = svc?.is_bundle ? state.bundles.get(svc.code) : svc?.items.find((i) => i.code === state.item);
  if (!entry) return [];
  const facts = [el("b", {}, promisedLabel(entry))];
  if (entry.promised_days) facts.push(t(`如今日受理，预计 ${entry.due} 前办结`, `if accepted today, by ${entry.due}`));
  if (entry.forms.length) facts.push(t(`表格：${entry.forms.join("、")}`, `Forms: ${entry.forms.join(", ")}`));
  return facts.flatMap((fact, i) => (i ? [" · ", fact] : [fact]));
}

function drawChecklist() {
  const list = materials();
  $("checklist-block").hidden = list === null;
  if (list === null) return;
  $("item-facts").replaceChildren(...entryFacts());
  const itemNames = new Map(state.services.flatMap((s) => s.items).map((i) => [i.code, itemName(i)]));
  $("checklist").replaceChildren(...list.map((m, index) => {
    const number = index + 1;
    const have = state.have.has(number);
    const box = el("input", { type: "checkbox", id: `m-${number}`, checked: have || null,
      onchange: (event) => { toggle(number, event.target.checked); } });
    const bits = [m.original ? el("span", { class: "badge" }, t("验原件", "original")) : null,
      el("span", { class: "copies" }, m.copies ? t(`${m.copies} 份`, `${m.copies} cop${m.copies === 1 ? "y" : "ies"}`)
        : t("仅验原件", "original only"))];
    const forItems = (m.items ?? []).map((code) => itemNames.get(code) ?? code);
    return el("li", { class: `material${have ? " have" : " missing"}`, dataset: { number } },
      box, el("label", { for: `m-${number}` }, el("span", { class: "m-name" }, m.name), ...bits,
        m.note ? el("span", { class: "m-note" }, m.note) : null,
        (m.choice ?? null) !== null ? el("span", { class: "badge m-choice" }, t("选一", "one of")) : null,
        forItems.length ? el("span", { class: "m-for" }, t(`用于${forItems.join("、")}`, `for ${forItems.join(", ")}`)) : null,
        have ? null : el("span", { class: "lack" }, t("缺", "missing"))));
  }));
  // Of a bundle's alternatives only one set is needed: counted as the printed notice counts them (lacking.js).
  const missing = lacking(list, new Set(list.map((_, i) => i + 1).filter((n) => !state.have.has(n)))).count;
  const summary = $("missing-summary");
  summary.classList.toggle("complete", missing === 0);
  summary.textContent = !list.length ? t("无需提交材料", "No documents needed")
    : missing === 0 ? t("材料齐全", "Everything is here")
      : t(`尚缺 ${missing} 项材料：请打印告知书交办事人，补齐后一次办成`,
        `${missing} document${missing === 1 ? "" : "s"} missing: print the notice so they come back once`);
  $("print-notice").classList.toggle("primary", missing > 0);
  $("tick-all").disabled = missing === 0;
  drawNoticeState();
}

function toggle(number, checked) {
  if (checked) state.have.add(number); else state.have.delete(number);
  drawChecklist();
}

function tickAll() {
  state.have = new Set((materials() ?? []).map((_, index) => index + 1));
  drawChecklist();
}

function missingNumbers() {
  return (materials() ?? []).map((_, index) => index + 1).filter((n) => !state.have.has(n));
}

function printTheNotice() {
  const svc = chosenService();
  if (!svc || materials() === null) return;
  const target = svc.is_bundle ? { service: svc.code } : { item: state.item };
  const mark = (noticeState, problem = "") => {
    state.noticeState = noticeState;
    state.noticeProblem = problem;
    drawNoticeState();
  };
  mark("printing");
  printNotice({ ...target, missing: missingNumbers() }).then(() => mark("printed"), (error) => mark("failed", error.message));
}

function drawNoticeState() {
  const node = $("notice-state");
  node.dataset.state = state.noticeState;
  node.textContent = {
    printing: t("告知书正在打印…", "Printing the notice…"),
    printed: t("告知书已送打印机，请交给办事人。", "The notice went to the printer: hand it over."),
    failed: t(`告知书打印失败：${state.noticeProblem}`, `The notice did not print: ${state.noticeProblem}`),
  }[state.noticeState] ?? "";
}

// -- search and keyboard --------------------------------------------------------------------------
function pickSingleMatch() {
  const matches = matchServices(state.index, $("search").value);
  const elsewhere = matchElsewhere(state.elsewhere, $("search").value, state.index);
  if (!matches.length && elsewhere.length === 1) { openNearby(elsewhere[0]); return; } // only another hall has it
  if (matches.length !== 1) return;
  const [match] = matches;
  const svc = match.service;
  if (!able(svc.code)) {
    $("issue-problem").textContent = t(`${serviceName(svc)}暂无窗口办理，请引导办事人稍后再来或咨询值班长。`,
      `No open window handles ${serviceName(svc)} right now.`);
    return;
  }
  choose(svc.code, matchedItem(match)?.code ?? null);
  $("id-number").focus();
}

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
  const target = event.target;
  const inField = target.matches?.("input:not([type=radio]):not([type=checkbox]), textarea, select");
  if (target.id === "search") {
    if (event.key === "Enter") { event.preventDefault(); pickSingleMatch(); }
    if (event.key === "Escape") { target.value = ""; drawGrid(); }
    return;
  }
  if (inField || document.querySelector(".signin-overlay")) return;
  if (event.key === "Escape" && state.nearby.entry) { event.preventDefault(); closeNearby(); return; }
  // Type anywhere to search: the guide hears "社保" and types "sb" without reaching for the box.
  if (event.key.length === 1 && /\S/.test(event.key)) {
    event.preventDefault();
    if (!$("result").hidden) nextCitizen();
    if (state.nearby.entry) { closeNearby({ focus: false }); $("search").value = ""; } // the next citizen
    const search = $("search");
    search.focus();
    search.value += event.key;
    showGrid();
  }
}

// -- the ID number field: masked once checked, never shown again ------------------------------------
function acceptIdNumber() {
  const input = $("id-number");
  if (state.idNumber || !input.value.trim()) return true;
  const { value, problem } = checkIdNumber(input.value);
  $("id-problem").textContent = problem;
  input.classList.toggle("invalid", Boolean(problem));
  if (problem) return false;
  state.idNumber = value;
  input.value = maskId(value);
  input.readOnly = true;
  $("id-clear").hidden = false;
  drawElderlyHint();
  return true;
}

function clearIdNumber() {
  state.idNumber = "";
  const input = $("id-number");
  input.value = "";
  input.readOnly = false;
  input.classList.remove("invalid");
  $("id-clear").hidden = true;
  $("id-problem").textContent = "";
  drawElderlyHint();
}

function drawElderlyHint() {
  // 60 and over go by the green channel: the server decides from the ID number; the desk says so beforehand.
  const elderly = state.idNumber && ageFromId(state.idNumber) >= ELDERLY_AGE && !$("priority").value;
  const hint = $("elderly-hint");
  hint.classList.toggle("on", Boolean(elderly));
  hint.textContent = elderly ? t("已满 60 岁：取号时自动进入绿色通道（老年人）。", "Aged 60 or over: the ticket goes by the green channel (elderly).")
    : t("老年人（60 岁及以上）填身份证号即自动进入绿色通道。", "People aged 60 or over: enter the ID number and the green channel follows by itself.");
}

// -- issuing --------------------------------------------------------------------------------------
function priorityChoice() {
  const value = $("priority").value;
  if (!value) return { priority: null, reason: "" };
  if (value === "vip") return { priority: "vip", reason: "" };
  return { priority: "green", reason: value };
}

function setBusy(busy) {
  state.busy = busy;
  $("issue-form").classList.toggle("busy", busy);
  $("checkin").disabled = busy;
  drawChosen();
}

function issueBody(svc, phone) {
  const { priority, reason } = priorityChoice();
  const body = { service: svc.code, channel: "guide", priority };
  if (state.item && svc.items.some((i) => i.code === state.item)) body.item = state.item;
  if (reason) body.green_reason = reason;
  if (state.idNumber) body.id_number = state.idNumber;
  if (phone) body.phone = phone.value;
  const name = $("name").value.trim();
  if (name) body.name = name; // masked by the server before anything keeps or shows it
  return { body, reason };
}

async function issue(event) {
  event.preventDefault();
  if (state.busy) return;
  for (const id of ["issue-problem", "phone-problem"]) $(id).textContent = "";
  const svc = chosenService();
  if (!svc) { $("issue-problem").textContent = t("请先选择业务。", "Choose a service first."); return; }
  if (!acceptIdNumber()) { $("id-number").focus(); return; }
  const phone = $("phone").value.trim() ? checkPhone($("phone").value) : null;
  if (phone?.problem) { $("phone-problem").textContent = phone.problem; $("phone").focus(); return; }
  const { body, reason } = issueBody(svc, phone);
  setBusy(true);
  try {
    const ticket = await state.issuer.issue(body);
    state.idNumber = ""; // issued: the number and the name have done their job and are not kept on the page
    $("name").value = "";
    showResult(ticket, reason);
    state.poll.refresh();
    if ($("autoprint").checked) print();
  } catch (error) {
    if (error.code === "not_authorised") {
      // Not this hall's to do (its authorisation changed while the desk ran): the nearest halls that can, and the
      // desk reads its set-up again.
      openNearby(elsewhereEntry(state.elsewhere, state.services, body.service, body.item ?? null));
      reloadSetup();
      return;
    }
    // The server's own sentence, next to the field it is about when it names one.
    const field = error.fields?.[0]?.field;
    const where = field === "id_number" ? "id-problem" : field === "phone" ? "phone-problem" : "issue-problem";
    $(where).textContent = error.message;
    if (field === "id_number") $("id-number").classList.add("invalid");
  } finally {
    setBusy(false);
  }
}

async function checkInBooking(event) {
  event.preventDefault();
  if (state.busy) return;
  const problemNode = $("checkin-problem");
  const { body, problem } = readCheckIn($("checkin-input").value);
  problemNode.textContent = problem;
  if (problem) { $("checkin-input").focus(); return; }
  setBusy(true);
  try {
    const { ticket } = await checkIn(state.token, body);
    $("checkin-input").value = ""; // a voucher code or an ID number: not left on the desk
    state.chosen = ticket.service;
    state.item = ticket.item ?? null;
    state.view = "grid";
    drawGrid();
    showResult(ticket, "");
    state.poll.refresh();
    if ($("autoprint").checked) print();
  } catch (error) {
    problemNode.textContent = error.message;
    if (body.id_number) $("checkin-input").value = ""; // an ID number is not left on the desk, refused or not
  } finally {
    setBusy(false);
  }
}

function print() {
  const ticket = state.ticket;
  if (!ticket) return;
  const mark = (printState, problem = "") => {
    if (state.ticket !== ticket) return; // the desk has moved on to the next citizen
    state.printState = printState;
    state.printProblem = problem;
    drawResult();
  };
  mark("printing");
  printTicket(ticket).then(() => mark("printed"), (error) => mark("failed", error.message));
}

// -- the result card ------------------------------------------------------------------------------
function showResult(ticket, reason) {
  state.ticket = ticket;
  state.reason = reason;
  state.printState = "";
  if (state.nearby.entry) state.nearby.close();
  showAside("result");
  $("cancel-confirm").hidden = true;
  $("cancel-problem").textContent = "";
  drawResult();
  $("next").focus();
}

function drawResult() {
  const ticket = state.ticket;
  if (!ticket) return;
  const cancelled = ticket.status === "cancelled";
  $("result").classList.toggle("cancelled", cancelled);
  $("r-title").textContent = cancelled ? t("此号已取消", "Ticket cancelled") : t("取号成功", "Ticket issued");
  $("r-number").textContent = ticket.number;
  $("r-service").textContent = ticketServiceName(ticket);
  $("r-item").textContent = ticketItemName(ticket);
  $("r-holder").textContent = ticket.holder ? t(`办事人：${ticket.holder}`, `Citizen: ${ticket.holder}`) : "";
  $("r-appointment").hidden = ticket.channel !== "appointment";
  const badge = $("r-priority");
  badge.hidden = !ticket.priority;
  badge.className = `badge ${ticket.priority === "green" ? "green" : "vip"}`;
  const why = GREEN_REASONS[ticket.green_reason ?? state.reason];
  badge.textContent = label(PRIORITY_TEXT, ticket.priority) + (ticket.priority === "green" && why ? ` · ${t(why[0], why[1])}` : "");
  $("r-time").textContent = clock(ticket.issued_at);
  $("r-ahead").textContent = ticket.ahead === null || cancelled ? "—" : t(`${ticket.ahead} 人`, String(ticket.ahead));
  $("r-wait").textContent = cancelled ? "—" : minutes(ticket.estimated_wait_s);
  $("cancel").hidden = cancelled;
  $("print").disabled = cancelled;
  const printNote = $("r-print-state");
  printNote.dataset.state = state.printState;
  printNote.textContent = {
    printing: t("正在打印…", "Printing…"),
    printed: t("已送打印机，请将号票交给办事人。", "Sent to the printer: hand the ticket over."),
    failed: t(`打印失败：${state.printProblem}`, `Printing failed: ${state.printProblem}`),
  }[state.printState] ?? "";
  $("cancel-question").textContent = t(`确定取消 ${ticket.number} 号？`, `Cancel ticket ${ticket.number}?`);
}

async function cancelTicket() {
  const yes = $("cancel-yes");
  yes.disabled = true;
  $("cancel-problem").textContent = "";
  try {
    state.ticket = await state.issuer.cancel(state.ticket.id);
    $("cancel-confirm").hidden = true;
    drawResult();
    toast(t(`${state.ticket.number} 号已取消`, `Ticket ${state.ticket.number} cancelled`), "ok");
    state.poll.refresh();
  } catch (error) {
    $("cancel-problem").textContent = error.message;
  } finally {
    yes.disabled = false;
  }
}

/** Ready for the next citizen; ``keepSearch`` when they are the one who just searched (a 就近办 pick). */
function nextCitizen({ keepSearch = false } = {}) {
  state.ticket = null;
  state.chosen = null;
  state.item = null;
  state.have = new Set();
  state.noticeState = "";
  state.view = "grid";
  state.issuer.reset();
  $("issue-form").reset(); // priority back to 普通, name and phone emptied
  clearIdNumber();
  for (const id of ["issue-problem", "phone-problem", "checkin-problem"]) $(id).textContent = "";
  $("checkin-input").value = "";
  if (state.nearby.entry) state.nearby.close();
  showAside("form");
  if (keepSearch) { drawGrid(); return; }
  $("search").value = "";
  drawGrid();
  $("search").focus();
}

// -- the page -------------------------------------------------------------------------------------
function redraw() {
  document.title = `${t("导办台", "Guide desk")} · ${state.hallName}`;
  $("green-group").label = t("绿色通道", "Green channel");
  drawGrid();
  drawDetail();
  drawElderlyHint();
  drawResult();
  drawNearby();
}

function tick() {
  $("clock").textContent = new Date().toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit", hour12: false });
}

function wire() {
  $("autoprint").checked = localStorage.getItem(AUTOPRINT_KEY) !== "off";
  $("autoprint").addEventListener("change", (e) => localStorage.setItem(AUTOPRINT_KEY, e.target.checked ? "on" : "off"));
  $("search").addEventListener("input", () => showGrid());
  $("back").addEventListener("click", () => { showGrid(); $("search").focus(); });
  $("tick-all").addEventListener("click", tickAll);
  $("print-notice").addEventListener("click", printTheNotice);
  $("issue-form").addEventListener("submit", issue);
  $("checkin-form").addEventListener("submit", checkInBooking);
  $("checkin-input").addEventListener("input", () => { $("checkin-problem").textContent = ""; });
  $("id-number").addEventListener("blur", acceptIdNumber);
  $("id-number").addEventListener("input", () => { $("id-problem").textContent = ""; $("id-number").classList.remove("invalid"); });
  $("id-clear").addEventListener("click", () => { clearIdNumber(); $("id-number").focus(); });
  $("priority").addEventListener("change", drawElderlyHint);
  $("phone").addEventListener("input", () => { $("phone-problem").textContent = ""; });
  $("print").addEventListener("click", print);
  $("cancel").addEventListener("click", () => { $("cancel-confirm").hidden = false; $("cancel-no").focus(); });
  $("cancel-no").addEventListener("click", () => { $("cancel-confirm").hidden = true; });
  $("cancel-yes").addEventListener("click", cancelTicket);
  $("next").addEventListener("click", () => nextCitizen());
  $("nb-back").addEventListener("click", () => closeNearby());
  $("nb-retry").addEventListener("click", () => state.nearby.retry());
  document.addEventListener("keydown", onKey);
}

async function main() {
  applyLanguage();
  languageSwitch($("lang"), redraw);
  tick();
  setInterval(tick, 10000);
  const { token, who } = await signInAs("guide", ["guide", "manager"], t("导办台登录", "Guide desk sign-in"));
  state.token = token;
  state.issuer = new Issuer(token);
  state.nearby = new NearbyLookup(token, onNearby);
  state.hallName = who.hall_name;
  $("hall-name").textContent = who.hall_name;
  const [catalog, config, elsewhere] = await Promise.all([loadCatalog(token), loadConfig(token),
    loadElsewhere(token).catch(() => null)]); // 就近办 is an extra: the desk works without it
  applySetup(catalog, config);
  applyElsewhere(elsewhere);
  $("desk").hidden = false;
  wire();
  state.poll = pollSnapshot(token, {
    statusNode: $("link"),
    onSnapshot: (snap) => {
      state.lines = new Map(snap.services.map((line) => [line.code, line]));
      if (servicesChanged(state.services, snap)) reloadSetup();
      drawGrid();
    },
  });
  setInterval(reloadSetup, CATALOG_EVERY_MS);
  redraw();
  $("search").focus();
}

main().catch((error) => toast(error.message, "error"));
