import assert from "node:assert/strict";
import {
  accountsWith,
  complete,
  createAction,
  eventually,
  openTestApp,
  problem,
  register,
  type TestApp,
} from "./helpers.ts";

type Entry = { rank: number; accountId: number; username: string; totalPoints: number };

async function board(t: TestApp, query = ""): Promise<Entry[]> {
  const res = await t.call("GET", `/leaderboard${query}`);
  assert.equal(res.status, 200);
  return (await res.json()).entries;
}

Deno.test("[leaderboard] entries are best first; equal points share a rank", async () => {
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000" });
  try {
    const [a, b, c, d, e] = await accountsWith(t, [3, 5, 3, 1, 5]);
    const entries = await board(t);
    assert.deepEqual(entries.map((x) => x.rank), [1, 1, 3, 3, 5]);
    assert.deepEqual(entries.map((x) => x.totalPoints), [5, 5, 3, 3, 1]);
    assert.deepEqual(
      new Set(entries.slice(0, 2).map((x) => x.accountId)),
      new Set([b.account.id, e.account.id]),
    );
    assert.deepEqual(
      new Set(entries.slice(2, 4).map((x) => x.accountId)),
      new Set([a.account.id, c.account.id]),
    );
    assert.deepEqual(entries[4], {
      rank: 5,
      accountId: d.account.id,
      username: d.account.username,
      totalPoints: 1,
    });

    // A page that starts inside a tie keeps the tie's rank.
    const page = await board(t, "?limit=2&offset=3");
    assert.deepEqual(page.map((x) => [x.rank, x.totalPoints]), [[3, 3], [5, 1]]);
    const second = await board(t, "?offset=1&limit=1");
    assert.deepEqual(second.map((x) => x.rank), [1]);
    assert.deepEqual(await board(t, "?offset=5"), []);

    // The same ranks from the entry route, GET /me and a completion.
    const one = await (await t.call("GET", `/leaderboard/accounts/${c.account.id}`)).json();
    assert.deepEqual(one, {
      rank: 3,
      accountId: c.account.id,
      username: c.account.username,
      totalPoints: 3,
    });
    const me = await (await t.call("GET", "/me", { token: a.accessToken })).json();
    assert.equal(me.rank, 3);
    assert.equal(me.totalPoints, 3);
  } finally {
    await t.close();
  }
});

Deno.test("[leaderboard] limit defaults to 10 and goes up to 100", async () => {
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000" });
  try {
    await accountsWith(t, Array.from({ length: 12 }, (_, i) => i + 1));
    assert.equal((await board(t)).length, 10);
    assert.equal((await board(t, "?limit=100")).length, 12);
    assert.equal((await board(t, "?limit=3")).length, 3);
    const tail = await board(t, "?offset=10");
    assert.deepEqual(tail.map((x) => x.rank), [11, 12]);
  } finally {
    await t.close();
  }
});

Deno.test("[leaderboard] bad limit, offset and id are 400 problems", async () => {
  const t = await openTestApp();
  try {
    for (
      const query of [
        "?limit=0",
        "?limit=101",
        "?limit=abc",
        "?limit=1.5",
        "?limit=-1",
        "?limit=",
        "?offset=-1",
        "?offset=x",
        "?limit=5&limit=6",
        "?offset=99999999999",
      ]
    ) {
      const res = await t.call("GET", `/leaderboard${query}`);
      assert.equal(res.status, 400, query);
      assert.ok(Array.isArray((await problem(res)).errors));
    }
    for (const id of ["abc", "0", "-3", "1.5", "99999999999"]) {
      const res = await t.call("GET", `/leaderboard/accounts/${id}`);
      assert.equal(res.status, 400, id);
      await res.body?.cancel();
    }
  } finally {
    await t.close();
  }
});

Deno.test("[leaderboard] an account without points, or that does not exist, is a 404", async () => {
  const t = await openTestApp();
  try {
    const session = await register(t);
    for (const id of [session.account.id, 123456]) {
      const res = await t.call("GET", `/leaderboard/accounts/${id}`);
      assert.equal(res.status, 404);
      assert.equal((await problem(res)).status, 404);
    }
  } finally {
    await t.close();
  }
});

Deno.test("[leaderboard] DELETE /me takes the account off the board and the ranks close up", async () => {
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000" });
  try {
    const [a, b] = await accountsWith(t, [5, 2]);
    const del = await t.call("DELETE", "/me", { token: a.accessToken });
    assert.equal(del.status, 204);
    const entries = await board(t);
    assert.deepEqual(entries.map((x) => [x.accountId, x.rank]), [[b.account.id, 1]]);
    const gone = await t.call("GET", `/leaderboard/accounts/${a.account.id}`);
    assert.equal(gone.status, 404);
    await gone.body?.cancel();
    assert.equal(await t.redis.zscore(`${t.prefix}leaderboard`, String(a.account.id)), null);
    const me = await (await t.call("GET", "/me", { token: b.accessToken })).json();
    assert.equal(me.rank, 1);
  } finally {
    await t.close();
  }
});

