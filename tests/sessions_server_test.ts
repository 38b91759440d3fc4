import assert from "node:assert/strict";
import {
  ADMIN_TOKEN,
  clearRedisPrefix,
  createTestDatabase,
  httpClient,
  newUser,
  randomPrefix,
  register,
  type SessionBody,
  type TestDatabase,
  testEnv,
} from "./helpers.ts";
import { startServer, type TestServer } from "./server.ts";

/** Two instances of the real server on one database and one Redis prefix. */
async function twoInstances(): Promise<{
  db: TestDatabase;
  servers: TestServer[];
  close(): Promise<void>;
}> {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const env = testEnv(db, prefix, { COMPLETIONS_PER_SECOND: "1000" });
  const servers = await Promise.all([startServer(env), startServer(env)]);
  return {
    db,
    servers,
    async close() {
      await Promise.all(servers.map((server) => server.stop()));
      await db.drop();
      await clearRedisPrefix(prefix);
    },
  };
}

function sid(accessToken: string): number {
  const payload = accessToken.split(".")[1].replaceAll("-", "+").replaceAll("_", "/");
  return JSON.parse(atob(payload)).sid;
}

async function call(
  server: TestServer,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
): Promise<number> {
  const res = await httpClient(server.url).call(method, path, { token, body });
  await res.body?.cancel();
  return res.status;
}

Deno.test("[sessions] an ended session's access token is refused by a second instance at once", async () => {
  const c = await twoInstances();
  const [a, b] = c.servers;
  try {
    const slug = "session-check";
    assert.equal(
      await call(a, "POST", "/admin/actions", ADMIN_TOKEN, { slug, label: "S", pointValue: 1 }),
      201,
    );
    const user = newUser();
    const laptop = await register(httpClient(a.url), user);
    const phoneRes = await httpClient(b.url).call("POST", "/auth/login", { body: user });
    const phone: SessionBody = await phoneRes.json();

    // Both instances accept the laptop's access token (and B has it in its verification cache).
    for (const server of [a, b]) {
      assert.equal(await call(server, "GET", "/me", laptop.accessToken), 200);
      assert.equal(
        await call(server, "POST", `/actions/${slug}/complete`, laptop.accessToken),
        201,
      );
    }

    // The phone ends the laptop's session through A; B refuses the laptop's token on the very
    // next request (well within the second the issue allows): the check is in B's own query.
    assert.equal(
      await call(a, "DELETE", `/me/sessions/${sid(laptop.accessToken)}`, phone.accessToken),
      204,
    );
    assert.equal(await call(b, "GET", "/me", laptop.accessToken), 401);
    assert.equal(await call(b, "POST", `/actions/${slug}/complete`, laptop.accessToken), 401);
    assert.equal(await call(b, "GET", "/me", phone.accessToken), 200);

    // Signing out through B refuses the phone's access token on A.
    assert.equal(await call(b, "POST", "/auth/logout", undefined, phone), 204);
    assert.equal(await call(a, "GET", "/me", phone.accessToken), 401);
    assert.equal(await call(a, "POST", `/actions/${slug}/complete`, phone.accessToken), 401);
  } finally {
    await c.close();
  }
});

Deno.test("[auth] 50 refreshes of one token racing over two instances all succeed and keep the session", async () => {
  const c = await twoInstances();
  const [a, b] = c.servers;
  try {
    const first = await register(httpClient(a.url));
    const results = await Promise.all(
      Array.from(
        { length: 50 },
        (_, i) =>
          httpClient((i % 2 ? a : b).url).call("POST", "/auth/refresh", {
            body: { refreshToken: first.refreshToken },
          }),
      ),
    );
    assert.deepEqual(results.map((r) => r.status), Array(50).fill(200));
    const pairs: SessionBody[] = await Promise.all(results.map((r) => r.json()));
    assert.ok(pairs.every((p) => sid(p.accessToken) === sid(first.accessToken)));
    const [{ live }] = await c.db.sql`
      SELECT count(*)::int AS live FROM sessions WHERE ended_at IS NULL`;
    assert.equal(live, 1);
    assert.equal(await call(b, "GET", "/me", pairs[0].accessToken), 200);
    assert.equal(await call(a, "GET", "/me", first.accessToken), 200);
  } finally {
    await c.close();
  }
});
