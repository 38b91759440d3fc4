/**
 * Rules of an action (API.md "Actions"): a limit per window (day, week, month, ever) and a
 * cooldown, set by operators, enforced by the completion statement, and shown to each player by
 * GET /me/actions. Run as it is against both ways an instance runs: with Redis, and on PostgreSQL
 * alone. The clock is injected, so that windows turn when a test says so.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { insertCompletions } from "../src/actions/queries.ts";
import { windowsByPeriod } from "../src/leaderboard/periods.ts";
import { type FakeClock, fakeClock } from "./clock.ts";
import {
  ADMIN_TOKEN,
  complete,
  eventually,
  openTestApp,
  problem,
  register,
  type SessionBody,
  type TestApp,
} from "./helpers.ts";

const MODES: Record<string, Record<string, string>> = {
  "redis": {},
  "postgres only": { REDIS_URL: "" },
};

type Limit = { count: number; per: string } | null;

/** Adds an action with rules through the operator API; answers its slug. */
async function ruled(
  t: TestApp,
  rules: { limit?: Limit; cooldownSeconds?: number | null },
  pointValue = 10,
): Promise<string> {
  const slug = `rule-${crypto.randomUUID().slice(0, 8)}`;
  const res = await t.call("POST", "/admin/actions", {
    token: ADMIN_TOKEN,
    body: { slug, label: `Rule ${slug}`, pointValue, ...rules },
  });
  assert.equal(res.status, 201, await res.clone().text());
  const action = await res.json();
  assert.deepEqual([action.limit, action.cooldownSeconds], [
    rules.limit ?? null,
    rules.cooldownSeconds ?? null,
  ]);
  return slug;
}

/** Completes and expects a 201. */
async function completed(t: TestApp, session: SessionBody, slug: string, key?: string) {
  const res = await complete(t, session.accessToken, slug, key);
  assert.equal(res.status, 201, await res.clone().text());
  return await res.json();
}

/** Completes and expects the rule's 409; answers its `retryAt` and `Retry-After`. */
async function refused(t: TestApp, session: SessionBody, slug: string, key?: string) {
  const res = await complete(t, session.accessToken, slug, key);
  assert.equal(res.status, 409, await res.clone().text());
  const body = await problem(res);
  assert.equal(body.type, "urn:scoreboard:problem:action-limit");
  assert.ok("retryAt" in body, "retryAt is always a member");
  return { retryAt: body.retryAt as string | null, retryAfter: res.headers.get("retry-after") };
}

/** GET /me/actions: the caller's standing with `slug`. */
async function standingOf(t: TestApp, session: SessionBody, slug: string) {
  const res = await t.call("GET", "/me/actions", { token: session.accessToken });
  assert.equal(res.status, 200);
  const { actions } = await res.json();
  const action = actions.find((a: { slug: string }) => a.slug === slug);
  assert.ok(action, `${slug} in GET /me/actions`);
  return { remaining: action.remaining, availableAt: action.availableAt };
}

/** The account's log rows, ledger total and idempotency keys. */
async function written(t: TestApp, accountId: number) {
  const [row] = await t.db.sql`
    SELECT (SELECT count(*)::int FROM action_log WHERE account_id = ${accountId}) AS logged,
           (SELECT total_points FROM score_ledger WHERE account_id = ${accountId}) AS total,
           (SELECT count(*)::int FROM completion_idempotency_keys
            WHERE account_id = ${accountId}) AS keys`;
  return { logged: row.logged, total: row.total, keys: row.keys };
}

