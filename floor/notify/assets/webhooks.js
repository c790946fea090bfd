// 消息推送: what the hall sent out by webhook (SMS gateway: a ticket's turn is near, a ticket is called; the
// provincial 好差评 system: every rating), newest first, with each delivery's state, its tries, the last answer or
// error and when it is tried next. Sending a failed one again is an administrator's act (POST
// /webhooks/deliveries/{id}/retry takes an admin token only): the button shows on an admin token, and a manager is
// told why it is not there. While a delivery is on its way, the list reads itself again every few seconds.
import {
  api, applyLanguage, clock, duration, el, label, languageSwitch, minutes, ROLE_TEXT, t, toast,
} from "/assets/floor/hallq.js";
import { listState, managerNav, managerSignIn } from "/assets/floor/manager-nav.js";

const $ = (id) => document.getElementById(id);
const PENDING_EVERY_MS = 4000;
const KIND_TEXT = {
  "ticket.called": ["叫号短信", "Called (SMS)"], "ticket.ahead": ["即将叫号提醒", "Turn coming (SMS)"],
  "ticket.rated": ["好差评上报", "Rating upload"],
};
const STATUS_TEXT = { pending: ["待发送", "Pending"], delivered: ["已送达", "Delivered"], failed: ["发送失败", "Failed"] };
const STATUS_BADGE = { pending: "amber", delivered: "green", failed: "red" };
const LEVEL_TEXT = { 5: ["非常满意", "Very satisfied"], 4: ["满意", "Satisfied"], 3: ["基本满意", "Fairly satisfied"],
  2: ["不满意", "Dissatisfied"], 1: ["非常不满意", "Very dissatisfied"] };

const state = { token: null, who: null, config: null, rows: null, error: null, seq: 0, timer: null, busy: false };
const tt = (pair) => t(pair[0], pair[1]);
const dayTime = (iso) => (iso ? `${iso.slice(5, 10)} ${clock(iso)}` : "—");
const isAdmin = () => state.who?.role === "admin";

function serviceName(code) {
  const s = state.config?.services.find((x) => x.code === code);
  return s ? t(s.name_zh, s.name_en || s.name_zh) : code ?? "";
}

function windowName(id) {
  const w = state.config?.windows.find((x) => x.id === id);
  return id ? t(w?.name ?? `${id}号窗口`, `Window ${id}`) : "";
}

// -- the list ---------------------------------------------------------------------------------------------------
async function load() {
  clearTimeout(state.timer);
  const params = new URLSearchParams({ limit: $("f-limit").value });
  if ($("f-kind").value) params.set("kind", $("f-kind").value);
  if ($("f-status").value) params.set("status", $("f-status").value);
  if ($("f-since").value) params.set("since", `${$("f-since").value}T00:00:00`); // no offset: the hall's own time
  const seq = ++state.seq;
  if (state.rows === null) render();
  let rows = null;
  let problem = null;
  try {
    rows = (await api(`/webhooks/deliveries?${params}`, { token: state.token })).deliveries;
  } catch (error) {
    problem = error.message;
  }
  if (seq !== state.seq) return;
  state.rows = problem ? state.rows : rows;
  state.error = problem;
  render();
  // Something on its way: follow it until it arrives or fails.
  if (state.rows?.some((d) => d.status === "pending")) state.timer = setTimeout(load, PENDING_EVERY_MS);
}

function what(d) {
  const p = d.payload ?? {};
  if (d.kind === "ticket.rated") {
    const level = LEVEL_TEXT[p.score];
    return [[serviceName(p.service), windowName(p.window), level ? tt(level) : p.level].filter(Boolean).join(" · "),
      p.bad ? el("span", { class: "badge red" }, t("差评", "Bad")) : null];
  }
  if (d.kind === "ticket.called") {
    return [t(p.announcement ?? `请到${p.window_name ?? windowName(p.window)}`,
      `Called to ${windowName(p.window) || p.window_name}`)];
  }
  if (d.kind === "ticket.ahead") {
    return [t(`${serviceName(p.service)} · 前面还有 ${p.ahead} 人，预计等候${minutes(p.estimated_wait_s)}`,
      `${serviceName(p.service)} · ${p.ahead} ahead, ${minutes(p.estimated_wait_s)} to wait`)];
  }
  return [];
}

function lastTry(d) {
  const s = d.last_status;
  let words = "";
  if (d.status === "delivered") words = t(`对方已接收（${s ?? 200}）`, `Received (${s ?? 200})`);
  else if (s && s >= 500) words = t(`对方服务出错（HTTP ${s}）`, `The receiver failed (HTTP ${s})`);
  else if (s && s >= 400) words = t(`对方拒收（HTTP ${s}）`, `The receiver refused it (HTTP ${s})`);
  else if (s) words = t(`对方答复 HTTP ${s}`, `Answered HTTP ${s}`);
  else if (d.last_error) words = t("未能连接或对方超时未答复", "Could not connect, or no answer in time");
  else if (!d.attempts) words = t("尚未发送", "Not tried yet");
  const error = d.last_error && d.status !== "delivered" ? d.last_error : "";
  return [words, error ? el("span", { class: "mp-sub last-error", title: error }, error.slice(0, 160)) : null];
}

