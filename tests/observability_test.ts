/** What an operator sees of a running server: its log lines, audit events and metrics. */
import assert from "node:assert/strict";
import {
  ADMIN_TOKEN,
  complete,
  createAction,
  createTestDatabase,
  eventually,
  httpClient,
  newUser,
  randomPrefix,
  register,
  testEnv,
} from "./helpers.ts";
import { startTestRedis } from "./redis_server.ts";
import { startServer, type TestServer } from "./server.ts";
import { openStream } from "./sse.ts";

type Record = {
  level: string;
  logger: string;
  message: string;
  properties: { [key: string]: unknown };
};

const records = (server: TestServer): Record[] =>
  server.logs.flatMap((line) => {
    try {
      return [JSON.parse(line)];
    } catch {
      return [];
    }
  });

Deno.test("[ops] one JSON access-log line per request, and no secret in any line", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const server = await startServer(
    testEnv(db, prefix, { TRUSTED_PROXY_HOPS: "1", LOG_LEVEL: "info" }),
  );
  try {
    const api = httpClient(server.url);
    const user = newUser();
    const session = await register(api, user);
    const login = await api.call("POST", "/auth/login", {
      body: { email: user.email, password: user.password },
      headers: { "x-forwarded-for": "203.0.113.7" },
    });
    assert.equal(login.status, 200);
    const loggedIn = await login.json();
    const me = await api.call("GET", "/me?secret=query", { token: session.accessToken });
    const requestId = me.headers.get("x-request-id");
    await me.body?.cancel();
    await (await api.call("GET", "/no/such/route")).body?.cancel();

    // Lines are written in batches: wait for the last request's.
    await eventually(() =>
      Promise.resolve(records(server).some((r) => r.properties.status === 404))
    );
    const access = records(server).filter((r) => r.logger === "scoreboard.http");
    const line = access.find((r) => r.properties.requestId === requestId)!;
    assert.equal(line.level, "INFO");
    assert.deepEqual(
      { ...line.properties, durationMs: typeof line.properties.durationMs },
      {
        method: "GET",
        route: "/me",
        path: "/me",
        status: 200,
        durationMs: "number",
        requestId,
        client: "127.0.0.1",
      },
    );
    const loginLine = access.find((r) => r.properties.path === "/auth/login")!;
    assert.equal(loginLine.properties.client, "203.0.113.7");
    assert.equal(access.find((r) => r.properties.status === 404)!.properties.route, "unmatched");
    assert.equal(access.filter((r) => r.properties.path === "/auth/register").length, 1);

    const everything = server.logs.join("\n");
    for (
      const secret of [
        user.password,
        session.accessToken,
        session.refreshToken,
        loggedIn.refreshToken,
        loggedIn.accessToken,
        "secret=query",
        "$2",
      ]
    ) {
      assert.ok(!everything.includes(secret), `a log line holds ${secret.slice(0, 6)}…`);
    }
  } finally {
    await server.stop();
    await db.drop();
  }
});

