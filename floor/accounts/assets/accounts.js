// 账号与密钥: the hall administrator's page. The hall's people (GET /accounts): add one (POST /accounts; without a
// password the answer carries a one-time password, shown here once, to hand over), change a name, role or skills
// (PATCH), disable and enable again (PATCH {disabled}: their sessions end at once), reset a password (POST
// /accounts/{username}/reset: a new one-time password, shown once). And the keys of other systems with the paired
// devices (GET /keys): make a key (POST /keys: its token answered once, shown once with a copy button) and withdraw
// one (DELETE /keys/{id}, confirmed first: refused everywhere within a second).
//
// Only an administrator signs in here (the API answers 403 to anyone else anyway); any other sign-in is turned
// away with a sentence naming its role. Every refusal shows the server's own sentence.
import { api, applyLanguage, el, label, languageSwitch, ROLE_TEXT, signIn, signOut, t, toast } from "/assets/floor/hallq.js";
import { adminNav, borrowToken, hallSetUp, listState, managerNav } from "/assets/floor/manager-nav.js";

const $ = (id) => document.getElementById(id);
const PAGE = "accounts";
const PERSON_ROLES = ["guide", "staff", "manager", "admin"];
const PERSON_ROLE_TEXT = {
  guide: ["导办员", "Guide"], staff: ["窗口人员", "Window staff"], manager: ["管理员", "Manager"],
  admin: ["系统管理员", "Administrator"],
};
const PERSON_ROLE_HINT = {
  guide: ["在导办台为群众取号、分流、查询。", "Issues tickets and directs people at the guide desk."],
  staff: ["在窗口工作台叫号、办理，办理下面勾选的业务。", "Calls and serves at a window, for the services ticked below."],
  manager: ["查看管理看板和报表，管理预约、窗口设置、差评件。",
    "Reads the dashboard and reports; manages bookings, windows and 差评 cases."],
  admin: ["管理员能做的一切，另管理人员账号和接口密钥。请只给少数人。",
    "All a manager does, and the hall's accounts and keys. Keep it to a few people."],
};
// What a key may be for (the API refuses staff and pad: a window's credential is a person or a paired pad).
const KEY_ROLES = [
  ["kiosk", "自助取号机：取号、签到", "Kiosk: issue tickets, check in bookings"],
  ["guide", "导办台：取号、查询排队", "Guide desk: issue tickets, read the queue"],
  ["display", "显示屏：只读", "Display: read only"],
  ["manager", "管理员：读取报表、看板等", "Manager: reports, dashboard and the like"],
];
const KIND_TEXT = { key: ["接口密钥", "Integration key"], device: ["已配对设备", "Paired device"] };

const state = {
  token: null, who: null, config: null, zone: "Asia/Shanghai",
  accounts: null, accountsError: null, keys: null, keysError: null,
  editing: undefined, // the account in the dialog: null when adding one
  kept: [], // sub-item skills of the account being edited: not on the page's ticks, kept as they are
  confirm: null, // what the confirm dialog's button does
  secretText: null, // the words around the secret shown once, for a language switch while it shows
  busy: false,
};
const tt = (pair) => t(pair[0], pair[1]);
const list = (xs) => xs.join(t("、", ", "));
const roleName = (role) => (PERSON_ROLE_TEXT[role] ? tt(PERSON_ROLE_TEXT[role]) : role);
const person = (a) => (a.display_name && a.display_name !== a.username
  ? t(`${a.display_name}（${a.username}）`, `${a.display_name} (${a.username})`) : a.username);
const enc = encodeURIComponent;

// -- names and times ----------------------------------------------------------------------------------------------
const services = () => state.config?.services ?? [];

function skillName(code) {
  const s = services().find((x) => x.code === code);
  if (s) return t(s.name_zh, s.name_en || s.name_zh);
  for (const owner of services()) {
    const i = (owner.items ?? []).find((x) => x.code === code);
    if (i) return t(i.name_zh, i.name_en || i.name_zh);
  }
  return code;
}

