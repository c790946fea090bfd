// 差评件: the hall's managers work each 差评's closed loop here. The list (GET /cases, with filters) marks the
// cases whose callback or fix is past its deadline; the chosen case shows every step recorded so far and a form
// for its next one: 回访核实 (callback) -> 整改 (fix) -> 反馈 (feedback, closes it) -> 追评/申诉复核 (review).
//
// Open from the dashboard's cases panel (/halls/{hall}/cases#token=…&case=<ticket id>), or signed in on its own.
import { api, applyLanguage, el, languageSwitch, signIn, t, toast } from "/assets/floor/hallq.js";
import { dueText } from "/assets/ratings/due.js";
import { managerNav } from "/assets/floor/manager-nav.js"; managerNav(); // the managers' pages nav

const $ = (id) => document.getElementById(id);
const STATUS_TEXT = {
  awaiting_callback: ["待回访核实", "Awaiting callback"], awaiting_fix: ["待整改", "Awaiting fix"],
  awaiting_feedback: ["待反馈", "Awaiting feedback"], closed: ["已办结", "Closed"], reviewed: ["已复核", "Reviewed"],
};
const STEP_TEXT = {
  callback: ["回访核实", "Callback"], fix: ["整改", "Fix"], feedback: ["反馈", "Feedback"],
  review: ["追评/申诉复核", "Review"],
};
const NOTE_LABEL = {
  callback: ["回访情况（核实结果）", "What the callback found"], fix: ["整改措施", "What was changed"],
  feedback: ["反馈内容（告知群众的整改情况）", "What the citizen was told"],
  review: ["复核说明（可不填）", "Notes (optional)"],
};
const SUBMIT_TEXT = {
  callback: ["登记回访核实", "Record the callback"], fix: ["登记整改", "Record the fix"],
  feedback: ["登记反馈并办结", "Record the feedback and close"], review: ["登记复核", "Record the review"],
};
const LEVEL_TEXT = { 5: ["非常满意", "Very satisfied"], 4: ["满意", "Satisfied"], 3: ["基本满意", "Fairly satisfied"],
  2: ["不满意", "Dissatisfied"], 1: ["非常不满意", "Very dissatisfied"] };

const state = { token: null, config: null, cases: [], chosen: null, case: null, sending: false };
const tt = (pair) => t(pair[0], pair[1]);

/** "11-24 00:00" of an ISO time with offset, as the hall's clock reads it. */
const shortTime = (iso) => (iso ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : "—");
const dayText = (day) => `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}`;
const windowName = (c) => (c.window ? t(c.window_name ?? `${c.window}号窗口`, `Window ${c.window}`) : "—");

// -- the list -------------------------------------------------------------------------------------
function query() {
  const params = new URLSearchParams();
  for (const [name, id] of [["status", "f-status"], ["overdue", "f-overdue"], ["window", "f-window"],
    ["since", "f-since"], ["until", "f-until"]]) {
    if ($(id).value) params.set(name, $(id).value);
  }
  params.set("limit", "500");
  return params.toString();
}

async function loadList() {
  try {
    const data = await api(`/cases?${query()}`, { token: state.token });
    state.cases = data.cases;
    renderList();
  } catch (error) {
    toast(error.message, "error");
  }
}

function renderList() {
  const rows = state.cases.map((c) => el("tr", {
    class: [c.overdue.length ? "overdue" : "", c.id === state.chosen ? "chosen" : ""].join(" ").trim() || null,
    dataset: { case: c.id, status: c.status }, onclick: () => choose(c.id),
  },
  el("td", { class: "number" }, c.number),
  el("td", {}, dayText(c.day)),
  el("td", {}, windowName(c)),
  el("td", {}, el("span", { class: "badge red" }, tt(LEVEL_TEXT[c.score]))),
  el("td", {}, tt(STATUS_TEXT[c.status]),
    c.overdue.length ? el("span", { class: "badge overdue-badge" }, t("超期", "Overdue")) : null),
  el("td", { class: c.overdue.includes("callback") ? "late" : null }, dueText(c.callback_due)),
  el("td", { class: c.overdue.includes("fix") ? "late" : null }, dueText(c.fix_due))));
  $("case-rows").replaceChildren(...rows);
  $("empty").hidden = rows.length > 0;
  const late = state.cases.filter((c) => c.overdue.length).length;
  $("count").textContent = t(`共 ${state.cases.length} 件${late ? `，超期 ${late} 件` : ""}`,
    `${state.cases.length}${late ? `, ${late} overdue` : ""}`);
}

