import assert from "node:assert/strict";
import {
  eventually,
  newUser,
  openTestApp,
  problem,
  register,
  type SessionBody,
  type TestApp,
} from "./helpers.ts";

function refresh(t: TestApp, refreshToken: string) {
  return t.call("POST", "/auth/refresh", { body: { refreshToken } });
}

function login(t: TestApp, user: { email: string; password: string }): Promise<SessionBody> {
  return t.call("POST", "/auth/login", { body: user }).then((res) => res.json());
}

async function liveTokens(t: TestApp): Promise<number> {
  const [{ n }] = await t.db.sql`
    SELECT count(*)::int AS n FROM refresh_tokens WHERE revoked_at IS NULL`;
  return n;
}

async function liveSessions(t: TestApp): Promise<number> {
  const [{ n }] = await t.db.sql`SELECT count(*)::int AS n FROM sessions WHERE ended_at IS NULL`;
  return n;
}

/** The `sid` claim of an access token. */
function sid(accessToken: string): number {
  const payload = accessToken.split(".")[1].replaceAll("-", "+").replaceAll("_", "/");
  return JSON.parse(atob(payload)).sid;
}

/** The status of GET /me with this access token. */
async function meStatus(t: TestApp, token: string): Promise<number> {
  const res = await t.call("GET", "/me", { token });
  await res.body?.cancel();
  return res.status;
}

/** Waits until every rotated token is older than `seconds` by the database's clock. */
async function pastInterval(t: TestApp, seconds: number): Promise<void> {
  await eventually(async () => {
    const [{ young }] = await t.db.sql`
      SELECT count(*)::int AS young FROM refresh_tokens
      WHERE revoked_reason = 'rotated' AND revoked_at > NOW() - make_interval(secs => ${seconds})`;
    return young === 0;
  }, 10_000);
}

Deno.test("[auth] refresh rotates: a new pair of the same session, the used token revoked", async () => {
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
    assert.ok(Number.isInteger(sid(first.accessToken)));
    assert.equal(sid(second.accessToken), sid(first.accessToken));
    assert.equal(await liveSessions(t), 1);
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

Deno.test("[auth] a rotated token presented after the reuse interval ends every session", async () => {
  const t = await openTestApp({ REFRESH_TOKEN_REUSE_INTERVAL: "1" });
  try {
    const user = newUser();
    const first = await register(t, user);
    const elsewhere = await login(t, user);
    const second = await (await refresh(t, first.refreshToken)).json();
    assert.equal(await liveTokens(t), 2);
    await pastInterval(t, 1);

    const replay = await refresh(t, first.refreshToken);
    assert.equal(replay.status, 401);
    assert.equal((await problem(replay)).status, 401);
    assert.equal(await liveTokens(t), 0);
    assert.equal(await liveSessions(t), 0);

    for (const token of [second.refreshToken, elsewhere.refreshToken]) {
      const r = await refresh(t, token);
      assert.equal(r.status, 401);
      await r.body?.cancel();
    }
    // Ended means ended: the access tokens of both sessions are refused at once.
    for (const token of [first.accessToken, second.accessToken, elsewhere.accessToken]) {
      assert.equal(await meStatus(t, token), 401);
    }
  } finally {
    await t.close();
  }
});

Deno.test("[auth] a rotated token presented again within the reuse interval gets a new pair and revokes nothing", async () => {
  const t = await openTestApp();
  try {
    const user = newUser();
    const first = await register(t, user);
    const elsewhere = await login(t, user);
    const winner = await (await refresh(t, first.refreshToken)).json();

    const retry = await refresh(t, first.refreshToken);
    assert.equal(retry.status, 200);
    const retried = await retry.json();
    assert.equal(sid(retried.accessToken), sid(first.accessToken));
    assert.notEqual(retried.refreshToken, winner.refreshToken);
    assert.equal(await liveSessions(t), 2);
    // The winner's pair, the retry's pair and the other session all keep working.
    for (const session of [winner, retried, elsewhere]) {
      assert.equal(await meStatus(t, session.accessToken), 200);
      const r = await refresh(t, session.refreshToken);
      assert.equal(r.status, 200);
      await r.body?.cancel();
    }
  } finally {
    await t.close();
  }
});

Deno.test("[auth] REFRESH_TOKEN_REUSE_INTERVAL=0 turns the grace off: a second use at once is theft", async () => {
  const t = await openTestApp({ REFRESH_TOKEN_REUSE_INTERVAL: "0" });
  try {
    const first = await register(t);
    const second = await (await refresh(t, first.refreshToken)).json();
    const replay = await refresh(t, first.refreshToken);
    assert.equal(replay.status, 401);
    await replay.body?.cancel();
    assert.equal(await liveSessions(t), 0);
    assert.equal(await meStatus(t, second.accessToken), 401);
  } finally {
    await t.close();
  }
});

Deno.test("[auth] a signed-out token has no grace: within the interval it is 401 and ends every session", async () => {
  const t = await openTestApp();
  try {
    const user = newUser();
    const first = await register(t, user);
    const other = await login(t, user);
    const out = await t.call("POST", "/auth/logout", {
      body: { refreshToken: first.refreshToken },
    });
    assert.equal(out.status, 204);
    assert.equal(await liveTokens(t), 1);
    assert.equal(await meStatus(t, first.accessToken), 401);
    assert.equal(await meStatus(t, other.accessToken), 200);

    // Well within the default 10 s interval.
    const r = await refresh(t, first.refreshToken);
    assert.equal(r.status, 401);
    await r.body?.cancel();
    assert.equal(await liveTokens(t), 0);
    assert.equal(await liveSessions(t), 0);
    const o = await refresh(t, other.refreshToken);
    assert.equal(o.status, 401);
    await o.body?.cancel();
    assert.equal(await meStatus(t, other.accessToken), 401);
  } finally {
    await t.close();
  }
});

Deno.test("[auth] logout ends the token's session: its other tokens and its access tokens too", async () => {
  const t = await openTestApp();
  try {
    const user = newUser();
    const first = await register(t, user);
    const other = await login(t, user);
    // Two pairs in the first session (a retry inside the grace), then sign out with one of them.
    const a = await (await refresh(t, first.refreshToken)).json();
    const b = await (await refresh(t, first.refreshToken)).json();
    const out = await t.call("POST", "/auth/logout", { body: { refreshToken: a.refreshToken } });
    assert.equal(out.status, 204);
    for (const token of [first.accessToken, a.accessToken, b.accessToken]) {
      assert.equal(await meStatus(t, token), 401);
    }
    // The session's other token was ended with it, not signed out by its holder: a plain 401
    // that leaves the account's other sessions alone.
    const r = await refresh(t, b.refreshToken);
    assert.equal(r.status, 401);
    await r.body?.cancel();
    assert.equal(await meStatus(t, other.accessToken), 200);
    assert.equal(await liveSessions(t), 1);
  } finally {
    await t.close();
  }
});

Deno.test("[auth] a rotated token of a session signed out since is 401 within the interval, and ends nothing else", async () => {
  const t = await openTestApp();
  try {
    const user = newUser();
    const first = await register(t, user);
    const other = await login(t, user);
    const second = await (await refresh(t, first.refreshToken)).json();
    const out = await t.call("POST", "/auth/logout", {
      body: { refreshToken: second.refreshToken },
    });
    assert.equal(out.status, 204);
    const r = await refresh(t, first.refreshToken);
    assert.equal(r.status, 401);
    await r.body?.cancel();
    assert.equal(await meStatus(t, other.accessToken), 200);
    assert.equal(await liveSessions(t), 1);
  } finally {
    await t.close();
  }
});

Deno.test("[auth] racing refreshes with one token inside the reuse interval: all 50 succeed, the session lives", async () => {
  const t = await openTestApp({ DATABASE_POOL_SIZE: "20" });
  try {
    const first = await register(t);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => refresh(t, first.refreshToken)),
    );
    assert.deepEqual(results.map((r) => r.status), Array(50).fill(200));
    const pairs: SessionBody[] = await Promise.all(results.map((r) => r.json()));
    // One rotation and 49 retries inside the grace: 50 new pairs of the same session.
    assert.equal(new Set(pairs.map((p) => p.refreshToken)).size, 50);
    assert.ok(pairs.every((p) => sid(p.accessToken) === sid(first.accessToken)));
    assert.equal(await liveTokens(t), 50);
    assert.equal(await liveSessions(t), 1);
    assert.equal(await meStatus(t, pairs[49].accessToken), 200);
    const next = await refresh(t, pairs[0].refreshToken);
    assert.equal(next.status, 200);
    await next.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("[auth] racing refreshes with one token, grace off: exactly one succeeds, then the family is revoked", async () => {
  const t = await openTestApp({ REFRESH_TOKEN_REUSE_INTERVAL: "0" });
  try {
    const first = await register(t);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => refresh(t, first.refreshToken)),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 401, 401, 401, 401, 401]);
    for (const r of results) await r.body?.cancel();
    // The losers presented a rotated token: the session, the winner's new token too, ends.
    assert.equal(await liveTokens(t), 0);
    assert.equal(await liveSessions(t), 0);
  } finally {
    await t.close();
  }
});

