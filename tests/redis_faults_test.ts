/**
 * Redis failing under a real server: a Redis that stalls (SIGSTOP: connections stay open, nothing
 * answers) costs no hang, and streams keep moving on the instance's own completions while Redis
 * is away. Each test freezes or stops a Redis of its own.
 */
import assert from "node:assert/strict";
import {
  complete,
  createAction,
  createTestDatabase,
  eventually,
  httpClient,
  randomPrefix,
  register,
  testEnv,
} from "./helpers.ts";
import { startTestRedis } from "./redis_server.ts";
import { startServer } from "./server.ts";
import { openStream } from "./sse.ts";

/** No request may hang: a generous bound, far beyond the few seconds the service promises. */
const HANG = 15_000;

async function setup() {
  const redis = await startTestRedis();
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const server = await startServer(
    testEnv(db, prefix, {
      REDIS_URL: redis.url,
      COMPLETIONS_PER_SECOND: "1000",
      REDIS_COMMAND_TIMEOUT_MS: "300",
    }),
  );
  const get = (path: string, token?: string) =>
    fetch(`${server.url}${path}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(HANG),
    });
  return {
    redis,
    server,
    api: httpClient(server.url),
    get,
    async close() {
      redis.resume();
      await server.stop();
      await db.drop();
      await redis.stop();
    },
  };
}

Deno.test("[redis faults] a Redis that stalls costs no hang: completions, reads, /me, new streams all answer", async () => {
  const c = await setup();
  try {
    const { slug } = await createAction(c.api, 3);
    const [x, y] = [await register(c.api), await register(c.api)];
    for (const s of [x, y, y]) await (await complete(c.api, s.accessToken, slug)).body?.cancel();

    c.redis.pause();
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${c.server.url}/actions/${slug}/complete`, {
        method: "POST",
        headers: { authorization: `Bearer ${x.accessToken}` },
        signal: AbortSignal.timeout(HANG),
      });
      assert.equal(res.status, 201);
      const body = await res.json();
      assert.equal(body.totalPoints, 3 * (i + 2));
      assert.equal(body.rank, 1);
    }
    const board = await (await c.get("/leaderboard")).json();
    assert.deepEqual(board.entries.map((e: { totalPoints: number }) => e.totalPoints), [12, 6]);
    const me = await c.get("/me", y.accessToken);
    assert.equal(me.status, 200);
    assert.equal((await me.json()).rank, 2);
    const ready = await c.get("/readyz");
    assert.equal(ready.status, 200);
    assert.equal((await ready.json()).redis, "down");
    const stream = await openStream(`${c.server.url}/leaderboard/stream?period=day`);
    try {
      const first = JSON.parse((await stream.next(HANG)).data);
      assert.deepEqual(first.entries.map((e: { totalPoints: number }) => e.totalPoints), [12, 6]);
    } finally {
      await stream.close();
    }

    // Thawed, the copy catches up with what was written meanwhile.
    c.redis.resume();
    await eventually(async () => {
      const copy = await fetch(`${c.server.url}/leaderboard/accounts/${x.account.id}`);
      return copy.status === 200 && (await copy.json()).totalPoints === 12;
    }, HANG);
  } finally {
    await c.close();
  }
});

Deno.test("[redis faults] while Redis is away, the instance's own completions still reach its streams", async () => {
  const c = await setup();
  try {
    const { slug } = await createAction(c.api, 4);
    const s = await register(c.api);
    const stream = await openStream(`${c.server.url}/leaderboard/stream`);
    try {
      assert.deepEqual(JSON.parse((await stream.next(HANG)).data).entries, []);
      await c.redis.stop();
      // Once the instance knows Redis is gone (and has read the board again for it), a
      // completion made here must still reach this instance's stream.
      await eventually(async () => (await (await c.get("/readyz")).json()).redis === "down");
      const res = await complete(c.api, s.accessToken, slug);
      assert.equal(res.status, 201);
      await res.body?.cancel();
      const update = JSON.parse(
        (await stream.until((e) => e.event === "leaderboard", HANG)).data,
      );
      assert.deepEqual(update.entries.map((e: { totalPoints: number }) => e.totalPoints), [4]);
    } finally {
      await stream.close();
    }
  } finally {
    await c.close();
  }
});

Deno.test("[redis faults] HEAD /leaderboard/stream opens no stream", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const server = await startServer(testEnv(db, prefix, { SSE_MAX_CLIENTS: "3" }));
  try {
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${server.url}/leaderboard/stream`, { method: "HEAD" });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
      await res.body?.cancel();
    }
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^scoreboard_sse_open_streams 0$/m);
    const stream = await openStream(`${server.url}/leaderboard/stream`);
    try {
      assert.equal((await stream.next(HANG)).event, "leaderboard");
    } finally {
      await stream.close();
    }
  } finally {
    await server.stop();
    await db.drop();
  }
});
