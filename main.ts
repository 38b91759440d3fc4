/**
 * Starts one instance: config → PostgreSQL (an embedded one when DATABASE_URL is unset) →
 * migrations → runtime → app → Deno.serve; on SIGTERM or SIGINT it stops the server, the runtime,
 * then the embedded PostgreSQL.
 */
import { getLogger } from "@logtape/logtape";
import { resolve } from "node:path";
import { createApp } from "./src/app.ts";
import { serveWithNode } from "./src/http/node_server.ts";
import { loadConfigOrExit } from "./src/config.ts";
import { tlsFilesOf } from "./src/db/tls.ts";
// Types only: the module itself is loaded below, in the embedded mode alone.
import type { EmbeddedPostgres } from "./src/db/embedded/mod.ts";
import { migrateInBackground, migrateOrFail } from "./src/db/startup.ts";
import { configureLogging, flushLogs } from "./src/ops/logging.ts";
import { startLine } from "./src/ops/start_line.ts";
import { openRuntime, type Runtime } from "./src/runtime.ts";

const config = loadConfigOrExit(navigator.hardwareConcurrency);
const accessLog = await configureLogging(
  config.logLevel,
  config.logFormat ?? (Deno.stdout.isTerminal() ? "pretty" : "json"),
  config.logColor,
);
const log = getLogger(["scoreboard"]);
const startLog = log.getChild("start");

let embedded: EmbeddedPostgres | null = null;
let rt: Runtime | null = null;
let server: { shutdown(): Promise<void> } | null = null;

/** Writes the logs out and ends the process. */
async function exit(code: number): Promise<never> {
  await flushLogs();
  Deno.exit(code);
}

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  // SIGTERM (a deploy, a scale-down) drains first: /readyz answers 503 and every answer closes
  // its connection, while the instance goes on serving what the proxy and load balancers still
  // send, until they have stopped sending it anything. SIGINT (a terminal's Ctrl-C) does not wait.
  const drainMs = signal === "SIGTERM" && rt !== null ? config.shutdownDrainMs : 0;
  startLog.info("{signal}: draining for {drainMs} ms, then stopping", { signal, drainMs });
  if (rt !== null) rt.lifecycle.draining = true;
  if (drainMs > 0) await new Promise((resolve) => setTimeout(resolve, drainMs));
  const deadline = setTimeout(() => {
    log.warn("requests still in flight after {ms} ms; stopping anyway", {
      ms: config.shutdownTimeoutMs,
    });
    exit(1);
  }, config.shutdownTimeoutMs);
  // Stop accepting, end the streams (their clients come back at once, elsewhere), let the rest
  // finish; the embedded PostgreSQL goes last, once nothing uses it.
  if (server !== null && rt !== null) {
    const drained = server.shutdown();
    rt.hub.close();
    await drained;
  }
  await rt?.close();
  await embedded?.stop();
  clearTimeout(deadline);
  startLog.info("stopped");
  await exit(0);
}
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, () => stop(signal));
}

/** Logs why the instance cannot start, stops what it started, and exits. */
async function fail(message: string, properties: Record<string, unknown> = {}): Promise<never> {
  log.error(message, properties);
  await embedded?.stop();
  return await exit(1);
}

// `deno task start` allows the certificate files the environment names; other flags may not.
for (
  const file of [
    ...[config.databaseUrl, config.databaseMigrationUrl].flatMap((url) =>
      url === null ? [] : tlsFilesOf(url)
    ),
    ...Object.values(config.redis?.tls ?? {}).filter((path): path is string => path !== null),
  ]
) {
  if (Deno.permissions.querySync({ name: "read", path: file }).state !== "granted") {
    const quoted = JSON.stringify(file);
    await fail(
      `the certificate file ${quoted} may not be read by this run: start it with \`deno task ` +
        `start\`, which allows the files the environment names, or add --allow-read=${quoted}`,
      { file },
    );
  }
}

if (config.databaseUrl === null) {
  // `deno task start` allows DATA_DIR, wherever it is; a `deno run` of other flags may not.
  const dataDir = resolve(config.dataDir);
  for (const name of ["read", "write"] as const) {
    if (Deno.permissions.querySync({ name, path: dataDir }).state !== "granted") {
      // Written out, not interpolated: a line to copy as it is.
      const quoted = JSON.stringify(dataDir);
      await fail(
        `DATA_DIR ${quoted} may not be ${name === "read" ? "read" : "written"} by this run: ` +
          "start it with `deno task start`, which allows DATA_DIR wherever it is, or add " +
          `--allow-read=${quoted} --allow-write=${quoted} to \`deno run\` (in the container, ` +
          "mount the volume at /app/data and leave DATA_DIR unset)",
        { dataDir },
      );
    }
  }
  const { startEmbeddedPostgres } = await import("./src/db/embedded/mod.ts");
  const started = performance.now();
  const pg = await startEmbeddedPostgres(config.dataDir, log).catch((error: Error) =>
    fail("{message}", { message: error.message })
  );
  embedded = pg;
  startLog.info("embedded PostgreSQL at {dataDir} answers on 127.0.0.1:{port} after {ms} ms", {
    dataDir: pg.dataDir,
    port: pg.port,
    ms: Math.round(performance.now() - started),
    initialised: pg.initialised,
  });
}
const databaseUrl = embedded?.url ?? config.databaseUrl!;

// Every instance migrates at start, under an advisory lock: replicas starting together are safe.
// An external PostgreSQL that does not answer yet does not keep the instance from serving what
// Redis holds: it migrates as soon as PostgreSQL answers, and is not ready until then.
// Behind a pooler in transaction mode, DATABASE_MIGRATION_URL is a direct connection.
const migrations = {
  url: embedded === null ? config.databaseMigrationUrl ?? databaseUrl : databaseUrl,
  prepare: config.databasePrepare,
};
const migrated = await migrateOrFail(migrations, log, { allowAbsent: embedded === null, fail });
rt = await openRuntime(config, log, { databaseUrl, schemaReady: migrated, accessLog });
if (!migrated) migrateInBackground(migrations, log, rt.schema);
const app = createApp(rt);
const listening = {
  hostname: config.host,
  port: config.port,
  onListen: ({ hostname, port }: { hostname: string; port: number }) =>
    startLog.info(
      ...startLine(config, {
        hostname,
        port,
        embedded: embedded?.dataDir ?? null,
        operator: { on: rt!.adminToken !== null, tokenFile: rt!.adminTokenFile },
      }),
    ),
};
server = config.httpServer === "node"
  ? serveWithNode(listening, app.fetch)
  : Deno.serve(listening, app.fetch);
