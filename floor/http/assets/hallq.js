// The kit every hallq page shares: the hall it serves, the zh/en switch, signed-in tokens, API calls with
// the api.md error shape, and the live feed that reconnects by itself and resumes from its last event id.
// Plain ES modules, no build step: what the server sends is what the browser runs.

export const hall = document.querySelector('meta[name="hallq-hall"]')?.content ?? "";

// -- language -------------------------------------------------------------------------------------
const LANG_KEY = "hallq.lang";
let fixedLang = null;

/** For a page whose language is the hall's setting, not its reader's (the lobby display): lang() answers it. */
export function fixLanguage(value) {
  fixedLang = value === "en" ? "en" : "zh";
}

export function lang() {
  if (fixedLang) return fixedLang;
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked === "en" || asked === "zh") return asked;
  return localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh";
}

/** The text for the page's language: t("叫号", "Call"). */
export function t(zh, en) {
  return lang() === "en" ? en : zh;
}

/** Fill every element carrying data-zh / data-en (and data-zh-placeholder / data-en-placeholder). */
export function applyLanguage(root = document) {
  const l = lang();
  document.documentElement.lang = l === "en" ? "en" : "zh-CN";
  for (const node of root.querySelectorAll("[data-zh]")) {
    node.textContent = l === "en" ? node.dataset.en ?? node.dataset.zh : node.dataset.zh;
  }
  for (const node of root.querySelectorAll("[data-zh-placeholder]")) {
    node.placeholder = l === "en" ? node.dataset.enPlaceholder : node.dataset.zhPlaceholder;
  }
  for (const node of root.querySelectorAll("[data-zh-title]")) {
    node.title = l === "en" ? node.dataset.enTitle : node.dataset.zhTitle;
  }
}

/** A button that switches 中文/English; ``onChange`` redraws what the page renders itself. */
export function languageSwitch(button, onChange = () => {}) {
  const label = () => { button.textContent = lang() === "en" ? "中文" : "English"; };
  label();
  button.addEventListener("click", () => {
    localStorage.setItem(LANG_KEY, lang() === "en" ? "zh" : "en");
    applyLanguage();
    label();
    onChange();
  });
}

// -- tokens ---------------------------------------------------------------------------------------
// A token arrives once in the URL fragment (#token=…, never sent to the server or written to its log)
// and is kept in this browser's storage for the page, per hall.
const tokenKey = (page) => `hallq.token.${hall}.${page}`;

export function takeToken(page) {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const given = fragment.get("token");
  if (given) {
    localStorage.setItem(tokenKey(page), given);
    fragment.delete("token");
    const rest = fragment.toString();
    history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
  }
  return localStorage.getItem(tokenKey(page));
}

export function storeToken(page, token) {
  localStorage.setItem(tokenKey(page), token);
}

export function forgetToken(page) {
  localStorage.removeItem(tokenKey(page));
}

// -- API ------------------------------------------------------------------------------------------
export class ApiError extends Error {
  constructor(status, code, message, fields = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields;
  }
}

/** Call /api/v1/halls/{hall}{path}; resolves to the JSON body, rejects with an ApiError whose message
 *  is the server's own sentence in the page's language. */
export async function api(path, { method = "GET", body, token, idempotencyKey, headers: extra = {} } = {}) {
  const headers = { "Accept-Language": lang() === "en" ? "en" : "zh-CN", ...extra };
  if (token) headers.Authorization = `Bearer ${token}`;
  // Signed in by the session cookie: each write carries the session's CSRF token, which only our pages can read.
  else if (method !== "GET" && readCookie("hallq_csrf")) headers["X-CSRF-Token"] = readCookie("hallq_csrf");
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  let reply;
  try {
    reply = await fetch(`/api/v1/halls/${hall}${path}`, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", t("网络连接中断，请检查网络后重试。", "The network is down; check it and try again."));
  }
  const text = await reply.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!reply.ok) {
    const error = data?.error;
    throw new ApiError(reply.status, error?.code ?? "http_error",
      error?.message ?? t(`请求失败（${reply.status}），请稍后重试。`, `The request failed (${reply.status}); try again.`),
      error?.fields ?? []);
  }
  return data;
}

