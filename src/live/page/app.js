// The live page: tabs for the four boards, the chosen board's stream, movement, announcements,
// how old the board is, and the actions catalogue.
import { addScores, compareBoards, summarise } from "./board.js";
import {
  formatAge,
  formatMovement,
  formatNumber,
  formatRules,
  formatTotal,
  formatWindow,
} from "./format.js";
import { followStream } from "./stream.js";

const PERIODS = ["day", "week", "month", "all"];
const CAPTIONS = { day: "today", week: "this week", month: "this month", all: "all time" };
const STATUS = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…" };
/** Screen readers hear at most one summary of movement this often. */
const ANNOUNCE_EVERY_MS = 5000;

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const tabs = /** @type {HTMLButtonElement[]} */ ([...document.querySelectorAll("[role=tab]")]);
const panel = $("board");
const table = $("table");
const body = $("entries");
const empty = $("empty");
const status = $("status");
const statusText = $("status-text");
const windowText = $("window");
const totalText = $("total");
const captionPeriod = $("caption-period");
const age = $("age");
const announcer = $("announcer");

/** The board on screen; null until the chosen board's first event. */
let shown = null;
/** When the board on screen was received, and when its stream last proved alive. */
let receivedAt = 0;
let heardAt = 0;
let live = false;
/** @type {{ close(): void } | undefined} */
let stream;
let period = "all";

// Announcements: scorers not announced yet, and when the last summary was read out.
/** @type {Map<number, import("./board.js").Score>} */
let pending = new Map();
let announcedAt = -Infinity;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let announceTimer;

function setStatus(/** @type {keyof STATUS} */ state) {
  live = state === "live";
  // Only a change of words is worth a live-region update.
  if (status.dataset.state === state) return;
  status.dataset.state = state;
  statusText.textContent = STATUS[state];
  table.toggleAttribute("data-stale", !live && shown !== null);
  showAge();
}

function showAge() {
  const now = performance.now();
  if (shown === null) {
    age.dataset.state = "none";
    age.textContent = "";
  } else if (live) {
    age.dataset.state = "live";
    age.textContent = `Updated ${formatAge(now - receivedAt)}`;
  } else {
    age.dataset.state = "stale";
    age.textContent = `Not live: last confirmed ${formatAge(now - heardAt)}`;
  }
}

function announce() {
  clearTimeout(announceTimer);
  announceTimer = undefined;
  if (pending.size === 0) return;
  announcer.textContent = summarise(pending.values());
  pending = new Map();
  announcedAt = performance.now();
}

/** Announces now, or once the quiet interval since the last summary has passed. */
function queueAnnouncement() {
  if (pending.size === 0 || announceTimer !== undefined) return;
  const wait = announcedAt + ANNOUNCE_EVERY_MS - performance.now();
  if (wait <= 0) announce();
  else announceTimer = setTimeout(announce, wait);
}

function cell(/** @type {"td" | "th"} */ tag, /** @type {string} */ className, text = "") {
  const element = document.createElement(tag);
  element.className = className;
  element.textContent = text;
  return element;
}

function row(/** @type {import("./board.js").Row} */ entry) {
  const tr = document.createElement("tr");
  tr.dataset.accountId = String(entry.accountId);
  tr.dataset.rank = String(entry.rank);
  const player = cell("th", "player", entry.username);
  player.scope = "row";
  const change = cell("td", "change");
  const movement = formatMovement(entry.move, entry.gained);
  if (movement.shown) {
    const shownText = document.createElement("span");
    shownText.setAttribute("aria-hidden", "true");
    shownText.textContent = movement.shown;
    if (typeof entry.move === "number") shownText.dataset.move = entry.move > 0 ? "up" : "down";
    const spoken = cell("span", "visually-hidden", movement.spoken);
    change.append(shownText, spoken);
  }
  tr.append(
    cell("td", "rank", String(entry.rank)),
    player,
    cell("td", "points", formatNumber(entry.totalPoints)),
    change,
  );
  if (entry.scored) tr.classList.add("scored");
  return tr;
}

