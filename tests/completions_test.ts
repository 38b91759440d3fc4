import assert from "node:assert/strict";
import postgres, { type ReservedSql } from "postgres";
import { insertCompletions } from "../src/actions/queries.ts";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { windowsByPeriod } from "../src/leaderboard/periods.ts";
import { openRuntime } from "../src/runtime.ts";
import {
  ADMIN_TOKEN,
  complete,
  createAction,
  eventually,
  openTestApp,
  problem,
  register,
  type TestApp,
} from "./helpers.ts";

async function ledger(t: TestApp, accountId: number) {
  const [row] = await t.db.sql`
    SELECT (SELECT total_points FROM score_ledger WHERE account_id = ${accountId}) AS total,
           (SELECT coalesce(sum(points_earned), 0)::int FROM action_log
            WHERE account_id = ${accountId}) AS logged,
           (SELECT count(*)::int FROM action_log WHERE account_id = ${accountId}) AS rows`;
  const zscore = await t.redis.zscore(`${t.prefix}leaderboard`, String(accountId));
  return { total: row.total, logged: row.logged, rows: row.rows, zscore: Number(zscore) };
}

Deno.test("[completions] completing an action answers 201 with the Completion", async () => {
  const t = await openTestApp();
  try {
    const { slug } = await createAction(t, 25);
    const session = await register(t);
    const res = await complete(t, session.accessToken, slug);
    assert.equal(res.status, 201);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    const body = await res.json();
    assert.equal(typeof body.completion.id, "number");
    assert.deepEqual(Object.keys(body.completion).sort(), [
      "action",
      "actionLabel",
      "completedAt",
      "id",
      "pointsEarned",
      "voidedAt",
    ]);
    assert.equal(body.completion.voidedAt, null);
    assert.equal(body.completion.action, slug);
    assert.equal(body.completion.actionLabel, `Action ${slug}`);
    assert.equal(body.completion.pointsEarned, 25);
    assert.ok(!Number.isNaN(Date.parse(body.completion.completedAt)));
    assert.equal(body.totalPoints, 25);
    assert.equal(body.rank, 1);

    const second = await (await complete(t, session.accessToken, slug)).json();
    assert.equal(second.totalPoints, 50);
    assert.ok(second.completion.id > body.completion.id);
    assert.deepEqual(await ledger(t, session.account.id), {
      total: 50,
      logged: 50,
      rows: 2,
      zscore: 50,
    });

    const me = await (await t.call("GET", "/me", { token: session.accessToken })).json();
    assert.equal(me.totalPoints, 50);
    assert.equal(me.rank, 1);
  } finally {
    await t.close();
  }
});

Deno.test("[completions] unknown is 404, retired is 410, and neither changes anything", async () => {
  const t = await openTestApp();
  try {
    const { slug } = await createAction(t, 10);
    const session = await register(t);
    for (const unknown of ["no-such-action", "Not_Even_A_Slug", "x".repeat(101)]) {
      const res = await complete(t, session.accessToken, unknown);
      assert.equal(res.status, 404, unknown);
      assert.equal((await problem(res)).status, 404);
    }
    await t.call("DELETE", `/admin/actions/${slug}`, { token: ADMIN_TOKEN });
    const retired = await complete(t, session.accessToken, slug);
    assert.equal(retired.status, 410);
    assert.equal((await problem(retired)).status, 410);
    const state = await ledger(t, session.account.id);
    assert.equal(state.rows, 0);
    assert.equal(state.total, null);
  } finally {
    await t.close();
  }
});

Deno.test("[completions] no token, a bad token or a deleted account's token is 401", async () => {
  const t = await openTestApp();
  try {
    const { slug } = await createAction(t, 10);
    const none = await complete(t, undefined as unknown as string, slug);
    assert.equal(none.status, 401);
    await none.body?.cancel();
    const bad = await complete(t, "garbage", slug);
    assert.equal(bad.status, 401);
    assert.match(bad.headers.get("www-authenticate") ?? "", /^Bearer/);
    await bad.body?.cancel();

    const session = await register(t);
    await t.call("DELETE", "/me", { token: session.accessToken });
    const gone = await complete(t, session.accessToken, slug);
    assert.equal(gone.status, 401);
    assert.match(gone.headers.get("www-authenticate") ?? "", /^Bearer/);
    await gone.body?.cancel();
    assert.equal((await ledger(t, session.account.id)).rows, 0);
  } finally {
    await t.close();
  }
});