Deno.test("[ops] audit events: the catalogue, deletions, a reused refresh token, a lock-out", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const server = await startServer(testEnv(db, prefix, {
    REFRESH_TOKEN_REUSE_INTERVAL: "0",
    LOGIN_MAX_FAILURES_PER_EMAIL: "2",
    LOG_LEVEL: "info",
  }));
  try {
    const api = httpClient(server.url);
    const { slug } = await createAction(api, 5);
    const patched = await api.call("PATCH", `/admin/actions/${slug}`, {
      token: ADMIN_TOKEN,
      body: { pointValue: 7 },
    });
    await patched.body?.cancel();
    await (await api.call("DELETE", `/admin/actions/${slug}`, { token: ADMIN_TOKEN })).body
      ?.cancel();

    const victim = await register(api);
    const refreshed = await api.call("POST", "/auth/refresh", {
      body: { refreshToken: victim.refreshToken },
    });
    await refreshed.body?.cancel();
    const reused = await api.call("POST", "/auth/refresh", {
      body: { refreshToken: victim.refreshToken },
    });
    assert.equal(reused.status, 401);
    await reused.body?.cancel();

    const locked = newUser();
    await register(api, locked);
    for (let i = 0; i < 3; i++) {
      const res = await api.call("POST", "/auth/login", {
        body: { email: locked.email, password: "wrong password" },
      });
      await res.body?.cancel();
    }
    const gone = await register(api);
    await (await api.call("DELETE", "/me", { token: gone.accessToken })).body?.cancel();

    const expected = [
      ["action.created", { slug, pointValue: 5 }],
      ["action.updated", { slug, pointValue: 7 }],
      ["action.retired", { slug }],
      ["refresh-token.reused", { accountId: victim.account.id, sessionsEnded: 1 }],
      ["login.locked", {}],
      ["account.deleted", { accountId: gone.account.id }],
    ] as const;
    await eventually(() =>
      Promise.resolve(
        expected.every(([event]) =>
          records(server).some((r) => r.logger === "scoreboard.audit" && r.message === event)
        ),
      )
    ).catch((error) => {
      const seen = records(server).filter((r) => r.logger === "scoreboard.audit");
      throw new Error(`${error.message}; audit lines: ${JSON.stringify(seen)}`);
    });
    const audit = records(server).filter((r) => r.logger === "scoreboard.audit");
    for (const [event, fields] of expected) {
      const line = audit.find((r) => r.message === event)!;
      assert.equal(line.level, "INFO", event);
      for (const [key, value] of Object.entries(fields)) {
        assert.equal(line.properties[key], value, `${event}.${key}`);
      }
    }
    const lockout = audit.find((r) => r.message === "login.locked")!;
    assert.ok(!JSON.stringify(lockout).includes(locked.email), "no email in the audit log");
  } finally {
    await server.stop();
    await db.drop();
  }
});

/** Samples of a metric family in a Prometheus text, by their label string. */
function samples(text: string, name: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (match) found.set(match[1] ?? "", Number(match[2]));
  }
  return found;
}

const sum = (text: string, name: string) =>
  [...samples(text, name).values()].reduce((a, b) => a + b, 0);

