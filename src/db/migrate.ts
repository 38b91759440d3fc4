/**
 * Applies pending migrations so that any number of processes may do it at once: every instance
 * migrates at start, and N replicas starting together must not race (dbmate takes no lock of its
 * own). `deno task db:migrate` runs it from the command line.
 */
import postgres, { type Sql } from "postgres";
import { isConnectionError } from "./database.ts";
import { dbmate, DEFAULT_DATABASE_URL } from "./dbmate.ts";
import { connectDatabase } from "./mod.ts";
import { fillUsernameKeys, type LookAlike } from "./username_keys.ts";

/**
 * The session-level advisory lock held while dbmate runs. Advisory locks are per database, so
 * migrations of different databases on one server never wait for each other.
 */
export const MIGRATION_LOCK_KEY = 0x73636f726562; // "scoreb" in ASCII: any constant will do

/** Options of `migrate`. */
export interface MigrateOptions {
  /** Receives each line dbmate prints; without it they go to this process's stdout and stderr. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** Called once when another process holds the lock, before this one waits for it. */
  onWait?: () => void;
  /** How long to keep trying while PostgreSQL does not answer (dbmate's `--wait` also waits 60 s). */
  waitMs?: number;
}

/** What one call did. */
export interface MigrateResult {
  /** The migrations this call applied (file names), in order; empty when none were pending. */
  readonly applied: string[];
  /** Existing usernames found to look like older ones as their keys were filled in (kept). */
  readonly lookAlikes: LookAlike[];
}

/** Thrown when PostgreSQL refuses, never answers, or dbmate fails; its message says which. */
export class MigrationError extends Error {
  override name = "MigrationError";
}

const connect = (url: string): Sql => connectDatabase(url, 1, 10, "scoreboard-migrate");

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The database `url` names; created when missing. Another process creating it too is fine. */
async function ensureDatabase(url: string, deadline: number): Promise<void> {
  for (;;) {
    const sql = connect(url);
    try {
      await sql`SELECT 1`;
      return;
    } catch (error) {
      if (error instanceof postgres.PostgresError && error.code === "3D000") {
        return await createDatabase(url);
      }
      // Not reachable yet, or starting up: worth another try until the deadline.
      if (!isConnectionError(error) || Date.now() >= deadline) throw error;
    } finally {
      await sql.end({ timeout: 5 });
    }
    await sleep(500);
  }
}

async function createDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  // Created from the server's maintenance database, as dbmate and createdb do.
  target.pathname = "/postgres";
  const admin = connect(target.toString());
  try {
    await admin`CREATE DATABASE ${admin(name)}`;
  } catch (error) {
    // 42P04: it exists by now; 23505: another CREATE DATABASE of the same name committed first.
    const code = error instanceof postgres.PostgresError ? error.code : "";
    if (code !== "42P04" && code !== "23505") throw error;
  } finally {
    await admin.end({ timeout: 5 });
  }
}

/**
 * Creates the database `databaseUrl` names when it is missing, then applies the pending
 * migrations with dbmate while holding a session-level advisory lock on one dedicated connection
 * to it. Processes that come second wait for the lock, then find nothing pending.
 */
export async function migrate(
  databaseUrl: string,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const deadline = Date.now() + (options.waitMs ?? 60_000);
  try {
    await ensureDatabase(databaseUrl, deadline);
  } catch (error) {
    throw new MigrationError(`PostgreSQL: ${(error as Error).message}`, { cause: error });
  }

  const sql = connect(databaseUrl);
  try {
    const lock = await sql.reserve();
    try {
      // A server-wide statement_timeout must not cut short a wait for a long migration.
      await lock`SET statement_timeout = 0`;
      const [{ locked }] = await lock<{ locked: boolean }[]>`
        SELECT pg_try_advisory_lock(${MIGRATION_LOCK_KEY}::bigint) AS locked`;
      if (!locked) {
        options.onWait?.();
        await lock`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY}::bigint)`;
      }
      try {
        const { applied } = await runDbmate(databaseUrl, options.onLine);
        return { applied, lookAlikes: await fillUsernameKeys(lock) };
      } finally {
        await lock`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY}::bigint)`;
      }
    } finally {
      lock.release();
    }
  } catch (error) {
    if (error instanceof MigrationError) throw error;
    throw new MigrationError(`PostgreSQL: ${(error as Error).message}`, { cause: error });
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function runDbmate(
  databaseUrl: string,
  onLine: MigrateOptions["onLine"],
): Promise<{ applied: string[] }> {
  const applied: string[] = [];
  const errors: string[] = [];
  const code = await dbmate(["migrate"], databaseUrl, {
    onLine(line, stream) {
      const match = /^Applying: (.+)$/.exec(line);
      if (match) applied.push(match[1]);
      if (stream === "stderr") errors.push(line);
      if (onLine) onLine(line, stream);
      else if (stream === "stderr") console.error(line);
      else console.log(line);
    },
  });
  if (code !== 0) {
    throw new MigrationError(
      `dbmate migrate exited with code ${code}${errors.length ? `: ${errors.join(" ")}` : ""}`,
    );
  }
  return { applied };
}

/** A look-alike kept, for the log. */
export function describeLookAlike(found: LookAlike): string {
  return `username ${JSON.stringify(found.username)} (account ${found.id}) looks like ` +
    `${JSON.stringify(found.like.username)} (account ${found.like.id}), registered before ` +
    "usernames were compared by their look: both keep their names";
}

if (import.meta.main) {
  try {
    const { applied, lookAlikes } = await migrate(
      Deno.env.get("DATABASE_URL") || DEFAULT_DATABASE_URL,
      { onWait: () => console.log("Another process is applying migrations; waiting for it.") },
    );
    if (applied.length === 0) console.log("Nothing to apply: the schema is up to date.");
    for (const line of lookAlikes.map(describeLookAlike)) console.warn(line);
  } catch (error) {
    console.error(`db:migrate: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
