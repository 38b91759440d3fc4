/**
 * `deno task leaderboard:rebuild`: replaces the Redis copy of every current board (all time, day,
 * week, month) with one built from PostgreSQL (deleted accounts left out), for operators. Safe
 * while instances serve: each board is built aside, swapped in atomically, then brought up to
 * completions made meanwhile.
 */
import { Redis } from "ioredis";
import { loadConfigOrExit } from "../config.ts";
import { connectDatabase } from "../db/mod.ts";
import { openLocalFeed } from "./feed.ts";
import { createLeaderboard } from "./leaderboard.ts";
import { systemClock } from "./periods.ts";

if (import.meta.main) {
  const config = loadConfigOrExit();
  if (config.redisUrl === null) {
    console.error("REDIS_URL is not set: without Redis there is no copy to rebuild.");
    Deno.exit(2);
  }
  const sql = connectDatabase(config.databaseUrl, 2);
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3 });
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
    },
  });
  try {
    const rows = await leaderboard.replace();
    await redis.publish(`${config.redisKeyPrefix}scoreboard:refresh`, '{"accountId":null}');
    console.log(`rebuilt the boards of ${config.redisKeyPrefix}leaderboard from ${rows} rows`);
  } finally {
    leaderboard.close();
    redis.disconnect();
    await sql.end({ timeout: 5 });
  }
  if (failures > 0) Deno.exit(1);
}