Deno.test("[completions] changing or retiring an action leaves earned points alone", async () => {
  const t = await openTestApp();
  try {
    const { slug } = await createAction(t, 10);
    const session = await register(t);
    await (await complete(t, session.accessToken, slug)).body?.cancel();
    await t.call("PATCH", `/admin/actions/${slug}`, {
      token: ADMIN_TOKEN,
      body: { pointValue: 100 },
    });
    const after = await (await complete(t, session.accessToken, slug)).json();
    assert.equal(after.completion.pointsEarned, 100);
    assert.equal(after.totalPoints, 110);

    await t.call("PATCH", `/admin/actions/${slug}`, {
      token: ADMIN_TOKEN,
      body: { pointValue: 1 },
    });
    await t.call("DELETE", `/admin/actions/${slug}`, { token: ADMIN_TOKEN });
    const rows = await t.db.sql`
      SELECT points_earned FROM action_log WHERE account_id = ${session.account.id} ORDER BY id`;
    assert.deepEqual(rows.map((r) => r.points_earned), [10, 100]);
    assert.deepEqual(await ledger(t, session.account.id), {
      total: 110,
      logged: 110,
      rows: 2,
      zscore: 110,
    });
    const page = await (await t.call("GET", "/me/completions", { token: session.accessToken }))
      .json();
    assert.deepEqual(page.completions.map((c: { pointsEarned: number }) => c.pointsEarned), [
      100,
      10,
    ]);
  } finally {
    await t.close();
  }
});

Deno.test("[completions] a total past 2,147,483,647 is a 409 and changes nothing", async () => {
  const t = await openTestApp();
  try {
    const { slug } = await createAction(t, 1_000_000);
    const session = await register(t);
    await (await complete(t, session.accessToken, slug)).body?.cancel();
    await t.db.sql`
      UPDATE score_ledger SET total_points = 2147483647 - 999999
      WHERE account_id = ${session.account.id}`;
    const res = await complete(t, session.accessToken, slug);
    assert.equal(res.status, 409);
    assert.equal((await problem(res)).status, 409);
    const [row] = await t.db.sql`
      SELECT total_points, (SELECT count(*)::int FROM action_log) AS rows
      FROM score_ledger WHERE account_id = ${session.account.id}`;
    assert.equal(row.total_points, 2147483647 - 999999);
    assert.equal(row.rows, 1);
  } finally {
    await t.close();
  }
});

Deno.test("[completions] more than COMPLETIONS_PER_SECOND is 429 with Retry-After", async () => {
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "3" });
  try {
    const { slug } = await createAction(t, 1);
    const session = await register(t);
    const other = await register(t);
    const results = await Promise.all(
      Array.from({ length: 5 }, () => complete(t, session.accessToken, slug)),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, 201, 201, 429, 429]);
    const limited = results.find((r) => r.status === 429)!;
    assert.equal(limited.headers.get("retry-after"), "1");
    for (const r of results) await r.body?.cancel();
    assert.equal((await ledger(t, session.account.id)).rows, 3);
    // per account: another account is not limited
    const res = await complete(t, other.accessToken, slug);
    assert.equal(res.status, 201);
    await res.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("[completions] 100 parallel completions for one account add up everywhere", async () => {
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000", DATABASE_POOL_SIZE: "20" });
  try {
    const a = await createAction(t, 7);
    const b = await createAction(t, 13);
    const session = await register(t);
    const results = await Promise.all(
      Array.from(
        { length: 100 },
        (_, i) => complete(t, session.accessToken, i % 2 ? a.slug : b.slug),
      ),
    );
    const bodies = await Promise.all(results.map((r) => r.json()));
    assert.deepEqual(results.map((r) => r.status), Array(100).fill(201));
    const totals = bodies.map((b) => b.totalPoints).sort((x, y) => x - y);
    assert.equal(new Set(totals).size, 100, "each completion saw its own total");
    assert.equal(totals.at(-1), 50 * 7 + 50 * 13);
    assert.deepEqual(await ledger(t, session.account.id), {
      total: 1000,
      logged: 1000,
      rows: 100,
      zscore: 1000,
    });
  } finally {
    await t.close();
  }
});

