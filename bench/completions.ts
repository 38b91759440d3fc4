/**
 * Completions per second at 32 concurrent clients through the real server, next to pgbench
 * running the same transaction against the same database in the same run.
 *
 *   deno task bench:completions        (CLIENTS=32 SECONDS=10 DATABASE_POOL_SIZE=10)
 *
 * The database (BENCH_DATABASE):
 *   local      (default) a test database on the machine's PostgreSQL (tests/env.ts)
 *   embedded   the embedded PostgreSQL the service runs without DATABASE_URL, in a temporary
 *              DATA_DIR: started here with the service's own code, so that pgbench can reach it
 *   url        any running server at BENCH_DATABASE_URL whose database exists (PGlite behind
 *              pglite-socket, say); migrated with `dbmate migrate`. PGBENCH=0 skips pgbench,
 *              which a one-connection server cannot serve.
 *
 * Each client has an account of its own (as real clients do) and completes one action in a loop
 * over keep-alive connections. pgbench runs twice: the reference transaction of STACK_NOTES.md
 * (BEGIN; SELECT the action, INSERT action_log, UPSERT score_ledger; END) and the service's own
 * single-statement transaction (`insertCompletion` in src/actions/queries.ts, copied below).
 */
import { getLogger } from "@logtape/logtape";
import postgres from "postgres";
import { dbmate } from "../src/db/dbmate.ts";
import { startEmbeddedPostgres } from "../src/db/embedded/mod.ts";
import { clearRedisPrefix, createTestDatabase, randomPrefix, testEnv } from "../tests/helpers.ts";
import { startServer } from "../tests/server.ts";

const CLIENTS = Number(Deno.env.get("CLIENTS") ?? 32);
const SECONDS = Number(Deno.env.get("SECONDS") ?? 10);
const POOL = Deno.env.get("DATABASE_POOL_SIZE") ?? "10";
const DATABASE = Deno.env.get("BENCH_DATABASE") ?? "local";
const PGBENCH = Deno.env.get("PGBENCH") !== "0";

/** The database under test: its URL, and how to let it go. */
interface Target {
  readonly url: string;
  readonly sql: postgres.Sql;
  close(): Promise<void>;
}

async function migrated(url: string, command: string): Promise<postgres.Sql> {
  const code = await dbmate([command], url, { quiet: true });
  if (code !== 0) throw new Error(`dbmate ${command} failed on the bench database`);
  return postgres(url, { max: 2, onnotice: () => {} });
}