function render(/** @type {import("./board.js").Board} */ board) {
  if (board.period !== period) return;
  const rows = compareBoards(shown, board);
  body.replaceChildren(...rows.map(row));
  empty.hidden = rows.length > 0;
  table.setAttribute("aria-busy", "false");
  windowText.textContent = formatWindow(board.startsAt, board.endsAt);
  totalText.textContent = formatTotal(board.total);
  shown = board;
  receivedAt = heardAt = performance.now();
  table.removeAttribute("data-stale");
  addScores(pending, rows);
  queueAnnouncement();
  showAge();
}

function open(/** @type {string} */ chosen) {
  stream?.close();
  period = chosen;
  shown = null;
  pending = new Map();
  clearTimeout(announceTimer);
  announceTimer = undefined;
  body.replaceChildren();
  empty.hidden = true;
  table.setAttribute("aria-busy", "true");
  table.removeAttribute("data-stale");
  totalText.textContent = "…";
  windowText.textContent = chosen === "all" ? "All time" : "…";
  captionPeriod.textContent = CAPTIONS[/** @type {keyof CAPTIONS} */ (chosen)];
  setStatus("connecting");
  stream = followStream(`/leaderboard/stream?period=${chosen}`, {
    onBoard: render,
    onState: setStatus,
    onHeard() {
      heardAt = performance.now();
    },
  });
}

/** Selects `chosen`'s tab (WAI-ARIA tabs; activation follows focus) and opens its board. */
function select(/** @type {string} */ chosen, focus = false) {
  for (const tab of tabs) {
    const selected = tab.dataset.period === chosen;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    if (selected) {
      panel.setAttribute("aria-labelledby", tab.id);
      if (focus) tab.focus();
    }
  }
  if (chosen === period && stream) return;
  // The URL names the board, so that a link opens it; replaced, not pushed: tabs are not pages.
  const url = new URL(location.href);
  if (chosen === "all") url.searchParams.delete("period");
  else url.searchParams.set("period", chosen);
  history.replaceState(null, "", url);
  open(chosen);
}

const KEYS = {
  ArrowRight: (/** @type {number} */ i) => (i + 1) % tabs.length,
  ArrowLeft: (/** @type {number} */ i) => (i - 1 + tabs.length) % tabs.length,
  Home: () => 0,
  End: () => tabs.length - 1,
};

for (const tab of tabs) {
  tab.addEventListener("click", () => select(/** @type {string} */ (tab.dataset.period)));
  tab.addEventListener("keydown", (event) => {
    const next = KEYS[/** @type {keyof KEYS} */ (event.key)];
    if (!next) return;
    event.preventDefault();
    const target = tabs[next(tabs.indexOf(tab))];
    select(/** @type {string} */ (target.dataset.period), true);
  });
}

async function loadActions() {
  const list = $("actions");
  const note = $("actions-note");
  try {
    const res = await fetch("/actions", { headers: { accept: "application/json" } });
    if (!res.ok) throw new Error(`GET /actions: ${res.status}`);
    /**
     * @type {{ actions: { slug: string, label: string, pointValue: number,
     *   limit: { count: number, per: "day" | "week" | "month" | "ever" } | null,
     *   cooldownSeconds: number | null }[] }}
     */
    const { actions } = await res.json();
    const items = [...actions]
      .sort((a, b) => b.pointValue - a.pointValue || a.label.localeCompare(b.label))
      .map((action) => {
        const li = document.createElement("li");
        li.dataset.slug = action.slug;
        const points = cell("span", "points", `${formatNumber(action.pointValue)} points`);
        if (action.pointValue === 1) points.textContent = "1 point";
        // "10 points · once a day": the rules beside the points they bound.
        const rules = formatRules(action.limit, action.cooldownSeconds);
        if (rules) points.textContent += ` · ${rules}`;
        li.append(cell("span", "label", action.label), points);
        return li;
      });
    list.replaceChildren(...items);
    note.hidden = items.length > 0;
    note.textContent = "No actions are open right now; check back soon.";
  } catch {
    note.hidden = false;
    note.textContent = "The actions could not be loaded; reload the page to try again.";
  } finally {
    list.setAttribute("aria-busy", "false");
  }
}

const requested = new URLSearchParams(location.search).get("period") ?? "all";
select(PERIODS.includes(requested) ? requested : "all");
loadActions();
setInterval(showAge, 1000);