Deno.test("[ops] /metrics has every family, and each moves with what it counts", async () => {
  const redis = await startTestRedis();
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const server = await startServer(testEnv(db, prefix, {
    REDIS_URL: redis.url,
    COMPLETIONS_PER_SECOND: "2",
    SSE_MAX_CLIENTS: "1",
    REDIS_COMMAND_TIMEOUT_MS: "300",
  }));
  const scrape = async () => await (await fetch(`${server.url}/metrics`)).text();
  try {
    const api = httpClient(server.url);
    // Right after start the subscription may still be on its way.
    await eventually(async () => sum(await scrape(), "scoreboard_redis_subscription_up") === 1);
    const before = await scrape();
    for (
      const family of [
        "scoreboard_build_info",
        "scoreboard_process_resident_memory_bytes",
        "scoreboard_process_heap_used_bytes",
        "scoreboard_process_cpu_seconds_total",
        "scoreboard_event_loop_delay_seconds_count",
        "scoreboard_sse_open_streams",
        "scoreboard_postgres_up",
        "scoreboard_postgres_queries_in_flight",
        "scoreboard_redis_up",
        "scoreboard_redis_subscription_up",
        "scoreboard_bcrypt_queue_length",
      ]
    ) {
      assert.ok(samples(before, family).size > 0, `${family} is there`);
    }
    assert.ok(sum(before, "scoreboard_process_resident_memory_bytes") > 0);
    assert.equal(sum(before, "scoreboard_postgres_up"), 1);
    assert.equal(sum(before, "scoreboard_redis_up"), 1);
    assert.equal(sum(before, "scoreboard_redis_subscription_up"), 1);
    assert.match(
      before,
      /^scoreboard_build_info\{version="[^"]+",deno="[^"]+",mode="scale-out"\} 1$/m,
    );
    // The instance found the boards missing in a new Redis, and rebuilt them.
    await eventually(async () =>
      sum(await scrape(), "scoreboard_rebuild_duration_seconds_count") >= 4
    );

    const { slug } = await createAction(api, 3);
    const s = await register(api);
    const stream = await openStream(`${server.url}/leaderboard/stream`);
    try {
      await stream.next();
      const refused = await fetch(`${server.url}/leaderboard/stream`);
      assert.equal(refused.status, 503);
      await refused.body?.cancel();
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        const res = await complete(api, s.accessToken, slug);
        statuses.push(res.status);
        await res.body?.cancel();
      }
      assert.ok(statuses.includes(429), `${statuses}`);
      await stream.until((e) => e.event === "leaderboard");

      const after = await scrape();
      const moved = (name: string) =>
        assert.ok(sum(after, name) > sum(before, name), `${name} moved`);
      moved("scoreboard_http_requests_total");
      moved("scoreboard_http_request_duration_seconds_count");
      moved("scoreboard_sse_broadcasts_total");
      moved("scoreboard_sse_broadcast_delay_seconds_count");
      moved("scoreboard_sse_streams_refused_total");
      moved("scoreboard_score_updates_total");
      moved("scoreboard_postgres_query_duration_seconds_count");
      moved("scoreboard_completion_batch_size_count");
      moved("scoreboard_rate_limited_total");
      moved("scoreboard_bcrypt_jobs_total");
      moved("scoreboard_bcrypt_wait_seconds_count");
      moved("scoreboard_process_cpu_seconds_total");
      moved("scoreboard_event_loop_delay_seconds_count");
      assert.equal(sum(after, "scoreboard_sse_open_streams"), 1);
      assert.equal(
        samples(after, "scoreboard_sse_streams_refused_total").get('{reason="full"}'),
        1,
      );
      assert.equal(
        samples(after, "scoreboard_rate_limited_total").get('{kind="completions"}'),
        statuses.filter((x) => x === 429).length,
      );
    } finally {
      await stream.close();
    }

    // Redis goes away: its gauges say so, and its errors are counted.
    await redis.stop();
    await eventually(async () => {
      const text = await scrape();
      return sum(text, "scoreboard_redis_up") === 0 &&
        sum(text, "scoreboard_redis_subscription_up") === 0;
    });
    const errorsBefore = sum(await scrape(), "scoreboard_redis_errors_total");
    const fresh = await register(api); // its completions are not limited yet
    const res = await complete(api, fresh.accessToken, slug);
    assert.equal(res.status, 201);
    await res.body?.cancel();
    assert.ok(sum(await scrape(), "scoreboard_redis_errors_total") > errorsBefore);
  } finally {
    await server.stop();
    await db.drop();
    await redis.stop();
  }
});

Deno.test("[ops] every line is JSON on stdout; LOG_LEVEL=warning keeps the start line, drops the access log", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const env = testEnv(db, prefix, { LOG_LEVEL: "warning" });
  delete env.JWT_SECRET; // a warning at start
  const server = await startServer(env);
  try {
    await (await fetch(`${server.url}/healthz`)).body?.cancel();
    const warning = await fetch(`${server.url}/no/such/route`);
    await warning.body?.cancel();
    await server.stop();
    assert.deepEqual(server.stderr, []);
    const lines = records(server);
    assert.equal(lines.length, server.logs.length, "every line is a JSON record");
    const start = lines.find((r) => r.message.startsWith("listening on"))!;
    assert.equal(start.logger, "scoreboard.start");
    assert.deepEqual(
      Object.keys(start.properties).sort(),
      [
        "console",
        "database",
        "hostname",
        "httpServer",
        "mode",
        "operatorRoutes",
        "operatorTokenFile",
        "page",
        "port",
        "redis",
        "redisKeyPrefix",
        "url",
        "version",
      ],
    );
    assert.equal(start.properties.mode, "scale-out");
    assert.equal(start.properties.redisKeyPrefix, prefix);
    assert.equal(start.properties.operatorRoutes, true);
    assert.equal(start.properties.database, `postgres://127.0.0.1:5432/${db.name}`);
    assert.ok(
      lines.some((r) => r.level === "WARN" && /JWT_SECRET/.test(r.message)),
      server.logs.join("\n"),
    );
    assert.ok(!lines.some((r) => r.logger === "scoreboard.http"), "no access log at warning");
    assert.ok(lines.some((r) => r.message === "stopped"), "the stop line is written too");
  } finally {
    await server.stop();
    await db.drop();
  }
});
