/**
 * PostgreSQL going away under a real server: quick, honest 503s where the truth is needed, the
 * boards and the stream served from Redis meanwhile, nothing half-written, and recovery by
 * itself — after a restart under load too. Each test stops a PostgreSQL cluster of its own.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import postgres from "postgres";
import {
  clearRedisPrefix,
  complete,
  createAction,
  eventually,
  httpClient,
  problem,
  randomPrefix,
  REDIS_URL,
  register,
  type TestDatabase,
  testEnv,
} from "./helpers.ts";
import { startTestPostgres, type TestPostgres } from "./pg_server.ts";
import { startServer, type TestServer } from "./server.ts";
import { openStream } from "./sse.ts";

/** No request may hang: a generous bound, far beyond the few seconds the service promises. */
const HANG = 15_000;

async function setup(env: Record<string, string> = {}) {
  const pg = await startTestPostgres();
  const prefix = randomPrefix();
  let server: TestServer | undefined;
  try {
    const url = await pg.migrated("scoreboard");
    server = await startServer(
      testEnv({ url } as TestDatabase, prefix, { COMPLETIONS_PER_SECOND: "1000", ...env }),
    );
  } catch (error) {
    await pg.drop();
    throw error;
  }
  return {
    pg,
    prefix,
    server,
    api: httpClient(server.url),
    get: (path: string, token?: string) =>
      fetch(`${server!.url}${path}`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
        signal: AbortSignal.timeout(HANG),
      }),
    async close() {
      await server!.stop();
      await pg.drop();
      await clearRedisPrefix(prefix);
    },
  };
}

