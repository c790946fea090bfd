// 窗口设置: every window with what it serves (its skills): its services, the primary ones it calls first, and the
// only sub-items it serves of a service, as they are live now (GET /snapshot; names from GET /config). A manager
// picks a window, ticks and unticks, sees what would change, and saves: POST /windows/{w}/services takes effect at
// once (no restart), from the window's next call. The page then says what changed, or the server's refusal in its
// own words.
import { api, applyLanguage, el, label, languageSwitch, t, toast, WINDOW_STATE_TEXT } from "/assets/floor/hallq.js";
import { hallSetUp, listState, managerNav, managerSignIn } from "/assets/floor/manager-nav.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 10000;
const STATE_BADGE = { closed: "grey", idle: "green", calling: "amber", serving: "", paused: "red" };

const state = {
  token: null, config: null, snapshot: null, error: null,
  chosen: null, // the window being edited
  base: null, // its skills when the editor was filled: {services, primary, items}
  draft: null, // what the editor holds: {services: Set, primary: Set, only: Map(service -> Set of items)}
  result: null, // the last save: {window, changes}
  saving: false,
};

// -- names --------------------------------------------------------------------------------------------------
const services = () => state.config.services;
const service = (code) => services().find((s) => s.code === code);
const serviceName = (code) => {
  const s = service(code);
  return s ? t(s.name_zh, s.name_en || s.name_zh) : code;
};
const itemOwner = (code) => services().find((s) => (s.items ?? []).some((i) => i.code === code));
const itemName = (code) => {
  const i = itemOwner(code)?.items.find((x) => x.code === code);
  return i ? t(i.name_zh, i.name_en || i.name_zh) : code;
};
const windowName = (w) => t(w.name, `Window ${w.id}`);
const list = (names) => (names.length ? names.join(t("、", ", ")) : t("无", "none"));
const live = (id) => state.snapshot?.windows.find((w) => w.id === id);
const inOrder = (codes) => services().map((s) => s.code).filter((c) => codes.has(c));

// -- the windows' table -----------------------------------------------------------------------------------------
async function refresh() {
  try {
    state.snapshot = await api("/snapshot", { token: state.token });
    state.error = null;
  } catch (error) {
    state.error = error.message;
  }
  renderTable();
  const w = state.chosen && live(state.chosen);
  // Changed elsewhere (another manager) while nothing here is unsaved: show it as it is now.
  if (w && !changes(state.base, draftSkills()).length && !same(state.base, skillsOf(w))) fillEditor(w);
}

function serviceChips(w) {
  return inOrder(new Set(w.services)).map((code) => el("span", {
    class: `chip${w.primary.includes(code) ? " primary" : ""}`, dataset: { code },
  }, w.primary.includes(code) ? "★ " : "", serviceName(code)));
}

function renderTable() {
  if (state.snapshot) {
    $("window-rows").replaceChildren(...state.snapshot.windows.map((w) => el("tr", {
      dataset: { window: w.id }, class: w.id === state.chosen ? "chosen" : null, onclick: () => choose(w.id),
    },
    el("td", { class: "name" }, windowName(w)),
    el("td", {}, el("span", { class: `badge ${STATE_BADGE[w.state] ?? ""}`.trim() }, label(WINDOW_STATE_TEXT, w.state))),
    el("td", { class: "skills" }, serviceChips(w)),
    el("td", { class: "items" }, w.items?.length ? w.items.map(itemName).join(t("、", ", ")) : "—"),
    el("td", { class: "actions" }, el("button", { class: "btn", type: "button" }, t("修改", "Change"))))));
    $("updated").textContent = t(`共 ${state.snapshot.windows.length} 个窗口，更新于 ${state.snapshot.at.slice(11, 19)}`,
      `${state.snapshot.windows.length} windows, updated ${state.snapshot.at.slice(11, 19)}`);
  }
  if (state.error) listState($("state"), "error", state.error, refresh);
  else if (!state.snapshot) listState($("state"), "loading", t("正在读取窗口…", "Reading the windows…"));
  else if (!state.snapshot.windows.length) listState($("state"), "empty", t("本大厅没有窗口。", "This hall has no window."));
  else listState($("state"), null);
}

// -- skills: what the server has, what the editor holds, what differs ---------------------------------------------
const skillsOf = (w) => ({ services: [...w.services], primary: [...w.primary], items: [...(w.items ?? [])] });
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