Deno.test("[completions] two accounts racing each end with their own exact totals", async () => {
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000" });
  try {
    const { slug } = await createAction(t, 3);
    const [x, y] = [await register(t), await register(t)];
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => complete(t, (i % 3 ? x : y).accessToken, slug)),
    );
    for (const r of results) {
      assert.equal(r.status, 201);
      await r.body?.cancel();
    }
    assert.deepEqual(await ledger(t, x.account.id), {
      total: 120,
      logged: 120,
      rows: 40,
      zscore: 120,
    });
    assert.deepEqual(await ledger(t, y.account.id), {
      total: 60,
      logged: 60,
      rows: 20,
      zscore: 60,
    });
    const board = await (await t.call("GET", "/leaderboard")).json();
    assert.deepEqual(
      board.entries.map((e: { accountId: number; rank: number }) => [e.accountId, e.rank]),
      [
        [x.account.id, 1],
        [y.account.id, 2],
      ],
    );
  } finally {
    await t.close();
  }
});

Deno.test("[completions] the limit holds across instances and without Redis: it is counted by the statement", async () => {
  for (const redis of [{}, { REDIS_URL: "" }] as Record<string, string>[]) {
    const t = await openTestApp({ COMPLETIONS_PER_SECOND: "4", ...redis });
    const second = await openRuntime(loadConfig(t.env, 2));
    const other = createApp(second);
    try {
      const { slug } = await createAction(t, 1);
      const session = await register(t);
      const results = await Promise.all(
        Array.from(
          { length: 10 },
          (_, i) =>
            i % 2 === 0 ? complete(t, session.accessToken, slug) : Promise.resolve(
              other.request(`/actions/${slug}/complete`, {
                method: "POST",
                headers: { authorization: `Bearer ${session.accessToken}` },
              }),
            ),
        ),
      );
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [201, 201, 201, 201, 429, 429, 429, 429, 429, 429]);
      for (const r of results) await r.body?.cancel();
      assert.equal((await ledger(t, session.account.id)).rows, 4);
    } finally {
      await second.close();
      await t.close();
    }
  }
});

Deno.test("[completions] one statement for many accounts writes each one's own, and nothing for those that may not", async () => {
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "2" });
  try {
    const { slug } = await createAction(t, 5);
    const retired = await createAction(t, 9);
    await t.db.sql`UPDATE actions SET retired_at = NOW() WHERE slug = ${retired.slug}`;
    const [fine, keyed, gone, ended, onRetired, keyTaken, limited] = await Promise.all(
      Array.from({ length: 7 }, () => register(t)),
    );
    const sid = (token: string) => JSON.parse(atob(token.split(".")[1])).sid as number;
    await t.call("DELETE", "/me", { token: gone.accessToken });
    await t.db.sql`UPDATE sessions SET ended_at = NOW() WHERE id = ${sid(ended.accessToken)}`;
    const used = await complete(t, keyTaken.accessToken, slug, "k-1");
    assert.equal(used.status, 201);
    await used.body?.cancel();
    const at = new Date();
    await t.db.sql`
      INSERT INTO completion_rate (account_id, window_start, completions)
      VALUES (${limited.account.id}, ${at}, 2)`;

    const one = (s: typeof fine, action: string, key: string | null = null) => ({
      accountId: s.account.id,
      sessionId: sid(s.accessToken),
      slug: action,
      key,
      at,
      windows: windowsByPeriod(at.getTime()),
    });
    const inserted = await insertCompletions(t.db.sql, [
      one(limited, slug),
      one(fine, slug),
      one(gone, slug),
      one(keyed, slug, 'a "quoted", {braced} \\ key, NULL'),
      one(ended, slug),
      one(onRetired, retired.slug),
      one(keyTaken, slug, "k-1"),
    ], 2);

    assert.deepEqual([...inserted.keys()].sort(), [1, 3]);
    for (const [i, s] of [[1, fine], [3, keyed]] as const) {
      const row = inserted.get(i)!;
      assert.equal(row.slug, slug);
      assert.equal(row.username, s.account.username);
      assert.equal(row.points_earned, 5);
      assert.equal(row.completed_at.getTime(), at.getTime());
      assert.deepEqual(
        [row.total_points, row.day_points, row.week_points, row.month_points],
        [5, 5, 5, 5],
      );
      const [log] = await t.db.sql`
        SELECT account_id FROM action_log WHERE id = ${row.id}`;
      assert.equal(log.account_id, s.account.id);
    }
    const [key] = await t.db.sql`
      SELECT idempotency_key FROM completion_idempotency_keys
      WHERE account_id = ${keyed.account.id}`;
    assert.equal(key.idempotency_key, 'a "quoted", {braced} \\ key, NULL');
    const written = await t.db.sql`
      SELECT a.id,
             (SELECT count(*)::int FROM action_log l WHERE l.account_id = a.id) AS logged,
             (SELECT count(*)::int FROM period_scores p WHERE p.account_id = a.id) AS periods,
             (SELECT total_points FROM score_ledger s WHERE s.account_id = a.id) AS total
      FROM accounts a ORDER BY a.id`;
    const byId = new Map(written.map((r) => [r.id, [r.logged, r.periods, r.total]]));
    assert.deepEqual(byId.get(fine.account.id), [1, 3, 5]);
    assert.deepEqual(byId.get(keyed.account.id), [1, 3, 5]);
    assert.deepEqual(byId.get(keyTaken.account.id), [1, 3, 5], "its first completion only");
    for (const s of [gone, ended, onRetired, limited]) {
      assert.deepEqual(byId.get(s.account.id), [0, 0, null], s.account.username);
    }
  } finally {
    await t.close();
  }
});

