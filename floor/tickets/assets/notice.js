// 一次性告知书: the printable notice of a sub-item (?item=SOC-RETIRE) or a theme bundle (?service=RESTO), on A4 or
// A5 (?paper=a5). ?missing=2,4 marks the documents the citizen did not have at the desk; ?print=1 prints it once
// drawn. The guide desk prints it from a hidden frame, the same way as a ticket (window.hallqReady says when).
// A bundle's documents of which one set is enough (以下二选一: a 个体工商户 or a company) are listed apart, option
// by option, and counted by the option that lacks the fewest (lacking.js).

import { api, applyLanguage, el, hall, signIn, storeToken, t } from "/assets/floor/hallq.js";
import { lacking } from "/assets/tickets/lacking.js";

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
  const count = lacking(notice.materials, missing);
  const byNumber = new Map(notice.materials.map((m) => [m.number, m]));
  const row = (m) => {
    const lack = missing.has(m.number);
    // A choice's document stands under the sub-item it is for; others say which sub-items ask for them.
    const forItems = m.choice === null || m.choice === undefined ? m.for_items : [];
    const note = [m.note, forItems.length ? t(`用于${forItems.join("、")}`, `for ${forItems.join(", ")}`) : ""]
      .filter(Boolean).join(t("；", "; "));
    return el("tr", { class: lack ? "missing" : null, dataset: { number: m.number } },
      el("td", { class: "num" }, lack ? `★${m.number}` : String(m.number)),
      el("td", { class: "name" }, m.name, lack ? el("span", { class: "lack" }, t("尚缺", "missing")) : null),
      el("td", { class: "copies" }, m.copies_text),
      el("td", { class: "original" }, m.original ? "✓" : ""),
      el("td", { class: "note" }, note));
  };
  const rows = notice.materials.filter((m) => m.choice === null || m.choice === undefined).map(row);
  (notice.choices ?? []).forEach((choice, n) => {
    const counted = count.choices.find((c) => c.choice === n);
    rows.push(el("tr", { class: "choice-head", dataset: { choice: n } },
      el("td", { colspan: 5 }, t(`${choice.label}（备齐其中一组即可）`, `${choice.label} (one set is enough)`))));
    choice.options.forEach((option, k) => {
      const short = counted?.options[option.item] ?? 0;
      rows.push(el("tr", { class: "option-head", dataset: { choice: n, option: option.item } },
        el("td", { colspan: 5 },
          t(`（${"一二三四五六七八九十"[k] ?? k + 1}）${option.item_name}`, `(${String.fromCharCode(97 + k)}) ${option.item_name}`),
          short ? el("span", { class: "lack" }, t(`尚缺 ${short} 项`, `${short} missing`)) : null)));
      rows.push(...option.materials.map((number) => row(byNumber.get(number))));
    });
  });
  $("material-rows").replaceChildren(...rows);
  if (!notice.materials.length) {
    $("material-rows").append(el("tr", {}, el("td", { colspan: 5 }, t("无需提交材料", "No documents needed"))));
  }
  const choosing = count.choices.length > 0;
  $("missing-note").hidden = count.count === 0;
  $("missing-note").dataset.count = String(count.count);
  $("missing-note").textContent = choosing
    ? t(`您本次尚缺 ${count.count} 项材料（标 ★；“选一”的材料备齐其中一组即可，按所缺最少的一组计），请备齐后再来办理。`,
      `You still need ${count.count} document${count.count === 1 ? "" : "s"} (marked ★; of a "choose one" group one `
      + "set is enough, counted by the set with the fewest missing); please bring them next time.")
    : t(`您本次尚缺标 ★ 的 ${count.count} 项材料，请备齐后再来办理。`,
      `You still need the ${count.count} document${count.count === 1 ? "" : "s"} marked ★; `
      + "please bring them next time.");
  list($("n-forms"), notice.forms);
  list($("n-basis"), notice.legal_basis);
  $("n-notes").textContent = notice.notes ?? "";
  $("notes-block").hidden = !notice.notes;
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
