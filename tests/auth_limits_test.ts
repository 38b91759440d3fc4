import assert from "node:assert/strict";
import { newUser, openTestApp, problem, register, type TestApp } from "./helpers.ts";

function login(t: TestApp, body: unknown, address = "203.0.113.1") {
  return t.call("POST", "/auth/login", { body, headers: { "x-forwarded-for": address } });
}

Deno.test("[auth] after 5 failures for one email, attempts get 429 with Retry-After", async () => {
  const t = await openTestApp({ TRUSTED_PROXY_HOPS: "1", LOGIN_FAILURE_WINDOW: "600" });
  try {
    const user = newUser();
    await register(t, user);
    for (let i = 0; i < 5; i++) {
      const res = await login(t, { email: user.email, password: "wrong password" });
      assert.equal(res.status, 401, `failure ${i + 1}`);
      await res.body?.cancel();
    }
    // The right password too, from another address: the email is locked.
    const locked = await login(t, user, "198.51.100.7");
    assert.equal(locked.status, 429);
    const retryAfter = Number(locked.headers.get("retry-after"));
    assert.ok(retryAfter > 590 && retryAfter <= 600, `Retry-After ${retryAfter}`);
    assert.equal((await problem(locked)).status, 429);

    // Another email from the first address is not locked.
    const other = newUser();
    await register(t, other);
    const ok = await login(t, other);
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("[auth] a successful login clears the email's failures", async () => {
  const t = await openTestApp({ TRUSTED_PROXY_HOPS: "1" });
  try {
    const user = newUser();
    await register(t, user);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 4; i++) {
        const res = await login(t, { email: user.email, password: "wrong password" });
        assert.equal(res.status, 401);
        await res.body?.cancel();
      }
      const ok = await login(t, user);
      assert.equal(ok.status, 200, `round ${round}`);
      await ok.body?.cancel();
    }
  } finally {
    await t.close();
  }
});

Deno.test("[auth] failures from one address across emails are limited too", async () => {
  const t = await openTestApp({ TRUSTED_PROXY_HOPS: "1", LOGIN_MAX_FAILURES_PER_ADDRESS: "3" });
  try {
    const user = newUser();
    await register(t, user);
    for (let i = 0; i < 3; i++) {
      const res = await login(t, { email: `guess-${i}@example.com`, password: "whatever1" });
      assert.equal(res.status, 401);
      await res.body?.cancel();
    }
    const blocked = await login(t, user);
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.headers.get("retry-after")) > 0);
    await blocked.body?.cancel();
    const elsewhere = await login(t, user, "198.51.100.9");
    assert.equal(elsewhere.status, 200);
    await elsewhere.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("[auth] racing wrong passwords for one email cannot get past the limit", async () => {
  const t = await openTestApp({ TRUSTED_PROXY_HOPS: "1" });
  try {
    const user = newUser();
    await register(t, user);
    const results = await Promise.all(
      Array.from({ length: 12 }, () => login(t, { email: user.email, password: "wrong password" })),
    );
    const statuses = results.map((r) => r.status);
    for (const r of results) await r.body?.cancel();
    assert.equal(statuses.filter((s) => s === 401).length, 5);
    assert.equal(statuses.filter((s) => s === 429).length, 7);
  } finally {
    await t.close();
  }
});

Deno.test("[auth] many sign-ins at once for one account are not refused", async () => {
  const t = await openTestApp({ TRUSTED_PROXY_HOPS: "1" });
  try {
    const user = newUser();
    await register(t, user);
    const results = await Promise.all(Array.from({ length: 12 }, () => login(t, user)));
    for (const r of results) await r.body?.cancel();
    assert.deepEqual(results.map((r) => r.status), Array(12).fill(200));
  } finally {
    await t.close();
  }
});

Deno.test("[auth] the limiter's counters live in Redis under the prefix, without the email", async () => {
  const t = await openTestApp({ TRUSTED_PROXY_HOPS: "1" });
  try {
    const user = newUser();
    await register(t, user);
    const res = await login(t, { email: user.email, password: "wrong password" });
    await res.body?.cancel();
    const keys = await t.redis.keys(`${t.prefix}*`);
    assert.ok(keys.some((key) => key.includes("login-failures:email")), keys.join());
    assert.ok(keys.some((key) => key.includes("login-failures:address")), keys.join());
    assert.ok(keys.every((key) => !key.includes(user.email)));
  } finally {
    await t.close();
  }
});
