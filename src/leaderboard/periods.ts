/**
 * Periods and their windows (API.md "Periods"): `all` is one window without bounds; `day`,
 * `week` (ISO, from Monday) and `month` are UTC windows that turn at 00:00 UTC.
 */

/** The boards a ranking is kept for. */
export const PERIODS = ["all", "day", "week", "month"] as const;

/** One of PERIODS. */
export type Period = typeof PERIODS[number];

/** The periods whose boards start empty when their window turns. */
export const WINDOWED = ["day", "week", "month"] as const;

/** A period with windows. */
export type WindowedPeriod = typeof WINDOWED[number];

/** The clock of an instance, injectable so that tests can cross a boundary at will. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The system clock. */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * One window of a period; `start` and `end` (exclusive) are null for `all`. Windows are kept and
 * shared (`windowAt`): their dates are never to be changed by whoever holds them.
 */
export interface Window {
  readonly period: Period;
  readonly start: Date | null;
  readonly end: Date | null;
  /** The UTC date the window starts on (`2026-11-23`), null for `all`. */
  readonly startDate: string | null;
  /** `all`, or `<period>:<start date>` (`week:2026-11-23`): names the board everywhere. */
  readonly id: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The window everything falls in. */
export const ALL_TIME: Window = Object.freeze({
  period: "all",
  start: null,
  end: null,
  startDate: null,
  id: "all",
});

/** The UTC date of `date`, as `YYYY-MM-DD`. */
export function isoDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** Windows already computed, by period and day: a completion asks for the same ones many times. */
const known = new Map<string, Window>();

/** The window of `period` that contains the instant `ms`. */
export function windowAt(period: Period, ms: number): Window {
  if (period === "all") return ALL_TIME;
  const day = Math.floor(ms / DAY_MS) * DAY_MS;
  const key = `${period}${day}`;
  let window = known.get(key);
  if (!window) {
    if (known.size >= 64) known.clear();
    window = computeWindow(period, day);
    known.set(key, window);
  }
  return window;
}

function computeWindow(period: WindowedPeriod, day: number): Window {
  let start: number;
  let end: number;
  if (period === "day") {
    start = day;
    end = day + DAY_MS;
  } else if (period === "week") {
    // getUTCDay: Sunday is 0; ISO weeks start on Monday.
    const sinceMonday = (new Date(day).getUTCDay() + 6) % 7;
    start = day - sinceMonday * DAY_MS;
    end = start + 7 * DAY_MS;
  } else {
    const date = new Date(day);
    start = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
    end = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
  }
  const startDate = isoDate(new Date(start));
  return Object.freeze({
    period,
    start: new Date(start),
    end: new Date(end),
    startDate,
    id: `${period}:${startDate}`,
  });
}

/** Whether `window` is the one its period is in at `ms`. */
export function isCurrent(window: Window, ms: number): boolean {
  return window.start === null || (window.start.getTime() <= ms && ms < window.end!.getTime());
}

/** The current windows of every period at `ms`, in PERIODS order. */
export function windowsAt(ms: number): Window[] {
  return PERIODS.map((period) => windowAt(period, ms));
}

/** The current window of every period at `ms`, by period (a completion's, say). */
export function windowsByPeriod(ms: number): Record<Period, Window> {
  const [all, day, week, month] = windowsAt(ms);
  return { all, day, week, month };
}
