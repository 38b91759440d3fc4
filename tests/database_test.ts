/** The instance's PostgreSQL pool (src/db/database.ts), against the machine's PostgreSQL. */
import assert from "node:assert/strict";
import postgres from "postgres";
import { openDatabase } from "../src/db/database.ts";
import { arrayLiteral } from "../src/db/mod.ts";
import { usernames } from "../src/leaderboard/queries.ts";
import { createTestDatabase } from "./helpers.ts";

Deno.test("[database] a saturated pool queues its queries (at most one waits behind another on a connection) and answers every one, transactions included", async () => {
  const db = await createTestDatabase();
  const database = openDatabase(db.url, { poolSize: 2 });
  try {
    // postgres.js pipelines up to 100 queries onto a busy connection by default, a path that made
    // a saturated pool slower with every query (see src/db/database.ts; bench:me shows it).
    assert.equal((database.sql.options as { max_pipeline?: number }).max_pipeline, 1);
    const sql = database.sql;
    const answers = await Promise.all(Array.from({ length: 64 }, async (_, i) => {
      if (i % 4 === 0) {
        return await sql.begin(async (tx) => {
          const [{ n }] = await tx<{ n: number }[]>`SELECT ${i}::int AS n`;
          const [{ m }] = await tx<{ m: number }[]>`SELECT ${n}::int + 0 AS m`;
          return m;
        });
      }
      const [{ n }] = await sql<{ n: number }[]>`SELECT ${i}::int AS n`;
      return n;
    }));
    assert.deepEqual(answers, Array.from({ length: 64 }, (_, i) => i));
  } finally {
    await database.close();
    await db.drop();
  }
});

Deno.test("[database] array parameters go as text: they need none of the types a pool fetches", async () => {
  const db = await createTestDatabase();
  // What a connection opened before its pool has fetched the array types has: none of them.
  const bare = postgres(db.url, { max: 1, fetch_types: false, onnotice: () => {} });
  try {
    const values = [1, null, 'a "b", {c} \\ NULL', "é"];
    const [{ ints, texts }] = await bare`
      SELECT array_to_json(${arrayLiteral([3, 1, 2])}::int[])::text AS ints,
             array_to_json(${
      arrayLiteral(values.map((v) => v === null ? null : String(v)))
    }::text[])::text
               AS texts`;
    assert.deepEqual(JSON.parse(ints), [3, 1, 2]);
    assert.deepEqual(JSON.parse(texts), ["1", null, 'a "b", {c} \\ NULL', "é"]);
    // and one of the service's queries that take ids
    await db.sql`
      INSERT INTO accounts (username, email, password_hash) VALUES ('ann', 'ann@x.test', 'h')`;
    const [{ id }] = await db.sql`SELECT id FROM accounts WHERE username = 'ann'`;
    assert.deepEqual(await usernames(bare, [id, 999_999]), new Map([[id, "ann"]]));
  } finally {
    await bare.end();
    await db.drop();
  }
});
