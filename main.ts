/** Starts one instance: config → runtime → app → Deno.serve, and a graceful stop on SIGTERM. */
import { configure, getConsoleSink, getLogger, jsonLinesFormatter } from "@logtape/logtape";
import { createApp } from "./src/app.ts";
import { loadConfigOrExit } from "./src/config.ts";
import { migrate } from "./src/db/migrate.ts";
import { openRuntime } from "./src/runtime.ts";

const config = loadConfigOrExit(navigator.hardwareConcurrency);
await configure({
  sinks: { console: getConsoleSink({ formatter: jsonLinesFormatter }) },
  loggers: [
    { category: ["scoreboard"], lowestLevel: config.logLevel, sinks: ["console"] },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
  ],
});
const log = getLogger(["scoreboard"]);
// Every instance migrates at start, under an advisory lock: replicas starting together are safe.
try {
  const dbLog = log.getChild("migrate");
  const { applied } = await migrate(config.databaseUrl, {
    onLine: (line, stream) =>
      stream === "stderr"
        ? dbLog.warn("dbmate: {line}", { line })
        : dbLog.info("dbmate: {line}", { line }),
    onWait: () => dbLog.info("another instance is applying migrations; waiting for it"),
  });
  dbLog.info("schema up to date ({count} migrations applied now)", { count: applied.length });
} catch (error) {
  log.fatal("cannot migrate the database: {message}", { message: (error as Error).message });
  Deno.exit(1);
}
const rt = await openRuntime(config, log);
const server = Deno.serve({
  port: config.port,
  onListen: ({ hostname, port }) => log.info("listening on {hostname}:{port}", { hostname, port }),
}, createApp(rt).fetch);

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
  // Stop accepting, end the streams (their clients reconnect elsewhere), let the rest finish.
  const drained = server.shutdown();
  rt.hub.close();
  await drained;
  await rt.close();
  clearTimeout(deadline);
  log.info("stopped");
  Deno.exit(0);
}
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, () => stop(signal));
}