Deno.test("[leaderboard] a read right after a completion sees it (the cached top is dropped)", async () => {
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000" });
  try {
    const { slug } = await createAction(t, 2);
    const session = await register(t);
    for (let i = 1; i <= 5; i++) {
      await (await complete(t, session.accessToken, slug)).body?.cancel();
      const entries = await board(t);
      assert.equal(entries[0].totalPoints, 2 * i);
    }
  } finally {
    await t.close();
  }
});

Deno.test("[leaderboard] a deleted sorted set is rebuilt from the ledger on the next read", async () => {
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000" });
  try {
    const [a, b, c] = await accountsWith(t, [4, 2, 6]);
    await t.call("DELETE", "/me", { token: b.accessToken });
    const before = await board(t);
    const key = `${t.prefix}leaderboard`;
    await t.redis.del(key);

    // Reads stay right (the cached top, then PostgreSQL), and the first one that reaches Redis
    // brings the set back.
    await eventually(async () => {
      assert.deepEqual(await board(t), before);
      return (await t.redis.zcard(key)) === 2;
    });
    assert.deepEqual(await t.redis.zrevrange(key, 0, -1, "WITHSCORES"), [
      String(c.account.id),
      "6",
      String(a.account.id),
      "4",
    ]);
    assert.deepEqual(await board(t), before);

    // An entry read finds it missing too: PostgreSQL answers, and the set comes back.
    await t.redis.del(key);
    const entry = await (await t.call("GET", `/leaderboard/accounts/${a.account.id}`)).json();
    assert.equal(entry.rank, 2, JSON.stringify(entry));
    await eventually(async () => (await t.redis.zcard(key)) === 2);
  } finally {
    await t.close();
  }
});

Deno.test("[leaderboard] a set dropped while the marker stays is not trusted half rebuilt", async () => {
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000" });
  try {
    // Enough accounts that bringing the set back takes several batches, each a read's chance to
    // see it partial; the one that counts is on top.
    await t.db.sql`
      WITH made AS (
        INSERT INTO accounts (username, email, password_hash)
        SELECT 'filler' || g, 'filler' || g || '@example.com', 'x' FROM generate_series(1, 20000) g
        RETURNING id
      )
      INSERT INTO score_ledger (account_id, total_points) SELECT id, 1 FROM made`;
    const [ada] = await accountsWith(t, [2]);
    const key = `${t.prefix}leaderboard`;
    await t.redis.del(key, `${key}:built`);
    await eventually(async () => {
      const res = await t.call("GET", `/leaderboard/accounts/${ada.account.id}`);
      await res.body?.cancel();
      return (await t.redis.get(`${key}:built`)) === "1";
    });
    assert.equal(await t.redis.zcard(key), 20001);

    // The set alone goes (its marker and revisions stay): every read until it is whole again
    // answers from PostgreSQL or a complete set, never 404 from the part already written.
    await t.redis.del(key);
    let reads = 0;
    while ((await t.redis.zcard(key)) < 20001) {
      const res = await t.call("GET", `/leaderboard/accounts/${ada.account.id}`);
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.rank, 1);
      assert.equal(body.totalPoints, 2);
      reads++;
    }
    assert.ok(reads > 1, `${reads} reads while the set came back`);
  } finally {
    await t.close();
  }
});

Deno.test("[leaderboard] a completion made while its board is rebuilt is on it when the rebuild ends", async () => {
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000" });
  try {
    await t.db.sql`
      WITH made AS (
        INSERT INTO accounts (username, email, password_hash)
        SELECT 'filler' || g, 'filler' || g || '@example.com', 'x' FROM generate_series(1, 20000) g
        RETURNING id
      )
      INSERT INTO score_ledger (account_id, total_points) SELECT id, 1 FROM made`;
    const [ada] = await accountsWith(t, [2]);
    const { slug } = await createAction(t, 5);
    const key = `${t.prefix}leaderboard`;
    await t.redis.del(key, `${key}:built`);

    // A read finds the board lost and starts its rebuild; once the rebuild has written rows, it
    // has read PostgreSQL, before the completion below commits.
    const first = await t.call("GET", `/leaderboard/accounts/${ada.account.id}`);
    assert.equal((await first.json()).totalPoints, 2);
    while ((await t.redis.zcard(key)) === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    assert.notEqual(await t.redis.get(`${key}:built`), "1", "the rebuild ended too soon to race");
    const res = await complete(t, ada.accessToken, slug);
    assert.equal(res.status, 201);
    assert.equal((await res.json()).totalPoints, 7);

    // The first read of the rebuilt board already has it.
    await eventually(async () => (await t.redis.get(`${key}:built`)) === "1");
    const entry = await (await t.call("GET", `/leaderboard/accounts/${ada.account.id}`)).json();
    assert.equal(entry.totalPoints, 7, JSON.stringify(entry));
    assert.equal(entry.rank, 1);
  } finally {
    await t.close();
  }
});