function readCookie(name) {
  const found = document.cookie.split("; ").find((c) => c.startsWith(`${name}=`));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : null;
}

/** A fresh key for one user action: a retried click of the same action sends the same key. */
export function newKey() {
  return crypto.randomUUID ? crypto.randomUUID()
    : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

// -- the live feed --------------------------------------------------------------------------------
const REFUSED = new Set([4400, 4401, 4403, 4404]);

/**
 * Follow a websocket feed. ``path`` is below /api/v1/halls/{hall}/ws/ (e.g. "display", "ticket/ID").
 * Reconnects with backoff and resumes with since=<last event id>, so a blinking screen misses nothing;
 * a socket silent for three heartbeats is taken for dead and replaced. Refusals (bad token, unknown
 * window) stop it: retrying cannot help. Returns { close(), drop(), lastId() }: drop() closes the current
 * socket as a network fault would, and the feed comes back by itself (operators' "reconnect" and tests use it).
 */
export function follow(path, { token, params = {}, since = null, onEvent, onStatus = () => {}, heartbeatS = 15 }) {
  let last = since;
  let socket = null;
  let stopped = false;
  let attempt = 0;
  let watchdog = null;
  let refusal = "";

  const url = () => {
    const query = new URLSearchParams(params);
    if (token) query.set("token", token);
    if (last) query.set("since", last);
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const qs = query.toString();
    return `${scheme}://${location.host}/api/v1/halls/${hall}/ws/${path}${qs ? `?${qs}` : ""}`;
  };
  const arm = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => socket?.close(), heartbeatS * 3000);
  };
  const open = () => {
    onStatus(attempt === 0 ? "connecting" : "reconnecting");
    socket = new WebSocket(url());
    socket.onopen = () => { attempt = 0; arm(); onStatus("live"); };
    socket.onmessage = (message) => {
      arm();
      let event;
      try { event = JSON.parse(message.data); } catch { return; }
      if (event.type === "error") { refusal = event.message; return; }
      if (event.type === "heartbeat") return;
      if (event.event_id) last = event.event_id;
      onEvent(event);
    };
    socket.onclose = (close) => {
      clearTimeout(watchdog);
      if (stopped) return;
      if (REFUSED.has(close.code)) { onStatus("refused", refusal || close.reason); return; }
      attempt += 1;
      onStatus("reconnecting");
      // 4008: this screen fell behind; come straight back and catch up from the stream.
      const delay = close.code === 4008 ? 50 : Math.min(10000, 300 * 2 ** Math.min(attempt, 6));
      setTimeout(open, delay);
    };
  };
  open();
  return {
    close() { stopped = true; clearTimeout(watchdog); socket?.close(); },
    drop() { socket?.close(); },
    lastId: () => last,
  };
}

/** Show the feed's state in a small indicator: a dot and a word. */
export function showLink(node, status) {
  node.dataset.status = status;
  node.textContent = {
    live: t("实时", "Live"), connecting: t("连接中", "Connecting"), reconnecting: t("重新连接中…", "Reconnecting…"),
    refused: t("无权访问", "Access refused"),
  }[status] ?? status;
}

// -- formatting -----------------------------------------------------------------------------------
/** "HH:MM" of an ISO time with offset, as the hall's clock reads it (the server sends hall-local times). */
export function clock(iso) {
  return iso ? iso.slice(11, 16) : "";
}

/** A wait as people say it: "约 12 分钟", "~12 min"; under a minute is "即将" / "soon". */
export function minutes(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 60) return t("即将", "soon");
  const m = Math.round(seconds / 60);
  if (m < 60) return t(`约 ${m} 分钟`, `~${m} min`);
  const h = Math.floor(m / 60);
  return t(`约 ${h} 小时 ${m % 60} 分`, `~${h} h ${m % 60} min`);
}

