/** The Redis copy of the boards: its keys, its loss and its rebuilds (Redis mode only). */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { createRedisCopy, type RedisCopy } from "../src/leaderboard/copy.ts";
import { isoDate, windowAt } from "../src/leaderboard/periods.ts";
import {
  accountsWith,
  clearRedisPrefix,
  complete,
  createAction,
  eventually,
  openTestApp,
  randomPrefix,
  REDIS_URL,
  register,
  type TestApp,
} from "./helpers.ts";
import { startTestRedis } from "./redis_server.ts";

const PERIODS = ["all", "day", "week", "month"] as const;

/** The Redis key of each current board. */
function boardKeys(t: TestApp): string[] {
  const now = Date.now();
  return PERIODS.map((period) => {
    const start = windowAt(period, now).start;
    return `${t.prefix}leaderboard${start ? `:${period}:${isoDate(start)}` : ""}`;
  });
}

async function boards(t: TestApp) {
  const all = [];
  for (const period of PERIODS) {
    const res = await t.call("GET", `/leaderboard?period=${period}&limit=100`);
    assert.equal(res.status, 200);
    all.push(await res.json());
  }
  return all;
}

Deno.test("[copy] each current window has a sorted set named by its start, expiring after it", async () => {
  const t = await openTestApp();
  try {
    const [s] = await accountsWith(t, [2]);
    const keys = boardKeys(t);
    assert.match(keys[2], /leaderboard:week:\d{4}-\d{2}-\d{2}$/);
    for (const key of keys) {
      assert.equal(await t.redis.zscore(key, String(s.account.id)), "2", key);
    }
    assert.equal(await t.redis.ttl(keys[0]), -1, "all time never expires");
    for (const [i, period] of (["day", "week", "month"] as const).entries()) {
      const end = windowAt(period, Date.now()).end!.getTime();
      const ttl = await t.redis.ttl(keys[i + 1]);
      // Some time after its window ends: never before, and not forever.
      assert.ok(ttl * 1000 > end - Date.now(), `${period}: ${ttl}`);
      assert.ok(ttl * 1000 < end - Date.now() + 2 * 24 * 3600 * 1000, `${period}: ${ttl}`);
    }
  } finally {
    await t.close();
  }
});

Deno.test("[copy] a set deleted behind the service's back is rebuilt, though a write re-created it", async () => {
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000" });
  try {
    const [leader, second] = await accountsWith(t, [9, 7]);
    const before = await boards(t);
    const keys = boardKeys(t);
    await t.redis.del(...keys);

    // A newcomer scores: its write finds every board lost instead of starting a set of one.
    const { slug } = await createAction(t, 1);
    const newcomer = await register(t);
    assert.equal((await complete(t, newcomer.accessToken, slug)).status, 201);
    await eventually(async () => {
      for (const key of keys) if ((await t.redis.zcard(key)) !== 3) return false;
      return true;
    });
    const after = await boards(t);
    for (const [i, board] of after.entries()) {
      assert.deepEqual(
        board.entries.map((e: { accountId: number }) => e.accountId),
        [leader.account.id, second.account.id, newcomer.account.id],
      );
      assert.deepEqual(board.entries.slice(0, 2), before[i].entries);
    }
    const entry = await t.call("GET", `/leaderboard/accounts/${leader.account.id}?period=week`);
    assert.equal(entry.status, 200);
    assert.equal((await entry.json()).rank, 1);
  } finally {
    await t.close();
  }
});

Deno.test("[copy] after FLUSHALL every board comes back whole on the next read or write", async () => {
  const redis = await startTestRedis();
  const t = await openTestApp({ REDIS_URL: redis.url, COMPLETIONS_PER_SECOND: "1000" });
  try {
    const sessions = await accountsWith(t, [5, 3, 8]);
    const before = await boards(t);
    await t.redis.flushall();
    // The next write: a fourth account.
    const [late] = await accountsWith(t, [1]);
    await eventually(async () => {
      for (const key of boardKeys(t)) if ((await t.redis.zcard(key)) !== 4) return false;
      return true;
    });
    const after = await boards(t);
    for (const [i, board] of after.entries()) {
      assert.deepEqual(board.entries.slice(0, 3), before[i].entries);
      assert.equal(board.entries[3].accountId, late.account.id);
      assert.equal(board.total, 4);
    }
    assert.equal(sessions.length, 3);
  } finally {
    await t.close();
    await redis.stop();
  }
});