for (const [mode, env] of Object.entries(MODES)) {
  const test = (name: string, fn: (t: TestApp, clock: FakeClock) => Promise<void>) =>
    Deno.test(`[rules, ${mode}] ${name}`, async () => {
      const clock = fakeClock("2026-12-03T12:00:00.000Z");
      const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000", ...env }, { clock });
      try {
        await fn(t, clock);
      } finally {
        await t.close();
      }
    });

  test("once a day: 23:59:59.999 is still the day, 00:00 UTC is the next", async (t, clock) => {
    const slug = await ruled(t, { limit: { count: 1, per: "day" } });
    const ada = await register(t);
    clock.set("2026-12-03T23:59:59.000Z");
    const first = await completed(t, ada, slug);
    assert.equal(first.totalPoints, 10);
    assert.deepEqual(await refused(t, ada, slug), {
      retryAt: "2026-12-04T00:00:00.000Z",
      retryAfter: "1",
    });
    clock.set("2026-12-03T23:59:59.999Z");
    assert.equal((await refused(t, ada, slug)).retryAt, "2026-12-04T00:00:00.000Z");
    // Nothing was written by the refusals.
    assert.deepEqual(await written(t, ada.account.id), { logged: 1, total: 10, keys: 0 });
    clock.set("2026-12-04T00:00:00.000Z");
    assert.equal((await completed(t, ada, slug)).totalPoints, 20);
    // The day board turned with it: the new day has this completion alone.
    const me = await (await t.call("GET", "/me", { token: ada.accessToken })).json();
    assert.equal(me.periods.day.totalPoints, 10);
  });

  test("a weekly limit turns on Monday 00:00 UTC, a monthly one on the 1st", async (t, clock) => {
    const weekly = await ruled(t, { limit: { count: 1, per: "week" } });
    const monthly = await ruled(t, { limit: { count: 1, per: "month" } });
    const ada = await register(t);
    clock.set("2026-12-06T23:59:59.999Z"); // a Sunday
    await completed(t, ada, weekly);
    assert.deepEqual(await refused(t, ada, weekly), {
      retryAt: "2026-12-07T00:00:00.000Z",
      retryAfter: "1",
    });
    clock.set("2026-12-07T00:00:00.000Z");
    await completed(t, ada, weekly);

    clock.set("2026-12-31T23:59:59.999Z");
    await completed(t, ada, monthly);
    assert.equal((await refused(t, ada, monthly)).retryAt, "2027-01-01T00:00:00.000Z");
    clock.set("2027-01-01T00:00:00.000Z");
    await completed(t, ada, monthly);
  });

  test("ever: spent for good, 409 with retryAt null and no Retry-After", async (t, clock) => {
    const slug = await ruled(t, { limit: { count: 2, per: "ever" } });
    const ada = await register(t);
    await completed(t, ada, slug);
    await completed(t, ada, slug);
    assert.deepEqual(await refused(t, ada, slug), { retryAt: null, retryAfter: null });
    assert.deepEqual(await standingOf(t, ada, slug), { remaining: 0, availableAt: null });
    clock.set("2028-01-01T00:00:00.000Z");
    assert.deepEqual(await refused(t, ada, slug), { retryAt: null, retryAfter: null });
    // Another account has its own count.
    await completed(t, await register(t), slug);
  });

  test("a cooldown refuses until it has passed, to the millisecond", async (t, clock) => {
    const slug = await ruled(t, { cooldownSeconds: 60 });
    const ada = await register(t);
    clock.set("2026-12-03T12:00:00.000Z");
    await completed(t, ada, slug);
    clock.set("2026-12-03T12:00:59.999Z");
    assert.deepEqual(await refused(t, ada, slug), {
      retryAt: "2026-12-03T12:01:00.000Z",
      retryAfter: "1",
    });
    assert.deepEqual(await standingOf(t, ada, slug), {
      remaining: null,
      availableAt: "2026-12-03T12:01:00.000Z",
    });
    clock.set("2026-12-03T12:01:00.000Z");
    await completed(t, ada, slug);
    clock.set("2026-12-03T12:01:30.000Z");
    assert.deepEqual(await refused(t, ada, slug), {
      retryAt: "2026-12-03T12:02:00.000Z",
      retryAfter: "30",
    });
  });

  test(
    "3 a day: remaining goes 3, 2, 1, 0 and the fourth is refused; a cooldown adds up",
    async (t, clock) => {
      const slug = await ruled(t, { limit: { count: 3, per: "day" }, cooldownSeconds: 3600 });
      const ada = await register(t);
      clock.set("2026-12-03T08:00:00.000Z");
      assert.deepEqual(await standingOf(t, ada, slug), { remaining: 3, availableAt: null });
      await completed(t, ada, slug);
      assert.deepEqual(await standingOf(t, ada, slug), {
        remaining: 2,
        availableAt: "2026-12-03T09:00:00.000Z",
      });
      assert.equal((await refused(t, ada, slug)).retryAt, "2026-12-03T09:00:00.000Z");
      clock.set("2026-12-03T09:00:00.000Z");
      await completed(t, ada, slug);
      clock.set("2026-12-03T23:30:00.000Z");
      await completed(t, ada, slug);
      assert.deepEqual(await standingOf(t, ada, slug), {
        remaining: 0,
        availableAt: "2026-12-04T00:30:00.000Z", // the day turns first, the cooldown ends later
      });
      assert.deepEqual(await refused(t, ada, slug), {
        retryAt: "2026-12-04T00:30:00.000Z",
        retryAfter: "3600",
      });
      clock.set("2026-12-04T00:30:00.000Z");
      assert.deepEqual(await standingOf(t, ada, slug), { remaining: 3, availableAt: null });
    },
  );

  test("GET /me/actions: every active action, with or without rules, fresh, used and spent", async (t) => {
    const free = await ruled(t, {});
    const daily = await ruled(t, { limit: { count: 2, per: "day" } });
    const once = await ruled(t, { limit: { count: 1, per: "ever" } });
    const ada = await register(t);
    const res = await t.call("GET", "/me/actions", { token: ada.accessToken });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    const { actions } = await res.json();
    const mine = actions.filter((a: { slug: string }) => [free, daily, once].includes(a.slug));
    assert.deepEqual(mine.map((a: { slug: string }) => a.slug), [free, daily, once].sort());
    assert.deepEqual(Object.keys(mine[0]).sort(), [
      "availableAt",
      "cooldownSeconds",
      "createdAt",
      "label",
      "limit",
      "pointValue",
      "remaining",
      "retiredAt",
      "slug",
    ]);
    assert.deepEqual(await standingOf(t, ada, free), { remaining: null, availableAt: null });
    await completed(t, ada, free);
    assert.deepEqual(await standingOf(t, ada, free), { remaining: null, availableAt: null });
    await completed(t, ada, daily);
    assert.deepEqual(await standingOf(t, ada, daily), { remaining: 1, availableAt: null });
    await completed(t, ada, daily);
    assert.deepEqual(await standingOf(t, ada, daily), {
      remaining: 0,
      availableAt: "2026-12-04T00:00:00.000Z",
    });
    await completed(t, ada, once);
    assert.deepEqual(await standingOf(t, ada, once), { remaining: 0, availableAt: null });
    assert.equal((await t.call("GET", "/me/actions")).status, 401);
  });

  test(
    "a refusal writes no key; a replay of an accepted key is still 200 once the rule is spent",
    async (t, clock) => {
      const slug = await ruled(t, { limit: { count: 1, per: "day" } });
      const ada = await register(t);
      const first = await completed(t, ada, slug, "key-a");
      const replay = await complete(t, ada.accessToken, slug, "key-a");
      assert.equal(replay.status, 200);
      assert.equal((await replay.json()).completion.id, first.completion.id);
      await refused(t, ada, slug, "key-b");
      assert.deepEqual(await written(t, ada.account.id), { logged: 1, total: 10, keys: 1 });
      // key-b was never taken: tomorrow it completes.
      clock.set("2026-12-04T00:00:01.000Z");
      await completed(t, ada, slug, "key-b");
    },
  );

  test("a rule set or changed counts the window's completions already made; null clears it", async (t) => {
    const slug = await ruled(t, {});
    const ada = await register(t);
    await completed(t, ada, slug);
    await completed(t, ada, slug);
    const patch = (body: unknown) =>
      t.call("PATCH", `/admin/actions/${slug}`, { token: ADMIN_TOKEN, body });
    let res = await patch({ limit: { count: 2, per: "day" } });
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).limit, { count: 2, per: "day" });
    await refused(t, ada, slug);
    res = await patch({ limit: { count: 3, per: "week" }, cooldownSeconds: 10 });
    assert.deepEqual(
      [(await res.json()).cooldownSeconds, (await standingOf(t, ada, slug)).remaining],
      [10, 1],
    );
    await refused(t, ada, slug); // the cooldown
    res = await patch({ cooldownSeconds: null, label: "Renamed" });
    const changed = await res.json();
    assert.deepEqual([changed.label, changed.limit, changed.cooldownSeconds], [
      "Renamed",
      { count: 3, per: "week" },
      null,
    ]);
    await completed(t, ada, slug);
    await refused(t, ada, slug);
    res = await patch({ limit: null });
    assert.equal((await res.json()).limit, null);
    await completed(t, ada, slug);
    // What the catalogue shows, to everyone and to operators.
    const list = await (await t.call("GET", "/actions")).json();
    const shown = list.actions.find((a: { slug: string }) => a.slug === slug);
    assert.deepEqual([shown.limit, shown.cooldownSeconds], [null, null]);
    const admin = await (await t.call("GET", "/admin/actions", { token: ADMIN_TOKEN })).json();
    assert.ok(admin.actions.some((a: { slug: string }) => a.slug === slug));
  });

  test("a rule set again counts the completions made while it was cleared", async (t) => {
    const slug = await ruled(t, { limit: { count: 3, per: "day" } });
    const ada = await register(t);
    await completed(t, ada, slug); // counted under the rule: one
    const patch = async (body: unknown) => {
      const res = await t.call("PATCH", `/admin/actions/${slug}`, { token: ADMIN_TOKEN, body });
      assert.equal(res.status, 200);
      await res.body?.cancel();
    };
    await patch({ limit: null });
    await completed(t, ada, slug);
    await completed(t, ada, slug);
    await patch({ limit: { count: 3, per: "day" } });
    assert.equal((await standingOf(t, ada, slug)).remaining, 0);
    await refused(t, ada, slug);
  });

  test(
    "a replay that waited for the request it repeats counts nothing against the rule",
    async (t, clock) => {
      // Two statements with one key, from two instances: both wait on the account's row, held here.
      const slug = await ruled(t, { limit: { count: 3, per: "day" } });
      const ada = await register(t);
      await completed(t, ada, slug);
      const holder = await t.db.sql.reserve();
      const [a, b] = [0, 1].map(() => postgres(t.db.url, { max: 1, onnotice: () => {} }));
      try {
        await holder`BEGIN`;
        await holder`SELECT 1 FROM completion_rate WHERE account_id = ${ada.account.id} FOR UPDATE`;
        const at = new Date(clock.now());
        const completion = {
          accountId: ada.account.id,
          sessionId: null,
          slug,
          key: "the-key",
          at,
          windows: windowsByPeriod(at.getTime()),
        };
        const racing = [a, b].map((db) => insertCompletions(db, [completion], 1000));
        await eventually(async () => {
          const [{ n }] = await t.db.sql`
          SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock'`;
          return n === 2;
        });
        await holder`COMMIT`;
        const written = await Promise.all(racing);
        assert.deepEqual(written.map((w) => w.size).sort(), [0, 1]);
      } finally {
        holder.release();
        await Promise.all([a, b].map((db) => db.end({ timeout: 5 })));
      }
      // Two made, one left: the replay took nothing from it.
      assert.equal((await standingOf(t, ada, slug)).remaining, 1);
      await completed(t, ada, slug);
      await refused(t, ada, slug);
    },
  );

  test("bad rules are 400 problems naming the field, and change nothing", async (t) => {
    const bad: [unknown, string][] = [
      [{ limit: { count: 0, per: "day" } }, "limit.count"],
      [{ limit: { count: 1001, per: "day" } }, "limit.count"],
      [{ limit: { count: 1.5, per: "day" } }, "limit.count"],
      [{ limit: { count: "1", per: "day" } }, "limit.count"],
      [{ limit: { count: 1, per: "year" } }, "limit.per"],
      [{ limit: { count: 1 } }, "limit.per"],
      [{ limit: "daily" }, "limit"],
      [{ cooldownSeconds: 0 }, "cooldownSeconds"],
      [{ cooldownSeconds: 2_592_001 }, "cooldownSeconds"],
      [{ cooldownSeconds: 0.5 }, "cooldownSeconds"],
      [{ cooldownSeconds: "60" }, "cooldownSeconds"],
    ];
    const slug = await ruled(t, { limit: { count: 1, per: "day" } });
    for (const [rules, path] of bad) {
      const created = await t.call("POST", "/admin/actions", {
        token: ADMIN_TOKEN,
        body: { slug: "rule-bad", label: "Bad", pointValue: 1, ...rules as object },
      });
      assert.equal(created.status, 400, JSON.stringify(rules));
      const errors = (await problem(created)).errors as { path: string }[];
      assert.ok(errors.some((e) => e.path === path), `${JSON.stringify(rules)}: ${path}`);
      const changed = await t.call("PATCH", `/admin/actions/${slug}`, {
        token: ADMIN_TOKEN,
        body: rules,
      });
      assert.equal(changed.status, 400, JSON.stringify(rules));
      await changed.body?.cancel();
    }
    const { actions } = await (await t.call("GET", "/admin/actions", { token: ADMIN_TOKEN }))
      .json();
    assert.ok(!actions.some((a: { slug: string }) => a.slug === "rule-bad"));
    const kept = actions.find((a: { slug: string }) => a.slug === slug);
    assert.deepEqual([kept.limit, kept.cooldownSeconds], [{ count: 1, per: "day" }, null]);
  });

  test("20 racing completions of a once-a-day action by one account: exactly one 201", async (t) => {
    const slug = await ruled(t, { limit: { count: 1, per: "day" } });
    const ada = await register(t);
    // They wait for a statement together: one account's go one after the other (batches.ts).
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => complete(t, ada.accessToken, slug)),
    );
    const statuses = answers.map((res) => res.status);
    await Promise.all(answers.map((res) => res.body?.cancel()));
    assert.deepEqual(statuses.filter((s) => s === 201).length, 1, String(statuses));
    assert.deepEqual(statuses.filter((s) => s === 409).length, 19, String(statuses));
    assert.deepEqual(await written(t, ada.account.id), { logged: 1, total: 10, keys: 0 });
  });
}
