/**
 * Starts one instance: config → PostgreSQL (an embedded one when DATABASE_URL is unset) →
 * migrations → runtime → app → Deno.serve; on SIGTERM or SIGINT it stops the server, the runtime,
 * then the embedded PostgreSQL.
 */
import { configure, getConsoleSink, getLogger, jsonLinesFormatter } from "@logtape/logtape";
import { createApp } from "./src/app.ts";
import { loadConfigOrExit } from "./src/config.ts";
import { dbmate } from "./src/db/dbmate.ts";
// Types only: the module itself is loaded below, in the embedded mode alone.
import type { EmbeddedPostgres } from "./src/db/embedded/mod.ts";
import { openRuntime, type Runtime } from "./src/runtime.ts";

const config = loadConfigOrExit(navigator.hardwareConcurrency);
await configure({
  sinks: { console: getConsoleSink({ formatter: jsonLinesFormatter }) },
  loggers: [
    { category: ["scoreboard"], lowestLevel: config.logLevel, sinks: ["console"] },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
  ],
});
const log = getLogger(["scoreboard"]);

let embedded: EmbeddedPostgres | null = null;
let rt: Runtime | null = null;
let server: Deno.HttpServer | null = null;

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info("{signal}: draining and stopping", { signal });
  const deadline = setTimeout(() => {
    log.warn("requests still in flight after {ms} ms; stopping anyway", {
      ms: config.shutdownTimeoutMs,
    });
    Deno.exit(1);
  }, config.shutdownTimeoutMs);
  // Stop accepting, end the streams (their clients reconnect elsewhere), let the rest finish;
  // the embedded PostgreSQL goes last, once nothing uses it.
  if (server !== null && rt !== null) {
    const drained = server.shutdown();
    rt.hub.close();
    await drained;
  }
  await rt?.close();
  await embedded?.stop();
  clearTimeout(deadline);
  log.info("stopped");
  Deno.exit(0);
}
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, () => stop(signal));
}

/** Logs why the instance cannot start, stops what it started, and exits. */
async function fail(message: string, properties: Record<string, unknown> = {}): Promise<never> {
  log.error(message, properties);
  await embedded?.stop();
  Deno.exit(1);
}

if (config.databaseUrl === null) {
  const { startEmbeddedPostgres } = await import("./src/db/embedded/mod.ts");
  const started = performance.now();
  try {
    embedded = await startEmbeddedPostgres(config.dataDir, log);
  } catch (error) {
    await fail("{message}", { message: (error as Error).message });
  }
  log.info("embedded PostgreSQL at {dataDir} answers on 127.0.0.1:{port} after {ms} ms", {
    dataDir: embedded!.dataDir,
    port: embedded!.port,
    ms: Math.round(performance.now() - started),
    initialised: embedded!.initialised,
  });
}
const databaseUrl = embedded?.url ?? config.databaseUrl!;

if (await dbmate(["up"], databaseUrl) !== 0) await fail("applying the migrations failed");

rt = await openRuntime(config, log, databaseUrl);
const mode = embedded === null
  ? "PostgreSQL at DATABASE_URL"
  : `embedded PostgreSQL at ${embedded.dataDir}`;
server = Deno.serve({
  port: config.port,
  onListen: ({ hostname, port }) =>
    log.info("listening on {hostname}:{port} ({mode})", { hostname, port, mode }),
}, createApp(rt).fetch);
