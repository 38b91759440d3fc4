/**
 * Rules of an action (API.md "Rules of an action"): at most `limit.count` completions per account
 * in each `limit.per` window — the boards' UTC day, ISO week and month, or ever — and at least
 * `cooldownSeconds` between two completions by one account. The completion statement enforces
 * them (src/actions/queries.ts); this says where an account stands: how many remain, and from
 * when it may complete again.
 */
import { windowAt, type WindowedPeriod } from "../leaderboard/periods.ts";

/** The windows a limit counts in. */
export const LIMIT_PERIODS = ["day", "week", "month", "ever"] as const;

/** One of LIMIT_PERIODS. */
export type LimitPer = typeof LIMIT_PERIODS[number];

/** An action's rules, as the API shows them. */
export interface Rules {
  limit: { count: number; per: LimitPer } | null;
  cooldownSeconds: number | null;
}

/** An account's completions of one action: in the limit's current window, and the latest. */
export interface Usage {
  completions: number;
  lastAt: Date | null;
}

/** Where an account stands with an action's rules at one instant. */
export interface Standing {
  /** Completions the limit still allows in its current window; null without a limit. */
  remaining: number | null;
  /** null when it may complete now, or never again; else from when it may. */
  availableAt: Date | null;
  /** Whether it may complete now. */
  open: boolean;
}

/** Whether `rules` hold anything. */
export function hasRules(rules: Rules): boolean {
  return rules.limit !== null || rules.cooldownSeconds !== null;
}

/** The end of the limit's window that contains `ms` (null for `ever`: it never turns). */
function windowEnd(per: LimitPer, ms: number): Date | null {
  return per === "ever" ? null : windowAt(per as WindowedPeriod, ms).end;
}

/** Where an account with `usage` stands with `rules` at `ms`. */
export function standing(rules: Rules, usage: Usage, ms: number): Standing {
  const remaining = rules.limit === null
    ? null
    : Math.max(0, rules.limit.count - usage.completions);
  let from = -Infinity;
  if (remaining === 0) {
    const end = windowEnd(rules.limit!.per, ms);
    if (end === null) return { remaining, availableAt: null, open: false }; // spent for good
    from = end.getTime();
  }
  if (rules.cooldownSeconds !== null && usage.lastAt !== null) {
    from = Math.max(from, usage.lastAt.getTime() + rules.cooldownSeconds * 1000);
  }
  return from > ms
    ? { remaining, availableAt: new Date(from), open: false }
    : { remaining, availableAt: null, open: true };
}
