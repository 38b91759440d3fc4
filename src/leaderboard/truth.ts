/**
 * Boards read from PostgreSQL, the truth: what answers when there is no Redis, when Redis cannot
 * answer, and for past windows. The Redis copy (copy.ts) answers the same questions the same way.
 */
import type { Db } from "../db/mod.ts";
import { byRank, type Entry, rankRows } from "./entries.ts";
import type { Window } from "./periods.ts";
import * as q from "./queries.ts";

/** A page of a board. */
export interface PageEntries {
  /** Ranked accounts in the board. */
  total: number;
  entries: Entry[];
}

/** The reads every ranking answers. */
export interface BoardReads {
  /** `limit` entries from `offset`, best first. */
  page(window: Window, limit: number, offset: number): Promise<PageEntries>;
  /** One account's entry; null when it has no points in the board (or does not exist). */
  entry(window: Window, accountId: number): Promise<Entry | null>;
  /** The account's entry with up to `radius` entries above and below it; null as `entry`. */
  around(window: Window, accountId: number, radius: number): Promise<Entry[] | null>;
  /** The entries of those of `ids` that are ranked, best first. */
  pick(window: Window, ids: number[]): Promise<Entry[]>;
  /** The rank an account with `total` points holds in the board. */
  rankOf(window: Window, accountId: number, total: number): Promise<number>;
}

const toRows = (rows: q.BoardRow[]) =>
  rows.map((row) => ({ id: row.account_id, name: row.username, points: row.total_points }));

/** The boards as PostgreSQL holds them. */
export function truthReads(db: Db): BoardReads {
  return {
    async page(window, limit, offset) {
      const { rows, above, total } = await q.pageRows(db, window, limit, offset);
      return { total, entries: rankRows(toRows(rows), above, offset) };
    },
    async entry(window, accountId) {
      const row = await q.entryRow(db, window, accountId);
      if (!row) return null;
      return rankRows(toRows([row]), row.above, row.above)[0];
    },
    async around(window, accountId, radius) {
      const me = await q.entryRow(db, window, accountId);
      if (!me) return null;
      const { before, after } = await q.neighbourRows(db, window, me, radius);
      const rows = [...before, me, ...after];
      // Those above the first row shown: the account's own when that row ties with it.
      const above = before.length === 0 || before[0].total_points === me.total_points
        ? me.above
        : await q.countAbove(db, window, before[0].total_points);
      return rankRows(toRows(rows), above, me.above + me.before - before.length);
    },
    async pick(window, ids) {
      const rows = await q.rowsOf(db, window, ids);
      return byRank(rows.map((row) => rankRows(toRows([row]), row.above, row.above)[0]));
    },
    async rankOf(window, _accountId, total) {
      return 1 + await q.countAbove(db, window, total);
    },
  };
}
