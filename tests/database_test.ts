/** The instance's PostgreSQL pool (src/db/database.ts), against the machine's PostgreSQL. */
import assert from "node:assert/strict";
import postgres, { type Sql } from "postgres";
import { isConnectionError, openDatabase } from "../src/db/database.ts";
import { arrayLiteral } from "../src/db/mod.ts";
import { usernames } from "../src/leaderboard/queries.ts";
import { ADMIN_DATABASE_URL } from "./env.ts";
import { createTestDatabase, eventually } from "./helpers.ts";

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

/** A table for the transaction tests, and a count of its rows. */
async function scratch(sql: Sql): Promise<() => Promise<number>> {
  await sql`CREATE TABLE scratch (n int)`;
  return async () => (await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM scratch`)[0].n;
}

for (const poolSize of [1, 2]) {
  Deno.test(`[database] a pool of ${poolSize}: a transaction that begins while every connection is busy has its connection to itself, and everything after it is kept`, async () => {
    const db = await createTestDatabase();
    const database = openDatabase(db.url, { poolSize });
    try {
      const rows = await scratch(db.sql);
      const sql = database.sql;
      await Promise.all(Array.from({ length: poolSize }, () => sql`SELECT 1`));
      // Every connection busy: BEGIN can only wait behind a running query (postgres.js 3.4.9
      // sent it pipelined there without reserving the connection: UNSAFE_TRANSACTION, its session
      // left inside the transaction, and what ran there next rolled back when it closed).
      // (A query is sent when awaited; execute() sends it now.)
      const busy = Array.from({ length: poolSize }, () => sql`SELECT pg_sleep(0.2)`.execute());
      const transaction = sql.begin(async (tx) => {
        await tx`INSERT INTO scratch VALUES (1)`;
        await tx`INSERT INTO scratch VALUES (2)`;
        return "committed";
      });
      const after = Array.from(
        { length: 10 },
        (_, i) => sql`INSERT INTO scratch VALUES (${i})`.execute(),
      );
      await Promise.all(busy);
      assert.equal(await transaction, "committed");
      await Promise.all(after);
      // No session of the pool is left inside a transaction…
      const [{ open }] = await db.sql<{ open: number }[]>`
        SELECT count(*)::int AS open FROM pg_stat_activity
        WHERE datname = current_database() AND state LIKE 'idle in transaction%'`;
      assert.equal(open, 0);
      // …and once the pool has closed, every row it was answered for is there.
      await database.close();
      assert.equal(await rows(), 12);
    } finally {
      await database.close();
      await db.drop();
    }
  });
}

Deno.test("[database] a session left inside a transaction that nothing holds fails its query and is destroyed, never reused", async () => {
  const db = await createTestDatabase();
  const database = openDatabase(db.url, { poolSize: 2 });
  try {
    const rows = await scratch(db.sql);
    const sql = database.sql;
    // A BEGIN outside sql.begin: the pool would hand this session out inside the transaction.
    await assert.rejects(
      sql`BEGIN`,
      (error: Error & { code?: string }) => error.code === "UNSAFE_TRANSACTION",
    );
    await Promise.all(Array.from({ length: 20 }, (_, i) => sql`INSERT INTO scratch VALUES (${i})`));
    await database.close();
    assert.equal(await rows(), 20);
  } finally {
    await database.close();
    await db.drop();
  }
});

Deno.test("[database] a connection PostgreSQL closes under a transaction or a reservation fails what is sent on it, and the pool goes on", async () => {
  const db = await createTestDatabase();
  const sql = postgres(db.url, { max: 2, onnotice: () => {} });
  try {
    const rows = await scratch(db.sql);
    const killer = (pid: number) => db.sql`SELECT pg_terminate_backend(${pid})`;

    // A transaction: it fails, and its ROLLBACK on the dead connection does not bring the
    // process down (postgres.js 3.4.9 wrote it to a null socket, from a timer: an uncaught
    // TypeError).
    await assert.rejects(
      sql.begin(async (tx) => {
        const [{ pid }] = await tx<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
        await tx`INSERT INTO scratch VALUES (1)`;
        await killer(pid);
        await tx`INSERT INTO scratch VALUES (2)`;
      }),
    );

    // A reservation (the migrations' lock): what is sent after the server closed it fails.
    const reserved = await sql.reserve();
    const [{ pid }] = await reserved<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
    await killer(pid);
    await assert.rejects(reserved`SELECT 1`, isConnectionError);
    await assert.rejects(reserved`SELECT 2`, isConnectionError);
    reserved.release();

    await Promise.all(Array.from({ length: 6 }, (_, i) => sql`INSERT INTO scratch VALUES (${i})`));
    assert.equal(await rows(), 6);
  } finally {
    await sql.end({ timeout: 5 });
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

/**
 * Runs `work`, recording the promise rejections nothing handled and the errors nothing caught
 * (either ends the service's process), and keeping them from failing the test run: answers them.
 */
async function escapedDuring(work: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const rejected = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    seen.push(event.reason);
  };
  const thrown = (event: ErrorEvent) => {
    event.preventDefault();
    seen.push(event.error);
  };
  globalThis.addEventListener("unhandledrejection", rejected);
  globalThis.addEventListener("error", thrown);
  try {
    await work();
    // Both are reported once the microtasks and timers have run: give them turns of the loop.
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    globalThis.removeEventListener("unhandledrejection", rejected);
    globalThis.removeEventListener("error", thrown);
  }
  return seen;
}

Deno.test("[database] a connection lost while it fetches the array types: its query is answered on the next one, or fails; nothing escapes to end the process", async () => {
  const db = await createTestDatabase();
  // A new connection's first statement is postgres.js's query of pg_type: it waits while another
  // session holds that table locked.
  const locker = postgres(db.url, { max: 1, onnotice: () => {} });
  // What watches and ends sessions is in another database: planning a query in this one reads
  // pg_type too, and would wait for the lock.
  const watcher = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
  const fetchingTypes = async () =>
    (await watcher<{ pid: number }[]>`
      SELECT pid FROM pg_stat_activity
      WHERE datname = ${db.name} AND wait_event_type = 'Lock' AND query LIKE '%typarray%'`)
      .map((row) => row.pid);
  let unlock = () => {};
  const unlocked = new Promise<void>((resolve) => unlock = resolve);
  try {
    let taken = () => {};
    const lockTaken = new Promise<void>((resolve) => taken = resolve);
    const holding = locker.begin(async (tx) => {
      await tx`LOCK TABLE pg_catalog.pg_type IN ACCESS EXCLUSIVE MODE`;
      taken();
      await unlocked;
    });
    await lockTaken;

    const seen = await escapedDuring(async () => {
      // The server ends the session (a restart, pg_terminate_backend): postgres.js connects again
      // for the query, and fetches the types again. Upstream, the old session's error failed the
      // query on the new connection, which never fetched the types.
      const restarted = postgres(db.url, { max: 1, onnotice: () => {} });
      const answered = restarted<{ one: number }[]>`SELECT 1 AS one`
        .then((rows) => rows[0].one, (error) => error);
      await eventually(async () => (await fetchingTypes()).length === 1);
      const [pid] = await fetchingTypes();
      await watcher`SELECT pg_terminate_backend(${pid})`;
      await eventually(async () => (await fetchingTypes()).some((other) => other !== pid));

      // The pool is ended under it (the service replaces a pool after an outage): the query fails.
      const ended = postgres(db.url, { max: 1, onnotice: () => {} });
      const refused = ended`SELECT 1`.then(() => null, (error) => error);
      await eventually(async () => (await fetchingTypes()).length === 2);
      await ended.end({ timeout: 0 });
      assert.ok(isConnectionError(await refused), String(await refused));

      unlock();
      await holding;
      assert.equal(await answered, 1);
      await restarted.end({ timeout: 5 });
    });
    // Upstream, each of the two lost type queries was a rejection nothing held.
    assert.deepEqual(seen.map(String), []);
  } finally {
    unlock();
    await locker.end({ timeout: 5 });
    await watcher.end({ timeout: 5 });
    await db.drop();
  }
});

Deno.test("[database] a cursor whose connection is lost between batches fails at its next batch, never ends early; nothing escapes, and the pool goes on", async () => {
  const db = await createTestDatabase();
  let closed = () => {};
  const sql = postgres(db.url, {
    max: 1,
    onnotice: () => {},
    onclose: () => closed(),
  });
  // Ends the cursor's session and waits until its connection has seen it close: the caller
  // holds a batch meanwhile (as a rebuild does while it writes one to Redis).
  const lose = async () => {
    const gone = new Promise<void>((resolve) => closed = resolve);
    await db.sql`
      SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE datname = ${db.name} AND query LIKE '%generate_series%' AND pid <> pg_backend_pid()`;
    await gone;
  };
  const scan = () => sql<{ n: number }[]>`SELECT n FROM generate_series(1, 10) n`.cursor(2);
  try {
    const seen = await escapedDuring(async () => {
      // The caller goes on to the next batch: it fails (upstream: the scan ended, at 2 rows of 10).
      let rows = 0;
      await assert.rejects(async () => {
        for await (const batch of scan()) {
          rows += batch.length;
          if (rows === 2) await lose();
        }
      }, isConnectionError);
      assert.equal(rows, 2);

      // The caller stops on an error of its own: its error is the one thrown, and nothing is sent
      // for the cursor (upstream wrote to the closed socket from a timer: uncaught).
      await assert.rejects(async () => {
        for await (const _ of scan()) {
          await lose();
          throw new Error("Redis went away");
        }
      }, /Redis went away/);

      const [{ one }] = await sql<{ one: number }[]>`SELECT 1 AS one`;
      assert.equal(one, 1);
    });
    assert.deepEqual(seen.map(String), []);
  } finally {
    await sql.end({ timeout: 5 });
    await db.drop();
  }
});
