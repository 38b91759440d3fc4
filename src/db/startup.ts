/**
 * Migrations at an instance's start. Every instance migrates (under migrate()'s lock); when an
 * external PostgreSQL does not answer yet, the instance starts anyway — it serves what Redis holds
 * and is not ready — and migrates in the background as soon as PostgreSQL answers.
 */
import type { Logger } from "@logtape/logtape";
import { isConnectionError } from "./database.ts";
import { migrate, MigrationError } from "./migrate.ts";

/** Whether the schema is known to be up to date (the instance is ready only then). */
export interface SchemaState {
  ready: boolean;
}

/** How long a start waits for PostgreSQL before it serves without it. */
const START_WAIT_MS = 3000;

/** How often the background migration tries again. */
const RETRY_MS = 2000;

/** Where migrations go: DATABASE_MIGRATION_URL (else DATABASE_URL), with DATABASE_PREPARE. */
export interface MigrationTarget {
  url: string;
  prepare: boolean;
}

/** Migrates `target`, with dbmate's output and the outcome in the log. */
async function migrateLogged(target: MigrationTarget, log: Logger, waitMs: number): Promise<void> {
  const dbLog = log.getChild("migrate");
  const { applied, lookAlikes } = await migrate(target.url, {
    waitMs,
    prepare: target.prepare,
    onLine: (line, stream) =>
      stream === "stderr"
        ? dbLog.warn("dbmate: {line}", { line })
        : dbLog.info("dbmate: {line}", { line }),
    onWait: () => dbLog.info("another instance is applying migrations; waiting for it"),
  });
  dbLog.info("schema up to date ({count} migrations applied now)", { count: applied.length });
  for (const found of lookAlikes) {
    dbLog.warn(
      "username {username} (account {id}) looks like {likeUsername} (account {likeId}), " +
        "registered before usernames were compared by their look: both keep their names",
      {
        username: found.username,
        id: found.id,
        likeUsername: found.like.username,
        likeId: found.like.id,
      },
    );
  }
}

/** Whether a migration failed only because PostgreSQL could not be reached. */
function unreachable(error: unknown): boolean {
  return error instanceof MigrationError && isConnectionError(error.cause);
}

/**
 * Migrates `target`: true once done; false when PostgreSQL does not answer and `allowAbsent` (an
 * external database); otherwise it calls `fail`.
 */
export async function migrateOrFail(
  target: MigrationTarget,
  log: Logger,
  how: { allowAbsent: boolean; fail(message: string): Promise<never> },
): Promise<boolean> {
  try {
    await migrateLogged(target, log, START_WAIT_MS);
    return true;
  } catch (error) {
    if (how.allowAbsent && unreachable(error)) {
      log.warn(
        "PostgreSQL does not answer: serving what Redis holds, not ready; migrating as soon " +
          "as it answers",
      );
      return false;
    }
    return await how.fail(`cannot migrate the database: ${(error as Error).message}`);
  }
}

/** Keeps trying to migrate until it succeeds, then marks the schema ready. */
export function migrateInBackground(
  target: MigrationTarget,
  log: Logger,
  schema: SchemaState,
): void {
  (async () => {
    while (!schema.ready) {
      try {
        await migrateLogged(target, log, RETRY_MS);
        schema.ready = true;
      } catch (error) {
        if (!unreachable(error)) {
          log.error("migrating the database failed: {message}", {
            message: (error as Error).message,
          });
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  })();
}