// -- one case --------------------------------------------------------------------------------------
async function choose(id) {
  state.chosen = id;
  renderList();
  try {
    state.case = await api(`/cases/${encodeURIComponent(id)}`, { token: state.token });
    renderCase();
    renderForm();
  } catch (error) {
    toast(error.message, "error");
  }
}

function stepItem(step, done, extra) {
  const c = state.case;
  const due = step === "callback" ? c.callback_due : step === "fix" ? c.fix_due : null;
  const late = c.overdue.includes(step);
  return el("li", { class: `step ${done ? "done" : "todo"}${late ? " late" : ""}`, dataset: { step } },
    el("b", {}, tt(STEP_TEXT[step])),
    done ? el("span", { class: "when" }, `${shortTime(done.at)} · ${done.by ?? ""}`) : null,
    !done && due ? el("span", { class: "when", dataset: { due } }, t(`期限：${dueText(due)}`, `due ${dueText(due)}`))
      : null,
    late ? el("span", { class: "badge overdue-badge" }, t("已超期", "Overdue")) : null,
    extra ? el("span", { class: "extra" }, extra) : null,
    done?.note ? el("p", { class: "note" }, done.note) : null);
}

function renderCase() {
  const c = state.case;
  if (!c) return;
  $("detail").hidden = false;
  $("no-detail").hidden = true;
  $("d-title").textContent = t(`${c.number} · ${tt(STATUS_TEXT[c.status])}`, `${c.number} · ${tt(STATUS_TEXT[c.status])}`);
  $("d-facts").textContent = t(
    `${dayText(c.day)} · ${c.service_name} · ${windowName(c)} · ${c.level}（${c.source === "pad" ? "评价器" : "扫码"}）· 评价于 ${shortTime(c.opened_at)}`,
    `${dayText(c.day)} · ${c.service_name_en} · ${windowName(c)} · ${c.level_en} (${c.source === "pad" ? "pad" : "QR"}) · rated ${shortTime(c.opened_at)}`);
  $("d-comment").textContent = c.comment ? t(`群众留言：${c.comment}`, `Citizen's comment: ${c.comment}`) : "";
  $("d-comment").hidden = !c.comment;
  const yesNo = (v, yes, no) => (v === null || v === undefined ? "" : v ? yes : no);
  const review = c.review;
  const reviewText = review ? (review.kind === "rerating"
    ? t(`追评：${LEVEL_TEXT[review.score][0]}`, `Re-rated: ${LEVEL_TEXT[review.score][1]}`)
    : t(`申诉${review.outcome === "upheld" ? "成立，差评撤销" : "不成立，差评维持"}`,
      `Appeal ${review.outcome === "upheld" ? "upheld: the 差评 is set aside" : "dismissed: the 差评 stands"}`)) : "";
  $("d-steps").replaceChildren(
    stepItem("callback", c.callback, c.callback ? yesNo(c.callback.reached, t("已联系到群众", "citizen reached"),
      t("未联系到群众", "citizen not reached")) : ""),
    stepItem("fix", c.fix),
    stepItem("feedback", c.feedback, c.feedback ? yesNo(c.feedback.satisfied, t("群众满意", "citizen satisfied"),
      t("群众不满意", "citizen not satisfied")) : ""),
    ...(c.status === "closed" || review ? [stepItem("review", review, reviewText)] : []));
}

function radio(name, value, text, checked = false) {
  return el("label", { class: "choice" }, el("input", { type: "radio", name, value, checked }), text);
}

