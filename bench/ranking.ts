/**
 * The boards as PostgreSQL answers them (one instance without Redis, past windows, and whenever
 * Redis cannot answer), on a large ledger: the top 10, a page deep in the board, one account's
 * rank, around it, a friends board of 100 ids, and a past month of a large log.
 *
 *   deno task bench:ranking          (ACCOUNTS=1000000 LOG_ROWS=1000000 REPEAT=20)
 *
 * It fills a test database of its own with ACCOUNTS accounts that each have a ledger row, and
 * LOG_ROWS completions spread over the previous month (with their day, week and month totals,
 * as the service keeps them), then times each read through the service's own query functions
 * (src/leaderboard/truth.ts), REPEAT times, and prints the median and the worst.
 */
import { benchDatabase } from "./database.ts";
import { truthReads } from "../src/leaderboard/truth.ts";
import { windowAt } from "../src/leaderboard/periods.ts";

const ACCOUNTS = Number(Deno.env.get("ACCOUNTS") ?? 1_000_000);
const LOG_ROWS = Number(Deno.env.get("LOG_ROWS") ?? 1_000_000);
const REPEAT = Number(Deno.env.get("REPEAT") ?? 20);

/** Times `read` REPEAT times and prints its median and its worst. */
async function time(label: string, read: () => Promise<unknown>) {
  const runs: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t = performance.now();
    await read();
    runs.push(performance.now() - t);
  }
  runs.sort((a, b) => a - b);
  const median = runs[Math.floor(runs.length / 2)];
  console.log(
    `${label.padEnd(52)} median ${median.toFixed(1).padStart(7)} ms, ` +
      `worst ${runs.at(-1)!.toFixed(1).padStart(7)} ms`,
  );
}

const db = await benchDatabase();
try {
  const sql = db.sql;
  const started = performance.now();
  await sql`INSERT INTO actions (slug, label, point_value) VALUES ('bench', 'Bench', 10)`;
  // Accounts and their all-time totals (a long tail, many ties), 1 in 200 deleted.
  await sql`
    INSERT INTO accounts (username, email, password_hash, deleted_at)
    SELECT 'player-' || g, 'player-' || g || '@example.com', 'x',
           CASE WHEN g % 200 = 0 THEN NOW() END
    FROM generate_series(1, ${ACCOUNTS}) AS g`;
  await sql`
    INSERT INTO score_ledger (account_id, total_points)
    SELECT id, (1000000 / (1 + (id::bigint * 7919) % 5000))::int FROM accounts`;
  // The log of the previous month, and the period totals the completion statement keeps.
  const month = windowAt("month", Date.now());
  const previous = windowAt("month", month.start!.getTime() - 1);
  await sql`
    INSERT INTO action_log (account_id, action_id, points_earned, completed_at)
    SELECT 1 + (g::bigint * 104729) % ${Math.min(ACCOUNTS, 200_000)}, 1, 10,
           ${previous.start!}::timestamptz + (random() * (${previous.end!}::timestamptz -
             ${previous.start!}::timestamptz))
    FROM generate_series(1, ${LOG_ROWS}) AS g`;
  await sql`
    INSERT INTO period_scores (period, starts_at, account_id, total_points)
    SELECT period, starts_at, account_id, sum(points_earned)::int
    FROM (
      SELECT 'day' AS period, (completed_at AT TIME ZONE 'UTC')::date AS starts_at, account_id,
             points_earned FROM action_log
      UNION ALL
      SELECT 'week', date_trunc('week', completed_at AT TIME ZONE 'UTC')::date, account_id,
             points_earned FROM action_log
      UNION ALL
      SELECT 'month', date_trunc('month', completed_at AT TIME ZONE 'UTC')::date, account_id,
             points_earned FROM action_log
    ) AS completions
    GROUP BY period, starts_at, account_id`;
  await sql`VACUUM ANALYZE`;
  const [{ ledger, log, periods }] = await sql`
    SELECT (SELECT count(*) FROM score_ledger)::int AS ledger,
           (SELECT count(*) FROM action_log)::int AS log,
           (SELECT count(*) FROM period_scores)::int AS periods`;
  console.log(
    `${ledger} ledger rows, ${log} log rows in ${previous.id}, ${periods} period rows ` +
      `(filled in ${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );

  const reads = truthReads(sql);
  const all = windowAt("all", Date.now());
  const middle = Math.floor(ACCOUNTS / 2) + 1;
  const friends = Array.from({ length: 100 }, (_, i) => 1 + ((i * 9973) % ACCOUNTS));

  await time("all time: the top 10 (and the total)", () => reads.page(all, 10, 0));
  await time("all time: 10 entries from offset 500,000", () => reads.page(all, 10, 500_000));
  await time("all time: one account's entry (middle of the board)", () => reads.entry(all, middle));
  await time("all time: around one account, radius 5", () => reads.around(all, middle, 5));
  await time("all time: 100 ids (a friends board)", () => reads.pick(all, friends));
  await time("past month: the top 10 (and the total)", () => reads.page(previous, 10, 0));
  // The account halfway down the past month's board.
  const [{ account_id: halfway }] = await sql`
    SELECT account_id FROM period_scores
    WHERE period = 'month' AND starts_at = ${previous.start!}::date
    ORDER BY total_points DESC, account_id
    OFFSET (SELECT count(*) / 2 FROM period_scores
            WHERE period = 'month' AND starts_at = ${previous.start!}::date)
    LIMIT 1`;
  await time(
    "past month: one account's entry (middle of the board)",
    () => reads.entry(previous, halfway),
  );
  await time("past month: around one account, radius 5", () => reads.around(previous, halfway, 5));
  const day = windowAt("day", previous.start!.getTime() + 10 * 24 * 3600 * 1000);
  await time("past day: the top 10 (and the total)", () => reads.page(day, 10, 0));
} finally {
  await db.drop();
}