async function ledgerMatchesLog(pg: TestPostgres): Promise<void> {
  const sql = postgres(pg.url("scoreboard"), { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ account_id: number; total: number; logged: number }[]>`
      SELECT s.account_id, s.total_points AS total,
             (SELECT sum(points_earned)::int FROM action_log l WHERE l.account_id = s.account_id)
               AS logged
      FROM score_ledger s`;
    for (const row of rows) assert.equal(row.total, row.logged, `account ${row.account_id}`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function copyMatchesLedger(pg: TestPostgres, prefix: string): Promise<boolean> {
  const sql = postgres(pg.url("scoreboard"), { max: 1, onnotice: () => {} });
  const redis = new Redis(REDIS_URL);
  try {
    const rows = await sql<{ account_id: number; total_points: number }[]>`
      SELECT account_id, total_points FROM score_ledger`;
    const scores = await redis.zmscore(`${prefix}leaderboard`, ...rows.map((r) => r.account_id));
    return rows.every((row, i) => Number(scores[i]) === row.total_points);
  } finally {
    redis.disconnect();
    await sql.end({ timeout: 5 });
  }
}

Deno.test("[postgres away] 503s with Retry-After where it is needed, the boards from Redis, recovery by itself", async () => {
  const c = await setup();
  try {
    const { slug } = await createAction(c.api, 10);
    const [x, y] = [await register(c.api), await register(c.api)];
    for (const s of [x, y, y]) await (await complete(c.api, s.accessToken, slug)).body?.cancel();
    const board = await (await c.get("/leaderboard")).json();

    await c.pg.stop();

    const needsTruth: [string, string, unknown?, string?][] = [
      ["POST", `/actions/${slug}/complete`, undefined, x.accessToken],
      ["GET", "/me", undefined, x.accessToken],
      ["GET", "/me/completions", undefined, x.accessToken],
      ["GET", "/actions"],
      ["POST", "/auth/login", { email: "a@example.com", password: "whatever1" }],
      ["POST", "/auth/register", {
        username: "newbie",
        email: "n@example.com",
        password: "12345678",
      }],
      ["POST", "/auth/refresh", { refreshToken: x.refreshToken }],
      ["GET", "/leaderboard?period=day&at=2020-01-01"],
      ["GET", "/readyz"],
    ];
    for (const [method, path, body, token] of needsTruth) {
      const res = await fetch(`${c.server.url}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body ? { "content-type": "application/json" } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(HANG),
      });
      assert.equal(res.status, 503, `${method} ${path}`);
      assert.match(res.headers.get("retry-after") ?? "", /^\d+$/, `${method} ${path}`);
      assert.equal((await problem(res)).status, 503);
    }

    // The current boards are in Redis, usernames included.
    const now = await c.get("/leaderboard");
    assert.equal(now.status, 200);
    assert.deepEqual(await now.json(), board);
    for (
      const path of [
        "/leaderboard?period=week",
        `/leaderboard/accounts/${x.account.id}`,
        `/leaderboard/accounts/${x.account.id}/around?period=day`,
        `/leaderboard/accounts?ids=${x.account.id},${y.account.id}`,
      ]
    ) {
      const res = await c.get(path);
      assert.equal(res.status, 200, path);
      await res.body?.cancel();
    }
    const stream = await openStream(`${c.server.url}/leaderboard/stream`);
    try {
      const first = JSON.parse((await stream.next(HANG)).data);
      assert.deepEqual(first.entries, board.entries);
    } finally {
      await stream.close();
    }

    await c.pg.start();
    await eventually(async () => {
      const res = await complete(c.api, x.accessToken, slug);
      await res.body?.cancel();
      return res.status === 201;
    }, HANG);
    const me = await (await c.get("/me", x.accessToken)).json();
    assert.equal(me.totalPoints, 20);
    const ready = await c.get("/readyz");
    assert.equal(ready.status, 200);
    await ready.body?.cancel();
    await ledgerMatchesLog(c.pg);
  } finally {
    await c.close();
  }
});

Deno.test("[postgres away] a restart under load: every request answers, the pool recovers, nothing is half-written", async () => {
  const c = await setup();
  try {
    const { slug } = await createAction(c.api, 1);
    const sessions = await Promise.all(Array.from({ length: 32 }, () => register(c.api)));
    const statuses = new Map<number, number>();
    let stop = false;
    let last = 0;
    const clients = sessions.map(async (s) => {
      while (!stop) {
        // A request that gets no answer (a hang, a server gone) counts as status 0: the test then
        // fails on its statuses, and still cleans up.
        const status = await fetch(`${c.server.url}/actions/${slug}/complete`, {
          method: "POST",
          headers: { authorization: `Bearer ${s.accessToken}` },
          signal: AbortSignal.timeout(HANG),
        }).then(async (res) => (await res.body?.cancel(), res.status), () => 0);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        last = status;
        if (status === 0) await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });
    await eventually(() => Promise.resolve((statuses.get(201) ?? 0) > 50), HANG);
    await c.pg.stop();
    await eventually(() => Promise.resolve((statuses.get(503) ?? 0) > 10), HANG);
    await c.pg.start();
    // It heals by itself: completions succeed again, and keep succeeding.
    const before = statuses.get(201) ?? 0;
    await eventually(() => Promise.resolve((statuses.get(201) ?? 0) > before + 100), HANG);
    stop = true;
    await Promise.all(clients);
    assert.equal(last, 201);
    assert.deepEqual([...statuses.keys()].sort(), [201, 503]);
    await ledgerMatchesLog(c.pg);
    // Redis holds what PostgreSQL holds, once the repairs ran.
    await eventually(() => copyMatchesLedger(c.pg, c.prefix), HANG);
  } finally {
    await c.close();
  }
});

Deno.test("[postgres away] an instance that starts while PostgreSQL is away serves the boards from Redis, and becomes ready when it answers", async () => {
  const c = await setup();
  let late: TestServer | undefined;
  try {
    const { slug } = await createAction(c.api, 6);
    const [x, y] = [await register(c.api), await register(c.api)];
    for (const s of [x, y, x]) await (await complete(c.api, s.accessToken, slug)).body?.cancel();
    const board = await (await c.get("/leaderboard?period=week")).json();
    await c.pg.stop();

    // A new instance: no usernames in its memory, no PostgreSQL to ask.
    late = await startServer(
      testEnv({ url: c.pg.url("scoreboard") } as TestDatabase, c.prefix, {
        COMPLETIONS_PER_SECOND: "1000",
      }),
    );
    const get = (path: string) =>
      fetch(`${late!.url}${path}`, { signal: AbortSignal.timeout(HANG) });
    const ready = await get("/readyz");
    assert.equal(ready.status, 503);
    await problem(ready);
    const now = await get("/leaderboard?period=week");
    assert.equal(now.status, 200);
    assert.deepEqual(await now.json(), board);
    const stream = await openStream(`${late.url}/leaderboard/stream`);
    try {
      const first = JSON.parse((await stream.next(HANG)).data);
      assert.deepEqual(first.entries.map((e: { username: string }) => e.username), [
        x.account.username,
        y.account.username,
      ]);
    } finally {
      await stream.close();
    }
    const refused = await httpClient(late.url).call("POST", `/actions/${slug}/complete`, {
      token: x.accessToken,
    });
    assert.equal(refused.status, 503);
    assert.match(refused.headers.get("retry-after") ?? "", /^\d+$/);
    await problem(refused);

    await c.pg.start();
    await eventually(async () => {
      const res = await get("/readyz");
      await res.body?.cancel();
      return res.status === 200;
    }, HANG);
    const done = await complete(httpClient(late.url), x.accessToken, slug);
    assert.equal(done.status, 201);
    assert.equal((await done.json()).totalPoints, 18);
  } finally {
    await late?.stop();
    await c.close();
  }
});
