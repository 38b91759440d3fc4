/**
 * The two ways to run the service, side by side in one run: scaled out (the machine's PostgreSQL
 * and Redis, as the tests use them) and on its own (no DATABASE_URL, no REDIS_URL: the embedded
 * PostgreSQL in a temporary DATA_DIR, the ranking read from PostgreSQL, the feed in the process).
 * For each: completions/s (32 clients, wrk) and GET /leaderboard req/s (wrk -t2 -c64); for the
 * embedded mode also the first start and a restart (process start to listening), and memory at
 * idle (the server's RSS; its PostgreSQL's processes as PSS, which counts their shared memory once).
 *
 *   deno task bench:modes          (SECONDS=8 per load)
 */
import { benchDatabase } from "./database.ts";
import { ADMIN_TOKEN, clearRedisPrefix, randomPrefix, testEnv } from "../tests/helpers.ts";
import { startServer, type TestServer } from "../tests/server.ts";
import { serviceWithWrk } from "./completions.ts";
import { benchAccounts, installed, rssKiB, wrk } from "./lib.ts";

const SECONDS = Number(Deno.env.get("SECONDS") ?? 8);
const CLIENTS = 32;
const QUIET = {
  COMPLETIONS_PER_SECOND: "1000000",
  REGISTRATIONS_PER_ADDRESS: "1000000000",
  LOG_LEVEL: "info",
};

/** Completions/s, then reads/s, on a prepared server. */
async function load(server: TestServer): Promise<{ completions: number; reads: number }> {
  const { slug, sessions } = await benchAccounts(server.url, ADMIN_TOKEN, CLIENTS);
  const tokens = sessions.map((session) => session.accessToken);
  await serviceWithWrk(server.url, tokens, slug, 2); // warm up
  const completions = await serviceWithWrk(server.url, tokens, slug, SECONDS);
  if (completions.errors > 0) throw new Error(`${completions.errors} failed completions`);
  const url = `${server.url}/leaderboard`;
  await wrk(url, ["-t2", "-c64", "-d1s"]);
  const reads = await wrk(url, ["-t2", "-c64", `-d${SECONDS}s`]);
  if (reads.errors > 0) throw new Error(`${reads.errors} failed reads`);
  return { completions: completions.rate, reads: reads.rate };
}

/** The summed PSS of the processes whose parent is `parent` (PostgreSQL's backends) and itself. */
async function treePssKiB(parent: number): Promise<number> {
  const pids = [parent];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === parent) pids.push(Number(entry.name));
    } catch {
      // ended meanwhile
    }
  }
  let total = 0;
  for (const pid of pids) {
    try {
      const rollup = await Deno.readTextFile(`/proc/${pid}/smaps_rollup`);
      total += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
    } catch {
      // ended meanwhile
    }
  }
  return total;
}

async function started(start: () => Promise<TestServer>): Promise<[TestServer, number]> {
  const at = performance.now();
  const server = await start();
  return [server, performance.now() - at];
}

if (!installed("wrk")) throw new Error("bench: modes needs wrk (apt-get install wrk)");

// Scaled out: the machine's PostgreSQL and Redis.
const db = await benchDatabase();
const prefix = randomPrefix();
let scaled;
{
  const server = await startServer(testEnv(db, prefix, QUIET), { discardLogs: true });
  try {
    scaled = await load(server);
  } finally {
    await server.stop();
    await db.drop();
    await clearRedisPrefix(prefix);
  }
}

// On its own: nothing set but what the load needs.
const dataDir = await Deno.makeTempDir({ prefix: "scoreboard-bench-" });
const alone = { ADMIN_TOKEN, BCRYPT_COST: "4", ...QUIET };
let embedded, firstStart, restart, idle;
try {
  const [first, firstMs] = await started(() => startServer(alone, { dataDir }));
  firstStart = firstMs;
  await first.stop();
  const [server, restartMs] = await started(() => startServer(alone, { dataDir }));
  restart = restartMs;
  try {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const postmaster = Number(
      (await Deno.readTextFile(`${dataDir}/postgres/postmaster.pid`)).split("\n")[0],
    );
    idle = { server: await rssKiB(server.pid), postgres: await treePssKiB(postmaster) };
    embedded = await load(server);
  } finally {
    await server.stop();
  }
} finally {
  await Deno.remove(dataDir, { recursive: true });
}

const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;
console.log(`${SECONDS} s per load, 32 clients for completions, wrk -t2 -c64 for reads, 2 cores`);
console.log(
  `scaled out (PostgreSQL + Redis):     ${scaled.completions.toFixed(0)} completions/s, ` +
    `${scaled.reads.toFixed(0)} GET /leaderboard/s`,
);
console.log(
  `on its own (embedded, no Redis):     ${embedded.completions.toFixed(0)} completions/s, ` +
    `${embedded.reads.toFixed(0)} GET /leaderboard/s ` +
    `(${(embedded.completions / scaled.completions).toFixed(2)} ×, ` +
    `${(embedded.reads / scaled.reads).toFixed(2)} ×)`,
);
console.log(
  `embedded: first start ${(firstStart / 1000).toFixed(2)} s, restart ` +
    `${(restart / 1000).toFixed(2)} s (process start to listening); at idle the server ` +
    `${mib(idle.server)} RSS, its PostgreSQL ${mib(idle.postgres)} PSS`,
);
