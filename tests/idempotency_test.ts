import assert from "node:assert/strict";
import {
  ADMIN_TOKEN,
  complete,
  createAction,
  openTestApp,
  problem,
  register,
  type TestApp,
} from "./helpers.ts";

async function rows(t: TestApp, accountId: number): Promise<number> {
  const [{ n }] = await t.db.sql`
    SELECT count(*)::int AS n FROM action_log WHERE account_id = ${accountId}`;
  return n;
}

Deno.test("[idempotency] a replayed key answers 200 with the original and awards nothing", async () => {
  const t = await openTestApp();
  try {
    const { slug } = await createAction(t, 40);
    const session = await register(t);
    const first = await complete(t, session.accessToken, slug, "order-1234");
    assert.equal(first.status, 201);
    const original = await first.json();

    const other = await (await complete(t, session.accessToken, slug)).json();
    assert.equal(other.totalPoints, 80);

    const replay = await complete(t, session.accessToken, slug, "order-1234");
    assert.equal(replay.status, 200);
    const body = await replay.json();
    assert.deepEqual(body.completion, original.completion);
    assert.equal(body.totalPoints, 80, "the current total");
    assert.equal(body.rank, 1);
    assert.equal(await rows(t, session.account.id), 2);
  } finally {
    await t.close();
  }
});

Deno.test("[idempotency] a replay still answers after the action was retired", async () => {
  const t = await openTestApp();
  try {
    const { slug } = await createAction(t, 6);
    const session = await register(t);
    const first = await (await complete(t, session.accessToken, slug, "before-retiring")).json();
    await t.call("DELETE", `/admin/actions/${slug}`, { token: ADMIN_TOKEN });
    const replay = await complete(t, session.accessToken, slug, "before-retiring");
    assert.equal(replay.status, 200);
    assert.deepEqual((await replay.json()).completion, first.completion);
    const fresh = await complete(t, session.accessToken, slug, "after-retiring");
    assert.equal(fresh.status, 410);
    await fresh.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("[idempotency] the same key with another action is a 422", async () => {
  const t = await openTestApp();
  try {
    const a = await createAction(t, 1);
    const b = await createAction(t, 2);
    const session = await register(t);
    const first = await complete(t, session.accessToken, a.slug, "k");
    assert.equal(first.status, 201);
    await first.body?.cancel();
    const res = await complete(t, session.accessToken, b.slug, "k");
    assert.equal(res.status, 422);
    assert.equal((await problem(res)).status, 422);
    assert.equal(await rows(t, session.account.id), 1);
  } finally {
    await t.close();
  }
});

Deno.test("[idempotency] racing requests with one key: one 201, the rest 200, one award", async () => {
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000" });
  try {
    const { slug } = await createAction(t, 9);
    const session = await register(t);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => complete(t, session.accessToken, slug, "same-key")),
    );
    const statuses = results.map((r) => r.status).sort((a, b) => a - b);
    assert.deepEqual(statuses, [...Array(19).fill(200), 201]);
    const bodies = await Promise.all(results.map((r) => r.json()));
    assert.equal(new Set(bodies.map((b) => b.completion.id)).size, 1);
    for (const body of bodies) assert.equal(body.totalPoints, 9);
    assert.equal(await rows(t, session.account.id), 1);
    const [{ total }] = await t.db.sql`
      SELECT total_points AS total FROM score_ledger WHERE account_id = ${session.account.id}`;
    assert.equal(total, 9);
    assert.equal(
      await t.redis.zscore(`${t.prefix}leaderboard`, String(session.account.id)),
      "9",
    );
  } finally {
    await t.close();
  }
});

Deno.test("[idempotency] keys belong to one account", async () => {
  const t = await openTestApp();
  try {
    const { slug } = await createAction(t, 5);
    const [x, y] = [await register(t), await register(t)];
    for (const session of [x, y]) {
      const res = await complete(t, session.accessToken, slug, "shared-key");
      assert.equal(res.status, 201);
      await res.body?.cancel();
    }
  } finally {
    await t.close();
  }
});

Deno.test("[idempotency] an empty key or one over 200 characters is a 400", async () => {
  const t = await openTestApp();
  try {
    const { slug } = await createAction(t, 5);
    const session = await register(t);
    for (const key of ["", "k".repeat(201)]) {
      const res = await complete(t, session.accessToken, slug, key);
      assert.equal(res.status, 400);
      const p = await problem(res);
      assert.equal((p.errors as { path: string }[])[0].path, "Idempotency-Key");
    }
    const ok = await complete(t, session.accessToken, slug, "k".repeat(200));
    assert.equal(ok.status, 201);
    await ok.body?.cancel();
    assert.equal(await rows(t, session.account.id), 1);
  } finally {
    await t.close();
  }
});

Deno.test("[idempotency] replays do not spend the account's completions per second", async () => {
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "2" });
  try {
    const { slug } = await createAction(t, 5);
    const session = await register(t);
    const first = await complete(t, session.accessToken, slug, "order-1");
    assert.equal(first.status, 201);
    await first.body?.cancel();
    // A client retrying a lost answer many times over...
    for (let i = 0; i < 4; i++) {
      const replay = await complete(t, session.accessToken, slug, "order-1");
      assert.equal(replay.status, 200);
      await replay.body?.cancel();
    }
    // ...still has the second completion of its second (unless the second turned meanwhile).
    const next = await complete(t, session.accessToken, slug, "order-2");
    assert.equal(next.status, 201);
    await next.body?.cancel();
    const [{ completions }] = await t.db.sql`
      SELECT completions FROM completion_rate WHERE account_id = ${session.account.id}`;
    assert.ok(completions <= 2, `${completions} counted`);
    assert.equal(await rows(t, session.account.id), 2);
  } finally {
    await t.close();
  }
});
