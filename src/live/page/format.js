// How the page words numbers, ranks, windows and ages (English, like the page). No DOM.

const numbers = new Intl.NumberFormat("en");
const ordinals = new Intl.PluralRules("en", { type: "ordinal" });
const SUFFIX = { one: "st", two: "nd", few: "rd", other: "th" };
const DAY_MS = 86_400_000;

// Parts rather than a whole formatted string: the separators between them vary between ICU
// versions, and the page (and its tests) should not.
const dayParts = new Intl.DateTimeFormat("en-GB", {
  weekday: "short",
  day: "numeric",
  month: "short",
  year: "numeric",
  timeZone: "UTC",
});

/** "1,234". @param {number} n */
export function formatNumber(n) {
  return numbers.format(n);
}

/** "1st", "2nd", "3rd", "11th". @param {number} n */
export function ordinal(n) {
  return `${n}${SUFFIX[/** @type {keyof SUFFIX} */ (ordinals.select(n))] ?? "th"}`;
}

/**
 * "Mon 23 Nov", or "Mon 23 Nov 2026" with the year.
 * @param {Date} date
 * @param {boolean} withYear
 */
function formatDay(date, withYear) {
  /** @type {Record<string, string>} */
  const part = {};
  for (const { type, value } of dayParts.formatToParts(date)) part[type] = value;
  const day = `${part.weekday} ${part.day} ${part.month}`;
  return withYear ? `${day} ${part.year}` : day;
}

/**
 * A board's window as people read it: "Mon 23 Nov – Sun 29 Nov 2026, UTC" (`endsAt` is
 * exclusive, so the last day shown is the one before it), "Tue 24 Nov 2026, UTC" for a day,
 * "All time" for the all-time board.
 * @param {string | null} startsAt
 * @param {string | null} endsAt
 */
export function formatWindow(startsAt, endsAt) {
  if (startsAt === null || endsAt === null) return "All time";
  const first = new Date(startsAt);
  const last = new Date(Date.parse(endsAt) - 1);
  if (Date.parse(endsAt) - first.getTime() <= DAY_MS) return `${formatDay(first, true)}, UTC`;
  const sameYear = first.getUTCFullYear() === last.getUTCFullYear();
  return `${formatDay(first, !sameYear)} – ${formatDay(last, true)}, UTC`;
}

/** "No ranked accounts yet", "1 ranked account", "1,234 ranked accounts". @param {number} total */
export function formatTotal(total) {
  if (total === 0) return "No ranked accounts yet";
  return `${formatNumber(total)} ranked account${total === 1 ? "" : "s"}`;
}

/** "just now", "12 s ago", "3 min ago", "2 h ago". @param {number} ms */
export function formatAge(ms) {
  const seconds = Math.floor(Math.max(0, ms) / 1000);
  if (seconds < 1) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return `${Math.floor(seconds / 3600)} h ago`;
}

/**
 * A row's movement: what is shown and what a screen reader says instead of the arrows.
 * @param {number | "new" | null} move
 * @param {number | null} gained
 * @returns {{ shown: string, spoken: string }}
 */
export function formatMovement(move, gained) {
  const shown = [];
  const spoken = [];
  if (move === "new") {
    shown.push("new");
    spoken.push("new in the top 10");
  } else if (move !== null && move > 0) {
    shown.push(`▲${move}`);
    spoken.push(`up ${move}`);
  } else if (move !== null && move < 0) {
    shown.push(`▼${-move}`);
    spoken.push(`down ${-move}`);
  }
  if (gained !== null) {
    const points = `${gained > 0 ? "+" : "−"}${formatNumber(Math.abs(gained))}`;
    shown.push(points);
    spoken.push(`${points} points`);
  }
  return { shown: shown.join(" "), spoken: spoken.join(", ") };
}

const TIMES = ["", "once", "twice"];
const PER = { day: " a day", week: " a week", month: " a month", ever: "" };

/**
 * A duration as people read it: "45 s", "5 min", "8 h", "1 h 30 min", "2 days".
 * @param {number} seconds
 */
export function formatDuration(seconds) {
  const units = [[86_400, " day", " days"], [3_600, " h", " h"], [60, " min", " min"], [
    1,
    " s",
    " s",
  ]];
  const parts = [];
  let left = seconds;
  for (const [size, one, many] of /** @type {[number, string, string][]} */ (units)) {
    const n = Math.floor(left / size);
    left -= n * size;
    if (n > 0) parts.push(`${formatNumber(n)}${n === 1 ? one : many}`);
  }
  return parts.slice(0, 2).join(" ");
}

/**
 * An action's rules in a few words: "once a day", "3 times a week", "once", "at most every 8 h",
 * joined by " · "; "" without rules.
 * @param {{ count: number, per: "day" | "week" | "month" | "ever" } | null} limit
 * @param {number | null} cooldownSeconds
 */
export function formatRules(limit, cooldownSeconds) {
  const parts = [];
  if (limit) {
    const times = TIMES[limit.count] ?? `${formatNumber(limit.count)} times`;
    parts.push(`${times}${PER[limit.per]}`);
  }
  if (cooldownSeconds) parts.push(`at most every ${formatDuration(cooldownSeconds)}`);
  return parts.join(" · ");
}