function windowName(id) {
  const w = state.config?.windows?.find((x) => x.id === id);
  return t(w?.name ?? `${id}号窗口`, `Window ${id}`);
}

/** "2026-05-01 14:03" on the hall's clock, whatever the browser's own time zone. */
function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: state.zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(date).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

// -- the lists ----------------------------------------------------------------------------------------------------
async function loadAccounts() {
  if (state.accounts === null) renderAccounts();
  try {
    state.accounts = (await api("/accounts", { token: state.token })).accounts;
    state.accountsError = null;
  } catch (error) {
    state.accountsError = error.message;
  }
  renderAccounts();
}

async function loadKeys() {
  if (state.keys === null) renderKeys();
  try {
    state.keys = (await api("/keys", { token: state.token })).keys;
    state.keysError = null;
  } catch (error) {
    state.keysError = error.message;
  }
  renderKeys();
}

const load = () => Promise.all([loadAccounts(), loadKeys()]);

function actionButton(cls, text, onclick, kind = "") {
  return el("button", { class: `btn ${kind} ${cls}`.trim(), type: "button", onclick }, text);
}

function renderAccounts() {
  const rows = state.accounts ?? [];
  const me = state.who?.username;
  $("account-rows").replaceChildren(...rows.map((a) => el("tr", {
    dataset: { username: a.username, role: a.role, disabled: a.disabled ? "1" : "0" },
    class: a.disabled ? "disabled" : null,
  },
  el("td", { class: "username" }, a.username,
    a.username === me ? el("span", { class: "badge you" }, t("本人", "you")) : null),
  el("td", { class: "name" }, a.display_name),
  el("td", { class: "role" }, roleName(a.role)),
  el("td", { class: "skills" }, a.skills.length
    ? a.skills.map((code) => el("span", { class: "chip", dataset: { code } }, skillName(code))) : "—"),
  el("td", { class: "status" },
    a.disabled ? el("span", { class: "badge red" }, t("已停用", "Disabled"))
      : el("span", { class: "badge green" }, t("启用中", "Active")),
    a.must_change ? el("span", { class: "badge amber must-change", title: t("一次性密码尚未更改：本人下次登录时须设置新密码。",
      "A one-time password not changed yet: the person chooses a new one at the next sign-in.") },
    t("待设新密码", "Must change password")) : null),
  el("td", { class: "actions" },
    actionButton("edit", t("修改", "Change"), () => openAccount(a)),
    a.disabled ? actionButton("enable", t("启用", "Enable"), () => enable(a), "ok")
      : actionButton("disable", t("停用", "Disable"), () => askDisable(a)),
    actionButton("reset", t("重置密码", "Reset password"), () => askReset(a), "warn")))));
  if (state.accountsError) listState($("accounts-state"), "error", state.accountsError, loadAccounts);
  else if (state.accounts === null) listState($("accounts-state"), "loading", t("正在读取账号…", "Reading the accounts…"));
  else if (!rows.length) listState($("accounts-state"), "empty", t("本大厅还没有账号。", "This hall has no account yet."));
  else listState($("accounts-state"), null);
  const off = rows.filter((a) => a.disabled).length;
  $("accounts-count").textContent = state.accounts ? t(`共 ${rows.length} 个${off ? `，停用 ${off} 个` : ""}`,
    `${rows.length} in all${off ? `, ${off} disabled` : ""}`) : "";
}

function keyName(k) {
  if (k.name) return k.name;
  return k.kind === "device" ? t("未命名设备", "Unnamed device") : t("未命名密钥", "Unnamed key");
}

