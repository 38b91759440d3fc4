/**
 * Completions per second at 32 concurrent clients through the real server, next to pgbench
 * running the same transaction against the same database in the same run.
 *
 *   deno task bench:completions        (CLIENTS=32 SECONDS=10 DATABASE_POOL_SIZE=10, and
 *                                       COMPLETION_STATEMENTS for the server when set)
 *
 * RULES gives the action rules, as POST /admin/actions takes them (a limit the load never
 * reaches measures what checking one costs: RULES='{"limit":{"count":1000,"per":"day"}}'
 * ACCOUNTS=256), and ACCOUNTS the accounts the load turns over (CLIENTS by default). The tables
 * are analyzed before the load (ANALYZED=0: never, as on a new deployment).
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
 * single-statement transaction for one completion, as `insertCompletions` sends it (recorded, not
 * copied).
 */
import { benchDatabase } from "./database.ts";
import { getLogger } from "@logtape/logtape";
import postgres from "postgres";
import { insertCompletions } from "../src/actions/queries.ts";
import { dbmate } from "../src/db/dbmate.ts";
import { startEmbeddedPostgres } from "../src/db/embedded/mod.ts";
import { ADMIN_TOKEN, clearRedisPrefix, randomPrefix, testEnv } from "../tests/helpers.ts";
import { startServer } from "../tests/server.ts";
import { windowsByPeriod } from "../src/leaderboard/periods.ts";
import {
  benchAccounts,
  cpuPerUnit,
  installed,
  percentile,
  processCpu,
  profileFlags,
  type Row,
  wrk,
} from "./lib.ts";

const CLIENTS = Number(Deno.env.get("CLIENTS") ?? 32);
const ACCOUNTS = Number(Deno.env.get("ACCOUNTS") ?? CLIENTS);
const RULES = JSON.parse(Deno.env.get("RULES") ?? "{}");
const ANALYZED = Deno.env.get("ANALYZED") !== "0";
const SECONDS = Number(Deno.env.get("SECONDS") ?? 10);
const POOL = Deno.env.get("DATABASE_POOL_SIZE") ?? "10";
const DATABASE = Deno.env.get("BENCH_DATABASE") ?? "local";
const PGBENCH = Deno.env.get("PGBENCH") !== "0";
/** The load generator: wrk when installed (LOAD=fetch for Deno's fetch in this process). */
const LOAD = Deno.env.get("LOAD") ?? (installed("wrk") ? "wrk" : "fetch");

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
    const db = await benchDatabase();
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

/**
 * The service's own completion statement as a pgbench script: `insertCompletions` (src/actions/
 * queries.ts) called once for one completion through a connection that records the SQL it sends, with an account and
 * a session that do not exist (so it writes nothing) whose ids are then replaced by pgbench's
 * variables: each client completes for an account and a session of its own.
 */
async function serviceStatement(
  url: string,
  firstId: number,
  firstSession: number,
  slug: string,
): Promise<string> {
  const [accountId, sessionId] = [2_147_000_001, 2_147_000_002];
  let sent: { query: string; parameters: unknown[] } | undefined;
  const recorder = postgres(url, {
    max: 1,
    onnotice: () => {},
    debug: (_connection, query, parameters) => sent = { query, parameters },
  });
  const at = new Date();
  const windows = windowsByPeriod(at.getTime());
  try {
    await insertCompletions(
      recorder,
      [{ accountId, sessionId, slug, key: null, at, windows }],
      1e6,
    );
  } finally {
    await recorder.end({ timeout: 5 });
  }
  if (!sent) throw new Error("insertCompletions sent no statement");
  const literal = (value: unknown): string => {
    // An array of the one completion, as the statement sends it (`{42}`, `{"…"}`, `{NULL}`):
    // the same text, built by pgbench where it holds the account, the session or the time.
    const element = typeof value === "string" ? /^\{(.*)\}$/.exec(value)?.[1] : undefined;
    if (element !== undefined) {
      if (element === String(accountId)) return "('{' || :aid || '}')";
      if (element === String(sessionId)) return "('{' || :sid || '}')";
      if (element === `"${at.toISOString()}"`) return `('{"' || now() || '"}')`;
      return `'${(value as string).replaceAll("'", "''")}'`;
    }
    const text = value instanceof Date ? value.toISOString() : String(value);
    if (text === String(accountId)) return ":aid";
    if (text === String(sessionId)) return ":sid";
    if (value === null) return "NULL";
    if (text === at.toISOString()) return "now()";
    return `'${text.replaceAll("'", "''")}'`;
  };
  // On one line, as pgbench reads a script: without SQL comments, which would end it.
  const statement = sent.query.replace(/\$(\d+)/g, (_, n) => literal(sent!.parameters[n - 1]));
  return `\\set aid ${firstId} + :client_id\n\\set sid ${firstSession} + :client_id\n` +
    `${statement.replace(/--[^\n]*/g, "").replace(/\s+/g, " ").trim()};\n`;
}

