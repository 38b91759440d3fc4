/**
 * PgBouncer in transaction pooling mode (Debian's 1.18, started by the test on a port of its own in
 * front of the machine's PostgreSQL), with the settings the README gives: replicas starting
 * together migrate once, a missing database is created rather than waited for, and the durability
 * load through it loses nothing and answers no error.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { isConnectionError, isMissingDatabase } from "../src/db/database.ts";
import { dbmateUrl } from "../src/db/dbmate.ts";
import { assertNoErrors, checkAcknowledged, loadAndStop } from "./durability.ts";
import { ADMIN_DATABASE_URL, databaseUrl } from "./env.ts";
import {
  clearRedisPrefix,
  createTestDatabase,
  eventually,
  randomPrefix,
  testEnv,
} from "./helpers.ts";
import { startPgBouncer } from "./pgbouncer.ts";
import { startServer } from "./server.ts";

const MIGRATIONS = [...Deno.readDirSync(new URL("../migrations", import.meta.url))]
  .filter((entry) => entry.name.endsWith(".sql")).length;

/** A database name nobody has made yet, and a way to drop it afterwards. */
function newDatabase() {
  const name = `scoreboard_test_bouncer_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  return {
    name,
    async drop() {
      const admin = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
      try {
        await admin`DROP DATABASE IF EXISTS ${admin(name)} WITH (FORCE)`;
      } finally {
        await admin.end({ timeout: 5 });
      }
    },
  };
}

Deno.test("[pgbouncer] a database missing behind PgBouncer is told apart from PostgreSQL being away", async () => {
  const bouncer = await startPgBouncer();
  const sql = postgres(bouncer.url(newDatabase().name), { max: 1, onnotice: () => {} });
  try {
    const error = await sql`SELECT 1`.then(() => null, (error) => error);
    assert.ok(error !== null, "a query on a missing database fails");
    assert.ok(isMissingDatabase(error), `${error.code}: ${error.message}`);
    assert.ok(!isConnectionError(error), `${error.code} reads as "unreachable"`);
  } finally {
    await sql.end({ timeout: 1 });
    await bouncer.stop();
  }
});

Deno.test("[pgbouncer] postgres.js' own URL parameters (?prepare=false) never reach dbmate", () => {
  const url = new URL(dbmateUrl("postgres://u@h:6432/db?prepare=false&max=4&sslmode=require"));
  assert.deepEqual([...url.searchParams.keys()], ["sslmode"]);
  assert.equal(url.searchParams.get("sslmode"), "require");
});

for (const direct of [true, false]) {
  const how = direct
    ? "migrating over DATABASE_MIGRATION_URL (direct)"
    : "migrating through PgBouncer itself";
  Deno.test(`[pgbouncer] three replicas start together in transaction mode, ${how}: one applies, all serve`, async () => {
    const bouncer = await startPgBouncer();
    const db = newDatabase();
    const prefix = randomPrefix();
    const env = testEnv({ url: bouncer.url(db.name) }, prefix, {
      DATABASE_PREPARE: "false",
      LOG_LEVEL: "info",
      ...(direct ? { DATABASE_MIGRATION_URL: databaseUrl(db.name) } : {}),
    });
    const servers = await Promise.allSettled([1, 2, 3].map(() => startServer(env)));
    try {
      const started = servers.flatMap((result) =>
        result.status === "fulfilled" ? [result.value] : []
      );
      const failed = servers.flatMap((result) =>
        result.status === "rejected" ? [result.reason] : []
      );
      assert.deepEqual(failed.map(String), []);
      // Through PgBouncer, the first look at the database fails (it does not exist yet), and
      // PgBouncer then holds new connections to it for server_login_retry (15 s): the replicas
      // are not ready meanwhile, and migrate as soon as it lets them through.
      for (const server of started) {
        await eventually(
          async () => (await fetch(`${server.url}/readyz`)).status === 200,
          direct ? 5000 : 30_000,
        );
      }
      const applied = started.flatMap((server) =>
        server.logs.filter((line) => line.includes('"line":"Applying: '))
      );
      assert.equal(applied.length, MIGRATIONS, "each migration applied once, by one replica");
      const sql = postgres(databaseUrl(db.name), { max: 1, onnotice: () => {} });
      try {
        const [{ count }] = await sql`SELECT count(*)::int AS count FROM schema_migrations`;
        assert.equal(count, MIGRATIONS);
        // Nothing holds the migration lock any more: the next start would not wait for it.
        const [{ held }] = await sql`
          SELECT count(*)::int AS held FROM pg_locks WHERE locktype = 'advisory'`;
        assert.equal(held, 0);
      } finally {
        await sql.end({ timeout: 5 });
      }
    } finally {
      for (const result of servers) {
        if (result.status === "fulfilled") await result.value.stop();
      }
      await bouncer.stop();
      await db.drop();
      await clearRedisPrefix(prefix);
    }
  });
}

Deno.test("[pgbouncer] [durability] through PgBouncer in transaction mode: every acknowledged write is in PostgreSQL, no error", async () => {
  const bouncer = await startPgBouncer({ poolSize: 5 });
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  try {
    const server = await startServer(testEnv({ url: bouncer.url(db.name) }, prefix, {
      DATABASE_PREPARE: "false",
      DATABASE_MIGRATION_URL: db.url,
      DATABASE_POOL_SIZE: "10",
      COMPLETIONS_PER_SECOND: "1000",
    }));
    const ack = await loadAndStop(server);
    await checkAcknowledged(db.sql, ack);
    assertNoErrors(server, ack);
    assert.doesNotMatch(await bouncer.log(), /prepared statement|ERROR/);
  } finally {
    await bouncer.stop();
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});
