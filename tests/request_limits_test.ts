/**
 * The limits on requests that cost without failing (API.md "Accounts and sessions"):
 * registrations per client address and refreshes per session, at their edges, shared by two
 * instances through Redis, and counted in memory by an instance on its own. A refused
 * registration costs no bcrypt hash; a refused refresh rotates nothing. And /metrics behind
 * METRICS_TOKEN.
 */
import assert from "node:assert/strict";
import { hashRefreshToken } from "../src/auth/tokens.ts";
import {
  clearRedisPrefix,
  createTestDatabase,
  httpClient,
  newUser,
  randomPrefix,
  register,
  type SessionBody,
  testEnv,
} from "./helpers.ts";
import { startServer, type TestServer } from "./server.ts";

const LIMITS = { REGISTRATIONS_PER_ADDRESS: "3", REFRESHES_PER_SESSION: "3" };

/** The bcrypt hashes an instance ran, by its metrics. */
async function hashes(server: TestServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const match = /^scoreboard_bcrypt_jobs_total\{op="hash"\} (\d+)/m.exec(text);
  return match ? Number(match[1]) : 0;
}

async function refresh(server: TestServer, token: string): Promise<Response> {
  return await fetch(`${server.url}/auth/refresh`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ refreshToken: token }),
  });
}

/** Asserts a 429 with a Retry-After of at most `maxSeconds`. */
async function assertLimited(res: Response, maxSeconds: number, what: RegExp): Promise<void> {
  assert.equal(res.status, 429, await res.clone().text());
  const wait = Number(res.headers.get("retry-after"));
  assert.ok(Number.isInteger(wait) && wait >= 1 && wait <= maxSeconds, `Retry-After ${wait}`);
  const body = await res.json();
  assert.equal(body.type, "urn:scoreboard:problem:rate-limited");
  assert.match(body.detail, what);
}

const SHAPES: Record<string, { env: Record<string, string>; instances: number }> = {
  "redis, two instances": { env: {}, instances: 2 },
  "postgres only, one instance": { env: { REDIS_URL: "" }, instances: 1 },
};

for (const [shape, { env, instances }] of Object.entries(SHAPES)) {
  Deno.test(`[limits, ${shape}] registrations per address and refreshes per session, at their edges`, async () => {
    const db = await createTestDatabase();
    const prefix = randomPrefix();
    const servers: TestServer[] = [];
    try {
      for (let i = 0; i < instances; i++) {
        servers.push(await startServer(testEnv(db, prefix, { ...env, ...LIMITS })));
      }
      // Requests take turns among the instances: the limits are one, however many serve.
      const at = (i: number) => servers[i % servers.length];

      const sessions: SessionBody[] = [];
      for (let i = 0; i < 3; i++) sessions.push(await register(httpClient(at(i).url), newUser()));
      const before = await hashes(at(3));
      const refused = await fetch(`${at(3).url}/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(newUser("fourth")),
      });
      await assertLimited(refused, 3600, /registrations from this address/);
      assert.equal(await hashes(at(3)), before, "a refused registration costs no bcrypt hash");
      const [{ count }] = await db.sql`SELECT count(*)::int AS count FROM accounts`;
      assert.equal(count, 3);

      // Refreshes of one session: three pass, wherever they land; the fourth is refused.
      let token = sessions[0].refreshToken;
      for (let i = 0; i < 3; i++) {
        const res = await refresh(at(i), token);
        assert.equal(res.status, 200, await res.clone().text());
        token = (await res.json()).refreshToken;
      }
      await assertLimited(await refresh(at(3), token), 60, /refreshes of this session/);
      const [row] = await db.sql`
        SELECT revoked_at FROM refresh_tokens WHERE token_hash = ${hashRefreshToken(token)}`;
      assert.equal(row.revoked_at, null, "the refused refresh rotated nothing");
      // Another session has a limit of its own.
      const other = await refresh(at(1), sessions[1].refreshToken);
      assert.equal(other.status, 200);
      await other.body?.cancel();
    } finally {
      await Promise.all(servers.map((server) => server.stop()));
      await db.drop();
      await clearRedisPrefix(prefix);
    }
  });
}

Deno.test("[limits] /metrics with METRICS_TOKEN asks for it; without, it is open", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const guarded = await startServer(testEnv(db, prefix, { METRICS_TOKEN: "scrape-secret" }));
  const open = await startServer(testEnv(db, prefix, {}));
  try {
    for (const authorization of [undefined, "Bearer wrong", "Basic c2NyYXBlLXNlY3JldA=="]) {
      const res = await fetch(`${guarded.url}/metrics`, {
        headers: authorization ? { authorization } : {},
      });
      assert.equal(res.status, 401, authorization);
      assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="metrics"');
      const body = await res.json();
      assert.equal(body.type, "urn:scoreboard:problem:unauthorized");
      assert.doesNotMatch(JSON.stringify(body), /scrape-secret/);
    }
    const allowed = await fetch(`${guarded.url}/metrics`, {
      headers: { authorization: "Bearer scrape-secret" },
    });
    assert.equal(allowed.status, 200);
    assert.match(await allowed.text(), /^scoreboard_build_info/m);
    const anyone = await fetch(`${open.url}/metrics`);
    assert.equal(anyone.status, 200);
    await anyone.body?.cancel();
    assert.ok(
      !guarded.logs.some((line) => line.includes("scrape-secret")),
      "the token never reaches the log",
    );
  } finally {
    await guarded.stop();
    await open.stop();
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});