async function target(): Promise<Target> {
  if (DATABASE === "local") {
    const db = await createTestDatabase();
    return { url: db.url, sql: db.sql, close: () => db.drop() };
  }
  if (DATABASE === "embedded") {
    const dataDir = await Deno.makeTempDir({ prefix: "scoreboard-bench-" });
    const started = performance.now();
    const pg = await startEmbeddedPostgres(dataDir, getLogger(["bench"])).catch(async (error) => {
      await Deno.remove(dataDir, { recursive: true });
      throw error;
    });
    console.log(`embedded PostgreSQL: first start ${Math.round(performance.now() - started)} ms`);
    const sql = await migrated(pg.url, "up");
    return {
      url: pg.url,
      sql,
      async close() {
        await sql.end({ timeout: 5 });
        await pg.stop();
        await Deno.remove(dataDir, { recursive: true });
      },
    };
  }
  if (DATABASE === "url") {
    const url = Deno.env.get("BENCH_DATABASE_URL");
    if (!url) throw new Error("BENCH_DATABASE=url needs BENCH_DATABASE_URL");
    const sql = await migrated(url, "migrate");
    return { url, sql, close: () => sql.end({ timeout: 5 }) };
  }
  throw new Error(`BENCH_DATABASE must be local, embedded or url, not ${DATABASE}`);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function pgbench(url: string, script: string): Promise<number> {
  const file = await Deno.makeTempFile({ suffix: ".sql" });
  await Deno.writeTextFile(file, script);
  try {
    const out = await new Deno.Command("pgbench", {
      args: [
        "-n",
        "-M",
        "prepared",
        "-c",
        String(CLIENTS),
        "-j",
        "2",
        "-T",
        String(SECONDS),
        "-f",
        file,
        url,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(text);
    if (!tps) throw new Error(`pgbench: ${text}\n${new TextDecoder().decode(out.stderr)}`);
    return Number(tps[1]);
  } finally {
    await Deno.remove(file);
  }
}

async function service(baseUrl: string, tokens: string[], slug: string, seconds: number) {
  const latencies: number[] = [];
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(tokens.map(async (token) => {
    while (performance.now() < until) {
      const started = performance.now();
      const res = await fetch(`${baseUrl}/actions/${slug}/complete`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
      });
      await res.body?.cancel();
      if (res.status === 201) latencies.push(performance.now() - started);
      else errors++;
    }
  }));
  latencies.sort((a, b) => a - b);
  return {
    rate: latencies.length / seconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    errors,
  };
}

const db = await target();
const prefix = randomPrefix();
const server = await startServer(testEnv(db, prefix, {
  COMPLETIONS_PER_SECOND: "1000000",
  DATABASE_POOL_SIZE: POOL,
  LOG_LEVEL: "warning",
}));
try {
  const slug = "bench-action";
  const admin = await fetch(`${server.url}/admin/actions`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${testEnv(db, prefix).ADMIN_TOKEN}`,
    },
    body: JSON.stringify({ slug, label: "Bench", pointValue: 1 }),
  });
  if (admin.status !== 201) throw new Error(`create action: ${admin.status}`);
  const sessions = await Promise.all(Array.from({ length: CLIENTS }, async (_, i) => {
    const res = await fetch(`${server.url}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        username: `bench-${i}`,
        email: `bench-${i}@example.com`,
        password: "bench password",
      }),
    });
    return await res.json();
  }));
  const tokens = sessions.map((s) => s.accessToken as string);
  const firstId = Math.min(...sessions.map((s) => s.account.id as number));
  const [{ id: actionId }] = await db.sql`SELECT id FROM actions WHERE slug = ${slug}`;

  const reference = `\\set aid ${firstId} + :client_id
BEGIN;
SELECT id, point_value FROM actions WHERE slug = '${slug}' AND retired_at IS NULL;
INSERT INTO action_log (account_id, action_id, points_earned) VALUES (:aid, ${actionId}, 1);
INSERT INTO score_ledger (account_id, total_points) VALUES (:aid, 1)
  ON CONFLICT (account_id) DO UPDATE
  SET total_points = score_ledger.total_points + 1, last_activity_at = NOW();
END;
`;
  // insertCompletion's statement (src/actions/queries.ts) for an unkeyed completion.
  const ours = `\\set aid ${firstId} + :client_id
WITH account AS (SELECT id FROM accounts WHERE id = :aid AND deleted_at IS NULL FOR SHARE),
action AS (SELECT id, point_value FROM actions WHERE slug = '${slug}' AND retired_at IS NULL),
drawn AS (SELECT nextval(pg_get_serial_sequence('action_log', 'id'))::int AS id FROM account, action),
logged AS (INSERT INTO action_log (id, account_id, action_id, points_earned)
  SELECT drawn.id, account.id, action.id, action.point_value FROM drawn, account, action
  RETURNING id, account_id, points_earned, completed_at),
ledger AS (INSERT INTO score_ledger AS s (account_id, total_points)
  SELECT account_id, points_earned FROM logged
  ON CONFLICT (account_id) DO UPDATE
  SET total_points = s.total_points + EXCLUDED.total_points, last_activity_at = NOW()
  RETURNING total_points)
SELECT logged.id, logged.points_earned, logged.completed_at, ledger.total_points FROM logged, ledger;
`;

  console.log(
    `${CLIENTS} clients, ${SECONDS} s each, server pool ${POOL}, database ${DATABASE}, ` +
      `2 cores shared`,
  );
  await service(server.url, tokens, slug, 2); // warm up
  const pgRef = PGBENCH ? await pgbench(db.url, reference) : null;
  const svc = await service(server.url, tokens, slug, SECONDS);
  const pgOurs = PGBENCH ? await pgbench(db.url, ours) : null;

  console.log(
    `service, POST /actions/{slug}/complete: ${svc.rate.toFixed(0)} completions/s ` +
      `(p50 ${svc.p50.toFixed(1)} ms, p99 ${svc.p99.toFixed(1)} ms, ${svc.errors} errors)`,
  );
  if (pgRef !== null && pgOurs !== null) {
    console.log(`pgbench, reference transaction (3 statements): ${pgRef.toFixed(0)} tx/s`);
    console.log(`pgbench, the service's statement (1 round trip): ${pgOurs.toFixed(0)} tx/s`);
    console.log(
      `ratio service / pgbench: ${(svc.rate / pgRef).toFixed(2)} of the reference, ` +
        `${(svc.rate / pgOurs).toFixed(2)} of the same statement`,
    );
  }

  // The books must balance after all that.
  const check = postgres(db.url, { max: 1 });
  const [row] = await check`
    SELECT (SELECT sum(total_points) FROM score_ledger)::bigint AS ledger,
           (SELECT sum(points_earned) FROM action_log)::bigint AS logged`;
  await check.end();
  console.log(`ledger ${row.ledger} = log ${row.logged}: ${row.ledger === row.logged}`);
} catch (error) {
  console.error(`the server's last log lines:\n${server.logs.slice(-20).join("\n")}`);
  throw error;
} finally {
  await server.stop();
  await db.close();
  await clearRedisPrefix(prefix);
}
