// 一次性告知书: the printable notice of a sub-item (?item=SOC-RETIRE) or a theme bundle (?service=RESTO), on A4 or
// A5 (?paper=a5). ?missing=2,4 marks the documents the citizen did not have at the desk; ?print=1 prints it once
// drawn. The guide desk prints it from a hidden frame, the same way as a ticket (window.hallqReady says when).

import { api, applyLanguage, el, hall, signIn, storeToken, t } from "/assets/floor/hallq.js";

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);

/** The desk's own token when the notice is printed from the guide desk or kiosk (same browser, same hall). */
function adoptDeskToken() {
  if (new URLSearchParams(location.hash.slice(1)).get("token")) return; // given in the fragment: signIn takes it
  const desk = ["guide", "kiosk"].map((page) => localStorage.getItem(`hallq.token.${hall}.${page}`)).find(Boolean);
  if (desk) storeToken("notice", desk);
}

function missingNumbers() {
  return new Set((query.get("missing") ?? "").split(",").map((n) => Number(n)).filter((n) => Number.isInteger(n) && n > 0));
}

function usePaper() {
  // A5 for a small desk printer; A4 otherwise. notice.css puts body.a5 on its named A5 page.
  if (query.get("paper")?.toLowerCase() !== "a5") return;
  document.body.classList.add("a5");
}

async function loadNotice(token) {
  const item = query.get("item");
  const bundle = query.get("service");
  if (item) return (await api(`/catalog/items/${encodeURIComponent(item)}`, { token })).notice;
  if (bundle) return (await api(`/catalog/bundles/${encodeURIComponent(bundle)}`, { token })).notice;
  throw new Error(t("请指定事项（?item=）或主题联办（?service=）。", "Name a sub-item (?item=) or a bundle (?service=)."));
}

function list(node, values) {
  node.replaceChildren(...values.map((value) => el("li", {}, value)));
  node.closest("section").hidden = values.length === 0;
}

function fill(notice) {
  const missing = missingNumbers();
  document.title = `${notice.title} · ${t("一次性告知书", "One-time full notice")}`;
  $("hall-name").textContent = notice.hall_name;
  $("n-title").textContent = notice.title;
  const bundle = notice.kind === "bundle";
  $("title-label").textContent = bundle ? t("主题联办", "Theme bundle") : t("办理事项", "Matter");
  $("service-row").hidden = bundle;
  $("n-service").textContent = notice.service_name;
  $("parts-row").hidden = !bundle;
  const grouped = new Map();
  for (const part of notice.parts) {
    if (!grouped.has(part.service_name)) grouped.set(part.service_name, []);
    if (part.item_name) grouped.get(part.service_name).push(`${part.item_name}（${part.promised}）`);
  }
  $("n-parts").replaceChildren(...[...grouped].map(([service, items]) =>
    el("div", { class: "part" }, el("b", {}, service), items.length ? `：${items.join("、")}` : "")));
  $("n-promised").textContent = notice.promised_days
    ? `${notice.promised}${t(`，如今日受理，预计 ${notice.due} 前办结`, `; if accepted today, by ${notice.due}`)}`
    : notice.promised;
  $("n-windows").textContent = notice.windows.join(t("、", ", ")) || "—";
  $("material-rows").replaceChildren(...notice.materials.map((m) => {
    const lacking = missing.has(m.number);
    const note = [m.note, m.for_items.length ? t(`用于${m.for_items.join("、")}`, `for ${m.for_items.join(", ")}`) : ""]
      .filter(Boolean).join(t("；", "; "));
    return el("tr", { class: lacking ? "missing" : null, dataset: { number: m.number } },
      el("td", { class: "num" }, lacking ? `★${m.number}` : String(m.number)),
      el("td", { class: "name" }, m.name, lacking ? el("span", { class: "lack" }, t("尚缺", "missing")) : null),
      el("td", { class: "copies" }, m.copies_text),
      el("td", { class: "original" }, m.original ? "✓" : ""),
      el("td", { class: "note" }, note));
  }));
  if (!notice.materials.length) {
    $("material-rows").append(el("tr", {}, el("td", { colspan: 5 }, t("无需提交材料", "No documents needed"))));
  }
  const lacking = notice.materials.filter((m) => missing.has(m.number));
  $("missing-note").hidden = lacking.length === 0;
  $("missing-note").textContent = t(`您本次尚缺标 ★ 的 ${lacking.length} 项材料，请备齐后再来办理。`,
    `You still need the ${lacking.length} document${lacking.length === 1 ? "" : "s"} marked ★; please bring them next time.`);
  list($("n-forms"), notice.forms);
  list($("n-basis"), notice.legal_basis);
  $("n-date").textContent = notice.day;
}

async function main() {
  applyLanguage();
  usePaper();
  $("hall-name").textContent = document.querySelector('meta[name="hallq-hall-name"]')?.content ?? "";
  $("print-now").addEventListener("click", () => window.print());
  adoptDeskToken();
  const { token } = await signIn("notice", { title: t("一次性告知书", "One-time full notice") });
  fill(await loadNotice(token));
  $("sheet").removeAttribute("aria-busy");
  document.body.classList.add("ready");
}

const ready = main();
window.hallqReady = ready;
ready.then(() => {
  if (query.get("print") === "1") window.print();
}).catch((error) => {
  $("sheet").replaceChildren(el("p", { class: "failed", role: "alert" }, error.message));
});
