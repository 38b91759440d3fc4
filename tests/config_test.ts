import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../src/config.ts";
import { createTestDatabase, randomPrefix, testEnv } from "./helpers.ts";
import { startServer } from "./server.ts";

Deno.test("[config] defaults are API.md's", () => {
  const config = loadConfig({}, 4);
  assert.equal(config.port, 8000);
  assert.equal(config.databaseUrl, null);
  assert.equal(config.dataDir, "./data");
  assert.equal(config.redis, null);
  assert.equal(config.redisCommandTimeoutMs, 1000);
  assert.equal(config.redisKeyPrefix, "");
  assert.equal(config.jwtSecret, null);
  assert.equal(config.adminToken, null);
  assert.equal(config.bcryptCost, 12);
  assert.equal(config.bcryptWorkers, 4);
  assert.equal(config.accessTokenTtl, 900);
  assert.equal(config.refreshTokenTtl, 30 * 24 * 3600);
  assert.equal(config.refreshTokenReuseInterval, 10);
  assert.equal(config.loginMaxFailuresPerEmail, 5);
  assert.equal(config.loginMaxFailuresPerAddress, 50);
  assert.equal(config.loginFailureWindow, 900);
  assert.equal(config.completionsPerSecond, 10);
  assert.equal(config.sseHeartbeatMs, 15_000);
  assert.equal(config.broadcastIntervalMs, 100);
  assert.deepEqual(config.corsOrigins, []);
  assert.ok(Object.isFrozen(config));
});

Deno.test("[config] values are parsed, and empty strings count as unset", () => {
  const config = loadConfig({
    PORT: "9000",
    CORS_ORIGINS: "https://a.example, http://localhost:3000",
    ADMIN_TOKEN: "",
    DATABASE_URL: "",
    DATA_DIR: " /var/lib/scoreboard ",
    JWT_SECRET: "x".repeat(32),
    REDIS_KEY_PREFIX: "acme:",
    REFRESH_TOKEN_REUSE_INTERVAL: "0",
  });
  assert.equal(config.port, 9000);
  assert.deepEqual(config.corsOrigins, ["https://a.example", "http://localhost:3000"]);
  assert.equal(config.adminToken, null);
  assert.equal(config.databaseUrl, null);
  assert.equal(config.dataDir, "/var/lib/scoreboard");
  assert.equal(config.jwtSecret, "x".repeat(32));
  assert.equal(config.redisKeyPrefix, "acme:");
  assert.equal(config.refreshTokenReuseInterval, 0);
});

for (
  const [name, value] of [
    ["PORT", "eighty"],
    ["PORT", "70000"],
    ["DATABASE_URL", "mysql://localhost/x"],
    ["DATA_DIR", "   "],
    ["DATA_DIR", "data\0dir"],
    ["REDIS_URL", "not a url"],
    ["JWT_SECRET", "too-short"],
    ["BCRYPT_COST", "3"],
    ["ACCESS_TOKEN_TTL", "0"],
    ["REFRESH_TOKEN_REUSE_INTERVAL", "-1"],
    ["REFRESH_TOKEN_REUSE_INTERVAL", "ten"],
    ["REFRESH_TOKEN_REUSE_INTERVAL", "601"],
    ["SSE_MAX_CLIENTS", "-1"],
    ["BROADCAST_INTERVAL_MS", "1.5"],
    ["CORS_ORIGINS", "https://a.example/path"],
    ["LOG_LEVEL", "loud"],
  ]
) {
  Deno.test(`[config] a bad ${name} (${JSON.stringify(value)}) is refused by name`, () => {
    assert.throws(() => loadConfig({ [name]: value }), (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, new RegExp(`\\b${name}\\b`));
      return true;
    });
  });
}

Deno.test("[config] the server stops at start on a bad value, naming it", async () => {
  const db = await createTestDatabase();
  try {
    const server = startServer(testEnv(db, randomPrefix(), { JWT_SECRET: "short" }));
    await assert.rejects(server, (error: Error) => {
      assert.match(error.message, /exited with 78/);
      assert.match(error.message, /JWT_SECRET: must be at least 32 bytes/);
      return true;
    });
  } finally {
    await db.drop();
  }
});

Deno.test("[config] Redis through Sentinels, and the settings that go with PgBouncer", () => {
  const config = loadConfig({
    REDIS_SENTINELS: "s1.internal:26379, [::1]:26380",
    REDIS_SENTINEL_NAME: "mymaster",
    DATABASE_URL: "postgres://app@pgbouncer:6432/scoreboard",
    DATABASE_MIGRATION_URL: "postgres://app@postgres:5432/scoreboard",
    DATABASE_PREPARE: "false",
  });
  assert.deepEqual(config.redis, {
    url: null,
    sentinels: [{ host: "s1.internal", port: 26379 }, { host: "::1", port: 26380 }],
    sentinelName: "mymaster",
    sentinelPassword: null,
    clusterNodes: null,
    tls: { ca: null, cert: null, key: null },
  });
  assert.equal(config.databaseMigrationUrl, "postgres://app@postgres:5432/scoreboard");
  assert.equal(config.databasePrepare, false);
  assert.equal(loadConfig({}).redis, null);
  assert.equal(loadConfig({}).databasePrepare, true);
  for (
    const [env, message] of [
      [{ REDIS_SENTINELS: "s1:26379" }, /REDIS_SENTINELS and REDIS_SENTINEL_NAME go together/],
      [{ REDIS_SENTINEL_NAME: "mymaster" }, /go together/],
      [
        { REDIS_SENTINELS: "s1", REDIS_SENTINEL_NAME: "m" },
        /REDIS_SENTINELS: "s1" is not host:port/,
      ],
      [{ REDIS_SENTINELS: "s1:99999", REDIS_SENTINEL_NAME: "m" }, /is not host:port/],
      [
        { REDIS_SENTINELS: "s:1", REDIS_SENTINEL_NAME: "m", REDIS_CLUSTER_NODES: "n:2" },
        /one or the other/,
      ],
      [{ DATABASE_PREPARE: "no" }, /DATABASE_PREPARE: must be true or false/],
      [{ DATABASE_MIGRATION_URL: "mysql://x" }, /DATABASE_MIGRATION_URL: must be a URL/],
    ] as const
  ) {
    assert.throws(() => loadConfig(env), (error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test("[config] in a Redis Cluster every key carries one hash tag: the prefix's, or {scoreboard}", () => {
  const nodes = { REDIS_CLUSTER_NODES: "n1:7000,n2:7001" };
  assert.deepEqual(loadConfig(nodes).redis?.clusterNodes, [
    { host: "n1", port: 7000 },
    { host: "n2", port: 7001 },
  ]);
  assert.equal(loadConfig(nodes).redisKeyPrefix, "{scoreboard}:");
  assert.equal(loadConfig({ ...nodes, REDIS_KEY_PREFIX: "acme:" }).redisKeyPrefix, "{acme:}");
  assert.equal(loadConfig({ ...nodes, REDIS_KEY_PREFIX: "{acme}:" }).redisKeyPrefix, "{acme}:");
  // Without a cluster, the prefix is used as it is.
  assert.equal(loadConfig({ REDIS_KEY_PREFIX: "acme:" }).redisKeyPrefix, "acme:");
});