/** The form for the case's next step (none once it is reviewed). */
function renderForm() {
  const c = state.case;
  const step = c?.next_step;
  $("step-form").hidden = !step;
  if (!step) return;
  $("step-form").dataset.step = step;
  $("sf-title").textContent = t(`登记${STEP_TEXT[step][0]}`, `Record ${STEP_TEXT[step][1].toLowerCase()}`);
  $("sf-note-label").textContent = tt(NOTE_LABEL[step]);
  $("sf-submit").textContent = tt(SUBMIT_TEXT[step]);
  $("sf-problem").textContent = "";
  const choice = $("sf-choice");
  if (step === "callback") {
    choice.replaceChildren(el("span", {}, t("是否联系到群众：", "Citizen reached: ")),
      radio("reached", "true", t("是", "yes"), true), radio("reached", "false", t("否", "no")));
  } else if (step === "feedback") {
    choice.replaceChildren(el("span", {}, t("群众是否满意：", "Citizen satisfied: ")),
      radio("satisfied", "true", t("满意", "yes"), true), radio("satisfied", "false", t("不满意", "no")));
  } else if (step === "review") {
    const scores = el("select", { id: "sf-score" }, [5, 4, 3, 2, 1].map((s) => el("option", { value: s },
      tt(LEVEL_TEXT[s]))));
    choice.replaceChildren(
      el("div", {}, radio("kind", "rerating", t("群众追评", "Citizen's re-rating"), true), scores),
      el("div", {}, radio("kind", "appeal", t("申诉复核", "Appeal")),
        radio("outcome", "upheld", t("申诉成立", "upheld")), radio("outcome", "dismissed", t("申诉不成立", "dismissed"))));
  } else {
    choice.replaceChildren();
  }
}

const picked = (name) => document.querySelector(`#sf-choice input[name="${name}"]:checked`)?.value;

function stepBody(step) {
  // One line: the API refuses control characters in any text, line breaks included.
  const note = $("sf-note").value.replace(/\s*[\r\n]+\s*/g, " ").trim();
  if (step === "review") {
    const kind = picked("kind");
    if (kind === "rerating") return { kind, score: Number($("sf-score").value), note };
    const outcome = picked("outcome");
    if (!outcome) throw new Error(t("请选择申诉是否成立。", "Choose whether the appeal is upheld."));
    return { kind, outcome, note };
  }
  if (!note) throw new Error(t("请填写说明。", "Write what was done."));
  if (step === "callback") return { note, reached: picked("reached") === "true" };
  if (step === "feedback") return { note, satisfied: picked("satisfied") === "true" };
  return { note };
}

async function submitStep(event) {
  event.preventDefault();
  const c = state.case;
  const step = c?.next_step;
  if (!step || state.sending) return;
  let body;
  try {
    body = stepBody(step);
  } catch (error) {
    $("sf-problem").textContent = error.message;
    return;
  }
  state.sending = true;
  $("sf-submit").disabled = true;
  try {
    state.case = await api(`/cases/${encodeURIComponent(c.id)}/${step}`, { method: "POST", token: state.token, body });
    $("sf-note").value = "";
    toast(t(`${c.number} 的${STEP_TEXT[step][0]}已登记。`, `${STEP_TEXT[step][1]} of ${c.number} recorded.`), "ok");
    renderCase();
    renderForm();
    loadList();
  } catch (error) {
    $("sf-problem").textContent = error.message;
  } finally {
    state.sending = false;
    $("sf-submit").disabled = false;
  }
}

function redraw() {
  applyLanguage();
  if (state.config) fillWindows();
  renderList();
  if (state.case) {
    renderCase();
    renderForm();
  }
}

function fillWindows() {
  const select = $("f-window");
  const value = select.value;
  select.replaceChildren(el("option", { value: "" }, t("全部", "All")),
    ...state.config.windows.map((w) => el("option", { value: w.id }, t(w.name, `Window ${w.id}`))));
  select.value = value;
}

async function main() {
  applyLanguage();
  languageSwitch($("lang"), redraw);
  const asked = new URLSearchParams(location.hash.slice(1)).get("case");
  const { token } = await signIn("cases", {
    title: t("差评件登录", "Cases sign-in"),
    accept: (who) => (["manager", "admin"].includes(who.role) ? null : t(
      "差评件只接受管理员（manager）令牌。", "The cases page takes a manager token.")),
  });
  state.token = token;
  try {
    state.config = await api("/config", { token });
    fillWindows();
  } catch (error) {
    toast(error.message, "error");
  }
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); loadList(); });
  $("step-form").addEventListener("submit", submitStep);
  if (!asked) $("f-status").value = "open"; // the work still to do comes first
  await loadList();
  if (asked) await choose(asked);
}

main();
