/**
 * The Redis shapes operators run, with real servers of the test's own (never the shared Redis):
 * a Sentinel group failing over under load, a replica that answers but refuses writes, and a
 * board that missed writes while the instance was away (what a failover loses).
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import type { Sql } from "postgres";
import {
  actionAndPlayers,
  clearRedisPrefix,
  createTestDatabase,
  eventually,
  randomPrefix,
  type SessionBody,
  testEnv,
} from "./helpers.ts";
import { startTestCluster, startTestRedis, startTestSentinels } from "./redis_server.ts";
import { openStream } from "./sse.ts";
import { Cluster } from "ioredis";
import { startServer } from "./server.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Each player completes as fast as it can until `stop()`; the statuses seen. */
function load(url: string, slug: string, sessions: SessionBody[]) {
  let running = true;
  const statuses: number[] = [];
  const done = Promise.all(sessions.map(async (session) => {
    while (running) {
      const res = await fetch(`${url}/actions/${slug}/complete`, {
        method: "POST",
        headers: { authorization: `Bearer ${session.accessToken}` },
      }).catch(() => null);
      statuses.push(res?.status ?? 0);
      await res?.body?.cancel();
    }
  }));
  return { stop: async () => (running = false, await done, statuses) };
}

/** The all-time board as PostgreSQL has it: account id → points (those shown). */
async function truth(sql: Sql): Promise<Record<string, number>> {
  const rows = await sql`
    SELECT account_id, total_points FROM score_ledger WHERE total_points > 0`;
  return Object.fromEntries(rows.map((row) => [String(row.account_id), row.total_points]));
}

/** The all-time board in Redis under `prefix`: account id → points. */
async function copyIn(redis: Redis, prefix: string): Promise<Record<string, number>> {
  const flat = await redis.zrange(`${prefix}leaderboard`, 0, -1, "WITHSCORES");
  const board: Record<string, number> = {};
  for (let i = 0; i < flat.length; i += 2) board[flat[i]] = Number(flat[i + 1]);
  return board;
}

/** Whether the board in Redis and the one the service answers both equal PostgreSQL's. */
async function boardsAgree(url: string, sql: Sql, redis: Redis, prefix: string) {
  const expected = await truth(sql);
  const served = await (await fetch(`${url}/leaderboard?limit=100`)).json();
  const answered = Object.fromEntries(
    served.entries.map((entry: { accountId: number; totalPoints: number }) => [
      String(entry.accountId),
      entry.totalPoints,
    ]),
  );
  return JSON.stringify(await copyIn(redis, prefix)) === JSON.stringify(expected) &&
    JSON.stringify(answered) === JSON.stringify(expected);
}

Deno.test("[sentinel] a failover under load: the instance follows the new master, and every board equals PostgreSQL", async () => {
  const group = await startTestSentinels();
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const server = await startServer(testEnv(db, prefix, {
    REDIS_URL: "",
    REDIS_SENTINELS: group.sentinels,
    REDIS_SENTINEL_NAME: group.name,
    COMPLETIONS_PER_SECOND: "100000",
  }));
  const direct = (port: number) => {
    const client = new Redis(port, "127.0.0.1", { maxRetriesPerRequest: 1 });
    client.on("error", () => {});
    return client;
  };
  const oldMaster = direct(group.master.port);
  const newMaster = direct(group.replica.port);
  try {
    const ready = await (await fetch(`${server.url}/readyz`)).json();
    assert.equal(ready.redis, "ok");
    const { slug, sessions } = await actionAndPlayers(server.url, 8);
    const running = load(server.url, slug, sessions);
    await sleep(1500);
    await group.failover();
    await sleep(2000);
    const statuses = await running.stop();
    assert.ok(statuses.filter((status) => status === 201).length > 100, "completions went on");
    assert.deepEqual(statuses.filter((status) => status !== 201), [], "no completion failed");
    // The instance writes to the new master, and its boards there equal PostgreSQL.
    assert.equal(await group.masterPort(), group.replica.port);
    await eventually(() => boardsAgree(server.url, db.sql, newMaster, prefix), 10_000);
    const after = await (await fetch(`${server.url}/readyz`)).json();
    assert.equal(after.redis, "ok");
    // The live feed goes through the new master too: a completion reaches the board at once.
    const res = await fetch(`${server.url}/actions/${slug}/complete`, {
      method: "POST",
      headers: { authorization: `Bearer ${sessions[0].accessToken}` },
    });
    assert.equal(res.status, 201);
    await res.body?.cancel();
    await eventually(() => boardsAgree(server.url, db.sql, newMaster, prefix));
  } finally {
    oldMaster.disconnect();
    newMaster.disconnect();
    await server.stop();
    await group.stop();
    await db.drop();
  }
});

Deno.test("[redis] a Redis that answers but refuses the service's writes (a replica) is `refusing`, never `ok`; refusals are counted", async () => {
  const master = await startTestRedis();
  const replica = await startTestRedis(["--replicaof", "127.0.0.1", String(master.port)]);
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const server = await startServer(testEnv(db, prefix, { REDIS_URL: replica.url }));
  try {
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 200, "PostgreSQL answers: the instance serves");
    const body = await ready.json();
    assert.equal(body.status, "degraded");
    assert.equal(body.redis, "refusing");
    assert.match(body.detail, /READONLY/);
    // It serves from PostgreSQL meanwhile, and counts what Redis refused.
    const { slug, sessions } = await actionAndPlayers(server.url, 1);
    const res = await fetch(`${server.url}/actions/${slug}/complete`, {
      method: "POST",
      headers: { authorization: `Bearer ${sessions[0].accessToken}` },
    });
    assert.equal(res.status, 201);
    await res.body?.cancel();
    const board = await (await fetch(`${server.url}/leaderboard`)).json();
    assert.equal(board.entries[0]?.accountId, sessions[0].account.id);
    await eventually(async () => {
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      return /^scoreboard_redis_refusals_total\{reply="READONLY"\} [1-9]/m.test(metrics);
    });
  } finally {
    await server.stop();
    await replica.stop();
    await master.stop();
    await db.drop();
  }
});