function nextTry(d) {
  if (d.status === "delivered") return t(`送达于 ${dayTime(d.delivered_at)}`, `arrived ${dayTime(d.delivered_at)}`);
  if (d.status === "failed") return t("不再自动重试", "No more tries");
  if (!d.next_attempt_at) return "—";
  const wait = (Date.parse(d.next_attempt_at) - Date.now()) / 1000;
  return wait <= 1 ? t(`${clock(d.next_attempt_at)}（即将）`, `${clock(d.next_attempt_at)} (now)`)
    : t(`${clock(d.next_attempt_at)}（${duration(wait)}后）`, `${clock(d.next_attempt_at)} (in ${duration(wait)})`);
}

function render() {
  const rows = state.rows ?? [];
  $("rows").replaceChildren(...rows.map((d) => el("tr", { dataset: { delivery: d.delivery_id, status: d.status } },
    el("td", { class: "when" }, dayTime(d.created_at)),
    el("td", {}, tt(KIND_TEXT[d.kind] ?? [d.kind, d.kind]),
      el("span", { class: "mp-mono", title: t("推送编号（重发不变）", "Delivery id (the same on every try)") },
        d.delivery_id)),
    el("td", { class: "number" }, d.payload?.number ?? "—"),
    el("td", { class: "what" }, what(d), el("span", { class: "mp-mono" }, d.target_url)),
    el("td", {}, el("span", { class: `badge ${STATUS_BADGE[d.status] ?? ""}`.trim() },
      d.status === "pending" && d.attempts ? t("重试中", "Retrying") : tt(STATUS_TEXT[d.status] ?? [d.status, d.status]))),
    el("td", { class: "num attempts" }, d.attempts),
    el("td", { class: "last" }, lastTry(d)),
    el("td", { class: "when next" }, nextTry(d)),
    el("td", { class: "actions" }, isAdmin() && d.status === "failed"
      ? el("button", { class: "btn primary retry", type: "button", onclick: () => retry(d) }, t("重发", "Send again"))
      : null))));
  const filtered = $("f-kind").value || $("f-status").value || $("f-since").value;
  if (state.error) listState($("state"), "error", state.error, load);
  else if (state.rows === null) listState($("state"), "loading", t("正在读取推送记录…", "Reading the deliveries…"));
  else if (!rows.length) {
    listState($("state"), "empty", filtered ? t("没有符合条件的推送。", "No delivery matches.")
      : unset() ? t("本大厅没有配置短信网关和好差评系统的推送地址，不会有推送。",
        "This hall has no address for the SMS gateway or the 好差评 system: nothing is sent.")
        : t("还没有推送记录。", "Nothing sent yet."));
  } else listState($("state"), null);
  $("count").textContent = state.rows ? countText(rows) : "";
  renderNote();
}

/** The hall file names neither the SMS gateway nor the 好差评 system (managers are told where they point). */
const unset = () => state.config?.notifications && !state.config.notifications.notify_url
  && !state.config.notifications.ratings_url;

function countText(rows) {
  if (!rows.length) return "";
  const by = {};
  for (const d of rows) by[d.status] = (by[d.status] ?? 0) + 1;
  const parts = Object.keys(STATUS_TEXT).filter((s) => by[s]).map((s) => t(`${STATUS_TEXT[s][0]} ${by[s]}`,
    `${STATUS_TEXT[s][1].toLowerCase()} ${by[s]}`));
  return t(`共 ${rows.length} 条${parts.length ? `：${parts.join("，")}` : ""}`,
    `${rows.length} in all${parts.length ? `: ${parts.join(", ")}` : ""}`);
}

function renderNote() {
  const note = $("retry-note");
  note.hidden = isAdmin() || !state.who;
  note.textContent = t(
    `重发失败的推送须使用系统管理员（admin）令牌；您现在用的是${label(ROLE_TEXT, state.who?.role)}（${state.who?.role}）令牌，`
    + "可以查看推送记录，不能重发。",
    `Sending a failed delivery again takes an administrator (admin) token; you are signed in with a `
    + `${label(ROLE_TEXT, state.who?.role)} token, which can read the deliveries but not send them again.`);
}

async function retry(d) {
  if (state.busy) return;
  state.busy = true;
  try {
    await api(`/webhooks/deliveries/${encodeURIComponent(d.delivery_id)}/retry`, { method: "POST", token: state.token });
    toast(t("已重新发送：推送编号不变，一两秒内发出。", "Sent again under the same delivery id, within a second or two."),
      "ok");
  } catch (error) {
    toast(error.message, "error");
  } finally {
    state.busy = false;
  }
  load();
}

function redraw() {
  applyLanguage();
  render();
}

async function main() {
  managerNav();
  applyLanguage();
  languageSwitch($("lang"), redraw);
  listState($("state"), "loading", t("正在登录…", "Signing in…"));
  const { token, who } = await managerSignIn("webhooks", ["消息推送", "Webhooks"]);
  state.token = token;
  state.who = who;
  try {
    state.config = await api("/config", { token });
  } catch (error) {
    toast(error.message, "error"); // names only: the list still shows without them
  }
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); load(); });
  for (const id of ["f-kind", "f-status", "f-since", "f-limit"]) $(id).addEventListener("change", load);
  $("reload").addEventListener("click", load);
  await load();
  document.body.dataset.ready = "1";
}

main();
