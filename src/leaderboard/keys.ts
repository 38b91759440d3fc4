/**
 * Where the Redis copy lives (API.md: the prefix is prepended as it is). Each board is a sorted
 * set with a marker beside it that says the set was built complete: `1` when it ranks someone,
 * `0` when it is complete and empty. A set whose marker is missing, or says `1` while the set is
 * gone, was lost (a flush, a deletion, an eviction, a restart) and must be rebuilt — even if a
 * write has created it again since.
 */
import type { Window } from "./periods.ts";

/** The keys of one board. */
export interface BoardKeys {
  /** The sorted set: member = account id, score = points. */
  readonly set: string;
  /** `1` or `0` while the set is complete; missing once it was lost. */
  readonly marker: string;
  /** Seconds since the epoch when both expire, or 0 (all time never expires). */
  readonly expireAt: number;
}

/** How long a window's keys outlive it: completions that commit at the turn still land. */
const EXPIRY_GRACE_S = 24 * 60 * 60;

/** The keys of the ranking under one prefix. */
export interface RedisKeys {
  /** Deleted accounts, so that a score written late cannot bring one back. */
  readonly deleted: string;
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
    deleted: `${base}:deleted`,
    names: `${base}:names`,
    channel: `${prefix}scoreboard:refresh`,
    board(window) {
      const set = window.start === null ? base : `${base}:${window.id}`;
      return {
        set,
        marker: `${set}:built`,
        expireAt: window.end === null
          ? 0
          : Math.floor(window.end.getTime() / 1000) + EXPIRY_GRACE_S,
      };
    },
  };
}
