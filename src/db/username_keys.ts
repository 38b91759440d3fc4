/**
 * The migration step that SQL cannot do alone: the key of each username that has none yet
 * (migration 20261203000300_username_look.sql, whose comment says what happens to names that
 * already look alike). It runs after dbmate, under the migration lock, at every migration: the
 * accounts an instance of the previous release inserted during a rolling update get theirs at the
 * next one.
 */
import type { TransactionSql } from "postgres";
import { usernameKey } from "../auth/usernames.ts";
import { type Db, uniqueViolation } from "./mod.ts";

/** Accounts keyed per statement. */
const BATCH = 1000;

/** An existing name that looks like an older one: both are kept. */
export interface LookAlike {
  id: number;
  username: string;
  /** The older account holding the key. */
  like: { id: number; username: string };
}

interface Row {
  id: number;
  username: string;
}

/** Marks a key taken already: the account's id appended after a character no name's key holds. */
function apart(key: string, id: number): string {
  return `${key}\u{FFFF}${id}`;
}

/**
 * Keys the accounts that have none, oldest first, in the migration's transaction (each batch in a
 * savepoint of its own); answers the look-alikes it kept apart.
 */
export async function fillUsernameKeys(tx: TransactionSql): Promise<LookAlike[]> {
  const kept: LookAlike[] = [];
  for (;;) {
    const rows = await tx<Row[]>`
      SELECT id, username FROM accounts WHERE username_key IS NULL ORDER BY id LIMIT ${BATCH}`;
    if (rows.length === 0) return kept;
    try {
      await tx.savepoint((sp) => keyBatch(sp, rows, kept));
    } catch (error) {
      // A registration took one of the keys meanwhile: this batch again, one at a time.
      if (uniqueViolation(error) === null) throw error;
      for (const row of rows) await tx.savepoint((sp) => keyBatch(sp, [row], kept));
    }
  }
}

/** Keys `rows` in one statement, apart from the keys older accounts (or earlier rows) hold. */
async function keyBatch(sql: Db, rows: Row[], kept: LookAlike[]): Promise<void> {
  const keys = rows.map((row) => usernameKey(row.username));
  const holders = new Map<string, Row>();
  for (
    const held of await sql<(Row & { username_key: string })[]>`
      SELECT id, username, username_key FROM accounts WHERE username_key = ANY(${keys}::text[])`
  ) holders.set(held.username_key, held);
  const found: LookAlike[] = [];
  const assigned = rows.map((row, i) => {
    const holder = holders.get(keys[i]);
    if (holder === undefined) {
      holders.set(keys[i], row);
      return keys[i];
    }
    found.push({ id: row.id, username: row.username, like: holder });
    return apart(keys[i], row.id);
  });
  await sql`
    UPDATE accounts AS a SET username_key = k.key
    FROM unnest(${rows.map((row) => row.id)}::int[], ${assigned}::text[]) AS k(id, key)
    WHERE a.id = k.id AND a.username_key IS NULL`;
  kept.push(...found);
}
