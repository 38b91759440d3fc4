import assert from "node:assert/strict";
import { SignJWT } from "jose";
import {
  complete,
  createAction,
  JWT_SECRET,
  newUser,
  openTestApp,
  problem,
  register,
  type SessionBody,
  type TestApp,
} from "./helpers.ts";

function login(t: TestApp, user: { email: string; password: string }): Promise<SessionBody> {
  return t.call("POST", "/auth/login", { body: user }).then((res) => res.json());
}

/** The `sid` claim of an access token. */
function sid(accessToken: string): number {
  const payload = accessToken.split(".")[1].replaceAll("-", "+").replaceAll("_", "/");
  return JSON.parse(atob(payload)).sid;
}

/** An access token signed with the test key, with these claims besides `sub` and `exp`. */
async function signed(accountId: number, claims: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return await new SignJWT(claims).setProtectedHeader({ alg: "HS256" })
    .setSubject(String(accountId)).setIssuedAt(now).setExpirationTime(now + 600)
    .sign(new TextEncoder().encode(JWT_SECRET));
}

interface SessionInfo {
  id: number;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  current: boolean;
}

async function listSessions(t: TestApp, token: string): Promise<SessionInfo[]> {
  const res = await t.call("GET", "/me/sessions", { token });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const body = await res.json();
  assert.deepEqual(Object.keys(body), ["sessions"]);
  return body.sessions;
}

async function status(t: TestApp, method: string, path: string, token: string) {
  const res = await t.call(method, path, { token });
  await res.body?.cancel();
  return res.status;
}

Deno.test("[sessions] GET /me/sessions lists the live sessions, newest first, marking the caller's", async () => {
  const t = await openTestApp({ REFRESH_TOKEN_TTL: "3600" });
  try {
    const user = newUser();
    const first = await register(t, user);
    const second = await login(t, user);
    const third = await login(t, user);

    const sessions = await listSessions(t, second.accessToken);
    assert.deepEqual(
      sessions.map((s) => s.id),
      [third, second, first].map((s) => sid(s.accessToken)),
    );
    assert.deepEqual(sessions.map((s) => s.current), [false, true, false]);
    for (const s of sessions) {
      assert.deepEqual(Object.keys(s).sort(), [
        "createdAt",
        "current",
        "expiresAt",
        "id",
        "lastUsedAt",
      ]);
      assert.equal(s.lastUsedAt, s.createdAt);
      // expiresAt is the expiry of the session's newest refresh token.
      const [row] = await t.db.sql`
        SELECT max(expires_at) AS newest FROM refresh_tokens WHERE session_id = ${s.id}`;
      assert.equal(s.expiresAt, row.newest.toISOString());
      const ttl = (Date.parse(s.expiresAt) - Date.parse(s.createdAt)) / 1000;
      assert.ok(Math.abs(ttl - 3600) < 1, `ttl ${ttl}`);
    }
  } finally {
    await t.close();
  }
});

Deno.test("[sessions] lastUsedAt and expiresAt move on refresh, not on access-token use", async () => {
  const t = await openTestApp();
  try {
    const first = await register(t);
    const [before] = await listSessions(t, first.accessToken);
    for (let i = 0; i < 3; i++) assert.equal(await status(t, "GET", "/me", first.accessToken), 200);
    const [unchanged] = await listSessions(t, first.accessToken);
    assert.deepEqual(unchanged, before);

    const res = await t.call("POST", "/auth/refresh", {
      body: { refreshToken: first.refreshToken },
    });
    const second: SessionBody = await res.json();
    const [after] = await listSessions(t, second.accessToken);
    assert.equal(after.id, before.id);
    assert.equal(after.createdAt, before.createdAt);
    assert.ok(after.lastUsedAt > before.lastUsedAt, `${after.lastUsedAt} > ${before.lastUsedAt}`);
    assert.ok(after.expiresAt > before.expiresAt);
    const [row] = await t.db.sql`
      SELECT max(expires_at) AS newest FROM refresh_tokens WHERE session_id = ${after.id}`;
    assert.equal(after.expiresAt, row.newest.toISOString());
  } finally {
    await t.close();
  }
});