function draftSkills() {
  const d = state.draft;
  if (!d) return null;
  const items = [];
  for (const code of inOrder(d.services)) {
    const only = d.only.get(code);
    if (only) items.push(...service(code).items.map((i) => i.code).filter((i) => only.has(i)));
  }
  return { services: inOrder(d.services), primary: inOrder(d.primary), items };
}

/** What differs from ``before`` to ``after``, in sentences of the page's language. */
function changes(before, after) {
  if (!before || !after) return [];
  const out = [];
  const added = after.services.filter((s) => !before.services.includes(s));
  const dropped = before.services.filter((s) => !after.services.includes(s));
  if (added.length) out.push(t(`新增业务：${list(added.map(serviceName))}`, `now serves ${list(added.map(serviceName))}`));
  if (dropped.length) {
    out.push(t(`不再办理：${list(dropped.map(serviceName))}`, `no longer serves ${list(dropped.map(serviceName))}`));
  }
  const sorted = (xs) => [...xs].sort().join();
  if (sorted(before.primary) !== sorted(after.primary)) {
    out.push(t(`优先业务：${list(before.primary.map(serviceName))} → ${list(after.primary.map(serviceName))}`,
      `primary: ${list(before.primary.map(serviceName))} → ${list(after.primary.map(serviceName))}`));
  }
  if (sorted(before.items) !== sorted(after.items)) {
    const items = (xs) => (xs.length ? list(xs.map(itemName)) : t("不限", "any"));
    out.push(t(`限定事项：${items(before.items)} → ${items(after.items)}`,
      `only sub-items: ${items(before.items)} → ${items(after.items)}`));
  }
  return out;
}

// -- the editor ------------------------------------------------------------------------------------------------------
function choose(id) {
  const w = live(id);
  if (!w) return;
  if (state.chosen !== id) state.result = null;
  state.chosen = id;
  fillEditor(w);
  renderTable();
  renderResult();
}

function fillEditor(w) {
  state.base = skillsOf(w);
  const only = new Map();
  for (const item of state.base.items) {
    const owner = itemOwner(item)?.code;
    if (!owner) continue;
    if (!only.has(owner)) only.set(owner, new Set());
    only.get(owner).add(item);
  }
  state.draft = { services: new Set(w.services), primary: new Set(w.primary), only };
  $("e-problem").textContent = "";
  renderEditor();
}

function serviceRow(s) {
  const d = state.draft;
  const serves = d.services.has(s.code);
  const members = s.bundle ?? [];
  const only = d.only.get(s.code);
  const items = s.items ?? [];
  return el("li", { class: `svc${serves ? " on" : ""}`, dataset: { code: s.code } },
    el("label", { class: "serve" },
      el("input", { type: "checkbox", class: "serve", checked: serves, onchange: (e) => toggleService(s, e.target.checked) }),
      el("b", {}, t(s.name_zh, s.name_en || s.name_zh)), el("span", { class: "letter" }, s.letter),
      members.length ? el("span", { class: "mp-sub" }, t(`一件事：含 ${list(members.map(serviceName))}`,
        `bundle of ${list(members.map(serviceName))}`)) : null),
    el("label", { class: "primary" },
      el("input", { type: "checkbox", class: "primary", checked: d.primary.has(s.code), disabled: !serves,
        onchange: (e) => { setIn(d.primary, s.code, e.target.checked); renderEditor(); } }),
      t("优先", "Primary")),
    items.length && serves ? el("div", { class: "items" },
      el("label", { class: "mode" }, el("input", { type: "radio", name: `mode-${s.code}`, value: "all", checked: !only,
        onchange: () => { d.only.delete(s.code); renderEditor(); } }), t("全部事项", "Every sub-item")),
      el("label", { class: "mode" }, el("input", { type: "radio", name: `mode-${s.code}`, value: "only", checked: !!only,
        onchange: () => { d.only.set(s.code, new Set()); renderEditor(); } }), t("只办以下事项：", "Only these:")),
      only ? el("div", { class: "item-list" }, items.map((i) => el("label", { class: "item" },
        el("input", { type: "checkbox", class: "item", value: i.code, checked: only.has(i.code),
          onchange: (e) => { setIn(only, i.code, e.target.checked); renderEditor(); } }),
        t(i.name_zh, i.name_en || i.name_zh)))) : null) : null);
}

function setIn(set, value, on) {
  if (on) set.add(value);
  else set.delete(value);
}