function renderKeys() {
  const rows = [...(state.keys ?? [])].sort((a, b) => Number(Boolean(a.revoked_at)) - Number(Boolean(b.revoked_at)));
  $("key-rows").replaceChildren(...rows.map((k) => el("tr", {
    dataset: { key: k.id, kind: k.kind, revoked: k.revoked_at ? "1" : "0" }, class: k.revoked_at ? "revoked" : null,
  },
  el("td", { class: "name" }, keyName(k), el("span", { class: "mp-mono", title: t("编号（操作日志中的令牌编号）",
    "Id (the token id in the audit log)") }, k.id)),
  el("td", { class: "kind" }, KIND_TEXT[k.kind] ? tt(KIND_TEXT[k.kind]) : k.kind,
    k.account ? el("span", { class: "mp-sub" }, t(`由 ${k.account} 生成`, `made by ${k.account}`)) : null),
  el("td", { class: "role" }, label(ROLE_TEXT, k.role), k.window ? el("span", { class: "mp-sub" }, windowName(k.window)) : null),
  el("td", { class: "when" }, when(k.created_at)),
  el("td", { class: "when seen" }, k.last_seen_at ? when(k.last_seen_at) : t("尚未使用", "Not yet")),
  el("td", { class: "status" }, k.revoked_at
    ? [el("span", { class: "badge grey" }, t("已收回", "Withdrawn")), el("span", { class: "mp-sub" }, when(k.revoked_at))]
    : el("span", { class: "badge green" }, t("有效", "Valid"))),
  el("td", { class: "actions" }, k.revoked_at ? null : actionButton("revoke",
    k.kind === "device" ? t("解除配对", "Unpair") : t("收回", "Withdraw"), () => askRevoke(k), "danger")))));
  if (state.keysError) listState($("keys-state"), "error", state.keysError, loadKeys);
  else if (state.keys === null) listState($("keys-state"), "loading", t("正在读取密钥…", "Reading the keys…"));
  else if (!rows.length) {
    listState($("keys-state"), "empty", t("还没有接口密钥或已配对设备。", "No integration key or paired device yet."));
  } else listState($("keys-state"), null);
  const live = rows.filter((k) => !k.revoked_at).length;
  $("keys-count").textContent = state.keys ? t(`有效 ${live} 个${rows.length > live ? `，已收回 ${rows.length - live} 个` : ""}`,
    `${live} valid${rows.length > live ? `, ${rows.length - live} withdrawn` : ""}`) : "";
}

// -- adding and changing an account --------------------------------------------------------------------------------
function fillRoles(select, roles, value) {
  select.replaceChildren(...roles.map(([role, zh, en]) => el("option", { value: role, "data-zh": zh, "data-en": en },
    t(zh, en))));
  if (value !== undefined) select.value = value;
}

function roleHint() {
  const hint = PERSON_ROLE_HINT[$("a-role").value];
  $("a-role-hint").textContent = hint ? tt(hint) : "";
}

function fillSkills(skills) {
  const have = new Set(skills);
  $("a-skills").replaceChildren(...services().map((s) => el("label", { class: "skill" },
    el("input", { type: "checkbox", value: s.code, checked: have.has(s.code) }),
    el("span", { "data-zh": s.name_zh, "data-en": s.name_en || s.name_zh }, t(s.name_zh, s.name_en || s.name_zh)))));
  const codes = new Set(services().map((s) => s.code));
  state.kept = skills.filter((c) => !codes.has(c));
  keptText();
}

function keptText() {
  const node = $("a-skills-kept");
  node.hidden = !state.kept.length;
  node.textContent = state.kept.length ? t(`另有事项技能（保持不变）：${list(state.kept.map(skillName))}`,
    `Also these sub-items (kept as they are): ${list(state.kept.map(skillName))}`) : "";
}

function accountTexts() {
  const a = state.editing;
  $("account-title").textContent = a ? t(`修改账号：${person(a)}`, `Change ${person(a)}`) : t("新增账号", "Add an account");
  $("a-save").textContent = a ? t("保存", "Save") : t("新增账号", "Add the account");
  roleHint();
  keptText();
}