Deno.test("[sessions] GET /me/sessions never shows another account's sessions or any token material", async () => {
  const t = await openTestApp();
  try {
    const alice = newUser("alice");
    const bob = newUser("bob");
    const a1 = await register(t, alice);
    const a2 = await login(t, alice);
    const b1 = await register(t, bob);
    const b2 = await login(t, bob);

    const aliceSessions = await listSessions(t, a1.accessToken);
    const bobSessions = await listSessions(t, b1.accessToken);
    assert.deepEqual(
      aliceSessions.map((s) => s.id).sort(),
      [a1, a2].map((s) => sid(s.accessToken)).sort(),
    );
    assert.deepEqual(
      bobSessions.map((s) => s.id).sort(),
      [b1, b2].map((s) => sid(s.accessToken)).sort(),
    );

    const res = await t.call("GET", "/me/sessions", { token: a2.accessToken });
    const text = await res.text();
    const hashes = await t.db.sql<{ token_hash: string }[]>`SELECT token_hash FROM refresh_tokens`;
    const secrets = [
      ...[a1, a2, b1, b2].flatMap((s) => [s.accessToken, s.refreshToken]),
      ...hashes.map((row) => row.token_hash),
    ];
    for (const secret of secrets) assert.ok(!text.includes(secret));
    assert.doesNotMatch(text, /token|hash|account/i);
  } finally {
    await t.close();
  }
});

