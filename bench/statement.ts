/**
 * The completion statement alone, without the service around it: statements per second of
 * `insertCompletions` (src/actions/queries.ts) for batches of BATCH completions by distinct
 * accounts, drawn from ACCOUNTS accounts with live sessions, sent one after the other on one
 * connection (as group commit sends them with COMPLETION_STATEMENTS=1) — for an action without
 * rules and for one with a limit that is never reached.
 *
 *   deno task bench:statement      (ACCOUNTS=256 BATCH=12 SECONDS=3 ROUNDS=5)
 *
 * OTHER=<a checkout> runs that checkout's statement too (one made by bench:compare: the
 * `scoreboard-<commit>` worktree in the temporary directory), on the same database, so on this
 * checkout's schema (the action with a rule only when its statement knows rules). Each round runs
 * every statement once, in a new order. ANALYZED=0 leaves the tables without statistics, as a new
 * deployment's are: PostgreSQL then plans from guesses.
 */
import postgres, { type Sql } from "postgres";
import { join } from "node:path";
import type { NewCompletion } from "../src/actions/queries.ts";
import { windowsByPeriod } from "../src/leaderboard/periods.ts";
import { benchDatabase } from "./database.ts";

const ACCOUNTS = Number(Deno.env.get("ACCOUNTS") ?? 256);
const BATCH = Number(Deno.env.get("BATCH") ?? 12);
const SECONDS = Number(Deno.env.get("SECONDS") ?? 3);
const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 5);
const ANALYZED = Deno.env.get("ANALYZED") !== "0";
const OTHER = Deno.env.get("OTHER");

type Insert = (db: Sql, batch: NewCompletion[], perSecond: number) => Promise<unknown>;

const here = new URL("../src/actions/queries.ts", import.meta.url).href;
const statements: { name: string; insert: Insert; slugs: string[] }[] = [
  { name: "this checkout", insert: (await import(here)).insertCompletions, slugs: [] },
];
if (OTHER) {
  const other = new URL(`file://${join(OTHER, "src/actions/queries.ts")}`).href;
  statements.push({ name: OTHER, insert: (await import(other)).insertCompletions, slugs: [] });
}

const db = await benchDatabase();
try {
  const { sql } = db;
  await sql`
    WITH made AS (
      INSERT INTO accounts (username, email, password_hash)
      SELECT 'bench' || g, 'bench' || g || '@example.com', 'x' FROM generate_series(1, ${ACCOUNTS}) g
      RETURNING id
    )
    INSERT INTO sessions (account_id, expires_at) SELECT id, NOW() + interval '1 day' FROM made`;
  await sql`INSERT INTO actions (slug, label, point_value) VALUES ('plain', 'Plain', 1)`;
  await sql`
    INSERT INTO actions (slug, label, point_value, limit_count, limit_per)
    VALUES ('ruled', 'Ruled', 1, 1000, 'day')`;
  if (ANALYZED) await sql`ANALYZE`;
  const ids = await sql<{ account_id: number; id: number }[]>`
    SELECT account_id, id FROM sessions ORDER BY account_id`;
  statements[0].slugs = ["plain", "ruled"];
  if (OTHER) {
    // A statement from before rules would take the ruled action for one without.
    const source = await Deno.readTextFile(join(OTHER, "src/actions/queries.ts"));
    statements[1].slugs = source.includes("limit_count") ? ["plain", "ruled"] : ["plain"];
  }

  // A batch as group commit makes one: distinct accounts, in account order.
  const batch = (slug: string): NewCompletion[] => {
    const at = new Date();
    const windows = windowsByPeriod(at.getTime());
    const picked = new Set<number>();
    while (picked.size < Math.min(BATCH, ids.length)) {
      picked.add(Math.floor(Math.random() * ids.length));
    }
    return [...picked].sort((a, b) => a - b).map((i) => ({
      accountId: ids[i].account_id,
      sessionId: ids[i].id,
      slug,
      key: null,
      at,
      windows,
    }));
  };

  const runs = statements.flatMap((s) => s.slugs.map((slug) => ({ ...s, slug })));
  const results = new Map<string, number[]>();
  const statementSql = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // A new order each round: the tables grow as the rounds go, which no statement should
      // always pay for alone.
      for (const run of runs.toSorted(() => Math.random() - 0.5)) {
        const end = performance.now() + SECONDS * 1000;
        let count = 0;
        while (performance.now() < end) {
          await run.insert(statementSql, batch(run.slug), 1e6);
          count++;
        }
        const label = `${run.name}, ${run.slug === "plain" ? "no rules" : "a limit"}`;
        results.set(label, [...(results.get(label) ?? []), count / SECONDS]);
      }
    }
  } finally {
    await statementSql.end({ timeout: 5 });
  }
  console.log(
    `batches of ${BATCH} over ${ACCOUNTS} accounts, one connection, ${ROUNDS} rounds of ` +
      `${SECONDS} s, tables ${ANALYZED ? "analyzed" : "never analyzed"}`,
  );
  for (const [label, rates] of results) {
    const sorted = rates.toSorted((a, b) => a - b);
    console.log(
      `${label}: ${sorted[Math.floor(sorted.length / 2)].toFixed(0)} statements/s ` +
        `(${sorted[0].toFixed(0)}–${sorted.at(-1)!.toFixed(0)})`,
    );
  }
} finally {
  await db.drop();
}