/**
 * A measured duration as people read one: "45秒", "18分24秒", "1小时5分" ("45 s", "18 min 24 s", "1 h 5 min").
 * Never "18:24", which reads as a time of day beside one.
 */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor(s / 60) % 60;
  if (h) return t(`${h}小时${m}分`, `${h} h ${m} min`);
  if (m) return t(`${m}分${s % 60}秒`, `${m} min ${s % 60} s`);
  return t(`${s}秒`, `${s} s`);
}

/** 张三 -> 张*, 张小三 -> 张*三, 欧阳小明 -> 欧**明: names on any screen are masked (design §7). */
export function maskName(name) {
  const chars = Array.from(name ?? "");
  if (chars.length <= 1) return chars.join("");
  if (chars.length === 2) return `${chars[0]}*`;
  return chars[0] + "*".repeat(chars.length - 2) + chars[chars.length - 1];
}

export const STATUS_TEXT = {
  waiting: ["等候中", "Waiting"], called: ["已叫号", "Called"], serving: ["办理中", "Being served"],
  done: ["已办结", "Done"], missed: ["已过号", "Missed"], cancelled: ["已取消", "Cancelled"],
};
export const WINDOW_STATE_TEXT = {
  closed: ["未开放", "Closed"], idle: ["空闲", "Idle"], calling: ["叫号中", "Calling"],
  serving: ["办理中", "Serving"], paused: ["暂停服务", "Paused"],
};
/** Who a token speaks for, as a refusal names it ("this one is for the kiosk"). */
export const ROLE_TEXT = {
  guide: ["导办台", "guide desk"], kiosk: ["自助取号机", "kiosk"], staff: ["窗口人员", "window staff"],
  manager: ["管理员", "manager"], admin: ["系统管理员", "administrator"], display: ["显示屏", "display"],
  pad: ["评价器", "rating pad"],
};
export const PRIORITY_TEXT = { vip: ["VIP", "VIP"], green: ["绿色通道", "Green channel"] };

export function label(table, key) {
  const pair = table[key];
  return pair ? t(pair[0], pair[1]) : key ?? "";
}

