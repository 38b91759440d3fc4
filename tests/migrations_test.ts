import assert from "node:assert/strict";
import postgres from "postgres";
import { dbmate } from "../src/db/dbmate.ts";
import { ADMIN_DATABASE_URL, databaseUrl, TEST_DATABASE_PREFIX } from "./env.ts";

const QUIET = { quiet: true };
const TABLES = ["accounts", "action_log", "actions", "refresh_tokens", "score_ledger"];

async function tables(url: string): Promise<string[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ name: string }[]>`
      SELECT table_name AS name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_name <> 'schema_migrations' ORDER BY 1`;
    return rows.map((row) => row.name);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

Deno.test("[db] migrations go up, all the way down, and up again", async () => {
  const name = `${TEST_DATABASE_PREFIX}migrations_${crypto.randomUUID().slice(0, 8)}`;
  const url = databaseUrl(name);
  try {
    assert.equal(await dbmate(["up"], url, QUIET), 0);
    const up = await tables(url);
    for (const table of TABLES) assert.ok(up.includes(table), table);
    const migrations = [...Deno.readDirSync(new URL("../migrations", import.meta.url))]
      .filter((entry) => entry.name.endsWith(".sql")).length;
    for (let i = 0; i < migrations; i++) assert.equal(await dbmate(["rollback"], url, QUIET), 0);
    assert.deepEqual(await tables(url), []);
    assert.equal(await dbmate(["up"], url, QUIET), 0);
    assert.deepEqual(await tables(url), up);
  } finally {
    const admin = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
    await admin`DROP DATABASE IF EXISTS ${admin(name)} WITH (FORCE)`;
    await admin.end({ timeout: 5 });
  }
});

Deno.test("[db] the trigger stamps accounts.updated_at on every update", async () => {
  const name = `${TEST_DATABASE_PREFIX}trigger_${crypto.randomUUID().slice(0, 8)}`;
  const url = databaseUrl(name);
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    assert.equal(await dbmate(["up"], url, QUIET), 0);
    const [created] = await sql`
      INSERT INTO accounts (username, email, password_hash) VALUES ('t', 't@example.com', 'x')
      RETURNING updated_at`;
    assert.equal(created.updated_at, null);
    const [updated] = await sql`UPDATE accounts SET username = 'u' RETURNING updated_at`;
    assert.ok(updated.updated_at instanceof Date);
  } finally {
    await sql.end({ timeout: 5 });
    const admin = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
    await admin`DROP DATABASE IF EXISTS ${admin(name)} WITH (FORCE)`;
    await admin.end({ timeout: 5 });
  }
});
