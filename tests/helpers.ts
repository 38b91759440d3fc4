/**
 * Test helpers: each test gets a PostgreSQL database of its own (cloned from the migrated
 * template) and a Redis key prefix of its own, and builds the real app or starts the real server
 * on them. Everything is dropped again by `close()`.
 */
import { Redis } from "ioredis";
import postgres, { type Sql } from "postgres";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { openRuntime, type Runtime, type RuntimeOptions } from "../src/runtime.ts";
import {
  ADMIN_DATABASE_URL,
  databaseUrl,
  REDIS_URL,
  TEMPLATE_DATABASE,
  TEST_DATABASE_PREFIX,
} from "./env.ts";

export { REDIS_URL };

/** A JWT secret for tests (32 bytes). */
export const JWT_SECRET = "test-secret-test-secret-test-secret!";

/** The operator token of test instances. */
export const ADMIN_TOKEN = "test-admin-token-test-admin-token";

/** A database of one test's own. */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** A connection for the test's own checks. */
  readonly sql: Sql;
  drop(): Promise<void>;
}

/** Clones the migrated template into a new database. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `${TEST_DATABASE_PREFIX}${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    await admin`CREATE DATABASE ${admin(name)} TEMPLATE ${admin(TEMPLATE_DATABASE)}`;
  } finally {
    await admin.end({ timeout: 5 });
  }
  const url = databaseUrl(name);
  const sql = postgres(url, { max: 4, onnotice: () => {} });
  return {
    name,
    url,
    sql,
    async drop() {
      await sql.end({ timeout: 5 });
      const admin = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
      try {
        await admin`DROP DATABASE IF EXISTS ${admin(name)} WITH (FORCE)`;
      } finally {
        await admin.end({ timeout: 5 });
      }
    },
  };
}

/** A Redis key prefix no other test uses. */
export function randomPrefix(): string {
  return `test:${crypto.randomUUID().slice(0, 8)}:`;
}

/** Deletes every key under `prefix`. */
export async function clearRedisPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on("error", () => {});
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

/** The environment of a test instance: fast bcrypt, its own database and prefix. */
export function testEnv(
  db: Pick<TestDatabase, "url">,
  prefix: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    DATABASE_URL: db.url,
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    JWT_SECRET,
    ADMIN_TOKEN,
    BCRYPT_COST: "4",
    BCRYPT_WORKERS: "2",
    LOG_LEVEL: "error",
    // Every test registers and refreshes from one address; the limits' own tests set theirs.
    REGISTRATIONS_PER_ADDRESS: "1000000000",
    REFRESHES_PER_SESSION: "1000000000",
    ...overrides,
  };
}

/** Options of a request made through `TestApp.call`. */
export interface CallOptions {
  /** Sent as JSON, or as it is when a string. */
  body?: unknown;
  /** Sent as it is (a stream, say), with no content type of its own. */
  rawBody?: BodyInit;
  token?: string;
  headers?: Record<string, string>;
}

/** Headers and body of a request, announced as an HTTP client announces them. */
function requestInit(options: CallOptions): RequestInit {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers["content-type"] ??= "application/json";
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const body = options.rawBody ??
    (options.body === undefined
      ? undefined
      : typeof options.body === "string"
      ? options.body
      : JSON.stringify(options.body));
  if (typeof body === "string") {
    headers["content-length"] ??= String(new TextEncoder().encode(body).length);
  } else if (body !== undefined) headers["transfer-encoding"] ??= "chunked";
  return { headers, body };
}

/** The real app, in process, on a database and prefix of its own. */
export interface TestApp {
  readonly rt: Runtime;
  readonly db: TestDatabase;
  readonly prefix: string;
  readonly env: Record<string, string>;
  /** A Redis connection for the test's own checks (on the app's REDIS_URL, or the test Redis). */
  readonly redis: Redis;
  /** Sends a request through the whole middleware stack; `body` is sent as JSON. */
  call(method: string, path: string, options?: CallOptions): Promise<Response>;
  close(): Promise<void>;
}

/**
 * Opens the app on a fresh database; `overrides` are environment variables (`REDIS_URL: ""` for
 * one instance without Redis); `options` are the runtime's (a clock).
 */
