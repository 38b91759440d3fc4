import assert from "node:assert/strict";
import { loadConfig } from "../src/config.ts";
import { openRuntime } from "../src/runtime.ts";
import {
  accountsWith,
  complete,
  createAction,
  createTestDatabase,
  eventually,
  openTestApp,
  REDIS_URL,
  register,
} from "./helpers.ts";
import { startTestRedis } from "./redis_server.ts";

Deno.test("[resilience] completions commit while Redis is away, and the set is right once it is back", async () => {
  const redis = await startTestRedis();
  const t = await openTestApp({ REDIS_URL: redis.url, COMPLETIONS_PER_SECOND: "1000" });
  try {
    const { slug } = await createAction(t, 10);
    const [x, y] = [await register(t), await register(t)];
    await (await complete(t, x.accessToken, slug)).body?.cancel();
    await (await complete(t, y.accessToken, slug)).body?.cancel();

    await redis.stop();
    // Committed, with the rank computed by PostgreSQL.
    for (let i = 0; i < 3; i++) {
      const res = await complete(t, x.accessToken, slug);
      assert.equal(res.status, 201);
      const body = await res.json();
      assert.equal(body.totalPoints, 10 * (i + 2));
      assert.equal(body.rank, 1);
    }
    // Reads keep working from PostgreSQL.
    const board = await (await t.call("GET", "/leaderboard")).json();
    assert.deepEqual(board.entries.map((e: { totalPoints: number }) => e.totalPoints), [40, 10]);
    const me = await (await t.call("GET", "/me", { token: y.accessToken })).json();
    assert.equal(me.rank, 2);
    const ready = await t.call("GET", "/readyz");
    assert.equal(ready.status, 200);
    assert.equal((await ready.json()).redis, "down");

    // Redis comes back empty: the set is rebuilt with everything PostgreSQL holds.
    await redis.start();
    await eventually(async () => {
      const scores = await t.redis.zrevrange(`${t.prefix}leaderboard`, 0, -1, "WITHSCORES")
        .catch(() => []);
      return scores.join() === [x.account.id, 40, y.account.id, 10].join();
    }, 10_000);
    const after = await (await t.call("GET", "/leaderboard")).json();
    assert.deepEqual(after, board);
  } finally {
    await t.close();
    await redis.stop();
  }
});

Deno.test("[resilience] a completion whose Redis write fails is repaired when Redis answers again", async () => {
  const redis = await startTestRedis();
  const t = await openTestApp({ REDIS_URL: redis.url });
  try {
    const { slug } = await createAction(t, 5);
    const session = await register(t);
    await (await complete(t, session.accessToken, slug)).body?.cancel();
    const key = `${t.prefix}leaderboard`;
    // Redis refuses writes (as when it runs out of memory) but stays connected.
    await t.redis.config("SET", "min-replicas-to-write", "1");
    const res = await complete(t, session.accessToken, slug);
    assert.equal(res.status, 201);
    assert.equal((await res.json()).totalPoints, 10);
    assert.equal(await t.redis.zscore(key, String(session.account.id)), "5");
    await t.redis.config("SET", "min-replicas-to-write", "0");
    await eventually(async () => (await t.redis.zscore(key, String(session.account.id))) === "10");
  } finally {
    await t.close();
    await redis.stop();
  }
});

Deno.test("[resilience] an instance that starts and finds the set missing rebuilds it", async () => {
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000" });
  try {
    const [x, y] = await accountsWith(t, [3, 6]);
    await t.call("DELETE", "/me", { token: x.accessToken });
    const key = `${t.prefix}leaderboard`;
    await t.redis.del(key, `${key}:revisions`);

    const second = await openRuntime(loadConfig(t.env, 2));
    try {
      await eventually(async () => (await t.redis.zcard(key)) === 1);
      assert.deepEqual(await t.redis.zrange(key, 0, -1, "WITHSCORES"), [
        String(y.account.id),
        "6",
      ]);
      // the deleted account's revision is kept, so that a late write cannot bring it back
      assert.ok(Number(await t.redis.hget(`${key}:revisions`, String(x.account.id))) > 0);
    } finally {
      await second.close();
    }
  } finally {
    await t.close();
  }
});