// -- small DOM helpers ----------------------------------------------------------------------------
/** el("div", {class: "card", onclick: f}, "text", child, …) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    // Through CSSOM: a style="" attribute is inline style, which the pages' Content-Security-Policy refuses.
    else if (key === "style") node.style.cssText = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

let toastTimer = null;
/** A short message at the bottom of the screen; kind "error" stays longer. */
export function toast(message, kind = "info") {
  let box = document.getElementById("hallq-toast");
  if (!box) {
    box = el("div", { id: "hallq-toast", role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  box.textContent = message;
  box.dataset.kind = kind;
  box.classList.add("shown");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => box.classList.remove("shown"), kind === "error" ? 6000 : 2500);
}

/**
 * Sign a page in. A device's page keeps the token it was given (URL fragment, then this browser's storage); a
 * person signs in with their account, and the session cookie does the rest. Resolves to { token, who }: token is
 * null for a person (the cookie is sent by itself), who is GET /whoami's answer. ``accept(who)`` may return an
 * error text to refuse a sign-in of the wrong role. A password an admin reset is changed before the page opens.
 */
export async function signIn(page, { title, accept = () => null, device = false } = {}) {
  const stored = takeToken(page);
  let refused = "";  // why a stored token or session was turned away, shown in the panel so nobody wonders
  if (stored) {
    device = true;  // a page given a token is a device's (or a script's): its panel asks for a token again
    try {
      const who = await api("/whoami", { token: stored });
      refused = accept(who) ?? "";
      if (!refused) return { token: stored, who };
    } catch (error) {
      if (error.status !== 401 && error.status !== 403) throw error;
    }
    forgetToken(page);
  }
  if (readCookie("hallq_csrf")) {  // a session already (its CSRF cookie says so): signed in on another page
    try {
      const who = await api("/whoami");
      refused = accept(who) ?? "";
      if (!refused) return { token: null, who };
    } catch (error) {
      if (error.code === "must_change_password") return choosePassword(page, { title, accept });
      if (error.status !== 401 && error.status !== 403) throw error;
      if (error.status === 401) document.cookie = "hallq_csrf=; Max-Age=0; path=/";  // that session has ended
    }
  }
  return signInForm(page, { title, accept, refused, device });
}

function signInForm(page, { title, accept, refused, device }) {
  return new Promise((resolve) => {
    const username = el("input", { id: "signin-username", autocomplete: "username", autocapitalize: "none",
      spellcheck: "false" });
    const password = el("input", { id: "signin-password", type: "password", autocomplete: "current-password" });
    const problem = el("p", { class: "signin-problem", role: "alert" }, refused);
    const submit = el("button", { class: "btn primary big", type: "submit", id: "signin-submit" }, t("登录", "Sign in"));
    const tokenBox = el("textarea", { id: "signin-token", rows: 3, autocomplete: "off", spellcheck: "false",
      placeholder: t("粘贴令牌（设备或脚本用）", "Paste a token (for devices and scripts)") });
    const tokenFold = el("details", { class: "signin-token", open: device || null },
      el("summary", {}, t("使用令牌登录", "Sign in with a token")), tokenBox);
    // A device shows a pairing code for the hall's admin to enter; a person types their account.
    const pairing = device ? el("div", { class: "pairing", id: "pairing" }) : null;
    const form = el("form", { class: "signin card" },
      el("h1", {}, title ?? t("登录", "Sign in")),
      ...(device ? [pairing] : [
        el("label", { for: "signin-username" }, t("用户名", "Username")), username,
        el("label", { for: "signin-password" }, t("密码", "Password")), password]),
      problem, ...(device ? [tokenFold] : [submit, tokenFold]));
    if (device) tokenFold.append(submit);  // a device signs in by its code, or by a token pasted here
    const overlay = el("div", { class: "signin-overlay" }, form);
    let stopPairing = () => {};
    const done = (result) => { stopPairing(); overlay.remove(); resolve(result); };
    if (device) {
      tokenFold.open = Boolean(refused);
      stopPairing = pair(pairing, async (token) => {
        const who = await api("/whoami", { token });
        const refusal = accept(who);
        if (refusal) { problem.textContent = refusal; return false; }
        storeToken(page, token);
        done({ token, who });
        return true;
      });
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      problem.textContent = "";
      try {
        const token = tokenFold.open || device ? tokenBox.value.trim() : "";
        if (device && !token) {
          problem.textContent = t("请先粘贴令牌。", "Paste a token first.");
          return;
        }
        if (token) {
          const who = await api("/whoami", { token });
          const refusal = accept(who);
          if (refusal) { problem.textContent = refusal; return; }
          storeToken(page, token);
          done({ token, who });
          return;
        }
        if (!username.value.trim() || !password.value) {
          problem.textContent = t("请输入用户名和密码。", "Enter your username and password.");
          return;
        }
        const session = await api("/session", { method: "POST",
          body: { username: username.value.trim(), password: password.value } });
        password.value = "";
        if (session.must_change) { overlay.remove(); resolve(await choosePassword(page, { title, accept })); return; }
        const who = await api("/whoami");
        const refusal = accept(who);
        if (refusal) {
          problem.textContent = refusal;
          await api("/session", { method: "DELETE" }).catch(() => {});
          return;
        }
        done({ token: null, who });
      } catch (error) {
        problem.textContent = error.message;
        if (!tokenFold.open) { password.value = ""; password.focus(); }
      } finally {
        submit.disabled = false;
      }
    });
    document.body.append(overlay);
    if (!device) username.focus();
  });
}

const PAIR_POLL_MS = 2000;

/**
 * Show this device's pairing code and wait for the hall's admin to enter it (accounts page); ``paired(token)``
 * gets the device's own credential and says whether it was taken. A code that expires is replaced. Returns stop().
 */
function pair(box, paired) {
  let stopped = false;
  let timer = null;
  const show = (code) => box.replaceChildren(
    el("p", { class: "pairing-label" }, t("本设备配对码", "This device's pairing code")),
    el("p", { class: "pairing-code", id: "pairing-code" }, code ? `${code.slice(0, 3)} ${code.slice(3)}` : "…"),
    el("p", { class: "pairing-hint" }, t("请系统管理员在「账号与密钥」页面输入此配对码，为本设备命名后即自动登录。",
      "Ask the hall's admin to enter this code on the accounts page; the device signs in by itself once named.")));
  const start = async () => {
    show(null);
    let asked;
    try {
      asked = await api("/pairing", { method: "POST" });
    } catch (error) {
      box.replaceChildren(el("p", { class: "signin-problem" }, error.message));
      timer = setTimeout(start, 10000);
      return;
    }
    show(asked.code);
    box.dataset.code = asked.code;
    const poll = async () => {
      if (stopped) return;
      try {
        const state = await api(`/pairing/${asked.code}`, { headers: { "X-Pairing-Claim": asked.claim } });
        if (state.paired && await paired(state.token)) return;
        if (state.paired) { start(); return; }  // refused for this page: a fresh code to pair it again
      } catch (error) {
        if (error.status === 404) { start(); return; }  // the code expired: a new one
      }
      timer = setTimeout(poll, PAIR_POLL_MS);
    };
    timer = setTimeout(poll, PAIR_POLL_MS);
  };
  start();
  return () => { stopped = true; clearTimeout(timer); };
}

function choosePassword(page, { title, accept }) {
  return new Promise((resolve) => {
    const current = el("input", { id: "password-current", type: "password", autocomplete: "current-password" });
    const next = el("input", { id: "password-new", type: "password", autocomplete: "new-password" });
    const again = el("input", { id: "password-again", type: "password", autocomplete: "new-password" });
    const problem = el("p", { class: "signin-problem", role: "alert" });
    const submit = el("button", { class: "btn primary big", type: "submit", id: "password-submit" },
      t("设置新密码", "Set new password"));
    const form = el("form", { class: "signin card" },
      el("h1", {}, title ?? t("登录", "Sign in")),
      el("p", {}, t("密码已被重置，请设置新密码（至少 10 位）。", "Your password was reset: choose a new one (10 characters or more).")),
      el("label", { for: "password-current" }, t("当前密码（一次性密码）", "Current (one-time) password")), current,
      el("label", { for: "password-new" }, t("新密码", "New password")), next,
      el("label", { for: "password-again" }, t("再次输入新密码", "New password again")), again,
      problem, submit);
    const overlay = el("div", { class: "signin-overlay" }, form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (next.value !== again.value) {
        problem.textContent = t("两次输入的新密码不一致。", "The two new passwords differ.");
        return;
      }
      submit.disabled = true;
      try {
        await api("/session/password", { method: "POST", body: { current: current.value, new: next.value } });
        const who = await api("/whoami");
        const refusal = accept(who);
        if (refusal) { problem.textContent = refusal; return; }
        overlay.remove();
        resolve({ token: null, who });
      } catch (error) {
        problem.textContent = error.message;
      } finally {
        submit.disabled = false;
      }
    });
    document.body.append(overlay);
    current.focus();
  });
}

/** Sign out: a person's session ends on the server (on every worker at once); a device forgets its token. */
export async function signOut(page) {
  forgetToken(page);
  if (readCookie("hallq_csrf")) await api("/session", { method: "DELETE" }).catch(() => {});
}
