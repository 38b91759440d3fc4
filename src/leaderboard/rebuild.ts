/**
 * `deno task leaderboard:rebuild`: replaces the Redis ranking with one built from PostgreSQL's
 * `score_ledger` (deleted accounts left out), for operators. Safe while instances serve: the new
 * set is built aside, swapped in atomically, then brought up to completions made meanwhile.
 */
import { Redis } from "ioredis";
import { loadConfigOrExit } from "../config.ts";
import { connectDatabase } from "../db/mod.ts";
import { createLeaderboard } from "./leaderboard.ts";

if (import.meta.main) {
  const config = loadConfigOrExit();
  if (config.databaseUrl === null) {
    console.error(
      "leaderboard:rebuild needs DATABASE_URL (an embedded PostgreSQL has no Redis copy)",
    );
    Deno.exit(78);
  }
  const sql = connectDatabase(config.databaseUrl, 2);
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3 });
  let failures = 0;
  const leaderboard = createLeaderboard({
    sql,
    redis,
    prefix: config.redisKeyPrefix,
    events: { onRedisError: () => failures++, onScoreUpdate: () => {} },
  });
  try {
    const started = performance.now();
    const rows = await leaderboard.rebuild();
    const ms = Math.round(performance.now() - started);
    console.log(`rebuilt ${leaderboard.keys.set} from ${rows} ledger rows in ${ms} ms`);
  } finally {
    leaderboard.close();
    redis.disconnect();
    await sql.end({ timeout: 5 });
  }
  if (failures > 0) Deno.exit(1);
}
