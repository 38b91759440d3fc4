/**
 * A PgBouncer of one test's own (Debian's package) in front of the machine's PostgreSQL, on a free
 * port, in transaction pooling mode unless told otherwise: every database name is passed through to
 * 127.0.0.1:5432 as user postgres. Started as the postgres user (PgBouncer refuses root).
 */
import { join } from "node:path";
import { accepts, freePort } from "./ports.ts";

/** A PgBouncer process of a test's own. */
export interface TestPgBouncer {
  readonly port: number;
  /** The URL of database `name` through it. */
  url(name: string): string;
  /** What it wrote to its log so far. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

export const PGBOUNCER = "/usr/sbin/pgbouncer";

/** Starts PgBouncer with `poolMode` and the settings the README gives for it. */
export async function startPgBouncer(
  options: { poolMode?: "transaction" | "session"; poolSize?: number } = {},
): Promise<TestPgBouncer> {
  const dir = await Deno.makeTempDir({ prefix: "scoreboard-pgbouncer-" });
  await Deno.chmod(dir, 0o777);
  const port = freePort();
  const logFile = join(dir, "pgbouncer.log");
  const ini = join(dir, "pgbouncer.ini");
  await Deno.writeTextFile(
    ini,
    [
      "[databases]",
      "* = host=127.0.0.1 port=5432 user=postgres",
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = any",
      `pool_mode = ${options.poolMode ?? "transaction"}`,
      `default_pool_size = ${options.poolSize ?? 10}`,
      "max_client_conn = 1000",
      // What lib/pq (dbmate) sends at start; PgBouncer refuses unknown startup parameters.
      "ignore_startup_parameters = extra_float_digits",
      `logfile = ${logFile}`,
      `pidfile = ${join(dir, "pgbouncer.pid")}`,
      "",
    ].join("\n"),
  );
  await Deno.chmod(ini, 0o644);
  const child = new Deno.Command(PGBOUNCER, {
    args: ["-u", "postgres", ini],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream());
  const drained = (async () => {
    let text = "";
    for await (const chunk of stderr) text += chunk;
    return text;
  })();
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await accepts(port);
    if (up) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`pgbouncer did not listen within 10 s:\n${await drained}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    url: (name) => `postgres://postgres@127.0.0.1:${port}/${name}`,
    log: () => Deno.readTextFile(logFile).catch(() => ""),
    async stop() {
      try {
        child.kill("SIGINT");
      } catch {
        // gone already
      }
      await child.status;
      await drained;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
