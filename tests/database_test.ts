/** The instance's PostgreSQL pool (src/db/database.ts), against the machine's PostgreSQL. */
import assert from "node:assert/strict";
import { openDatabase } from "../src/db/database.ts";
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