function openAccount(a = null) {
  state.editing = a;
  $("a-username").value = a ? a.username : "";
  $("a-username").readOnly = Boolean(a);
  $("a-name").value = a ? a.display_name : "";
  fillRoles($("a-role"), PERSON_ROLES.map((r) => [r, ...PERSON_ROLE_TEXT[r]]), a ? a.role : "staff");
  fillSkills(a ? a.skills : []);
  $("a-password").value = "";
  $("a-password-field").hidden = Boolean(a);
  $("a-problem").textContent = "";
  accountTexts();
  $("account-dialog").showModal();
  (a ? $("a-name") : $("a-username")).focus();
}

function tickedSkills() {
  const ticked = new Set([...$("a-skills").querySelectorAll("input:checked")].map((box) => box.value));
  return [...services().map((s) => s.code).filter((c) => ticked.has(c)), ...state.kept];
}

const sameList = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

async function saveAccount(event) {
  event.preventDefault();
  if (state.busy) return;
  const a = state.editing;
  const username = $("a-username").value.trim();
  const name = $("a-name").value.trim();
  const role = $("a-role").value;
  const skills = tickedSkills();
  const problem = $("a-problem");
  problem.textContent = "";
  if (!a && !username) { problem.textContent = t("请填写用户名。", "Enter a username."); return; }
  if (!name) { problem.textContent = t("请填写姓名。", "Enter the person's name."); return; }
  let body = {};
  if (a) {
    if (name !== a.display_name) body.display_name = name;
    if (role !== a.role) body.role = role;
    if (!sameList(skills, a.skills)) body.skills = skills;
    if (!Object.keys(body).length) {
      $("account-dialog").close();
      toast(t("没有修改。", "Nothing changed."));
      return;
    }
  } else {
    body = { username, display_name: name, role, skills };
    if ($("a-password").value) body.password = $("a-password").value;
  }
  state.busy = true;
  const save = $("a-save");
  save.disabled = true;
  save.textContent = t("正在保存…", "Saving…");
  try {
    if (a) {
      const changed = await api(`/accounts/${enc(a.username)}`, { method: "PATCH", token: state.token, body });
      $("account-dialog").close();
      toast(body.role ? t(`已保存。${person(changed)}的角色改为${roleName(changed.role)}，须重新登录。`,
        `Saved. ${person(changed)} is now ${roleName(changed.role)} and signs in again.`)
        : t(`已保存：${person(changed)}。`, `Saved: ${person(changed)}.`), "ok");
    } else {
      const made = await api("/accounts", { method: "POST", token: state.token, body });
      $("a-password").value = "";
      $("account-dialog").close();
      if (made.one_time_password) {
        showSecret("password", made.one_time_password, () => ({
          title: t("账号已新增：一次性密码", "Account added: its one-time password"),
          who: t(`请把下面的一次性密码交给 ${person(made)}。本人首次登录时用它登录，并设置自己的新密码。`,
            `Hand this one-time password to ${person(made)}, who signs in with it the first time and then chooses `
            + "a password of their own."),
          warning: t("此密码只显示这一次，关闭后无法再查看；遗失了请“重置密码”。",
            "It is shown this once only and cannot be seen again once closed; if it is lost, reset the password."),
        }));
      } else {
        toast(t(`已新增账号 ${person(made)}，用所设密码登录。`, `Added ${person(made)}, who signs in with the password given.`),
          "ok");
      }
    }
  } catch (error) {
    problem.textContent = error.message;
  } finally {
    state.busy = false;
    save.disabled = false;
    accountTexts();
  }
  loadAccounts();
}

async function enable(a) {
  if (state.busy) return;
  state.busy = true;
  try {
    await api(`/accounts/${enc(a.username)}`, { method: "PATCH", token: state.token, body: { disabled: false } });
    toast(t(`已启用 ${person(a)}，可以重新登录。`, `${person(a)} is enabled and may sign in again.`), "ok");
  } catch (error) {
    toast(error.message, "error");
  } finally {
    state.busy = false;
  }
  loadAccounts();
}

