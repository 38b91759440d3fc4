/**
 * Every 201/204 is durable: the real server under a mixed load that saturates its pool (pools of
 * 1, 3 and 10 connections, scaled out; and on its own, with the embedded PostgreSQL), stopped,
 * then every write it acknowledged looked up in PostgreSQL, and every client's refresh token used
 * against the server started again. Nothing in its output may be an error.
 */
import { join } from "node:path";
import postgres from "postgres";
import { assertNoErrors, checkAcknowledged, checkTokensUsable, loadAndStop } from "./durability.ts";
import {
  ADMIN_TOKEN,
  clearRedisPrefix,
  createTestDatabase,
  randomPrefix,
  testEnv,
} from "./helpers.ts";
import { startServer } from "./server.ts";

for (const pool of [1, 3, 10]) {
  Deno.test(`[durability] scaled out, a pool of ${pool}: every acknowledged write is in PostgreSQL after the instance stops`, async () => {
    const db = await createTestDatabase();
    const prefix = randomPrefix();
    const env = testEnv(db, prefix, {
      DATABASE_POOL_SIZE: String(pool),
      COMPLETIONS_PER_SECOND: "1000",
    });
    try {
      const server = await startServer(env);
      const ack = await loadAndStop(server);
      await checkAcknowledged(db.sql, ack);
      assertNoErrors(server, ack);
      const again = await startServer(env);
      try {
        await checkTokensUsable(again.url, ack);
      } finally {
        await again.stop();
      }
    } finally {
      await db.drop();
      await clearRedisPrefix(prefix);
    }
  });
}

Deno.test("[durability] on its own (embedded PostgreSQL, no Redis): every acknowledged write is there after a restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "scoreboard-durability-" });
  const env = {
    ADMIN_TOKEN,
    BCRYPT_COST: "4",
    BCRYPT_WORKERS: "2",
    LOG_LEVEL: "error",
    DATABASE_POOL_SIZE: "3",
    COMPLETIONS_PER_SECOND: "1000",
    REGISTRATIONS_PER_ADDRESS: "1000000000",
    REFRESHES_PER_SESSION: "1000000000",
  };
  try {
    const server = await startServer(env, { dataDir });
    const ack = await loadAndStop(server);
    // The embedded PostgreSQL stops with its instance: start it again and read it directly.
    const again = await startServer({ ...env, LOG_LEVEL: "info" }, { dataDir });
    try {
      const started = again.logs.map((line) => {
        try {
          return JSON.parse(line);
        } catch {
          return null;
        }
      }).find((record) => String(record?.message).startsWith("embedded PostgreSQL at"));
      const password = await Deno.readTextFile(join(dataDir, "postgres", "scoreboard-password"));
      const sql = postgres({
        host: "127.0.0.1",
        port: started.properties.port,
        database: "scoreboard",
        username: "postgres",
        password: password.trim(),
        max: 2,
        onnotice: () => {},
      });
      try {
        await checkAcknowledged(sql, ack);
        assertNoErrors(server, ack);
      } finally {
        await sql.end({ timeout: 5 });
      }
      await checkTokensUsable(again.url, ack);
    } finally {
      await again.stop();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
