/**
 * The embedded PostgreSQL server process: started on 127.0.0.1 on a port that was free a moment
 * before (another if it was taken meanwhile), its log forwarded, stopped with a fast shutdown.
 */
import type { Logger } from "@logtape/logtape";
import postgres from "postgres";
import type { Binaries, RunAs } from "./binaries.ts";
import { SUPERUSER } from "./cluster.ts";
import { commandOptions, tail } from "./process.ts";
import { lines } from "../../lines.ts";

/** A running server. */
export interface ServerProcess {
  readonly port: number;
  /** Fast shutdown (sessions ended, a checkpoint, exit), waited for. */
  stop(): Promise<void>;
}

const START_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 60_000;

/** A port on 127.0.0.1 that nothing listens on right now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** The superuser's URL of database `database` on 127.0.0.1:`port`. */
export function localUrl(port: number, password: string, database: string): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

/**
 * FATALs that end a connection attempt of this service's own at a normal start: its probe while
 * the server starts, and the migrations' check before they create the database.
 */
const EXPECTED_AT_START =
  /^FATAL: {2}(the database system is starting up|database ".*" does not exist)$/;

/**
 * PostgreSQL's severities, as this service's log levels: statement errors (ERROR) are the app's to
 * report, and routine messages (LOG) are details, as are the FATALs of a normal start.
 */
function levelOf(line: string): "debug" | "warn" | "error" {
  if (EXPECTED_AT_START.test(line)) return "debug";
  if (/^(FATAL|PANIC):/.test(line)) return "error";
  if (/^WARNING:/.test(line)) return "warn";
  return "debug";
}

/** Starts the server on the cluster at `dir` and waits until it answers. */
export async function startServer(
  bin: Binaries,
  dir: string,
  owner: RunAs | null,
  password: string,
  log: Logger,
): Promise<ServerProcess> {
  for (let attempt = 1;; attempt++) {
    const port = freePort();
    const server = spawn(bin, dir, owner, port, log);
    if (await server.ready(password)) return server;
    const said = server.lastLines();
    if (attempt < START_ATTEMPTS && said.includes("Address already in use")) continue;
    throw new Error(`the embedded PostgreSQL did not start: ${tail(said)}`);
  }
}

function spawn(bin: Binaries, dir: string, owner: RunAs | null, port: number, log: Logger) {
  const child = new Deno.Command(bin.postgres, {
    ...commandOptions(owner),
    args: [
      "-D",
      dir,
      "-p",
      String(port),
      "-c",
      "listen_addresses=127.0.0.1",
      // No socket file in /tmp, where another PostgreSQL on this port number would keep its own.
      "-c",
      "unix_socket_directories=",
      // The log goes to this service's log: no prefix of its own, no statement text or DETAIL
      // (which can hold values from the rows).
      "-c",
      "log_line_prefix=",
      "-c",
      "log_error_verbosity=terse",
      "-c",
      "log_min_error_statement=panic",
    ],
    stdout: "null",
    stderr: "piped",
    // A session of its own: a Ctrl-C in the terminal reaches this process, which stops the
    // server after the requests in flight, instead of the server stopping at once.
    detached: true,
  }).spawn();

  const pgLog = log.getChild("postgres");
  const recent: string[] = [];
  let exited = false;
  const status = child.status.then((status) => {
    exited = true;
    return status;
  });
  const pumped = (async () => {
    for await (const line of lines(child.stderr)) {
      recent.push(line);
      if (recent.length > 20) recent.shift();
      pgLog[levelOf(line)]("{line}", { line });
    }
  })();

  // A process that ends some other way (Deno.exit on a deadline, say) still stops the server.
  const onUnload = () => {
    if (!exited) child.kill("SIGINT");
  };
  addEventListener("unload", onUnload);

  return {
    port,
    lastLines: () => recent.join("\n"),
    /** Resolves true once a session works, false if the process ended first. */
    async ready(password: string): Promise<boolean> {
      const deadline = Date.now() + READY_TIMEOUT_MS;
      const sql = postgres(localUrl(port, password, "postgres"), {
        max: 1,
        connect_timeout: 2,
        onnotice: () => {},
      });
      try {
        while (!exited) {
          try {
            await sql`SELECT 1`;
            return true;
          } catch {
            if (Date.now() > deadline) {
              child.kill("SIGQUIT");
              await status;
              recent.push(`no answer after ${READY_TIMEOUT_MS} ms`);
              break;
            }
            await new Promise((resolve) => setTimeout(resolve, 25));
          }
        }
        await status;
        await pumped;
        removeEventListener("unload", onUnload);
        return false;
      } finally {
        await sql.end({ timeout: 1 });
      }
    },
    async stop(): Promise<void> {
      removeEventListener("unload", onUnload);
      if (!exited) child.kill("SIGINT");
      const timer = setTimeout(() => {
        pgLog.warn("no exit {ms} ms after a fast shutdown; stopping it at once", {
          ms: STOP_TIMEOUT_MS,
        });
        if (!exited) child.kill("SIGQUIT");
      }, STOP_TIMEOUT_MS);
      try {
        await status;
        await pumped;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
