import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { createApp } from "../src/app.ts";
import { newUser, openTestApp, problem } from "./helpers.ts";

Deno.test("[http] an unknown route is a 404 problem", async () => {
  const t = await openTestApp();
  try {
    const res = await t.call("GET", "/no/such/route");
    assert.equal(res.status, 404);
    const body = await problem(res);
    assert.equal(body.status, 404);
    assert.equal(body.title, "Not Found");
    assert.equal(typeof body.type, "string");
  } finally {
    await t.close();
  }
});

Deno.test("[http] responses carry security headers, a request id and no-store", async () => {
  const t = await openTestApp();
  try {
    const res = await t.call("GET", "/healthz");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    // HSTS is the TLS terminator's; the CSP's frame-ancestors stands for X-Frame-Options.
    assert.equal(res.headers.get("strict-transport-security"), null);
    assert.match(res.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);
    assert.match(res.headers.get("x-request-id") ?? "", /^[\w-]{8,}$/);
    assert.equal(res.headers.get("cache-control"), "no-store");
    await res.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("[http] a body over 16 KiB is a 413 problem, announced or streamed", async () => {
  const t = await openTestApp();
  try {
    const user = { ...newUser(), username: "x".repeat(17 * 1024) };
    const res = await t.call("POST", "/auth/register", { body: user });
    assert.equal(res.status, 413);
    assert.equal((await problem(res)).status, 413);

    const chunks = new TextEncoder().encode(JSON.stringify(user));
    const streamed = await t.call("POST", "/auth/register", {
      headers: { "content-type": "application/json" },
      rawBody: new ReadableStream({
        start(controller) {
          controller.enqueue(chunks);
          controller.close();
        },
      }),
    });
    assert.equal(streamed.status, 413);
    await streamed.body?.cancel();
    const [{ n }] = await t.db.sql`SELECT count(*)::int AS n FROM accounts`;
    assert.equal(n, 0);
  } finally {
    await t.close();
  }
});

Deno.test("[http] a body that is not JSON is a 415 problem", async () => {
  const t = await openTestApp();
  try {
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]) {
      const res = await t.call("POST", "/auth/login", {
        headers: { "content-type": type },
        body: "email=a@example.com&password=whatever1",
      });
      assert.equal(res.status, 415, type);
      assert.equal((await problem(res)).status, 415);
    }
    const none = await t.call("POST", "/auth/login", {
      body: "{}",
      headers: { "content-type": "" },
    });
    assert.equal(none.status, 415);
    await none.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("[http] malformed JSON is a 400 problem with errors", async () => {
  const t = await openTestApp();
  try {
    for (const body of ['{"email": "a@example.com",', "not json", "[1, 2"]) {
      const res = await t.call("POST", "/auth/register", { body });
      assert.equal(res.status, 400, body);
      const p = await problem(res);
      assert.ok(Array.isArray(p.errors) && p.errors.length > 0);
    }
  } finally {
    await t.close();
  }
});

Deno.test("[http] wrong types and missing fields are 400 problems naming each field", async () => {
  const t = await openTestApp();
  try {
    const res = await t.call("POST", "/auth/register", {
      body: { username: 42, email: ["a@example.com"] },
    });
    assert.equal(res.status, 400);
    const p = await problem(res);
    const paths = (p.errors as { path: string; message: string }[]).map((e) => e.path).sort();
    assert.deepEqual(paths, ["email", "password", "username"]);

    for (const body of [null, [], "a string", 7]) {
      const r = await t.call("POST", "/auth/login", { body: JSON.stringify(body) });
      assert.equal(r.status, 400, JSON.stringify(body));
      await r.body?.cancel();
    }
  } finally {
    await t.close();
  }
});

Deno.test("[http] an unexpected error is a generic 500 with the request id, never its message", async () => {
  const t = await openTestApp();
  try {
    // A schema broken behind the service's back: the query fails in a way nobody planned for.
    await t.db.sql`DROP TABLE refresh_tokens CASCADE`;
    const res = await t.call("POST", "/auth/register", { body: newUser() });
    assert.equal(res.status, 500);
    const p = await problem(res);
    const text = JSON.stringify(p);
    assert.doesNotMatch(text, /refresh_tokens|relation|postgres|stack/i);
    const id = res.headers.get("x-request-id");
    assert.ok(id);
    assert.match(String(p.detail), new RegExp(id));
  } finally {
    await t.close();
  }
});

Deno.test("[http] a PostgreSQL session found inside a transaction nothing holds is a 503, an error line with the request id, and a metric", async () => {
  const records: LogRecord[] = [];
  await configure({
    sinks: { buffer: (record) => records.push(record) },
    loggers: [
      { category: ["scoreboard"], lowestLevel: "error", sinks: ["buffer"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
  const t = await openTestApp();
  try {
    // No route of the service opens a transaction by hand; this one, on the real pool, does.
    const app = createApp(t.rt);
    app.post("/test/raw-begin", async (c) => {
      await t.rt.sql`BEGIN`;
      return c.body(null, 201);
    });
    const res = await app.request("/test/raw-begin", { method: "POST" });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("retry-after"), "1");
    const p = await problem(res);
    assert.equal(p.type, "urn:scoreboard:problem:database-unavailable");
    const id = res.headers.get("x-request-id")!;
    assert.match(String(p.detail), new RegExp(id));
    assert.equal(records.length, 1);
    assert.equal(records[0].level, "error");
    assert.equal(records[0].properties.requestId, id);
    assert.match(String(records[0].properties.message), /UNSAFE_TRANSACTION|transaction/);

    const metrics = await (await t.call("GET", "/metrics")).text();
    assert.match(metrics, /^scoreboard_postgres_unsafe_transactions_total 1$/m);
    // The connection was destroyed, not pooled: no session is left inside a transaction.
    const [{ open }] = await t.db.sql<{ open: number }[]>`
      SELECT count(*)::int AS open FROM pg_stat_activity
      WHERE datname = current_database() AND state LIKE 'idle in transaction%'`;
    assert.equal(open, 0);
  } finally {
    await t.close();
    await reset();
  }
});

Deno.test("[http] /healthz answers; /readyz stays ready without Redis and says so", async () => {
  const t = await openTestApp();
  const redisDown = await openTestApp({ REDIS_URL: "redis://127.0.0.1:1" });
  const single = await openTestApp({ REDIS_URL: "" });
  try {
    const health = await t.call("GET", "/healthz");
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "ok" });

    const ready = await t.call("GET", "/readyz");
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), {
      status: "ok",
      postgres: "ok",
      redis: "ok",
      mode: "scale-out",
    });

    // It serves from PostgreSQL without Redis: a Redis outage must not empty the load balancer.
    const degraded = await redisDown.call("GET", "/readyz");
    assert.equal(degraded.status, 200);
    assert.deepEqual(await degraded.json(), {
      status: "degraded",
      postgres: "ok",
      redis: "down",
      mode: "scale-out",
    });

    const alone = await single.call("GET", "/readyz");
    assert.equal(alone.status, 200);
    const body = await alone.json();
    assert.equal(body.status, "ok");
    assert.equal(body.redis, "none");
    assert.equal(body.mode, "single-instance");
    assert.match(body.detail, /cannot scale out/);
  } finally {
    await single.close();
    await redisDown.close();
    await t.close();
  }
});
