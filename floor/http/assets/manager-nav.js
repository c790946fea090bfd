// The manager's pages, one small nav across them: each manager page has a <nav id="manager-nav"></nav> and calls
// managerNav() once. Labels carry data-zh / data-en, so the page's own applyLanguage() switches them with the rest.
//
// Tokens are kept per page (hallq.js): following a link of the nav hands the token this page is signed in with to
// the page it opens, when that page has none of its own, so a manager signs in once, not once per page. The token
// stays in this browser's storage, as ever; it never goes into a URL.
//
// managerSignIn() is the sign-in of the manager pages added for issue 22 (bookings, windows, webhooks, audit):
// a manager or admin token, borrowed from another manager page if this one has none, and a sentence naming the
// role of any other token.
import { api, el, hall, label, ROLE_TEXT, signIn, t, takeToken } from "/assets/floor/hallq.js";

export const MANAGER_PAGES = [
  ["dashboard", "管理看板", "Dashboard"],
  ["reports", "统计报表", "Reports"],
  ["cases", "差评件", "差评 cases"],
  ["bookings", "预约管理", "Bookings"],
  ["windows", "窗口设置", "Windows"],
  ["setup", "大厅设置", "Hall set-up"],
  ["webhooks", "消息推送", "Webhooks"],
  ["audit", "操作日志", "Audit log"],
];
// The administrator's pages: linked once signed in as an admin (adminNav), and on their own page.
export const ADMIN_PAGES = [["accounts", "账号与密钥", "Accounts and keys"]];

const tokenKey = (page) => `hallq.token.${hall}.${page}`;
const thisPage = () => location.pathname.split("/").filter(Boolean).pop() ?? "";

function handOver(page) {
  const mine = localStorage.getItem(tokenKey(thisPage()));
  if (mine && page !== thisPage() && !localStorage.getItem(tokenKey(page))) localStorage.setItem(tokenKey(page), mine);
}

function stylesheet() {
  const href = "/assets/floor/manager-nav.css";
  if (document.querySelector(`link[href="${href}"]`)) return;
  document.head.append(el("link", { rel: "stylesheet", href }));
}

/** Fill <nav id="manager-nav"> with a link to every manager page, this one marked. */
export function managerNav(node = document.getElementById("manager-nav")) {
  if (!node) return null;
  stylesheet();
  const here = thisPage();
  node.classList.add("manager-nav");
  node.setAttribute("aria-label", "管理页面 Manager pages");
  node.replaceChildren(...[...MANAGER_PAGES, ...ADMIN_PAGES.filter(([page]) => page === here)].map(navLink));
  return node;
}

function navLink([page, zh, en]) {
  return el("a", {
    href: `/halls/${hall}/${page}`, "data-zh": zh, "data-en": en, dataset: { page },
    "aria-current": page === thisPage() ? "page" : null,
    onclick: () => handOver(page), onauxclick: () => handOver(page),
  }, t(zh, en));
}

/** Add the administrator's pages to the nav once ``who`` (signIn()'s) is an admin. */
export function adminNav(who, node = document.getElementById("manager-nav")) {
  if (!node || who?.role !== "admin") return;
  for (const entry of ADMIN_PAGES) {
    if (!node.querySelector(`a[data-page="${entry[0]}"]`)) node.append(navLink(entry));
  }
}

/** Use another manager page's token when this page has none of its own (nor one in its URL fragment). */
export function borrowToken(page) {
  if (takeToken(page)) return;
  for (const [other] of MANAGER_PAGES) {
    const token = localStorage.getItem(tokenKey(other));
    if (token && other !== page) {
      localStorage.setItem(tokenKey(page), token);
      return;
    }
  }
}

/**
 * Sign a manager page in: a manager or admin token; any other is refused with a sentence that names the page and
 * the token's role. ``name`` is [zh, en] of the page's name. Resolves to signIn()'s { token, who }.
 */
export function managerSignIn(page, name) {
  borrowToken(page);
  return signIn(page, {
    title: t(`${name[0]}登录`, `${name[1]} sign-in`),
    accept: (who) => (["manager", "admin"].includes(who.role) ? null : t(
      `${name[0]}只接受管理员（manager）令牌，这是${label(ROLE_TEXT, who.role)}的令牌。`,
      `${name[1]} takes a manager token; this one is for the ${label(ROLE_TEXT, who.role)}.`)),
  }).then((signedIn) => { adminNav(signedIn.who); return signedIn; });
}

/** The hall's set-up (GET /config), asked again every 5 s while it fails, the reason shown in ``node`` meanwhile:
 *  a page that labels everything by it has nothing to show without it. */
export async function hallSetUp(token, node) {
  listState(node, "loading", t("正在读取大厅设置…", "Reading the hall's set-up…"));
  for (;;) {
    try {
      return await api("/config", { token });
    } catch (error) {
      listState(node, "error", error.message);
      await new Promise((resolve) => { setTimeout(resolve, 5000); });
    }
  }
}

/** A list's state in its <p class="mp-state">: kind "loading", "empty" or "error" (with a button to try again), or
 *  null to hide it. */
export function listState(node, kind, text = "", retry = null) {
  node.dataset.kind = kind ?? "";
  node.hidden = !kind;
  const button = retry ? el("button", { class: "btn", type: "button", onclick: retry }, t("重试", "Try again")) : null;
  node.replaceChildren(...[text, button].filter(Boolean));
}

/** YYYY-MM-DD of a moment (now by default) on the hall's calendar, whatever the browser's own time zone. */
export function hallDate(zone, date = new Date()) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone || "Asia/Shanghai", year: "numeric", month: "2-digit",
    day: "2-digit" }).format(date);
}