/**
 * Starts a completion whose statement then waits, in flight, on a lock the test holds on its
 * account (`lock`: a reserved connection; COMMIT lets it go). Resolves once PostgreSQL shows it
 * waiting, with the request's answer to come.
 */
async function heldInFlight(
  t: TestApp,
  lock: ReservedSql,
  token: string,
  accountId: number,
  slug: string,
): Promise<{ answer: Promise<Response> }> {
  await lock`BEGIN`;
  await lock`SELECT 1 FROM accounts WHERE id = ${accountId} FOR UPDATE`;
  const answer = complete(t, token, slug);
  await eventually(async () => {
    const [{ n }] = await t.db.sql`
      SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock'`;
    return n === 1;
  });
  return { answer }; // not the promise itself, which an async function's caller would wait for
}

Deno.test("[completions] completions that wait for a statement go together, and one's overflow fails only that one", async () => {
  const t = await openTestApp({ COMPLETION_STATEMENTS: "1" });
  const lock = await t.db.sql.reserve();
  try {
    const { slug } = await createAction(t, 1_000_000);
    const opener = await register(t);
    const sessions = await Promise.all(Array.from({ length: 12 }, () => register(t)));
    const full = sessions[5];
    await (await complete(t, full.accessToken, slug)).body?.cancel();
    await t.db.sql`
      UPDATE score_ledger SET total_points = 2147483647 - 999999
      WHERE account_id = ${full.account.id}`;
    const batches = async () =>
      (await t.rt.metrics.completionBatches.get()).values
        .find((v) => v.metricName === "scoreboard_completion_batch_size_count")!.value;
    const before = await batches();

    // The one statement in flight waits on a lock of the test's; the 12 wait for it.
    const { answer: opening } = await heldInFlight(
      t,
      lock,
      opener.accessToken,
      opener.account.id,
      slug,
    );
    const results = Promise.all(sessions.map((s) => complete(t, s.accessToken, slug)));
    await eventually(() => Promise.resolve(t.rt.completions.waiting === 12));
    await lock`COMMIT`;
    assert.equal((await opening).status, 201);

    const answers = await results;
    assert.deepEqual(answers.map((r) => r.status), sessions.map((s) => s === full ? 409 : 201));
    const bodies = await Promise.all(answers.map((r) => r.json()));
    assert.equal(bodies[5].type, "urn:scoreboard:problem:score-overflow");
    // the opener's, the 12 together (which failed), then each of the 12 alone
    assert.equal((await batches()) - before, 1 + 1 + 12);
    for (const [i, s] of sessions.entries()) {
      if (s === full) continue;
      assert.equal(bodies[i].totalPoints, 1_000_000);
      assert.deepEqual(await ledger(t, s.account.id), {
        total: 1_000_000,
        logged: 1_000_000,
        rows: 1,
        zscore: 1_000_000,
      });
    }
    const [row] = await t.db.sql`
      SELECT total_points, (SELECT count(*)::int FROM action_log
                            WHERE account_id = ${full.account.id}) AS rows
      FROM score_ledger WHERE account_id = ${full.account.id}`;
    assert.deepEqual([row.total_points, row.rows], [2147483647 - 999999, 1]);
  } finally {
    lock.release();
    await t.close();
  }
});