Deno.test("[resilience] the cached top 10 spares Redis a round trip per request", async () => {
  const redis = await startTestRedis();
  const t = await openTestApp({ REDIS_URL: redis.url });
  try {
    const { slug } = await createAction(t, 5);
    const session = await register(t);
    await (await complete(t, session.accessToken, slug)).body?.cancel();
    const stats = async () => {
      const info = await t.redis.info("commandstats");
      return Number(/cmdstat_evalsha:calls=(\d+)/.exec(info)?.[1] ?? 0) +
        Number(/cmdstat_eval:calls=(\d+)/.exec(info)?.[1] ?? 0);
    };
    const before = await stats();
    for (let i = 0; i < 20; i++) {
      const res = await t.call("GET", "/leaderboard");
      assert.equal((await res.json()).entries[0].totalPoints, 5);
    }
    const scripts = (await stats()) - before;
    assert.ok(scripts <= 2, `${scripts} script calls for 20 reads`);
    // and a change is still seen at once
    await (await complete(t, session.accessToken, slug)).body?.cancel();
    const res = await t.call("GET", "/leaderboard");
    assert.equal((await res.json()).entries[0].totalPoints, 10);
  } finally {
    await t.close();
    await redis.stop();
  }
});

Deno.test("[resilience] deno task leaderboard:rebuild replaces a corrupted set", async () => {
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000" });
  try {
    const [x, y] = await accountsWith(t, [4, 8]);
    const key = `${t.prefix}leaderboard`;
    await t.redis.zadd(key, 999, "424242");
    await t.redis.zadd(key, 1, String(y.account.id));

    const run = await new Deno.Command(Deno.execPath(), {
      args: ["task", "leaderboard:rebuild"],
      cwd: new URL("../", import.meta.url),
      env: { ...t.env, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(run.stdout);
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    assert.match(out, new RegExp(`rebuilt the boards of ${key} from \\d+ rows`));
    assert.deepEqual(await t.redis.zrevrange(key, 0, -1, "WITHSCORES"), [
      String(y.account.id),
      "8",
      String(x.account.id),
      "4",
    ]);
  } finally {
    await t.close();
  }
});

Deno.test("[resilience] deno task leaderboard:rebuild: --help, and one clear line when a store does not answer", async () => {
  const db = await createTestDatabase();
  try {
    const run = async (args: string[], env: Record<string, string>) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["task", "-q", "leaderboard:rebuild", ...args],
        cwd: new URL("../", import.meta.url),
        env: { NO_COLOR: "1", ...env },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim();
      return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
    };
    const help = await run(["--help"], {});
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: deno task leaderboard:rebuild/);

    const noRedis = await run([], { DATABASE_URL: db.url, REDIS_URL: "redis://127.0.0.1:1" });
    assert.equal(noRedis.code, 69);
    assert.deepEqual(noRedis.stderr.split("\n").length, 1, noRedis.stderr);
    assert.match(noRedis.stderr, /Redis at redis:\/\/127\.0\.0\.1:1 does not answer/);

    const noPostgres = await run([], {
      DATABASE_URL: "postgres://someone:hunter2hunter2@127.0.0.1:1/scoreboard",
      REDIS_URL,
    });
    assert.equal(noPostgres.code, 69);
    assert.deepEqual(noPostgres.stderr.split("\n").length, 1, noPostgres.stderr);
    assert.match(
      noPostgres.stderr,
      /PostgreSQL at postgres:\/\/127\.0\.0\.1:1\/scoreboard does not/,
    );
    assert.ok(!noPostgres.stderr.includes("hunter2"), "no password in the message");
  } finally {
    await db.drop();
  }
});