Deno.test("[sessions] DELETE /me/sessions/{id} ends that session: its access and refresh tokens die", async () => {
  const t = await openTestApp();
  try {
    const user = newUser();
    const me = await register(t, user);
    const laptop = await login(t, user);
    const { slug } = await createAction(t, 5);
    const res = await t.call("DELETE", `/me/sessions/${sid(laptop.accessToken)}`, {
      token: me.accessToken,
    });
    assert.equal(res.status, 204);
    assert.equal(await res.text(), "");

    for (
      const [method, path] of [["GET", "/me"], ["GET", "/me/sessions"], ["GET", "/me/completions"]]
    ) {
      assert.equal(await status(t, method, path, laptop.accessToken), 401, path);
    }
    // The completion route checks the session inside its statement: the same 401.
    const completion = await complete(t, laptop.accessToken, slug);
    assert.equal(completion.status, 401);
    assert.match(completion.headers.get("www-authenticate") ?? "", /^Bearer/);
    assert.equal((await problem(completion)).status, 401);
    const [{ n }] = await t.db.sql`SELECT count(*)::int AS n FROM action_log`;
    assert.equal(n, 0);

    const refresh = await t.call("POST", "/auth/refresh", {
      body: { refreshToken: laptop.refreshToken },
    });
    assert.equal(refresh.status, 401);
    await refresh.body?.cancel();

    // The caller's session is untouched, and no longer lists the ended one.
    assert.deepEqual((await listSessions(t, me.accessToken)).map((s) => s.id), [
      sid(me.accessToken),
    ]);
    const mine = await complete(t, me.accessToken, slug);
    assert.equal(mine.status, 201);
    await mine.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("[sessions] DELETE /me/sessions/{id} of the caller's own session ends it", async () => {
  const t = await openTestApp();
  try {
    const me = await register(t);
    const res = await t.call("DELETE", `/me/sessions/${sid(me.accessToken)}`, {
      token: me.accessToken,
    });
    assert.equal(res.status, 204);
    await res.body?.cancel();
    assert.equal(await status(t, "GET", "/me", me.accessToken), 401);
  } finally {
    await t.close();
  }
});

Deno.test("[sessions] DELETE /me/sessions/{id}: another account's, an ended or an unknown id is 404 and changes nothing", async () => {
  const t = await openTestApp();
  try {
    const user = newUser();
    const me = await register(t, user);
    const ended = await login(t, user);
    const other = await register(t, newUser("other"));
    await status(t, "DELETE", `/me/sessions/${sid(ended.accessToken)}`, me.accessToken);

    for (const id of [sid(other.accessToken), sid(ended.accessToken), 2_000_000_000]) {
      const res = await t.call("DELETE", `/me/sessions/${id}`, { token: me.accessToken });
      assert.equal(res.status, 404, `session ${id}`);
      const p = await problem(res);
      assert.equal(p.status, 404);
      assert.equal(p.type, "urn:scoreboard:problem:unknown-session");
    }
    assert.equal(await status(t, "GET", "/me", other.accessToken), 200);
    assert.equal(await status(t, "GET", "/me", me.accessToken), 200);
  } finally {
    await t.close();
  }
});

Deno.test("[sessions] DELETE /me/sessions/{id} with a bad id is 400", async () => {
  const t = await openTestApp();
  try {
    const me = await register(t);
    for (const id of ["abc", "0", "-1", "1.5", "1e3", "%20", "99999999999"]) {
      const res = await t.call("DELETE", `/me/sessions/${id}`, { token: me.accessToken });
      assert.equal(res.status, 400, id);
      const p = await problem(res);
      assert.equal(p.type, "urn:scoreboard:problem:validation-error");
      assert.equal((p.errors as { path: string }[])[0].path, "id");
    }
    assert.equal((await listSessions(t, me.accessToken)).length, 1);
  } finally {
    await t.close();
  }
});

Deno.test("[sessions] the session routes need an access token", async () => {
  const t = await openTestApp();
  try {
    for (
      const [method, path] of [["GET", "/me/sessions"], ["DELETE", "/me/sessions"], [
        "DELETE",
        "/me/sessions/1",
      ]]
    ) {
      const res = await t.call(method, path);
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
      await res.body?.cancel();
    }
  } finally {
    await t.close();
  }
});

Deno.test("[sessions] DELETE /me/sessions signs out everywhere, the caller's session included", async () => {
  const t = await openTestApp();
  try {
    const user = newUser();
    const me = await register(t, user);
    const phone = await login(t, user);
    const other = await register(t, newUser("other"));
    const res = await t.call("DELETE", "/me/sessions", { token: me.accessToken });
    assert.equal(res.status, 204);
    await res.body?.cancel();

    for (const session of [me, phone]) {
      assert.equal(await status(t, "GET", "/me", session.accessToken), 401);
      const r = await t.call("POST", "/auth/refresh", {
        body: { refreshToken: session.refreshToken },
      });
      assert.equal(r.status, 401);
      await r.body?.cancel();
    }
    assert.equal(await status(t, "GET", "/me", other.accessToken), 200);
    // Ended from elsewhere is not theft: a fresh sign-in is not ended by the old tokens' return.
    const again = await login(t, user);
    const stale = await t.call("POST", "/auth/refresh", {
      body: { refreshToken: phone.refreshToken },
    });
    assert.equal(stale.status, 401);
    await stale.body?.cancel();
    assert.equal(await status(t, "GET", "/me", again.accessToken), 200);
    assert.deepEqual((await listSessions(t, again.accessToken)).map((s) => s.id), [
      sid(again.accessToken),
    ]);
  } finally {
    await t.close();
  }
});

Deno.test("[sessions] a token without sid works while the account is active, and is current nowhere", async () => {
  const t = await openTestApp();
  try {
    const me = await register(t);
    const plain = await signed(me.account.id);
    assert.equal(await status(t, "GET", "/me", plain), 200);
    const sessions = await listSessions(t, plain);
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0].current, false);
    const { slug } = await createAction(t, 1);
    const done = await complete(t, plain, slug);
    assert.equal(done.status, 201);
    await done.body?.cancel();

    // Ending every session does not touch it; deleting the account does.
    assert.equal(await status(t, "DELETE", "/me/sessions", plain), 204);
    assert.equal(await status(t, "GET", "/me", plain), 200);
    assert.equal(await status(t, "DELETE", "/me", plain), 204);
    assert.equal(await status(t, "GET", "/me", plain), 401);
  } finally {
    await t.close();
  }
});

Deno.test("[sessions] a sid that is not a live session of the token's account is refused", async () => {
  const t = await openTestApp();
  try {
    const me = await register(t);
    const other = await register(t, newUser("other"));
    const { slug } = await createAction(t, 1);
    const cases: [string, unknown][] = [
      ["another account's session", sid(other.accessToken)],
      ["an unknown session", 2_000_000_000],
      ["a string", String(sid(me.accessToken))],
      ["zero", 0],
      ["a fraction", 1.5],
      ["too large", 2 ** 31],
      ["null", null],
    ];
    for (const [what, value] of cases) {
      const token = await signed(me.account.id, { sid: value });
      assert.equal(await status(t, "GET", "/me", token), 401, what);
      const res = await complete(t, token, slug);
      assert.equal(res.status, 401, what);
      await res.body?.cancel();
    }
  } finally {
    await t.close();
  }
});

Deno.test("[sessions] an expired session is not listed, and its access tokens are refused", async () => {
  const t = await openTestApp();
  try {
    const user = newUser();
    const me = await register(t, user);
    const old = await login(t, user);
    await t.db.sql`
      UPDATE sessions SET expires_at = NOW() - interval '1 second' WHERE id = ${
      sid(old.accessToken)
    }`;
    assert.deepEqual((await listSessions(t, me.accessToken)).map((s) => s.id), [
      sid(me.accessToken),
    ]);
    assert.equal(await status(t, "GET", "/me", old.accessToken), 401);
    assert.equal(
      await status(t, "DELETE", `/me/sessions/${sid(old.accessToken)}`, me.accessToken),
      404,
    );
  } finally {
    await t.close();
  }
});

Deno.test("[sessions] DELETE /me ends every session of the account", async () => {
  const t = await openTestApp();
  try {
    const user = newUser();
    const me = await register(t, user);
    await login(t, user);
    assert.equal(await status(t, "DELETE", "/me", me.accessToken), 204);
    const rows = await t.db.sql<{ ended_at: Date | null }[]>`
      SELECT ended_at FROM sessions WHERE account_id = ${me.account.id}`;
    assert.equal(rows.length, 2);
    assert.ok(rows.every((row) => row.ended_at instanceof Date));
  } finally {
    await t.close();
  }
});
