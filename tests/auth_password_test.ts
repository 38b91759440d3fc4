import assert from "node:assert/strict";
import { SignJWT } from "jose";
import {
  JWT_SECRET,
  newUser,
  openTestApp,
  problem,
  register,
  type SessionBody,
  type TestApp,
} from "./helpers.ts";

const NEW_PASSWORD = "a brand new passphrase";

function login(t: TestApp, body: unknown, address = "203.0.113.1") {
  return t.call("POST", "/auth/login", { body, headers: { "x-forwarded-for": address } });
}

function changePassword(t: TestApp, token: string, body: unknown, address = "203.0.113.1") {
  return t.call("PUT", "/me/password", {
    token,
    body,
    headers: { "x-forwarded-for": address },
  });
}

async function status(res: Response): Promise<number> {
  await res.body?.cancel();
  return res.status;
}

async function meStatus(t: TestApp, token: string): Promise<number> {
  return await status(await t.call("GET", "/me", { token }));
}

async function refreshStatus(t: TestApp, refreshToken: string): Promise<number> {
  return await status(await t.call("POST", "/auth/refresh", { body: { refreshToken } }));
}

Deno.test("[auth] PUT /me/password changes the password and ends every other session, not the caller's", async () => {
  const t = await openTestApp({ TRUSTED_PROXY_HOPS: "1" });
  try {
    const user = newUser();
    const me = await register(t, user);
    const phone: SessionBody = await (await login(t, user)).json();
    const laptop: SessionBody = await (await login(t, user)).json();
    const other = await register(t, newUser("other"));

    const res = await changePassword(t, me.accessToken, {
      currentPassword: user.password,
      newPassword: NEW_PASSWORD,
    });
    assert.equal(res.status, 204);
    assert.equal(await res.text(), "");

    // The caller's session and its tokens keep working.
    assert.equal(await meStatus(t, me.accessToken), 200);
    assert.equal(await refreshStatus(t, me.refreshToken), 200);
    // Every other session of the account is over; other accounts are untouched.
    for (const session of [phone, laptop]) {
      assert.equal(await meStatus(t, session.accessToken), 401);
      assert.equal(await refreshStatus(t, session.refreshToken), 401);
    }
    assert.equal(await meStatus(t, other.accessToken), 200);
    // Ended by a password change is not theft: the caller's session survives their return.
    assert.equal(await meStatus(t, me.accessToken), 200);

    assert.equal(await status(await login(t, user)), 401);
    assert.equal(await status(await login(t, { ...user, password: NEW_PASSWORD })), 200);
  } finally {
    await t.close();
  }
});

Deno.test("[auth] PUT /me/password with a wrong current password is 401, changes nothing, and counts as a failed login", async () => {
  const t = await openTestApp({ TRUSTED_PROXY_HOPS: "1", LOGIN_MAX_FAILURES_PER_EMAIL: "2" });
  try {
    const user = newUser();
    const me = await register(t, user);
    const phone: SessionBody = await (await login(t, user)).json();
    for (let i = 0; i < 2; i++) {
      const res = await changePassword(t, me.accessToken, {
        currentPassword: "not my password",
        newPassword: NEW_PASSWORD,
      });
      assert.equal(res.status, 401);
      const p = await problem(res);
      assert.equal(p.type, "urn:scoreboard:problem:invalid-credentials");
    }
    assert.equal(await meStatus(t, phone.accessToken), 200);

    // The email's failures are spent: password changes and logins alike get 429.
    const locked = await changePassword(t, me.accessToken, {
      currentPassword: user.password,
      newPassword: NEW_PASSWORD,
    });
    assert.equal(locked.status, 429);
    assert.ok(Number(locked.headers.get("retry-after")) > 0);
    assert.equal((await problem(locked)).status, 429);
    assert.equal(await status(await login(t, user, "198.51.100.7")), 429);

    const [row] = await t.db.sql`SELECT count(*)::int AS live FROM sessions WHERE ended_at IS NULL`;
    assert.equal(row.live, 2);
  } finally {
    await t.close();
  }
});

Deno.test("[auth] PUT /me/password failures count for the client address too", async () => {
  const t = await openTestApp({ TRUSTED_PROXY_HOPS: "1", LOGIN_MAX_FAILURES_PER_ADDRESS: "2" });
  try {
    const me = await register(t);
    const bystander = newUser("bystander");
    await register(t, bystander);
    for (let i = 0; i < 2; i++) {
      const res = await changePassword(t, me.accessToken, {
        currentPassword: "not my password",
        newPassword: NEW_PASSWORD,
      }, "192.0.2.44");
      assert.equal(await status(res), 401);
    }
    assert.equal(await status(await login(t, bystander, "192.0.2.44")), 429);
    assert.equal(await status(await login(t, bystander, "192.0.2.45")), 200);
  } finally {
    await t.close();
  }
});

Deno.test("[auth] PUT /me/password validates the new password like registration", async () => {
  const t = await openTestApp();
  try {
    const user = newUser();
    const me = await register(t, user);
    const cases: [unknown, string][] = [
      [{ currentPassword: user.password, newPassword: "short" }, "newPassword"],
      [{ currentPassword: user.password, newPassword: "é".repeat(37) }, "newPassword"],
      [{ currentPassword: user.password }, "newPassword"],
      [{ currentPassword: user.password, newPassword: 12345678 }, "newPassword"],
      [{ newPassword: NEW_PASSWORD }, "currentPassword"],
      [{ currentPassword: "", newPassword: NEW_PASSWORD }, "currentPassword"],
    ];
    for (const [body, path] of cases) {
      const res = await changePassword(t, me.accessToken, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      const p = await problem(res);
      assert.equal(p.type, "urn:scoreboard:problem:validation-error");
      assert.ok((p.errors as { path: string }[]).some((e) => e.path === path), JSON.stringify(p));
    }
    // 72 bytes is the limit, not beyond: "é" is two bytes.
    const longest = await changePassword(t, me.accessToken, {
      currentPassword: user.password,
      newPassword: "é".repeat(36),
    });
    assert.equal(longest.status, 204);
    assert.equal(await status(await login(t, { ...user, password: "é".repeat(36) })), 200);
  } finally {
    await t.close();
  }
});

Deno.test("[auth] PUT /me/password needs an access token and a JSON body", async () => {
  const t = await openTestApp();
  try {
    const me = await register(t);
    const anonymous = await t.call("PUT", "/me/password", {
      body: { currentPassword: "x", newPassword: NEW_PASSWORD },
    });
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Bearer/);
    await anonymous.body?.cancel();
    const text = await t.call("PUT", "/me/password", {
      token: me.accessToken,
      body: "currentPassword=x",
      headers: { "content-type": "text/plain" },
    });
    assert.equal(text.status, 415);
    await text.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("[auth] PUT /me/password with a token without sid ends every session", async () => {
  const t = await openTestApp();
  try {
    const user = newUser();
    const me = await register(t, user);
    const now = Math.floor(Date.now() / 1000);
    const plain = await new SignJWT({}).setProtectedHeader({ alg: "HS256" })
      .setSubject(String(me.account.id)).setExpirationTime(now + 600)
      .sign(new TextEncoder().encode(JWT_SECRET));
    const res = await changePassword(t, plain, {
      currentPassword: user.password,
      newPassword: NEW_PASSWORD,
    });
    assert.equal(res.status, 204);
    await res.body?.cancel();
    assert.equal(await meStatus(t, me.accessToken), 401);
    assert.equal(await meStatus(t, plain), 200);
  } finally {
    await t.close();
  }
});
