/**
 * Usernames of ranked accounts, cached in memory: they never change, so an entry stays right for
 * as long as it is kept. Misses are fetched together in one query.
 */
import type { Sql } from "postgres";
import { usernames } from "./queries.ts";

/** Looks up usernames of active accounts. */
export interface UsernameCache {
  /** Usernames of those of `ids` that are active accounts. */
  get(ids: number[]): Promise<Map<number, string>>;
}

/** A cache of at most `capacity` names, dropping the least recently used. */
export function createUsernameCache(sql: Sql, capacity = 10_000): UsernameCache {
  const cache = new Map<number, string>();

  function remember(id: number, name: string): void {
    cache.delete(id);
    cache.set(id, name);
    if (cache.size > capacity) cache.delete(cache.keys().next().value!);
  }

  return {
    async get(ids) {
      const found = new Map<number, string>();
      const missing: number[] = [];
      for (const id of ids) {
        const name = cache.get(id);
        if (name === undefined) missing.push(id);
        else {
          found.set(id, name);
          remember(id, name);
        }
      }
      if (missing.length > 0) {
        for (const [id, name] of await usernames(sql, missing)) {
          found.set(id, name);
          remember(id, name);
        }
      }
      return found;
    },
  };
}