Deno.test("[completions] completions still waiting for a statement at their deadline are answered 503 and never made", async () => {
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "100", REQUEST_TIMEOUT_MS: "300" });
  const lock = await t.db.sql.reserve();
  try {
    const { slug } = await createAction(t, 2);
    const s = await register(t);
    // The account's statement in flight is stuck: its next completions wait for it (one account
    // is never in two statements at once) until their deadline.
    const { answer: opening } = await heldInFlight(t, lock, s.accessToken, s.account.id, slug);
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => complete(t, s.accessToken, slug)),
    );
    for (const res of answers) {
      assert.equal(res.status, 503);
      assert.equal(res.headers.get("retry-after"), "2");
      await res.body?.cancel();
    }
    assert.equal((await opening).status, 503, "the statement in flight outlived its deadline too");
    assert.equal(t.rt.completions.waiting, 5);
    await lock`COMMIT`;
    // The statement in flight ends (and writes: its client was told it may have); the rest are
    // refused rather than sent. A completion made now goes after them.
    const again = await complete(t, s.accessToken, slug);
    assert.equal(again.status, 201);
    assert.equal((await again.json()).totalPoints, 4, "the stuck one's and this one's");
    assert.equal((await ledger(t, s.account.id)).rows, 2);
    assert.equal(t.rt.completions.waiting, 0);
  } finally {
    lock.release();
    await t.close();
  }
});

Deno.test("[completions] the statement for many does not need postgres.js' array types (a connection may not have them yet)", async () => {
  const t = await openTestApp();
  // A pool that never fetches its types: what a connection opened while they are fetched has.
  const bare = postgres(t.db.url, { max: 1, fetch_types: false, onnotice: () => {} });
  try {
    const { slug } = await createAction(t, 3);
    const [x, y] = await Promise.all([register(t), register(t)]);
    const at = new Date();
    const sid = (token: string) => JSON.parse(atob(token.split(".")[1])).sid as number;
    const key = 'k "1", {2} \\ NULL';
    const inserted = await insertCompletions(bare, [
      {
        accountId: x.account.id,
        sessionId: sid(x.accessToken),
        slug,
        key,
        at,
        windows: windowsByPeriod(at.getTime()),
      },
      {
        accountId: y.account.id,
        sessionId: null,
        slug,
        key: null,
        at,
        windows: windowsByPeriod(at.getTime()),
      },
    ], 10);
    assert.deepEqual([...inserted.keys()].sort(), [0, 1]);
    const [row] = await t.db.sql`
      SELECT idempotency_key FROM completion_idempotency_keys WHERE account_id = ${x.account.id}`;
    assert.equal(row.idempotency_key, key);
  } finally {
    await bare.end();
    await t.close();
  }
});

Deno.test("[completions] a statement stuck on a lock holds up its account's completions, not everyone's", async () => {
  const t = await openTestApp({ COMPLETION_STATEMENTS: "1", REQUEST_TIMEOUT_MS: "300" });
  const lock = await t.db.sql.reserve();
  try {
    const { slug } = await createAction(t, 2);
    const [stuck, other] = await Promise.all([register(t), register(t)]);
    const { answer } = await heldInFlight(
      t,
      lock,
      stuck.accessToken,
      stuck.account.id,
      slug,
    );
    assert.equal((await answer).status, 503, "its request had its deadline");
    // The one statement allowed is still in flight, stuck: past the deadline it holds no place.
    const res = await complete(t, other.accessToken, slug);
    assert.equal(res.status, 201);
    await res.body?.cancel();
    await lock`COMMIT`;
  } finally {
    lock.release();
    await t.close();
  }
});