/** Tick or untick a service; a bundle (一件事) and its members go together, since a window takes a bundle whole. */
function toggleService(s, on) {
  const d = state.draft;
  setIn(d.services, s.code, on);
  if (on) {
    for (const m of s.bundle ?? []) d.services.add(m);
  } else {
    d.primary.delete(s.code);
    d.only.delete(s.code);
    for (const bundle of services().filter((b) => (b.bundle ?? []).includes(s.code) && d.services.has(b.code))) {
      d.services.delete(bundle.code);
      d.primary.delete(bundle.code);
      toast(t(`${serviceName(bundle.code)}须同时办理${serviceName(s.code)}，已一并取消。`,
        `${serviceName(bundle.code)} needs ${serviceName(s.code)}, so it is unticked too.`));
    }
  }
  renderEditor();
}

function renderEditor() {
  const w = live(state.chosen);
  $("editor").hidden = !w;
  $("no-editor").hidden = !!w;
  if (!w || !state.draft) return;
  $("e-title").textContent = `${windowName(w)} · ${label(WINDOW_STATE_TEXT, w.state)}`;
  $("e-services").replaceChildren(...services().map(serviceRow));
  const pending = changes(state.base, draftSkills());
  $("e-pending").hidden = !pending.length;
  $("e-pending").textContent = pending.length ? t(`尚未保存：${pending.join("；")}。`, `Not saved yet: ${pending.join("; ")}.`)
    : "";
  $("e-save").disabled = !pending.length || state.saving;
  $("e-reset").disabled = !pending.length || state.saving;
}

function renderResult() {
  const r = state.result;
  $("e-result").hidden = !r;
  if (!r) return;
  const done = changes(r.before, r.after);
  const name = windowName(live(r.window) ?? { id: r.window, name: r.window });
  $("e-result").textContent = done.length
    ? t(`已保存，即时生效：${name} ${done.join("；")}。`, `Saved, in effect now: ${name} ${done.join("; ")}.`)
    : t(`已保存：${name}的设置没有变化。`, `Saved: nothing changed at ${name}.`);
}

function problem(skills) {
  if (!skills.services.length) return t("请至少选择一项业务：窗口不能什么都不办。", "Choose at least one service: a window must serve something.");
  for (const [code, only] of state.draft.only) {
    if (state.draft.services.has(code) && !only.size) {
      return t(`请为${serviceName(code)}至少勾选一个事项，或选“全部事项”。`,
        `Tick at least one sub-item of ${serviceName(code)}, or choose “Every sub-item”.`);
    }
  }
  for (const code of skills.services) {
    const missing = (service(code).bundle ?? []).filter((m) => !skills.services.includes(m));
    if (missing.length) {
      return t(`${serviceName(code)}须同时办理 ${list(missing.map(serviceName))}。`,
        `${serviceName(code)} needs ${list(missing.map(serviceName))} too.`);
    }
  }
  return "";
}

async function save(event) {
  event.preventDefault();
  const w = live(state.chosen);
  const skills = draftSkills();
  if (!w || !skills || state.saving) return;
  const refusal = problem(skills);
  $("e-problem").textContent = refusal;
  if (refusal) return;
  const before = state.base;
  state.saving = true;
  renderEditor();
  try {
    const answer = await api(`/windows/${encodeURIComponent(w.id)}/services`, { method: "POST", token: state.token,
      body: skills });
    const after = skillsOf(answer);
    state.result = { window: w.id, before, after };
    const i = state.snapshot.windows.findIndex((x) => x.id === w.id);
    state.snapshot.windows[i] = { ...state.snapshot.windows[i], ...after };
    fillEditor(state.snapshot.windows[i]);
    renderResult();
    toast(t(`${windowName(w)}的设置已保存，即时生效。`, `${windowName(w)} saved, in effect now.`), "ok");
  } catch (error) {
    $("e-problem").textContent = error.message;
    toast(error.message, "error");
  } finally {
    state.saving = false;
    renderEditor();
    renderTable();
  }
  refresh();
}

function redraw() {
  applyLanguage();
  renderTable();
  renderEditor();
  renderResult();
}

async function main() {
  managerNav();
  applyLanguage();
  languageSwitch($("lang"), redraw);
  listState($("state"), "loading", t("正在登录…", "Signing in…"));
  const { token } = await managerSignIn("windows", ["窗口设置", "Windows"]);
  state.token = token;
  state.config = await hallSetUp(token, $("state"));
  $("e-form").addEventListener("submit", save);
  $("e-reset").addEventListener("click", () => {
    const w = live(state.chosen);
    if (w) fillEditor(w);
  });
  await refresh();
  setInterval(refresh, REFRESH_MS);
  const asked = new URLSearchParams(location.hash.slice(1)).get("window");
  if (asked) choose(asked);
  document.body.dataset.ready = "1";
}

main();
