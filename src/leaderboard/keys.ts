/**
 * Where the Redis copy lives (API.md: the prefix is prepended as it is). Each board is a sorted
 * set with a marker beside it that says the set was built complete: `1` when it ranks someone,
 * `0` when it is complete and empty; and a hash of the revision (see score_ledger.revision) of the
 * state it holds for each account, shown or not. A set whose marker is missing, or says `1` while
 * the set or its revisions are gone, was lost (a flush, a deletion, an eviction, a restart) and
 * must be rebuilt — even if a write has created it again since.
 */
import type { Window } from "./periods.ts";

/** The keys of one board. */
export interface BoardKeys {
  /** The sorted set: member = account id, score = points. */
  readonly set: string;
  /** `1` or `0` while the set is complete; missing once it was lost. */
  readonly marker: string;
  /** Hash: account id → the revision of the state the board holds for it (hidden ones too). */
  readonly revisions: string;
  /** Seconds since the epoch when both expire, or 0 (all time never expires). */
  readonly expireAt: number;
}

/** How long a window's keys outlive it: completions that commit at the turn still land. */
const EXPIRY_GRACE_S = 24 * 60 * 60;

/** The keys of the ranking under one prefix. */
export interface RedisKeys {
  /** Usernames of ranked accounts (they never change), so that reads need no PostgreSQL. */
  readonly names: string;
  /** The refresh channel (`scoreboard:refresh`). */
  readonly channel: string;
  board(window: Window): BoardKeys;
}

/** The keys under `prefix`. */
export function redisKeys(prefix: string): RedisKeys {
  const base = `${prefix}leaderboard`;
  return {
    names: `${base}:names`,
    channel: `${prefix}scoreboard:refresh`,
    board(window) {
      const set = window.start === null ? base : `${base}:${window.id}`;
      return {
        set,
        marker: `${set}:built`,
        revisions: `${set}:revisions`,
        expireAt: window.end === null
          ? 0
          : Math.floor(window.end.getTime() / 1000) + EXPIRY_GRACE_S,
      };
    },
  };
}