Deno.test("[auth] racing refreshes after the reuse interval: none succeeds", async () => {
  const t = await openTestApp({ REFRESH_TOKEN_REUSE_INTERVAL: "1" });
  try {
    const first = await register(t);
    const second = await (await refresh(t, first.refreshToken)).json();
    await pastInterval(t, 1);
    const results = await Promise.all(
      Array.from({ length: 10 }, () => refresh(t, first.refreshToken)),
    );
    assert.deepEqual(results.map((r) => r.status), Array(10).fill(401));
    for (const r of results) await r.body?.cancel();
    assert.equal(await liveSessions(t), 0);
    assert.equal(await meStatus(t, second.accessToken), 401);
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

Deno.test("[auth] theft detections racing refreshes, sign-out everywhere and a password change never fail", async () => {
  const t = await openTestApp({ REFRESH_TOKEN_REUSE_INTERVAL: "1" });
  try {
    const user = newUser();
    const first = await register(t, user);
    const sessions = [first, ...await Promise.all(Array.from({ length: 5 }, () => login(t, user)))];
    const rotated = await Promise.all(
      sessions.map(async (s) => (await refresh(t, s.refreshToken)).json() as Promise<SessionBody>),
    );
    await pastInterval(t, 1);

    // Every session locked by a refresh or a theft at once, while two requests end them all.
    const results = await Promise.all([
      ...sessions.map((s) => refresh(t, s.refreshToken)),
      ...rotated.map((s) => refresh(t, s.refreshToken)),
      t.call("DELETE", "/me/sessions", { token: rotated[0].accessToken }),
      t.call("PUT", "/me/password", {
        token: rotated[1].accessToken,
        body: { currentPassword: user.password, newPassword: "another good password" },
      }),
    ]);
    for (const r of results) {
      const text = await r.text();
      assert.ok([200, 204, 401].includes(r.status), `${r.status}: ${text}`);
    }
    assert.equal(await liveSessions(t), 0);
    assert.equal(await liveTokens(t), 0);
  } finally {
    await t.close();
  }
});
