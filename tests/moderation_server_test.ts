/**
 * Moderation across instances, with real server processes: a suspension and its lifting reach the
 * live top 10 of every instance, and a void racing completions on two instances leaves PostgreSQL
 * and every Redis board equal to the sum of the completions that stand.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { windowsAt } from "../src/leaderboard/periods.ts";
import { redisKeys } from "../src/leaderboard/keys.ts";
import {
  ADMIN_TOKEN,
  clearRedisPrefix,
  complete,
  createAction,
  createTestDatabase,
  httpClient,
  randomPrefix,
  REDIS_URL,
  register,
  testEnv,
} from "./helpers.ts";
import { startServer } from "./server.ts";
import { openStream, type SseEvent } from "./sse.ts";

const ids = (event: SseEvent) =>
  JSON.parse(event.data).entries.map((e: { accountId: number }) => e.accountId);

Deno.test("[moderation] a suspension and its lifting reach the live top 10 of every instance", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const env = testEnv(db, prefix);
  const [one, two] = await Promise.all([startServer(env), startServer(env)]);
  try {
    const api = httpClient(one.url);
    const { slug } = await createAction(api, 10);
    const [cheat, honest] = [await register(api), await register(api)];
    for (const [session, times] of [[cheat, 3], [honest, 1]] as const) {
      for (let i = 0; i < times; i++) {
        const res = await complete(api, session.accessToken, slug);
        assert.equal(res.status, 201);
        await res.body?.cancel();
      }
    }
    const streams = await Promise.all(
      [one, two].flatMap((server) =>
        ["all", "week"].map((period) =>
          openStream(`${server.url}/leaderboard/stream?period=${period}`)
        )
      ),
    );
    try {
      for (const stream of streams) {
        assert.deepEqual(ids(await stream.next(3000)), [cheat.account.id, honest.account.id]);
      }
      // Suspended through the first instance: every stream of both drops the account.
      const suspended = await api.call("POST", `/admin/accounts/${cheat.account.id}/suspension`, {
        token: ADMIN_TOKEN,
        body: { reason: "Bot" },
      });
      assert.equal(suspended.status, 200);
      await suspended.body?.cancel();
      for (const stream of streams) {
        await stream.until((event) =>
          event.event === "leaderboard" &&
          JSON.stringify(ids(event)) === JSON.stringify([honest.account.id]), 3000);
      }
      // Reads of the second instance agree.
      const read = await (await fetch(`${two.url}/leaderboard`)).json();
      assert.deepEqual(read.entries.map((e: { accountId: number }) => e.accountId), [
        honest.account.id,
      ]);
      // Lifted through the second: back on every stream of both, with all its points.
      const lifted = await httpClient(two.url).call(
        "DELETE",
        `/admin/accounts/${cheat.account.id}/suspension`,
        { token: ADMIN_TOKEN },
      );
      assert.equal(lifted.status, 200);
      await lifted.body?.cancel();
      for (const stream of streams) {
        const back = await stream.until(
          (event) => event.event === "leaderboard" && ids(event).length === 2,
          3000,
        );
        assert.deepEqual(
          JSON.parse(back.data).entries.map((e: { totalPoints: number }) => e.totalPoints),
          [30, 10],
        );
      }
    } finally {
      await Promise.all(streams.map((stream) => stream.close()));
    }
  } finally {
    await Promise.all([one.stop(), two.stop()]);
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});

Deno.test("[moderation] a void racing 30 completions on two instances: PostgreSQL and every Redis board equal the completions that stand", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const env = testEnv(db, prefix, { COMPLETIONS_PER_SECOND: "1000" });
  const [one, two] = await Promise.all([startServer(env), startServer(env)]);
  const redis = new Redis(REDIS_URL);
  try {
    const apis = [httpClient(one.url), httpClient(two.url)];
    const { slug } = await createAction(apis[0], 7);
    const ada = await register(apis[0]);
    for (let round = 0; round < 3; round++) {
      const first = await complete(apis[0], ada.accessToken, slug);
      assert.equal(first.status, 201);
      const { completion } = await first.json();
      const racing = Array.from(
        { length: 30 },
        (_, i) => complete(apis[i % 2], ada.accessToken, slug),
      );
      const voiding = apis[round % 2].call("POST", `/admin/completions/${completion.id}/void`, {
        token: ADMIN_TOKEN,
        body: { reason: `round ${round}` },
      });
      const answers = await Promise.all([...racing, voiding]);
      assert.deepEqual(
        answers.map((res) => res.status),
        [...Array(30).fill(201), 200],
        [...one.logs, ...two.logs].filter((line) => line.includes('"ERROR"')).join("\n"),
      );
      await Promise.all(answers.map((res) => res.body?.cancel()));
    }
    const [truth] = await db.sql`
      SELECT (SELECT total_points FROM score_ledger WHERE account_id = ${ada.account.id}) AS ledger,
             (SELECT sum(points_earned)::int FROM action_log l WHERE account_id = ${ada.account.id}
                AND NOT EXISTS (SELECT 1 FROM completion_voids v WHERE v.action_log_id = l.id))
               AS standing,
             (SELECT json_object_agg(period, total_points) FROM period_scores
              WHERE account_id = ${ada.account.id}) AS periods`;
    assert.equal(truth.ledger, 3 * 30 * 7);
    assert.equal(truth.standing, truth.ledger);
    // Every board of the copy holds the same, once the last writes have landed.
    const keys = redisKeys(prefix);
    const boards = windowsAt(Date.now()).map((window) => [window.period, keys.board(window).set]);
    for (const [period, set] of boards) {
      const expected: number = period === "all" ? truth.ledger : truth.periods[period];
      assert.equal(Number(await redis.zscore(set, String(ada.account.id))), expected, period);
    }
  } finally {
    redis.disconnect();
    await Promise.all([one.stop(), two.stop()]);
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});

Deno.test("[moderation] after a flush, the rebuilt boards leave suspended accounts out and count voids", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const env = testEnv(db, prefix, { COMPLETIONS_PER_SECOND: "1000" });
  const server = await startServer(env);
  const redis = new Redis(REDIS_URL);
  try {
    const api = httpClient(server.url);
    const { slug } = await createAction(api, 5);
    const [gone, kept] = [await register(api), await register(api)];
    const made: number[] = [];
    for (const session of [gone, kept, kept]) {
      const res = await complete(api, session.accessToken, slug);
      made.push((await res.json()).completion.id);
    }
    for (
      const [method, path, body] of [
        ["POST", `/admin/accounts/${gone.account.id}/suspension`, { reason: "x" }],
        ["POST", `/admin/completions/${made[2]}/void`, { reason: "y" }],
      ] as const
    ) {
      const res = await api.call(method, path, { token: ADMIN_TOKEN, body });
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }
    await clearRedisPrefix(prefix);
    for (const period of ["all", "day", "week", "month"]) {
      const page = await (await fetch(`${server.url}/leaderboard?period=${period}`)).json();
      assert.deepEqual(
        page.entries.map((e: { accountId: number; totalPoints: number }) => [
          e.accountId,
          e.totalPoints,
        ]),
        [[kept.account.id, 5]],
        period,
      );
    }
    // Rebuilt in the background by that read: the copy too.
    const set = redisKeys(prefix).board(windowsAt(Date.now())[0]).set;
    for (let i = 0; i < 50 && (await redis.zcard(set)) === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual(await redis.zrange(set, 0, -1, "WITHSCORES"), [String(kept.account.id), "5"]);
  } finally {
    redis.disconnect();
    await server.stop();
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});
