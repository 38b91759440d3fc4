/**
 * The typed client (client/): its types are what openapi-typescript makes of the live document
 * today, and a journey through it against the real server works — sessions refreshed before
 * they expire and once for many calls, a refresh whose answer was lost retried within the reuse
 * grace, refusals as ScoreboardError, the live board followed.
 */
import assert from "node:assert/strict";
import { SCHEMA_FILE, typesOf } from "../client/generate.ts";
import { createClient, ScoreboardError, type Session } from "../client/mod.ts";
import {
  ADMIN_TOKEN,
  clearRedisPrefix,
  createTestDatabase,
  newUser,
  openTestApp,
  randomPrefix,
  testEnv,
} from "./helpers.ts";
import { startServer } from "./server.ts";

Deno.test("[client] client/schema.d.ts is what openapi-typescript makes of the live document", async () => {
  const t = await openTestApp();
  try {
    const doc = await (await t.call("GET", "/openapi.json")).json();
    const expected = await typesOf(doc);
    const actual = await Deno.readTextFile(SCHEMA_FILE);
    assert.ok(
      actual === expected,
      "client/schema.d.ts is out of date: run `deno task client:types` against a running " +
        "instance (deno task start), and commit the file",
    );
  } finally {
    await t.close();
  }
});

Deno.test("[client] a journey through the client against the real server", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  // Access tokens of 3 s, refreshed 2 s before they expire: a refresh within the test.
  const server = await startServer(testEnv(db, prefix, { ACCESS_TOKEN_TTL: "3" }));
  const sessions: (Session | null)[] = [];
  let refreshCalls = 0;
  let loseNextRefreshAnswer = false;
  const client = createClient({
    baseUrl: server.url,
    refreshMarginMs: 2000,
    onSession: (session) => sessions.push(session),
    // The network as the client sees it: a refresh's answer can be lost after the service acted.
    async fetch(input, init) {
      const res = await fetch(input, init);
      if (String(input).endsWith("/auth/refresh")) {
        refreshCalls++;
        if (loseNextRefreshAnswer) {
          loseNextRefreshAnswer = false;
          await res.body?.cancel();
          throw new TypeError("the connection was reset");
        }
      }
      return res;
    },
  });
  try {
    const slug = `client-${crypto.randomUUID().slice(0, 6)}`;
    const created = await fetch(`${server.url}/admin/actions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({
        slug,
        label: "Client",
        pointValue: 7,
        limit: { count: 1, per: "day" },
      }),
    });
    assert.equal(created.status, 201);
    await created.body?.cancel();

    const user = newUser("client");
    const session = await client.register(user);
    assert.equal(session.account.username, user.username);
    assert.equal(sessions.length, 1);
    assert.ok((await client.actions()).actions.some((action) => action.slug === slug));

    const boards: { entries: { accountId: number }[] }[] = [];
    const follower = client.followBoard("all", { onBoard: (board) => boards.push(board) });
    try {
      const first = await client.completeAction(slug, { idempotencyKey: "once" });
      const again = await client.completeAction(slug, { idempotencyKey: "once" });
      assert.deepEqual(again, first, "a retry with the same key answers the first completion");
      const refused = await client.completeAction(slug).catch((error) => error);
      assert.ok(refused instanceof ScoreboardError);
      assert.equal(refused.status, 409);
      assert.equal(refused.kind, "action-limit");
      assert.ok(refused.retryAfterMs! > 0);

      const me = await client.me();
      assert.equal(me.totalPoints, 7);
      assert.equal(me.rank, 1);
      const mine = (await client.myActions()).actions.find((action) => action.slug === slug);
      assert.equal(mine?.remaining, 0);
      assert.equal((await client.leaderboard({ period: "day" })).entries[0].accountId, me.id);
      assert.equal((await client.entries([me.id, 999_999])).entries.length, 1);
      assert.equal((await client.entry(me.id)).totalPoints, 7);
      assert.equal((await client.around(me.id, { radius: 1 })).entries.length, 1);
      const deadline = Date.now() + 10_000;
      while (!boards.some((board) => board.entries.some((e) => e.accountId === me.id))) {
        assert.ok(Date.now() < deadline, "the follower sees the completion");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }

      // Without a key of the caller's, the client makes one: a proxy may send it twice.
      const lifted = await fetch(`${server.url}/admin/actions/${slug}`, {
        method: "PATCH",
        headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
        body: JSON.stringify({ limit: null }),
      });
      assert.equal(lifted.status, 200);
      await lifted.body?.cancel();
      await client.completeAction(slug);
      const [{ keyed }] = await db.sql`
        SELECT count(*)::int AS keyed FROM completion_idempotency_keys`;
      assert.equal(keyed, 2);
    } finally {
      follower.close();
    }

    // Past the margin: three calls at once share one refresh.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const before = refreshCalls;
    await Promise.all([client.me(), client.me(), client.sessions()]);
    assert.equal(refreshCalls - before, 1, "one refresh for three calls");
    assert.equal(sessions.length, 2);
    assert.notEqual(sessions[1]?.refreshToken, session.refreshToken);

    // A refresh whose answer is lost: the same token again, within the grace, gets a new pair.
    loseNextRefreshAnswer = true;
    const renewed = await client.refresh();
    assert.equal(refreshCalls - before, 3);
    assert.equal(client.session?.refreshToken, renewed.refreshToken);
    assert.equal((await client.me()).id, session.account.id, "the session goes on");

    await client.logout();
    assert.equal(client.session, null);
    assert.equal(sessions.at(-1), null);
    await assert.rejects(client.me(), /not signed in/);
    const unknown = await createClient({ baseUrl: server.url }).login({
      email: user.email,
      password: "not the password",
    }).catch((error) => error);
    assert.ok(unknown instanceof ScoreboardError);
    assert.equal(unknown.kind, "invalid-credentials");
  } finally {
    await server.stop();
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});