Deno.test("[copy] a rebuild from PostgreSQL equals what Redis had, in all four boards", async () => {
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000" });
  try {
    const [gone] = await accountsWith(t, [6, 4, 4, 9]);
    assert.equal((await t.call("DELETE", "/me", { token: gone.accessToken })).status, 204);
    const keys = boardKeys(t);
    const had = await Promise.all(keys.map((key) => t.redis.zrange(key, 0, -1, "WITHSCORES")));
    const before = await boards(t);
    assert.equal(had[0].length, 6);
    assert.ok(!had.flat().includes(String(gone.account.id)));

    // Corrupt every board: a stranger, a lowered score, the deleted account back.
    for (const key of keys) {
      await t.redis.zadd(key, 999, "424242", 1, had[0][0], 50, String(gone.account.id));
    }
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["task", "leaderboard:rebuild"],
      cwd: new URL("../", import.meta.url),
      env: { ...t.env, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    const out = new TextDecoder().decode(run.stdout);
    for (const period of PERIODS) assert.match(out, new RegExp(`rebuilt ${period}`));

    const rebuilt = await Promise.all(keys.map((key) => t.redis.zrange(key, 0, -1, "WITHSCORES")));
    assert.deepEqual(rebuilt, had);
    assert.deepEqual(await boards(t), before);
  } finally {
    await t.close();
  }
});

/** `rows` as a scan of one batch; `then` runs once the batch was taken (written). */
async function* oneBatch<T>(rows: T[], then?: () => Promise<unknown>): AsyncGenerator<T[]> {
  yield rows;
  await then?.();
}

/** Runs `body` with a copy of its own (a fresh prefix on the machine's Redis), then clears it. */
async function withCopy(body: (copy: RedisCopy, redis: Redis) => Promise<void>): Promise<void> {
  const prefix = randomPrefix();
  const redis = new Redis(REDIS_URL);
  try {
    const copy = createRedisCopy({
      redis,
      prefix,
      names: () => Promise.resolve(new Map()),
      onStray: () => {},
    });
    await body(copy, redis);
  } finally {
    redis.disconnect();
    await clearRedisPrefix(prefix);
  }
}

Deno.test("[copy] a set lost while it is brought up to date is left lost, not marked complete", async () => {
  await withCopy(async (copy, redis) => {
    const window = windowAt("all", Date.now());
    const rows = [
      { account_id: 1, username: "one", total_points: 5, hidden: false, revision: 1 },
      { account_id: 2, username: "two", total_points: 3, hidden: false, revision: 1 },
    ];
    // The set is flushed after the rows were written and before the board is marked.
    await copy.reconcile(window, oneBatch(rows, () => redis.del(copy.keys.board(window).set)));
    assert.equal(await copy.lost(window), true);
    assert.equal(await copy.entry(window, 1), undefined, "a read must not trust the board");

    // Brought up to date without interference, it is complete again.
    await copy.reconcile(window, oneBatch(rows));
    assert.equal(await copy.lost(window), false);
    assert.equal((await copy.entry(window, 1))?.rank, 1);
  });
});

Deno.test("[copy] a scan of PostgreSQL that fails after its first batch: a rebuild leaves the board lost, a replacement leaves the old one", async () => {
  await withCopy(async (copy) => {
    const window = windowAt("all", Date.now());
    const rows = [1, 2, 3].map((id) => ({
      account_id: id,
      username: `u${id}`,
      total_points: 10 * id,
      hidden: false,
      revision: 1,
    }));
    // What a cursor does when its connection closes between batches (vendor/README.md, 7).
    const cut = () =>
      oneBatch(rows.slice(0, 1), () => Promise.reject(new Error("connection lost")));

    await assert.rejects(copy.reconcile(window, cut()), /connection lost/);
    assert.equal(await copy.lost(window), true, "a board of the first batch is not complete");
    assert.equal(await copy.entry(window, 1), undefined, "a read must not trust the board");

    await copy.reconcile(window, oneBatch(rows));
    await assert.rejects(copy.replace(window, cut()), /connection lost/);
    assert.equal(await copy.lost(window), false);
    assert.deepEqual(
      await Promise.all(rows.map(async (row) => (await copy.entry(window, row.account_id))?.rank)),
      [3, 2, 1],
    );
  });
});

/** Every order of `items`. */
function orders<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) =>
    orders([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest])
  );
}

Deno.test("[copy] an account's states arriving in any order leave its newest on the board: up, down, hidden, back", async () => {
  await withCopy(async (copy) => {
    const now = Date.now();
    const windows = [windowAt("all", now), windowAt("week", now)];
    // Complete boards, holding another account.
    for (const window of windows) {
      await copy.reconcile(
        window,
        oneBatch([{
          account_id: 1,
          username: "other",
          total_points: 1,
          hidden: false,
          revision: 1,
        }]),
      );
    }
    // One account's history, as PostgreSQL numbers it: two completions, a void taking 5 points
    // back, a suspension, its lifting — each a revision, written by whichever instance made it.
    const history = [
      { revision: 1, hidden: false, total: 10 },
      { revision: 2, hidden: false, total: 20 },
      { revision: 3, hidden: false, total: 15 },
      { revision: 4, hidden: true, total: 15 },
      { revision: 5, hidden: false, total: 15 },
    ];
    let accountId = 100;
    for (const upTo of [3, 4, 5]) {
      const newest = history[upTo - 1];
      for (const order of orders(history.slice(0, upTo))) {
        accountId++;
        for (const state of order) {
          const totals = {
            all: state.total,
            day: state.total,
            week: state.total,
            month: state.total,
          };
          await copy.write(
            {
              accountId,
              username: `a${accountId}`,
              revision: state.revision,
              hidden: state.hidden,
              at: new Date(now),
              totals,
            },
            windows,
          );
        }
        const seen = order.map((s) => s.revision).join(",");
        for (const window of windows) {
          const entry = await copy.entry(window, accountId);
          const where = `${window.period}, revisions ${seen}`;
          if (newest.hidden) assert.equal(entry, null, where);
          else assert.equal(entry?.totalPoints, newest.total, where);
        }
      }
    }
    assert.equal(accountId, 100 + 6 + 24 + 120);
  });
});