Deno.test("[redis] a start trusts no board: one that missed writes while the instance was away is brought up to PostgreSQL", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const env = testEnv(db, prefix, { COMPLETIONS_PER_SECOND: "1000" });
  const redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 1 });
  let server = await startServer(env);
  try {
    const { slug, sessions } = await actionAndPlayers(server.url, 3);
    for (const session of sessions) {
      const res = await fetch(`${server.url}/actions/${slug}/complete`, {
        method: "POST",
        headers: { authorization: `Bearer ${session.accessToken}` },
      });
      assert.equal(res.status, 201);
      await res.body?.cancel();
    }
    await eventually(() => boardsAgree(server.url, db.sql, redis, prefix));
    await server.stop();
    // What a failover leaves behind: the new master holds an older state of some accounts (its
    // revision and score from before their last completions) and none at all of another. The
    // board's marker still says it is whole.
    const [first, second, third] = sessions.map((session) => String(session.account.id));
    await redis.zadd(`${prefix}leaderboard`, 0.5, first);
    await redis.hset(`${prefix}leaderboard:revisions`, first, 0);
    await redis.zrem(`${prefix}leaderboard`, second);
    await redis.hdel(`${prefix}leaderboard:revisions`, second);
    await redis.zadd(`${prefix}leaderboard`, 1, third);
    assert.equal(await redis.get(`${prefix}leaderboard:built`), "1");
    assert.ok(!(await boardsAgree(server.url, db.sql, redis, prefix).catch(() => false)));

    server = await startServer(env);
    await eventually(() => boardsAgree(server.url, db.sql, redis, prefix));
  } finally {
    await server.stop();
    redis.disconnect();
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});

Deno.test("[cluster] two instances on a three-master Redis Cluster: the journey, the live feed between them, boards equal PostgreSQL", async () => {
  const cluster = await startTestCluster();
  const db = await createTestDatabase();
  const env = testEnv(db, "acme:", {
    REDIS_URL: "",
    REDIS_CLUSTER_NODES: cluster.nodes,
    COMPLETIONS_PER_SECOND: "1000",
  });
  const servers = [await startServer(env), await startServer(env)];
  const client = new Cluster(cluster.ports.map((port) => ({ host: "127.0.0.1", port })));
  client.on("error", () => {});
  const prefix = "{acme:}";
  const stream = await openStream(`${servers[1].url}/leaderboard/stream`);
  try {
    for (const server of servers) {
      const ready = await (await fetch(`${server.url}/readyz`)).json();
      assert.deepEqual([ready.status, ready.redis], ["ok", "ok"]);
    }
    const first = await stream.next();
    assert.equal(first.event, "leaderboard");
    const { slug, sessions } = await actionAndPlayers(servers[0].url, 3);
    for (const session of sessions) {
      const res = await fetch(`${servers[0].url}/actions/${slug}/complete`, {
        method: "POST",
        headers: { authorization: `Bearer ${session.accessToken}` },
      });
      assert.equal(res.status, 201);
      await res.body?.cancel();
    }
    // The other instance's stream hears of them (the feed goes through the cluster).
    for (;;) {
      const event = await stream.next();
      if (JSON.parse(event.data).entries.length === 3) break;
    }
    // Every key of the service carries the hash tag: one slot, whatever the node.
    const slots = new Set<number>();
    for (const node of client.nodes("master")) {
      for (const key of await node.keys("*")) {
        assert.ok(key.startsWith(prefix), key);
        slots.add(Number(await node.call("CLUSTER", "KEYSLOT", key)));
      }
    }
    assert.equal(slots.size, 1);
    const copy = client as unknown as Redis;
    await eventually(() => boardsAgree(servers[1].url, db.sql, copy, prefix));
    // leaderboard:rebuild on the cluster: a corrupted board comes back as PostgreSQL has it.
    await copy.zadd(`${prefix}leaderboard`, 999, "424242");
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["task", "leaderboard:rebuild"],
      cwd: new URL("../", import.meta.url),
      env: { ...env, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    assert.ok(await boardsAgree(servers[1].url, db.sql, copy, prefix));
  } finally {
    await stream.close();
    client.disconnect();
    for (const server of servers) await server.stop();
    await cluster.stop();
    await db.drop();
  }
});

Deno.test("[cluster] a plain REDIS_URL on a cluster node is `refusing` (MOVED, CROSSSLOT), never `ok`", async () => {
  const cluster = await startTestCluster();
  const db = await createTestDatabase();
  const server = await startServer(testEnv(db, randomPrefix(), {
    REDIS_URL: `redis://127.0.0.1:${cluster.ports[0]}`,
  }));
  try {
    const body = await (await fetch(`${server.url}/readyz`)).json();
    assert.deepEqual([body.status, body.redis], ["degraded", "refusing"]);
    assert.match(body.detail, /MOVED|CROSSSLOT/);
  } finally {
    await server.stop();
    await cluster.stop();
    await db.drop();
  }
});