function askDisable(a) {
  confirmDialog({
    title: t(`停用 ${person(a)}？`, `Disable ${person(a)}?`),
    text: t(`停用后 ${person(a)} 不能再登录，已登录的页面一秒内退出。可随时重新启用。`,
      `${person(a)} can no longer sign in, and every page they are signed in on is signed out within a second. `
      + "You can enable the account again at any time."),
    ok: t("停用账号", "Disable the account"),
    run: async () => {
      await api(`/accounts/${enc(a.username)}`, { method: "PATCH", token: state.token, body: { disabled: true } });
      toast(t(`已停用 ${person(a)}。`, `${person(a)} is disabled.`), "ok");
    },
  });
}

function askReset(a) {
  confirmDialog({
    title: t(`重置 ${person(a)} 的密码？`, `Reset ${person(a)}'s password?`),
    text: t(`将生成一个一次性密码（只显示一次），交给 ${person(a)}；其已登录的页面一秒内退出，下次登录时须设置新密码。`
      + "因密码错误次数过多而锁定的，也一并解锁。",
    `A one-time password is made (shown once) to hand to ${person(a)}; every page they are signed in on is signed `
      + "out within a second, and they choose a new password at the next sign-in. A lock-out after too many wrong "
      + "passwords is lifted too."),
    ok: t("重置密码", "Reset the password"),
    run: async () => {
      const answer = await api(`/accounts/${enc(a.username)}/reset`, { method: "POST", token: state.token });
      return () => showSecret("password", answer.one_time_password, () => ({
        title: t("密码已重置：一次性密码", "Password reset: the one-time password"),
        who: t(`请把下面的一次性密码交给 ${person(a)}。本人用它登录后，须设置自己的新密码。`,
          `Hand this one-time password to ${person(a)}, who signs in with it and then chooses a new password.`),
        warning: t("此密码只显示这一次，关闭后无法再查看；遗失了请再次重置。",
          "It is shown this once only and cannot be seen again once closed; if it is lost, reset again."),
      }));
    },
  });
}

// -- keys ---------------------------------------------------------------------------------------------------------
async function makeKey(event) {
  event.preventDefault();
  if (state.busy) return;
  const name = $("key-name").value.trim();
  const role = $("key-role").value;
  $("key-problem").textContent = "";
  if (!name) {
    $("key-problem").textContent = t("请填写名称：这把密钥给谁用。", "Name the key: who it is for.");
    return;
  }
  state.busy = true;
  $("key-submit").disabled = true;
  try {
    const made = await api("/keys", { method: "POST", token: state.token, body: { name, role } });
    $("key-name").value = "";
    showSecret("token", made.token, () => ({
      title: t("密钥已生成", "Key made"),
      who: t(`「${made.name}」的密钥，角色：${label(ROLE_TEXT, made.role)}。请复制后交给对方系统的管理人员，保存在其系统中。`,
        `The key for “${made.name}”, as the ${label(ROLE_TEXT, made.role)}. Copy it to the other system's people, `
        + "who keep it in their system."),
      warning: t("密钥只显示这一次，关闭后无法再查看。遗失了请收回它，再生成一把新的。",
        "The key is shown this once only and cannot be seen again once closed. If it is lost, withdraw it and make "
        + "a new one."),
    }));
  } catch (error) {
    $("key-problem").textContent = error.message;
  } finally {
    state.busy = false;
    $("key-submit").disabled = false;
  }
  loadKeys();
}

// -- pairing a device (the device shows its code; see pair() in hallq.js) ------------------------------------
const DEVICE_ROLES = [
  ["display", "大厅显示屏", "Lobby display"],
  ["kiosk", "自助取号机", "Self-service kiosk"],
  ["pad", "窗口评价器", "Rating pad at a window"],
];

function pairWindowField() {
  $("pair-window-field").hidden = $("pair-role").value !== "pad";
}