export async function openTestApp(
  overrides: Record<string, string> = {},
  options: RuntimeOptions = {},
): Promise<TestApp> {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const env = testEnv(db, prefix, overrides);
  const rt = await openRuntime(loadConfig(env, 2), undefined, options);
  const app = createApp(rt);
  const redisUrl = env.REDIS_URL || REDIS_URL;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  redis.on("error", () => {});
  return {
    rt,
    db,
    prefix,
    env,
    redis,
    call(method, path, options = {}) {
      return Promise.resolve(app.request(path, { method, ...requestInit(options) }));
    },
    async close() {
      await rt.close();
      redis.disconnect();
      await db.drop();
      await clearRedisPrefix(prefix, redisUrl).catch(() => {});
    },
  };
}

let counter = 0;

/** A username, email and password no other test uses. */
export function newUser(label = "user") {
  const id = `${Date.now().toString(36)}${(counter++).toString(36)}${
    crypto.randomUUID().slice(0, 4)
  }`;
  return {
    username: `${label}-${id}`,
    email: `${label}-${id}@example.com`,
    password: "correct horse battery staple",
  };
}

/** A Session as the API returns it. */
export interface SessionBody {
  account: { id: number; username: string; email: string; createdAt: string };
  accessToken: string;
  refreshToken: string;
  tokenType: string;
  expiresIn: number;
}

/** Registers a new user through the API and returns its session. */
export async function register(
  app: Pick<TestApp, "call">,
  user = newUser(),
): Promise<SessionBody> {
  const res = await app.call("POST", "/auth/register", { body: user });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
  return await res.json();
}

/** Asserts nothing; reads a problem+json body, failing loudly when it is not one. */
export async function problem(res: Response): Promise<Record<string, unknown>> {
  const type = res.headers.get("content-type") ?? "";
  if (!type.startsWith("application/problem+json")) {
    throw new Error(`expected application/problem+json, got ${type}: ${await res.text()}`);
  }
  return await res.json();
}

/** Adds an action through the operator API. */
export async function createAction(
  app: Pick<TestApp, "call">,
  pointValue: number,
  slug = `act-${crypto.randomUUID().slice(0, 8)}`,
): Promise<{ slug: string; pointValue: number }> {
  const res = await app.call("POST", "/admin/actions", {
    token: ADMIN_TOKEN,
    body: { slug, label: `Action ${slug}`, pointValue },
  });
  if (res.status !== 201) throw new Error(`create action: ${res.status} ${await res.text()}`);
  return await res.json();
}

/** An action worth one point and `count` players registered to complete it, through `url`. */
export async function actionAndPlayers(
  url: string,
  count: number,
): Promise<{ slug: string; sessions: SessionBody[] }> {
  const app = httpClient(url);
  const { slug } = await createAction(app, 1);
  const sessions: SessionBody[] = [];
  for (let i = 0; i < count; i++) sessions.push(await register(app, newUser("p")));
  return { slug, sessions };
}

/** Completes an action through the API; returns the response. */
export function complete(
  app: Pick<TestApp, "call">,
  token: string,
  slug: string,
  key?: string,
): Promise<Response> {
  return app.call("POST", `/actions/${slug}/complete`, {
    token,
    headers: key === undefined ? {} : { "idempotency-key": key },
  });
}

/** Waits until `check` holds, trying every 50 ms for at most `ms`. */
export async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not true after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `call` over HTTP to a running server, so that the helpers above work against it too. */
export function httpClient(baseUrl: string): Pick<TestApp, "call"> {
  return {
    call(method, path, options = {}) {
      return fetch(`${baseUrl}${path}`, { method, ...requestInit(options) });
    },
  };
}

/** New accounts with the given totals, made of 1-point completions, in that order. */
export async function accountsWith(
  app: Pick<TestApp, "call">,
  totals: number[],
): Promise<SessionBody[]> {
  const { slug } = await createAction(app, 1);
  const sessions = [];
  for (const total of totals) {
    const session = await register(app);
    for (let i = 0; i < total; i++) {
      const res = await complete(app, session.accessToken, slug);
      if (res.status !== 201) throw new Error(`complete: ${res.status} ${await res.text()}`);
      await res.body?.cancel();
    }
    sessions.push(session);
  }
  return sessions;
}
