// The operator console (API.md "The console"): the catalogue and its rules, accounts (find,
// suspend, lift, void), the audit trail — through the operator routes, with the token kept for
// this tab only (sessionStorage). No build step; everything it shows is text, never HTML.

const TOKEN_KEY = "scoreboard-operator-token";
const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @param {string} text @param {"ok" | "error" | ""} [kind] */
function say(text, kind = "") {
  const status = $("status");
  status.textContent = text;
  status.dataset.kind = kind;
}

/** A problem's words, or the status. @param {Response} res */
async function problemText(res) {
  try {
    const body = await res.json();
    const fields = (body.errors ?? []).map((/** @type {{path: string, message: string}} */ e) =>
      `${e.path || "body"} ${e.message}`
    );
    return [body.detail ?? body.title, ...fields].filter(Boolean).join("; ");
  } catch {
    return `HTTP ${res.status}`;
  }
}

class Refused extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * Calls an operator route; answers its JSON (null for 204), throws Refused otherwise.
 * @param {string} method @param {string} path @param {unknown} [body]
 */
async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) ?? ""}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) {
    if (res.status === 403 && path !== "/admin/actions") signOut("The token was refused.");
    throw new Refused(res.status, await problemText(res));
  }
  return res.status === 204 ? null : await res.json();
}

/** Runs an operator's change, saying what came of it. @param {() => Promise<string>} work */
async function act(work) {
  try {
    say(await work(), "ok");
  } catch (error) {
    say(error instanceof Refused ? error.message : "The service could not be reached.", "error");
  }
}

/** @param {string} tag @param {string} [text] @param {string} [className] */
function el(tag, text = "", className = "") {
  const node = document.createElement(tag);
  node.textContent = text;
  if (className) node.className = className;
  return node;
}

/** @param {HTMLElement[]} cells */
function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    td.append(cell);
    tr.append(td);
  }
  return tr;
}

/** @param {string | null} iso */
const when = (iso) => iso === null ? "—" : new Date(iso).toLocaleString();

/** @param {{ count: number, per: string } | null} limit @param {number | null} cooldown */
function rules(limit, cooldown) {
  const parts = [];
  if (limit) {
    parts.push(limit.per === "ever" ? `${limit.count} ever` : `${limit.count} per ${limit.per}`);
  }
  if (cooldown) parts.push(`${cooldown} s apart`);
  return parts.join(", ") || "none";
}

// --- Signing in -----------------------------------------------------------------------------

/** @param {string} [why] */
function signOut(why) {
  sessionStorage.removeItem(TOKEN_KEY);
  $("app").hidden = true;
  $("sign-in").hidden = false;
  if (why) say(why, "error");
  /** @type {HTMLInputElement} */ ($("token")).focus();
}

async function enter() {
  try {
    await api("GET", "/admin/actions");
  } catch (error) {
    sessionStorage.removeItem(TOKEN_KEY);
    say(
      error instanceof Refused && error.status === 403
        ? "That token was refused: use ADMIN_TOKEN, or the admin-token file the start line names."
        : "The service could not be reached.",
      "error",
    );
    return;
  }
  $("sign-in").hidden = true;
  $("app").hidden = false;
  say("Signed in.", "ok");
  await Promise.all([loadActions(), findAccounts(), loadAudit()]);
  $("tab-catalogue").focus();
}

$("sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($("token"));
  sessionStorage.setItem(TOKEN_KEY, input.value.trim());
  input.value = "";
  enter();
});
$("sign-out").addEventListener("click", () => signOut());

// --- Tabs -------------------------------------------------------------------------------------

const tabs = /** @type {HTMLButtonElement[]} */ ([...document.querySelectorAll("[role=tab]")]);

/** @param {HTMLButtonElement} tab @param {boolean} focus */
function select(tab, focus) {
  for (const other of tabs) {
    const on = other === tab;
    other.setAttribute("aria-selected", String(on));
    other.tabIndex = on ? 0 : -1;
    $(/** @type {string} */ (other.dataset.panel)).hidden = !on;
  }
  if (focus) tab.focus();
}
for (const tab of tabs) {
  tab.addEventListener("click", () => select(tab, false));
  tab.addEventListener("keydown", (event) => {
    const at = tabs.indexOf(tab);
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    select(tabs[(to + tabs.length) % tabs.length], true);
  });
}

// --- The catalogue ------------------------------------------------------------------------------

/** @type {string | null} the slug being edited, or null for a new action */
let editing = null;
const form = /** @type {HTMLFormElement} */ ($("action-form"));

/**
 * @typedef {{ slug: string, label: string, pointValue: number,
 *   limit: { count: number, per: string } | null, cooldownSeconds: number | null,
 *   retiredAt: string | null }} Action
 */