async function pairDevice(event) {
  event.preventDefault();
  if (state.busy) return;
  const code = $("pair-code").value.replace(/\s/g, "");
  const name = $("pair-name").value.trim();
  const role = $("pair-role").value;
  $("pair-problem").textContent = "";
  if (!/^\d{6}$/.test(code)) {
    $("pair-problem").textContent = t("配对码为设备屏幕上显示的 6 位数字。", "The code is the 6 digits the device shows.");
    return;
  }
  if (!name) {
    $("pair-problem").textContent = t("请为设备命名，例如它在哪里。", "Name the device, e.g. where it stands.");
    return;
  }
  state.busy = true;
  $("pair-submit").disabled = true;
  try {
    const body = { name, role, ...(role === "pad" ? { window: $("pair-window").value } : {}) };
    const made = await api(`/pairing/${code}/device`, { method: "POST", token: state.token, body });
    $("pair-code").value = "";
    $("pair-name").value = "";
    toast(t(`「${made.name}」已配对，设备将自动登录。`, `“${made.name}” is paired; it signs in by itself.`), "ok");
  } catch (error) {
    $("pair-problem").textContent = error.message;
  } finally {
    state.busy = false;
    $("pair-submit").disabled = false;
  }
  loadKeys();
}

function askRevoke(k) {
  const device = k.kind === "device";
  confirmDialog({
    title: device ? t(`解除设备「${keyName(k)}」的配对？`, `Unpair the device “${keyName(k)}”?`)
      : t(`收回密钥「${keyName(k)}」？`, `Withdraw the key “${keyName(k)}”?`),
    text: device ? t("解除后该设备一秒内即被拒绝，须重新配对才能再用。不能撤销。",
      "The device is refused within a second and must be paired again to work. This cannot be undone.")
      : t("收回后，用这把密钥的系统一秒内即被拒绝。不能撤销：还要用的话，须生成新的密钥交给对方。",
        "The system using this key is refused within a second. This cannot be undone: to go on, make a new key "
        + "and give it to them."),
    ok: device ? t("解除配对", "Unpair") : t("收回密钥", "Withdraw the key"),
    run: async () => {
      await api(`/keys/${enc(k.id)}`, { method: "DELETE", token: state.token });
      toast(device ? t(`已解除「${keyName(k)}」的配对。`, `“${keyName(k)}” is unpaired.`)
        : t(`已收回密钥「${keyName(k)}」。`, `The key “${keyName(k)}” is withdrawn.`), "ok");
    },
  });
}

// -- the dialogs: confirm first, a secret shown once ----------------------------------------------------------------
function confirmDialog({ title, text, ok, run }) {
  state.confirm = run;
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = ok;
  $("confirm-problem").textContent = "";
  $("confirm").showModal();
}

async function confirmed(event) {
  event.preventDefault();
  if (!state.confirm || state.busy) return;
  state.busy = true;
  $("confirm-ok").disabled = true;
  let after = null;
  try {
    after = await state.confirm();
    $("confirm").close();
    state.confirm = null;
  } catch (error) {
    $("confirm-problem").textContent = error.message;
  } finally {
    state.busy = false;
    $("confirm-ok").disabled = false;
  }
  if (typeof after === "function") after();
  load();
}

/** A password or key answered once: shown in a box of its own until the admin says it is noted. */
function showSecret(kind, value, texts) {
  const dialog = $("secret-dialog");
  dialog.dataset.kind = kind;
  state.secretText = texts;
  secretTexts();
  const box = $("secret-value");
  box.value = value;
  box.rows = kind === "token" ? 4 : 1;
  $("secret-copy").textContent = t("复制", "Copy");
  dialog.showModal();
  box.focus();
  box.select();
}

function secretTexts() {
  if (!state.secretText) return;
  const { title, who, warning } = state.secretText();
  $("secret-title").textContent = title;
  $("secret-who").textContent = who;
  $("secret-warning").textContent = warning;
}

