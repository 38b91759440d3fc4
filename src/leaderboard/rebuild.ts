/**
 * `deno task leaderboard:rebuild`: replaces the Redis copy of every current board (all time, day,
 * week, month) with one built from PostgreSQL (deleted accounts left out), for operators. Safe
 * while instances serve: each board is built aside, swapped in atomically, then brought up to
 * completions made meanwhile.
 */
import { describeRedis, redisClient } from "../redis/target.ts";
import { loadConfigOrExit, whereTo } from "../config.ts";
import { connectDatabase } from "../db/mod.ts";
import { openLocalFeed } from "./feed.ts";
import { createLeaderboard } from "./leaderboard.ts";
import { systemClock } from "./periods.ts";

const HELP = `Usage: deno task leaderboard:rebuild

Replaces the Redis copy of every current board (all time, today, this week, this month) with one
built from PostgreSQL, leaving deleted accounts out. Safe while instances serve: each board is
built aside and swapped in, then brought up to completions made meanwhile. Instances rebuild lost
boards by themselves; run this after editing the database by hand, or to be sure.

It reads the service's configuration: DATABASE_URL and Redis's (REDIS_URL, REDIS_SENTINELS or
REDIS_CLUSTER_NODES; both required here), the TLS files, DATABASE_PREPARE,
REDIS_KEY_PREFIX (the same as the instances').

Exit codes: 0 rebuilt; 1 a board could not be rebuilt; 2 usage; 69 PostgreSQL or Redis does not
answer; 78 the configuration is not valid.`;

/** How long each store gets to answer before the task gives up. */
const CONNECT_TIMEOUT_S = 5;

function fail(code: number, message: string): never {
  console.error(`leaderboard:rebuild: ${message}`);
  Deno.exit(code);
}

if (import.meta.main) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(HELP);
    Deno.exit(0);
  }
  if (Deno.args.length > 0) fail(2, `unknown argument ${Deno.args[0]} (see --help)`);
  const config = loadConfigOrExit();
  if (config.redis === null) {
    fail(2, "no Redis is configured (REDIS_URL): without Redis there is no copy.");
  }
  if (config.databaseUrl === null) fail(2, "DATABASE_URL is not set (see --help).");

  const sql = connectDatabase(
    config.databaseUrl,
    2,
    CONNECT_TIMEOUT_S,
    "scoreboard-rebuild",
    config.databasePrepare,
  );
  const redis = redisClient(config.redis!, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_S * 1000,
    commandTimeout: CONNECT_TIMEOUT_S * 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on("error", () => {});
  const close = async () => {
    redis.disconnect();
    await sql.end({ timeout: 1 });
  };
  try {
    await sql`SELECT 1`;
  } catch (error) {
    await close();
    fail(69, `PostgreSQL at ${whereTo(config.databaseUrl)} does not answer: ${reason(error)}`);
  }
  try {
    await redis.connect();
  } catch (error) {
    await close();
    fail(69, `Redis at ${describeRedis(config.redis!)} does not answer: ${reason(error)}`);
  }

  let failures = 0;
  const leaderboard = createLeaderboard({
    sql,
    redis,
    prefix: config.redisKeyPrefix,
    feed: openLocalFeed(() => {}),
    clock: systemClock,
    events: {
      onRedisError: () => failures++,
      onScoreUpdate: () => {},
      onRebuild: (_kind, window, seconds) =>
        console.log(`rebuilt ${window.id} in ${Math.round(seconds * 1000)} ms`),
      onRebuildFailed: (_kind, window) => console.error(`rebuilding ${window.id} failed`),
    },
  });
  let rows = 0;
  try {
    rows = await leaderboard.replace();
    await redis.publish(`${config.redisKeyPrefix}scoreboard:refresh`, '{"accountId":null}');
  } catch (error) {
    failures++;
    console.error(`leaderboard:rebuild: the rebuild stopped: ${reason(error)}`);
  } finally {
    leaderboard.close();
    await close();
  }
  if (failures > 0) Deno.exit(1);
  console.log(`rebuilt the boards of ${config.redisKeyPrefix}leaderboard from ${rows} rows`);
}

/** An error's one-line reason (its code when it has one). */
function reason(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  return [code, message].filter(Boolean).join(": ") || String(error);
}
