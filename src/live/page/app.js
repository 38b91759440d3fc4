// The live top 10: follows /leaderboard/stream with EventSource and highlights what changed.
"use strict";

const body = document.getElementById("entries");
const empty = document.getElementById("empty");
const status = document.getElementById("status");
const statusText = document.getElementById("status-text");
const points = new Intl.NumberFormat();

/** accountId → "rank:points" as last shown, to highlight rows that changed. */
let shown = new Map();
let rendered = false;

function setStatus(state, text) {
  status.dataset.state = state;
  statusText.textContent = text;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.className = className;
  td.textContent = text;
  return td;
}

function render(entries) {
  const next = new Map();
  const rows = entries.map((entry) => {
    const key = `${entry.rank}:${entry.totalPoints}`;
    next.set(entry.accountId, key);
    const tr = document.createElement("tr");
    tr.dataset.accountId = String(entry.accountId);
    tr.dataset.rank = String(entry.rank);
    tr.append(
      cell(String(entry.rank), "rank"),
      cell(entry.username, "player"),
      cell(points.format(entry.totalPoints), "points"),
    );
    // The first render shows the board as it is; later ones mark what moved or scored.
    if (rendered && shown.get(entry.accountId) !== key) tr.classList.add("changed");
    return tr;
  });
  body.replaceChildren(...rows);
  empty.hidden = entries.length > 0;
  shown = next;
  rendered = true;
}

const source = new EventSource("/leaderboard/stream");
source.addEventListener("open", () => setStatus("live", "Live"));
source.addEventListener("error", () => {
  setStatus("reconnecting", "Reconnecting…");
});
source.addEventListener("leaderboard", (event) => {
  setStatus("live", "Live");
  render(JSON.parse(event.data).entries);
});
