import assert from "node:assert/strict";
import postgres from "postgres";
import { dbmate } from "../src/db/dbmate.ts";
import { ADMIN_DATABASE_URL, databaseUrl, TEST_DATABASE_PREFIX } from "./env.ts";

const QUIET = { quiet: true };
const TABLES = ["accounts", "action_log", "actions", "refresh_tokens", "score_ledger", "sessions"];

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

Deno.test("[db] the sessions migration gives each existing refresh token a session of its own", async () => {
  const name = `${TEST_DATABASE_PREFIX}sessions_${crypto.randomUUID().slice(0, 8)}`;
  const url = databaseUrl(name);
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    // Every migration but the sessions one (the newest until others follow it).
    assert.equal(await dbmate(["up"], url, QUIET), 0);
    while ((await sql`SELECT to_regclass('sessions') AS t`)[0].t !== null) {
      assert.equal(await dbmate(["rollback"], url, QUIET), 0);
    }
    const [account] = await sql`
      INSERT INTO accounts (username, email, password_hash) VALUES ('t', 't@example.com', 'x')
      RETURNING id`;
    await sql`
      INSERT INTO refresh_tokens (account_id, token_hash, expires_at, revoked_at, created_at)
      VALUES (${account.id}, 'live', NOW() + interval '1 day', NULL, NOW() - interval '2 days'),
             (${account.id}, 'spent', NOW() + interval '2 days', NOW() - interval '1 day',
              NOW() - interval '3 days')`;
    assert.equal(await dbmate(["up"], url, QUIET), 0);

    const rows = await sql`
      SELECT t.token_hash, t.revoked_reason, s.id, s.account_id, s.created_at, t.created_at AS issued,
             s.last_used_at, s.expires_at, t.expires_at AS token_expires, s.ended_at, t.revoked_at
      FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id ORDER BY t.id`;
    assert.deepEqual(rows.map((row) => [row.token_hash, row.revoked_reason]), [
      ["live", null],
      ["spent", "signed-out"],
    ]);
    assert.notEqual(rows[0].id, rows[1].id);
    for (const row of rows) {
      assert.equal(row.account_id, account.id);
      assert.deepEqual(row.created_at, row.issued);
      assert.deepEqual(row.last_used_at, row.issued);
      assert.deepEqual(row.expires_at, row.token_expires);
      assert.deepEqual(row.ended_at, row.revoked_at);
    }
    // New sessions take ids after the ones the migration made.
    const [next] = await sql`
      INSERT INTO sessions (account_id, expires_at) VALUES (${account.id}, NOW()) RETURNING id`;
    assert.ok(next.id > Math.max(rows[0].id, rows[1].id));
  } finally {
    await sql.end({ timeout: 5 });
    const admin = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
    await admin`DROP DATABASE IF EXISTS ${admin(name)} WITH (FORCE)`;
    await admin.end({ timeout: 5 });
  }
});