/** @param {Action | null} action */
function edit(action) {
  editing = action?.slug ?? null;
  form.reset();
  const field = (
    /** @type {string} */ name,
  ) => /** @type {HTMLInputElement} */ (form.elements.namedItem(name));
  field("slug").disabled = action !== null;
  if (action) {
    field("slug").value = action.slug;
    field("label").value = action.label;
    field("pointValue").value = String(action.pointValue);
    field("count").value = action.limit ? String(action.limit.count) : "";
    field("per").value = action.limit?.per ?? "";
    field("cooldownSeconds").value = action.cooldownSeconds ? String(action.cooldownSeconds) : "";
  }
  $("action-form-heading").textContent = action ? `Change ${action.slug}` : "New action";
  $("action-submit").textContent = action ? "Save the changes" : "Add the action";
  $("action-cancel").hidden = action === null;
  if (action) field("label").focus();
}

async function loadActions() {
  /** @type {{ actions: Action[] }} */
  const { actions } = await api("GET", "/admin/actions");
  $("actions").replaceChildren(...actions.map((action) => {
    const name = el("span");
    name.append(el("strong", action.label), el("span", ` ${action.slug}`, "muted"));
    const buttons = el("span", "", "row");
    if (action.retiredAt === null) {
      const change = el("button", "Change");
      change.addEventListener("click", () => edit(action));
      const retire = el("button", "Retire", "danger");
      retire.addEventListener("click", () =>
        act(async () => {
          await api("DELETE", `/admin/actions/${action.slug}`);
          await Promise.all([loadActions(), loadAudit()]);
          return `${action.slug} is retired.`;
        }));
      buttons.append(change, retire);
    }
    return row([
      name,
      el("span", String(action.pointValue)),
      el("span", rules(action.limit, action.cooldownSeconds)),
      el("span", action.retiredAt === null ? "active" : `retired ${when(action.retiredAt)}`),
      buttons,
    ]);
  }));
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const count = String(data.get("count") ?? "");
  const per = String(data.get("per") ?? "");
  const cooldown = String(data.get("cooldownSeconds") ?? "");
  const body = {
    label: String(data.get("label")),
    pointValue: Number(data.get("pointValue")),
    limit: per === "" ? null : { count: Number(count || 1), per },
    cooldownSeconds: cooldown === "" ? null : Number(cooldown),
  };
  act(async () => {
    if (editing === null) {
      const slug = String(data.get("slug"));
      await api("POST", "/admin/actions", { slug, ...body });
      edit(null);
      await Promise.all([loadActions(), loadAudit()]);
      return `${slug} is added.`;
    }
    const slug = editing;
    await api("PATCH", `/admin/actions/${slug}`, body);
    edit(null);
    await Promise.all([loadActions(), loadAudit()]);
    return `${slug} is changed.`;
  });
});
$("action-cancel").addEventListener("click", () => edit(null));

// --- Accounts ---------------------------------------------------------------------------------

/**
 * @typedef {{ id: number, username: string, email: string, createdAt: string,
 *   deletedAt: string | null, totalPoints: number, rank: number | null, sessions: number,
 *   suspension: { reason: string, since: string, until: string | null } | null }} Account
 */

/** @type {number | null} */
let accountsBefore = null;
/** @type {number | null} */
let opened = null;
/** @type {number | null} */
let completionsBefore = null;

/** @param {Account} account */
function stateOf(account) {
  if (account.deletedAt) return "deleted";
  if (account.suspension) {
    return account.suspension.until
      ? `suspended until ${when(account.suspension.until)}`
      : "suspended";
  }
  return "active";
}

/** @param {boolean} [more] */
async function findAccounts(more = false) {
  const q = /** @type {HTMLInputElement} */ ($("search-q")).value.trim();
  const params = new URLSearchParams({ limit: "20" });
  if (q) params.set("q", q);
  if (more && accountsBefore !== null) params.set("before", String(accountsBefore));
  /** @type {{ accounts: Account[], nextBefore: number | null }} */
  const page = await api("GET", `/admin/accounts?${params}`);
  const rows = page.accounts.map((account) => {
    const open = el("button", "Open");
    open.setAttribute("aria-label", `Open ${account.username}`);
    open.addEventListener("click", () => openAccount(account.id));
    const name = el("span");
    name.append(el("strong", account.username), el("span", ` ${account.email}`, "muted"));
    return row([
      name,
      el("span", String(account.totalPoints)),
      el("span", account.rank === null ? "—" : String(account.rank)),
      el("span", stateOf(account)),
      open,
    ]);
  });
  if (more) $("account-list").append(...rows);
  else $("account-list").replaceChildren(...rows);
  accountsBefore = page.nextBefore;
  $("accounts-more").hidden = page.nextBefore === null;
}

$("search").addEventListener("submit", (event) => {
  event.preventDefault();
  act(async () => {
    await findAccounts();
    return "Accounts found.";
  });
});
$("accounts-more").addEventListener("click", () => findAccounts(true));

