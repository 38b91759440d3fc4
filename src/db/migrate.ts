/**
 * Applies pending migrations so that any number of processes may do it at once: every instance
 * migrates at start, and N replicas starting together must not race (dbmate takes no lock of its
 * own). `deno task db:migrate` runs it from the command line.
 */
import postgres, { type Sql } from "postgres";
import { isConnectionError, isMissingDatabase } from "./database.ts";
import { dbmate, DEFAULT_DATABASE_URL } from "./dbmate.ts";
import { connectDatabase } from "./mod.ts";
import { fillUsernameKeys, type LookAlike } from "./username_keys.ts";

/**
 * The advisory lock held while dbmate runs (by a transaction: see `migrate`). Advisory locks are
 * per database, so migrations of different databases on one server never wait for each other.
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
  /** Named prepared statements (false behind a pooler in transaction mode: DATABASE_PREPARE). */
  prepare?: boolean;
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

const connect = (url: string, prepare = true): Sql =>
  connectDatabase(url, 1, 10, "scoreboard-migrate", prepare);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The database `url` names; created when missing. Another process creating it too is fine. */
async function ensureDatabase(url: string, deadline: number, prepare: boolean): Promise<void> {
  for (;;) {
    const sql = connect(url, prepare);
    try {
      await sql`SELECT 1`;
      return;
    } catch (error) {
      if (isMissingDatabase(error)) return await createDatabase(url, prepare);
      // Not reachable yet, or starting up: worth another try until the deadline.
      if (!isConnectionError(error) || Date.now() >= deadline) throw error;
    } finally {
      await sql.end({ timeout: 5 });
    }
    await sleep(500);
  }
}

async function createDatabase(url: string, prepare: boolean): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  // Created from the server's maintenance database, as dbmate and createdb do.
  target.pathname = "/postgres";
  const admin = connect(target.toString(), prepare);
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
 * migrations with dbmate while a transaction on one connection to it holds an advisory lock.
 * Processes that come second wait for the lock, then find nothing pending.
 */
export async function migrate(
  databaseUrl: string,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const deadline = Date.now() + (options.waitMs ?? 60_000);
  try {
    await ensureDatabase(databaseUrl, deadline, options.prepare ?? true);
  } catch (error) {
    throw new MigrationError(`PostgreSQL: ${(error as Error).message}`, { cause: error });
  }

  const sql = connect(databaseUrl, options.prepare ?? true);
  try {
    // The lock is a transaction's (pg_advisory_xact_lock): a transaction keeps its server
    // connection even behind a pooler in transaction mode (a session lock would be taken on one
    // server connection and released on another), and the lock goes when the transaction ends,
    // however it ends — nothing to unlock, nothing left behind. SET LOCAL, for the same reason.
    return await sql.begin(async (tx) => {
      // A server's timeouts must not cut short a wait for a long migration.
      await tx`SET LOCAL statement_timeout = 0`;
      await tx`SET LOCAL idle_in_transaction_session_timeout = 0`;
      const [{ locked }] = await tx<{ locked: boolean }[]>`
        SELECT pg_try_advisory_xact_lock(${MIGRATION_LOCK_KEY}::bigint) AS locked`;
      if (!locked) {
        options.onWait?.();
        await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY}::bigint)`;
      }
      const { applied } = await runDbmate(databaseUrl, options.onLine);
      return { applied, lookAlikes: await fillUsernameKeys(tx) };
    });
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
    // As the server does: DATABASE_MIGRATION_URL first (a direct connection behind a pooler).
    const { applied, lookAlikes } = await migrate(
      Deno.env.get("DATABASE_MIGRATION_URL") || Deno.env.get("DATABASE_URL") ||
        DEFAULT_DATABASE_URL,
      {
        onWait: () => console.log("Another process is applying migrations; waiting for it."),
        prepare: Deno.env.get("DATABASE_PREPARE") !== "false",
      },
    );
    if (applied.length === 0) console.log("Nothing to apply: the schema is up to date.");
    for (const line of lookAlikes.map(describeLookAlike)) console.warn(line);
  } catch (error) {
    console.error(`db:migrate: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
