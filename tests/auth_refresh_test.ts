import assert from "node:assert/strict";
import { newUser, openTestApp, problem, register, type TestApp } from "./helpers.ts";

function refresh(t: TestApp, refreshToken: string) {
  return t.call("POST", "/auth/refresh", { body: { refreshToken } });
}

async function liveTokens(t: TestApp): Promise<number> {
  const [{ n }] = await t.db.sql`
    SELECT count(*)::int AS n FROM refresh_tokens WHERE revoked_at IS NULL`;
  return n;
}

Deno.test("[auth] refresh rotates: a new pair, and the used token is revoked", async () => {
  const t = await openTestApp();
  try {
    const first = await register(t);
    const res = await refresh(t, first.refreshToken);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), "no-store");
    const second = await res.json();
    assert.deepEqual(second.account, first.account);
    assert.notEqual(second.refreshToken, first.refreshToken);
    assert.equal(second.tokenType, "Bearer");
    const me = await t.call("GET", "/me", { token: second.accessToken });
    assert.equal(me.status, 200);
    await me.body?.cancel();
    assert.equal(await liveTokens(t), 1);

    const third = await refresh(t, second.refreshToken);
    assert.equal(third.status, 200);
    await third.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("[auth] refresh with a rotated token revokes the whole family", async () => {
  const t = await openTestApp();
  try {
    const user = newUser();
    const first = await register(t, user);
    const elsewhere = await (await t.call("POST", "/auth/login", { body: user })).json();
    const second = await (await refresh(t, first.refreshToken)).json();
    assert.equal(await liveTokens(t), 2);

    const replay = await refresh(t, first.refreshToken);
    assert.equal(replay.status, 401);
    assert.equal((await problem(replay)).status, 401);
    assert.equal(await liveTokens(t), 0);

    for (const token of [second.refreshToken, elsewhere.refreshToken]) {
      const r = await refresh(t, token);
      assert.equal(r.status, 401);
      await r.body?.cancel();
    }
  } finally {
    await t.close();
  }
});

Deno.test("[auth] refresh with a signed-out token revokes the whole family", async () => {
  const t = await openTestApp();
  try {
    const user = newUser();
    const first = await register(t, user);
    const other = await (await t.call("POST", "/auth/login", { body: user })).json();
    const out = await t.call("POST", "/auth/logout", {
      body: { refreshToken: first.refreshToken },
    });
    assert.equal(out.status, 204);
    assert.equal(await liveTokens(t), 1);

    const r = await refresh(t, first.refreshToken);
    assert.equal(r.status, 401);
    await r.body?.cancel();
    assert.equal(await liveTokens(t), 0);
    const o = await refresh(t, other.refreshToken);
    assert.equal(o.status, 401);
    await o.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("[auth] racing refreshes with one token: exactly one succeeds", async () => {
  const t = await openTestApp();
  try {
    const first = await register(t);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => refresh(t, first.refreshToken)),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 401, 401, 401, 401, 401]);
    for (const r of results) await r.body?.cancel();
    // The losers presented a rotated token: the family, the winner's new token too, is revoked.
    assert.equal(await liveTokens(t), 0);
  } finally {
    await t.close();
  }
});

Deno.test("[auth] unknown, expired and malformed refresh tokens are 401 or 400", async () => {
  const t = await openTestApp();
  try {
    const session = await register(t);
    const unknown = await refresh(t, "x".repeat(43));
    assert.equal(unknown.status, 401);
    await unknown.body?.cancel();

    await t.db.sql`UPDATE refresh_tokens SET expires_at = NOW() - interval '1 second'`;
    const expired = await refresh(t, session.refreshToken);
    assert.equal(expired.status, 401);
    await expired.body?.cancel();

    for (const body of [{}, { refreshToken: "" }, { refreshToken: 5 }]) {
      const r = await t.call("POST", "/auth/refresh", { body });
      assert.equal(r.status, 400);
      await r.body?.cancel();
    }
  } finally {
    await t.close();
  }
});

Deno.test("[auth] logout is idempotent: twice, or with an unknown token, is 204", async () => {
  const t = await openTestApp();
  try {
    const session = await register(t);
    for (const refreshToken of [session.refreshToken, session.refreshToken, "never-issued"]) {
      const res = await t.call("POST", "/auth/logout", { body: { refreshToken } });
      assert.equal(res.status, 204);
      assert.equal(await res.text(), "");
    }
    assert.equal(await liveTokens(t), 0);
    const bad = await t.call("POST", "/auth/logout", { body: {} });
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
  } finally {
    await t.close();
  }
});