/** @param {number} id @param {boolean} [quiet] */
async function openAccount(id, quiet = false) {
  /** @type {Account} */
  const account = await api("GET", `/admin/accounts/${id}`);
  opened = id;
  $("account").hidden = false;
  $("account-heading").textContent = `${account.username} (account ${account.id})`;
  const facts = [
    ["Email", account.email],
    ["Since", when(account.createdAt)],
    ["State", stateOf(account)],
    ["Reason", account.suspension?.reason ?? "—"],
    ["Points (all time)", String(account.totalPoints)],
    ["Rank", account.rank === null ? "—" : String(account.rank)],
    ["Live sessions", String(account.sessions)],
  ];
  $("account-facts").replaceChildren(
    ...facts.flatMap(([term, value]) => [el("dt", term), el("dd", value)]),
  );
  $("lift").hidden = account.suspension === null;
  await loadCompletions(false);
  if (!quiet) $("account-heading").focus();
}

/** @param {boolean} more */
async function loadCompletions(more) {
  const params = new URLSearchParams({ limit: "20" });
  if (more && completionsBefore !== null) params.set("before", String(completionsBefore));
  /**
   * @type {{ completions: { id: number, action: string, actionLabel: string,
   *   pointsEarned: number, completedAt: string, voidedAt: string | null }[],
   *   nextBefore: number | null }}
   */
  const page = await api("GET", `/admin/accounts/${opened}/completions?${params}`);
  const rows = page.completions.map((completion) => {
    const cell = el("span", "", "row");
    if (completion.voidedAt) cell.textContent = when(completion.voidedAt);
    else {
      const start = el("button", "Void…");
      start.setAttribute("aria-label", `Void completion ${completion.id}`);
      start.addEventListener("click", () => {
        const reason = /** @type {HTMLInputElement} */ (el("input"));
        reason.required = true;
        reason.maxLength = 500;
        reason.setAttribute("aria-label", `Why completion ${completion.id} is voided`);
        const confirm = el("button", "Void", "danger");
        const voiding = document.createElement("form");
        voiding.className = "row";
        voiding.append(reason, confirm);
        voiding.addEventListener("submit", (event) => {
          event.preventDefault();
          act(async () => {
            const voided = await api("POST", `/admin/completions/${completion.id}/void`, {
              reason: reason.value,
            });
            await Promise.all([
              openAccount(/** @type {number} */ (opened), true),
              findAccounts(),
              loadAudit(),
            ]);
            return `Completion ${completion.id} is voided: ${voided.totalPoints} points now.`;
          });
        });
        cell.replaceChildren(voiding);
        reason.focus();
      });
      cell.append(start);
    }
    return row([
      el("span", String(completion.id)),
      el("span", completion.actionLabel),
      el("span", String(completion.pointsEarned)),
      el("span", when(completion.completedAt)),
      cell,
    ]);
  });
  if (more) $("completions").append(...rows);
  else $("completions").replaceChildren(...rows);
  completionsBefore = page.nextBefore;
  $("completions-more").hidden = page.nextBefore === null;
}
$("completions-more").addEventListener("click", () => loadCompletions(true));

$("suspend-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const data = new FormData(/** @type {HTMLFormElement} */ (event.target));
  const until = String(data.get("until") ?? "");
  act(async () => {
    await api("POST", `/admin/accounts/${opened}/suspension`, {
      reason: String(data.get("reason")),
      ...(until ? { until: new Date(until).toISOString() } : {}),
    });
    /** @type {HTMLFormElement} */ (event.target).reset();
    await Promise.all([
      openAccount(/** @type {number} */ (opened), true),
      findAccounts(),
      loadAudit(),
    ]);
    return "The account is suspended: off every board, its sessions ended.";
  });
});
$("lift").addEventListener("click", () =>
  act(async () => {
    await api("DELETE", `/admin/accounts/${opened}/suspension`);
    await Promise.all([
      openAccount(/** @type {number} */ (opened), true),
      findAccounts(),
      loadAudit(),
    ]);
    return "The suspension is lifted: the account is back with all its points.";
  }));

// --- The audit trail ----------------------------------------------------------------------------

/** @type {number | null} */
let auditBefore = null;

/** @param {boolean} [more] */
async function loadAudit(more = false) {
  const target = /** @type {HTMLInputElement} */ ($("audit-target")).value.trim();
  const params = new URLSearchParams({ limit: "25" });
  if (target) params.set("target", target);
  if (more && auditBefore !== null) params.set("before", String(auditBefore));
  /**
   * @type {{ entries: { id: number, at: string, action: string, target: string,
   *   detail: Record<string, unknown>, client: string | null }[], nextBefore: number | null }}
   */
  const page = await api("GET", `/admin/audit?${params}`);
  const rows = page.entries.map((entry) =>
    row([
      el("span", when(entry.at)),
      el("span", entry.action),
      el("span", entry.target),
      el("code", JSON.stringify(entry.detail)),
      el("span", entry.client ?? "the instance"),
    ])
  );
  if (more) $("entries").append(...rows);
  else $("entries").replaceChildren(...rows);
  auditBefore = page.nextBefore;
  $("audit-more").hidden = page.nextBefore === null;
}
$("audit-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  act(async () => {
    await loadAudit();
    return "Audit trail shown.";
  });
});
$("audit-more").addEventListener("click", () => loadAudit(true));

if (sessionStorage.getItem(TOKEN_KEY)) enter();
/** @type {HTMLInputElement} */ else ($("token")).focus();
