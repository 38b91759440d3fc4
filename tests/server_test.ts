import assert from "node:assert/strict";
import { clearRedisPrefix, createTestDatabase, newUser, randomPrefix, testEnv } from "./helpers.ts";
import { startServer } from "./server.ts";
import { startTcpProxy } from "./tcp_proxy.ts";

Deno.test("[auth] /healthz keeps answering while logins are hashing (bcrypt off the event loop)", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const server = await startServer(testEnv(db, prefix, { BCRYPT_COST: "12", BCRYPT_WORKERS: "2" }));
  try {
    const users = [newUser(), newUser()];
    for (const user of users) {
      const reg = await fetch(`${server.url}/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(user),
      });
      assert.equal(reg.status, 201);
      await reg.body?.cancel();
    }

    const events: string[] = [];
    // Six verifications at cost 12 on two workers (two accounts, four unknown emails that cost a
    // dummy verification): the last ends after three rounds of bcrypt.
    const attempts = [...users, ...Array.from({ length: 4 }, () => newUser("unknown"))];
    const logins = attempts.map(async (user) => {
      const res = await fetch(`${server.url}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(user),
      });
      await res.body?.cancel();
      events.push(`login ${res.status}`);
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${server.url}/healthz`);
      assert.equal(res.status, 200);
      await res.body?.cancel();
      events.push("healthz");
    }
    await Promise.all(logins);
    // Every probe answered before the first login finished.
    assert.deepEqual(events.slice(0, 5), ["healthz", "healthz", "healthz", "healthz", "healthz"]);
    assert.deepEqual(events.slice(5).sort(), [
      ...Array(2).fill("login 200"),
      ...Array(4).fill("login 401"),
    ]);
  } finally {
    await server.stop();
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});

Deno.test("[server] SIGTERM stops the server cleanly", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const server = await startServer(testEnv(db, prefix));
  try {
    const res = await fetch(`${server.url}/healthz`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    const status = await server.stop("SIGTERM");
    assert.equal(status.code, 0);
    assert.ok(server.logs.some((line) => line.includes('"stopped"')), server.logs.join("\n"));
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});

Deno.test("[server] SIGTERM lets a request in flight finish", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const server = await startServer(testEnv(db, prefix, { BCRYPT_COST: "12" }));
  try {
    // A registration hashes for a few hundred milliseconds: still running when SIGTERM arrives.
    const pending = fetch(`${server.url}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(newUser()),
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stopped = server.stop("SIGTERM");
    const res = await pending;
    assert.equal(res.status, 201);
    await res.body?.cancel();
    assert.equal((await stopped).code, 0);
  } finally {
    await server.stop();
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});

Deno.test("[server] a 500 is logged with its request id, and no secret reaches the log", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  // PostgreSQL answers while the server starts (it migrates), then goes away.
  const url = new URL(db.url);
  const proxy = startTcpProxy(url.hostname, Number(url.port || 5432));
  url.port = String(proxy.port);
  const server = await startServer({ ...testEnv(db, prefix), DATABASE_URL: url.toString() });
  await proxy.cut();
  try {
    const user = newUser();
    const res = await fetch(`${server.url}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(user),
    });
    assert.equal(res.status, 500);
    const id = res.headers.get("x-request-id")!;
    const body = await res.text();
    assert.doesNotMatch(body, /ECONNREFUSED/);
    await server.stop();
    const line = server.logs.find((l) => l.includes(id));
    assert.ok(line, `a log line names request ${id}:\n${server.logs.join("\n")}`);
    assert.equal(JSON.parse(line).level, "ERROR");
    const logs = server.logs.join("\n");
    assert.ok(!logs.includes(user.password), "the password is not logged");
    assert.ok(!logs.includes(testEnv(db, prefix).JWT_SECRET), "the JWT secret is not logged");
  } finally {
    await server.stop();
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});