async function copySecret() {
  const box = $("secret-value");
  let copied = false;
  try {
    await navigator.clipboard.writeText(box.value);
    copied = true;
  } catch {
    // Not a secure context (a hall's plain http address), or refused: the old way, from the selected text.
    box.focus();
    box.select();
    try { copied = document.execCommand("copy"); } catch { copied = false; }
  }
  if (copied) {
    $("secret-copy").textContent = t("已复制 ✓", "Copied ✓");
    toast(t("已复制。", "Copied."), "ok");
  } else {
    box.focus();
    box.select();
    toast(t("无法自动复制：已选中，请按 Ctrl+C 复制。", "Could not copy by itself: it is selected, press Ctrl+C."), "error");
  }
}

function wireDialogs() {
  $("account-form").addEventListener("submit", saveAccount);
  $("a-cancel").addEventListener("click", () => $("account-dialog").close());
  $("a-role").addEventListener("change", roleHint);
  $("confirm-form").addEventListener("submit", confirmed);
  $("confirm-back").addEventListener("click", () => { $("confirm").close(); state.confirm = null; });
  $("secret-copy").addEventListener("click", copySecret);
  $("secret-done").addEventListener("click", () => $("secret-dialog").close());
  // Shown once: Esc does not close it by accident; "noted" does. Once closed, the secret leaves the page.
  $("secret-dialog").addEventListener("cancel", (event) => event.preventDefault());
  $("secret-dialog").addEventListener("close", () => { $("secret-value").value = ""; state.secretText = null; });
}

// -- signing in -----------------------------------------------------------------------------------------------------
function refusal(who) {
  if (who.role === "admin") return null;
  const what = who.kind === "session" ? t("账号", "account") : t("令牌", "token");
  return t(`账号与密钥只供系统管理员（admin）使用；这是${label(ROLE_TEXT, who.role)}（${who.role}）的${what}，`
    + "请用系统管理员账号登录。",
  `Accounts and keys is for the hall's administrator (admin) only; this ${what} is a `
    + `${label(ROLE_TEXT, who.role)}'s (${who.role}). Sign in with an administrator's account.`);
}

function renderWho() {
  const who = state.who;
  if (!who) return;
  $("who").textContent = who.display_name ? `${roleName(who.role)} · ${who.display_name}` : roleName(who.role);
  $("sign-out").hidden = who.kind !== "session";
}

function redraw() {
  applyLanguage();
  renderWho();
  renderAccounts();
  renderKeys();
  if ($("account-dialog").open) accountTexts();
  secretTexts();
}

async function main() {
  managerNav();
  applyLanguage();
  languageSwitch($("lang"), redraw);
  $("sign-out").addEventListener("click", async () => { await signOut(PAGE); location.reload(); });
  listState($("accounts-state"), "loading", t("正在登录…", "Signing in…"));
  listState($("keys-state"), null);
  borrowToken(PAGE); // signed in on another manager page with an admin token: that one (any other is refused)
  const { token, who } = await signIn(PAGE, { title: t("账号与密钥登录", "Accounts and keys sign-in"), accept: refusal });
  state.token = token;
  state.who = who;
  adminNav(who);
  renderWho();
  state.config = await hallSetUp(token, $("accounts-state"));
  state.zone = state.config.timezone || state.zone;
  fillRoles($("key-role"), KEY_ROLES);
  wireDialogs();
  $("add-account").addEventListener("click", () => openAccount(null));
  $("key-form").addEventListener("submit", makeKey);
  fillRoles($("pair-role"), DEVICE_ROLES);
  $("pair-window").replaceChildren(...state.config.windows.map((w) => el("option", { value: w.id }, windowName(w.id))));
  $("pair-role").addEventListener("change", pairWindowField);
  $("pair-form").addEventListener("submit", pairDevice);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !state.busy) load();
  });
  await load();
  document.body.dataset.ready = "1";
}

main();