/**
 * pgbench's transactions per second running `script`. `genericPlans`: PostgreSQL plans the
 * prepared statement once, as it does the service's (whose batches vary in size, so that its
 * plan cache settles on the generic plan); pgbench's, always one completion with constants
 * around its variables, would otherwise be planned again for every transaction.
 */
async function pgbench(url: string, script: string, genericPlans = false): Promise<number> {
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
      env: genericPlans ? { PGOPTIONS: "-c plan_cache_mode=force_generic_plan" } : {},
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

/** The server's `completion_batch_size` histogram so far: completions and statements. */
async function batches(baseUrl: string): Promise<{ sum: number; count: number }> {
  const res = await fetch(`${baseUrl}/metrics`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  const text = await res.text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
  return {
    sum: value("scoreboard_completion_batch_size_sum"),
    count: value("scoreboard_completion_batch_size_count"),
  };
}

/** wrk's Lua: each request completes for the next account's token, in turn. */
const WRK_SCRIPT = `
local tokens = {}
local counter = 0
init = function(args)
  for i, token in ipairs(args) do tokens[i] = token end
  counter = math.random(#tokens)
end
request = function()
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  return wrk.format("POST", nil, { ["Authorization"] = "Bearer " .. token }, nil)
end
`;

/** Completions/s through wrk (C, so that the load generator takes little of the 2 cores). */
export async function serviceWithWrk(
  baseUrl: string,
  tokens: string[],
  slug: string,
  seconds: number,
) {
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  await Deno.writeTextFile(script, WRK_SCRIPT);
  try {
    return await wrk(`${baseUrl}/actions/${slug}/complete`, [
      "-t2",
      `-c${CLIENTS}`,
      `-d${seconds}s`,
      "-s",
      script,
    ], ["--", ...tokens]);
  } finally {
    await Deno.remove(script);
  }
}

async function service(baseUrl: string, tokens: string[], slug: string, seconds: number) {
  if (LOAD === "wrk") return await serviceWithWrk(baseUrl, tokens, slug, seconds);
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

/** Runs the scenario and returns its line of the table. */
export async function run(): Promise<Row> {
  const db = await target();
  const prefix = randomPrefix();
  const server = await startServer(
    testEnv(db, prefix, {
      COMPLETIONS_PER_SECOND: "1000000",
      DATABASE_POOL_SIZE: POOL,
      LOG_LEVEL: Deno.env.get("LOG_LEVEL") ?? "info",
      ...(Deno.env.has("COMPLETION_STATEMENTS")
        ? { COMPLETION_STATEMENTS: Deno.env.get("COMPLETION_STATEMENTS")! }
        : {}),
    }),
    { flags: profileFlags(), discardLogs: true },
  );
  try {
    // Consecutive account and session ids: pgbench's :aid and :sid.
    const { slug, sessions } = await benchAccounts(
      server.url,
      ADMIN_TOKEN,
      Math.max(ACCOUNTS, CLIENTS),
      RULES,
    );
    const tokens = sessions.map((s) => s.accessToken as string);
    const firstId = Math.min(...sessions.map((s) => s.account.id as number));
    const sid = (token: string) => JSON.parse(atob(token.split(".")[1])).sid as number;
    const firstSession = Math.min(...tokens.map(sid));
    const [{ id: actionId }] = await db.sql`SELECT id FROM actions WHERE slug = ${slug}`;
    // Statistics, as a deployment that has run a while has them (autovacuum would take them a
    // minute in, halfway through some runs and not others): plans differ with and without.
    if (ANALYZED) await db.sql`ANALYZE`;

    const reference = `\\set aid ${firstId} + :client_id
  BEGIN;
  SELECT id, point_value FROM actions WHERE slug = '${slug}' AND retired_at IS NULL;
  INSERT INTO action_log (account_id, action_id, points_earned) VALUES (:aid, ${actionId}, 1);
  INSERT INTO score_ledger (account_id, total_points) VALUES (:aid, 1)
    ON CONFLICT (account_id) DO UPDATE
    SET total_points = score_ledger.total_points + 1, last_activity_at = NOW();
  END;
  `;
    const ours = await serviceStatement(db.url, firstId, firstSession, slug);
    if (Deno.env.get("SHOW_STATEMENT")) console.log(ours);

    console.log(
      `${CLIENTS} clients (${LOAD}) over ${tokens.length} accounts, ${SECONDS} s each, server ` +
        `pool ${POOL}, database ${DATABASE}, rules ${JSON.stringify(RULES)}, ` +
        `${ANALYZED ? "analyzed" : "never analyzed"}, 2 cores shared`,
    );
    await service(server.url, tokens, slug, 2); // warm up
    // Where each completion's CPU goes, by process: the load is CPU-bound on 2 shared cores, so the
    // ratio is about the CPU pgbench's transaction costs the machine over what a completion does.
    const group = (pid: number, command: string) =>
      pid === 0
        ? "machine"
        : pid === server.pid
        ? "service"
        : ["postgres", "redis-server", "wrk"].includes(command)
        ? command
        : undefined;
    // pgbench's backends end with it: only the machine's total counts them.
    const machine = (pid: number) => pid === 0 ? "machine" : undefined;
    let cpu = await processCpu();
    const pgRef = PGBENCH ? await pgbench(db.url, reference) : null;
    const cpuRef = pgRef === null
      ? null
      : cpuPerUnit(cpu, cpu = await processCpu(), pgRef * SECONDS, machine);
    const batchesBefore = await batches(server.url);
    const svc = await service(server.url, tokens, slug, SECONDS);
    const batchesAfter = await batches(server.url);
    const meanBatch = (batchesAfter.sum - batchesBefore.sum) /
      (batchesAfter.count - batchesBefore.count);
    const cpuService = cpuPerUnit(cpu, cpu = await processCpu(), svc.rate * SECONDS, group);
    const pgOurs = PGBENCH ? await pgbench(db.url, ours, true) : null;
    const cpuOurs = pgOurs === null
      ? null
      : cpuPerUnit(cpu, await processCpu(), pgOurs * SECONDS, machine);
    const show = ({ machine, ...processes }: Record<string, number>) =>
      `the machine ${machine.toFixed(0)}` + (Object.keys(processes).length === 0 ? "" : ": ") +
      Object.entries(processes).filter(([, us]) => us >= 5).sort((a, b) => b[1] - a[1])
        .map(([name, us]) => `${name} ${us.toFixed(0)}`).join(", ");

    console.log(
      `service, POST /actions/{slug}/complete: ${svc.rate.toFixed(0)} completions/s ` +
        `(p50 ${svc.p50.toFixed(1)} ms, p99 ${svc.p99.toFixed(1)} ms, ${svc.errors} errors)`,
    );
    if (svc.errors > 0) {
      // A 409 (a limit reached: RULES over too few ACCOUNTS) or a 429 is counted in the rate, and
      // costs another query: the figure is then not that of completions.
      console.log(
        `warning: ${svc.errors} answers were not 201 — the rate above is not the completions' ` +
          `(a limit reached? give RULES more ACCOUNTS)`,
      );
    }
    if (pgRef !== null && pgOurs !== null) {
      console.log(`pgbench, reference transaction (3 statements): ${pgRef.toFixed(0)} tx/s`);
      console.log(
        `pgbench, the service's statement for one completion (1 round trip): ` +
          `${pgOurs.toFixed(0)} tx/s`,
      );
      console.log(
        `ratio service / pgbench: ${(svc.rate / pgRef).toFixed(2)} of the reference, ` +
          `${(svc.rate / pgOurs).toFixed(2)} of the same statement`,
      );
    }

    console.log(`completions per statement, mean: ${meanBatch.toFixed(1)}`);
    console.log(`CPU µs per completion, service: ${show(cpuService)}`);
    if (cpuOurs) console.log(`CPU µs per transaction, pgbench of the statement: ${show(cpuOurs)}`);
    if (cpuRef) console.log(`CPU µs per transaction, pgbench of the seed's: ${show(cpuRef)}`);

    // The books must balance after all that.
    const check = postgres(db.url, { max: 1 });
    const [row] = await check`
      SELECT (SELECT sum(total_points) FROM score_ledger)::bigint AS ledger,
             (SELECT sum(points_earned) FROM action_log)::bigint AS logged`;
    await check.end();
    console.log(`ledger ${row.ledger} = log ${row.logged}: ${row.ledger === row.logged}`);
    const ratio = pgOurs === null ? null : svc.rate / pgOurs;
    return {
      scenario: "completions",
      figure: `${Math.round(svc.rate)} completions/s, ${CLIENTS} clients (${LOAD}; p99 ` +
        `${svc.p99.toFixed(1)} ms, ${svc.errors} errors)`,
      reference: pgOurs === null || pgRef === null
        ? "pgbench skipped"
        : `pgbench: the service's statement for one completion ${Math.round(pgOurs)} tx/s ` +
          `(the service's carried ${meanBatch.toFixed(1)} on average), the seed's ` +
          `3-statement transaction ${Math.round(pgRef)} tx/s`,
      result: ratio === null
        ? "—"
        : `${ratio.toFixed(2)} × the statement (${(svc.rate / pgRef!).toFixed(2)} × the seed's)`,
      target: "≥ 0.75 × the service's statement",
      met: ratio === null ? null : ratio >= 0.75,
      details: {
        service: svc,
        completionsPerStatement: meanBatch,
        pgbenchStatement: pgOurs,
        pgbenchReference: pgRef,
        cpuMicrosecondsPerCompletion: {
          service: cpuService,
          statement: cpuOurs,
          reference: cpuRef,
        },
        balanced: row.ledger === row.logged,
        database: DATABASE,
        pool: POOL,
      },
    };
  } catch (error) {
    console.error(`the server's last log lines:\n${server.logs.slice(-20).join("\n")}`);
    throw error;
  } finally {
    await server.stop();
    await db.close();
    await clearRedisPrefix(prefix);
  }
}

if (import.meta.main) await run();
