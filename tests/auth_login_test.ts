import assert from "node:assert/strict";
import { newUser, openTestApp, problem, register, type TestApp } from "./helpers.ts";

async function bcryptVerifies(t: TestApp): Promise<number> {
  const text = await t.rt.metrics.registry.getSingleMetricAsString("scoreboard_bcrypt_jobs_total");
  const match = /op="verify"} (\d+)/.exec(text);
  return match ? Number(match[1]) : 0;
}

Deno.test("[auth] login with the right password answers a new Session", async () => {
  const t = await openTestApp();
  try {
    const user = newUser();
    const registered = await register(t, user);
    const res = await t.call("POST", "/auth/login", {
      body: { email: user.email.toUpperCase(), password: user.password },
    });
    assert.equal(res.status, 200);
    const session = await res.json();
    assert.deepEqual(session.account, registered.account);
    assert.equal(session.tokenType, "Bearer");
    assert.notEqual(session.refreshToken, registered.refreshToken);

    const me = await t.call("GET", "/me", { token: session.accessToken });
    assert.equal(me.status, 200);
    assert.equal((await me.json()).id, registered.account.id);
  } finally {
    await t.close();
  }
});

Deno.test("[auth] wrong password, unknown email and deleted account get the same 401", async () => {
  const t = await openTestApp();
  try {
    const alive = newUser();
    await register(t, alive);
    const gone = newUser();
    const goneSession = await register(t, gone);
    const del = await t.call("DELETE", "/me", { token: goneSession.accessToken });
    assert.equal(del.status, 204);

    const attempts = [
      { email: alive.email, password: "wrong password!" },
      { email: "nobody@example.com", password: alive.password },
      { email: gone.email, password: gone.password },
    ];
    const bodies = [];
    for (const body of attempts) {
      const before = await bcryptVerifies(t);
      const res = await t.call("POST", "/auth/login", { body });
      assert.equal(res.status, 401);
      bodies.push(await problem(res));
      // every one of them costs exactly one bcrypt verification (a dummy hash for the unknown)
      assert.equal(await bcryptVerifies(t), before + 1);
    }
    assert.deepEqual(bodies[0], bodies[1]);
    assert.deepEqual(bodies[0], bodies[2]);
  } finally {
    await t.close();
  }
});

Deno.test("[auth] login refuses bad shapes with 400, not 401", async () => {
  const t = await openTestApp();
  try {
    for (const body of [{}, { email: "a@example.com" }, { email: 1, password: "x" }]) {
      const res = await t.call("POST", "/auth/login", { body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.ok(Array.isArray((await problem(res)).errors));
    }
  } finally {
    await t.close();
  }
});

Deno.test("[auth] GET /me answers the account with no points and no rank yet", async () => {
  const t = await openTestApp();
  try {
    const session = await register(t);
    const res = await t.call("GET", "/me", { token: session.accessToken });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), "no-store");
    const none = { totalPoints: 0, rank: null };
    assert.deepEqual(await res.json(), {
      ...session.account,
      ...none,
      periods: { day: none, week: none, month: none },
    });
  } finally {
    await t.close();
  }
});

Deno.test("[auth] DELETE /me locks the account out everywhere and keeps its names taken", async () => {
  const t = await openTestApp();
  try {
    const user = newUser();
    const session = await register(t, user);
    const other = await t.call("POST", "/auth/login", { body: user });
    const otherSession = await other.json();

    const res = await t.call("DELETE", "/me", { token: session.accessToken });
    assert.equal(res.status, 204);
    assert.equal(await res.text(), "");

    const [row] = await t.db.sql`SELECT deleted_at FROM accounts WHERE id = ${session.account.id}`;
    assert.ok(row.deleted_at instanceof Date);
    const [{ live }] = await t.db.sql`
      SELECT count(*)::int AS live FROM refresh_tokens WHERE revoked_at IS NULL`;
    assert.equal(live, 0);

    for (const token of [session.accessToken, otherSession.accessToken]) {
      for (const [method, path] of [["GET", "/me"], ["DELETE", "/me"]]) {
        const r = await t.call(method, path, { token });
        assert.equal(r.status, 401, `${method} ${path}`);
        assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer/);
        await r.body?.cancel();
      }
    }
    for (const refreshToken of [session.refreshToken, otherSession.refreshToken]) {
      const r = await t.call("POST", "/auth/refresh", { body: { refreshToken } });
      assert.equal(r.status, 401);
      await r.body?.cancel();
    }
    const login = await t.call("POST", "/auth/login", { body: user });
    assert.equal(login.status, 401);
    await login.body?.cancel();
    const again = await t.call("POST", "/auth/register", { body: user });
    assert.equal(again.status, 409);
    await again.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("[auth] a NUL character in an email is a 401 at login and a 400 at registration, never a 500", async () => {
  const t = await openTestApp();
  try {
    const login = await t.call("POST", "/auth/login", {
      body: { email: "a\u0000b@example.com", password: "whatever-password" },
    });
    assert.equal(login.status, 401);
    assert.equal((await problem(login)).status, 401);
    const registration = await t.call("POST", "/auth/register", {
      body: { username: "nul-user", email: "a\u0000b@example.com", password: "whatever-password" },
    });
    assert.equal(registration.status, 400);
    assert.equal((await problem(registration)).status, 400);
  } finally {
    await t.close();
  }
});
