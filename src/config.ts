/** The service's whole configuration: the environment, validated with zod. The only reader of it. */
import { z } from "zod";
import { withTlsFiles } from "./db/tls.ts";

const int = (min: number, max: number) =>
  z.string().trim().regex(/^-?\d+$/, "must be a whole number").transform(Number).pipe(
    z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`),
  );

const url = (protocols: string[]) =>
  z.string().trim().refine((value) => {
    try {
      return protocols.includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, `must be a URL starting with ${protocols.join(" or ")}//`);

const origins = z.string().transform((value, ctx) => {
  const list = value.split(",").map((item) => item.trim()).filter(Boolean);
  for (const origin of list) {
    if (origin === "*") continue;
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      // reported below
    }
    if (!parsed || !["http:", "https:"].includes(parsed.protocol) || parsed.origin !== origin) {
      ctx.addIssue({
        code: "custom",
        message:
          `"${origin}" is not an origin like https://example.com (no path, no trailing slash)`,
      });
      return z.NEVER;
    }
  }
  return list;
});

/** A file's path (a certificate, a key). */
const filePath = z.string().trim().min(1, "must be a file path").max(4096)
  .refine((value) => !value.includes("\0"), "must be a file path");

/** "host:port,host:port": where Redis Sentinels answer. */
const hostPorts = z.string().transform((value, ctx) => {
  const list = value.split(",").map((item) => item.trim()).filter(Boolean);
  const parsed: { host: string; port: number }[] = [];
  for (const item of list) {
    const match = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(item);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) {
      ctx.addIssue({ code: "custom", message: `"${item}" is not host:port` });
      return z.NEVER;
    }
    parsed.push({ host: match[1].replace(/^\[(.*)\]$/, "$1"), port });
  }
  if (parsed.length === 0) {
    ctx.addIssue({ code: "custom", message: "must list host:port, comma-separated" });
    return z.NEVER;
  }
  return parsed;
});

/** Empty strings count as unset, as they do in most process managers' env files. */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === "" ? undefined : value), schema.optional());

const MINUTE = 60;
const DAY = 24 * 60 * MINUTE;

/** Environment variable → parser. Defaults are written as the strings an operator would set. */
const schema = z.object({
  PORT: int(0, 65535).default(8000),
  HTTP_SERVER: z.enum(["deno", "node"]).default("deno"),
  DATABASE_URL: optional(url(["postgres:", "postgresql:"])),
  DATA_DIR: optional(
    z.string().trim().min(1, "must be a directory path").max(
      1024,
      "must be at most 1024 characters",
    )
      .refine((value) => !value.includes("\0"), "must be a directory path"),
  ),
  DATABASE_POOL_SIZE: int(1, 200).default(10),
  DATABASE_MIGRATION_URL: optional(url(["postgres:", "postgresql:"])),
  DATABASE_CA_FILE: optional(filePath),
  DATABASE_CLIENT_CERT: optional(filePath),
  DATABASE_CLIENT_KEY: optional(filePath),
  DATABASE_PREPARE: z.enum(["true", "false"], "must be true or false").default("true")
    .transform((value) => value === "true"),
  COMPLETION_STATEMENTS: int(1, 200).default(1),
  REDIS_URL: optional(url(["redis:", "rediss:"])),
  REDIS_SENTINELS: optional(hostPorts),
  REDIS_SENTINEL_NAME: optional(z.string().trim().min(1).max(200)),
  REDIS_SENTINEL_PASSWORD: optional(z.string().max(1024)),
  REDIS_CLUSTER_NODES: optional(hostPorts),
  REDIS_CA_FILE: optional(filePath),
  REDIS_CLIENT_CERT: optional(filePath),
  REDIS_CLIENT_KEY: optional(filePath),
  HOST: z.string().trim().min(1).max(255).default("0.0.0.0"),
  REDIS_COMMAND_TIMEOUT_MS: int(50, 60_000).default(1000),
  REDIS_KEY_PREFIX: z.string().max(100).default(""),
  JWT_SECRET: optional(
    z.string().refine(
      (value) => new TextEncoder().encode(value).length >= 32,
      "must be at least 32 bytes",
    ),
  ),
  ADMIN_TOKEN: optional(z.string().max(1024)),
  METRICS_TOKEN: optional(z.string().min(1).max(1024)),
  BCRYPT_COST: int(4, 31).default(12),
  BCRYPT_WORKERS: optional(int(1, 64)),
  ACCESS_TOKEN_TTL: int(1, 7 * DAY).default(15 * MINUTE),
  REFRESH_TOKEN_TTL: int(1, 365 * DAY).default(30 * DAY),
  REFRESH_TOKEN_REUSE_INTERVAL: int(0, 10 * MINUTE).default(10),
  LOGIN_MAX_FAILURES_PER_EMAIL: int(1, 1_000_000).default(5),
  LOGIN_MAX_FAILURES_PER_ADDRESS: int(1, 1_000_000).default(50),
  LOGIN_FAILURE_WINDOW: int(1, DAY).default(15 * MINUTE),
  REGISTRATIONS_PER_ADDRESS: int(1, 1_000_000_000).default(20),
  REFRESHES_PER_SESSION: int(1, 1_000_000_000).default(30),
  COMPLETIONS_PER_SECOND: int(1, 1_000_000).default(10),
  TRUSTED_PROXY_HOPS: int(0, 10).default(0),
  SSE_HEARTBEAT_MS: int(100, 10 * MINUTE * 1000).default(15_000),
  SSE_RETRY_MS: int(100, 10 * MINUTE * 1000).default(2_000),
  SSE_MAX_CLIENTS: int(1, 1_000_000).default(10_000),
  SSE_MAX_BUFFERED_BYTES: int(1024, 64 * 1024 * 1024).default(256 * 1024),
  BROADCAST_INTERVAL_MS: int(1, MINUTE * 1000).default(100),
  CORS_ORIGINS: origins.default([]),
  SHUTDOWN_TIMEOUT_MS: int(0, 10 * MINUTE * 1000).default(10_000),
  SHUTDOWN_DRAIN_MS: int(0, 10 * MINUTE * 1000).default(5_000),
  SSE_MAX_LIFETIME_S: int(0, DAY).default(300),
  REQUEST_TIMEOUT_MS: int(100, 10 * MINUTE * 1000).default(5_000),
  LOG_LEVEL: z.enum(["debug", "info", "warning", "error"]).default("info"),
  LOG_FORMAT: optional(z.enum(["json", "pretty"])),
  // https://no-color.org: any value turns the colours of pretty lines off.
  NO_COLOR: optional(z.string()),
});

type Env = z.infer<typeof schema>;

/**
 * How to reach Redis: `url` alone, or through Sentinels (`url`, when given, then carries the
 * master's credentials, database and TLS; its host is not used).
 */
export interface RedisTarget {
  readonly url: string | null;
  readonly sentinels: readonly { host: string; port: number }[] | null;
  readonly sentinelName: string | null;
  readonly sentinelPassword: string | null;
  /** A Redis Cluster's nodes to start from (REDIS_CLUSTER_NODES), or null. */
  readonly clusterNodes: readonly { host: string; port: number }[] | null;
  /** Files of TLS (REDIS_CA_FILE, REDIS_CLIENT_CERT, REDIS_CLIENT_KEY): TLS when any is set. */
  readonly tls: { ca: string | null; cert: string | null; key: string | null };
}

/**
 * The key prefix in a Redis Cluster: every key of the service in one hash slot, so that its
 * scripts may touch several at once. A prefix with a hash tag is kept; else it becomes the tag
 * (`acme:` → `{acme:}`), and an empty one `{scoreboard}:`.
 */
export function clusterPrefix(prefix: string): string {
  if (/\{[^}]+\}/.test(prefix)) return prefix;
  return prefix === "" ? "{scoreboard}:" : `{${prefix}}`;
}

/** The validated configuration. `jwtSecret` is null when none was given (see `src/auth/secret.ts`). */
export interface Config {
  readonly port: number;
  /** The address to listen on (HOST): every interface by default. */
  readonly host: string;
  /**
   * deno: Deno.serve (plain requests about twice as fast); node: node:http (a stream costs about
   * a third of the memory) — for instances that carry the streams.
   */
  readonly httpServer: "deno" | "node";
  /** null: the instance runs an embedded PostgreSQL of its own under `dataDir`. */
  readonly databaseUrl: string | null;
  /** The embedded mode's directory (its PostgreSQL cluster, its kept secrets); as given. */
  readonly dataDir: string;
  readonly databasePoolSize: number;
  /**
   * Where migrations run (a direct connection when DATABASE_URL is a pooler in transaction
   * mode); null: DATABASE_URL.
   */
  readonly databaseMigrationUrl: string | null;
  /** Named prepared statements; false behind a pooler in transaction mode. */
  readonly databasePrepare: boolean;
  /** Completion statements in flight at once; completions that arrive meanwhile wait for the next. */
  readonly completionStatements: number;
  /**
   * Where Redis is — a URL, or Sentinels — or null: one instance on its own, the ranking from
   * PostgreSQL, the feed in the process.
   */
  readonly redis: RedisTarget | null;
  readonly redisCommandTimeoutMs: number;
  readonly redisKeyPrefix: string;
  readonly jwtSecret: string | null;
  readonly adminToken: string | null;
  /** /metrics asks for it (Authorization: Bearer) when set. */
  readonly metricsToken: string | null;
  readonly bcryptCost: number;
  readonly bcryptWorkers: number;
  readonly accessTokenTtl: number;
  readonly refreshTokenTtl: number;
  /** Seconds during which a rotated refresh token still gets a new pair; 0: never. */
  readonly refreshTokenReuseInterval: number;
  readonly loginMaxFailuresPerEmail: number;
  readonly loginMaxFailuresPerAddress: number;
  readonly loginFailureWindow: number;
  /** Registrations from one client address in an hour. */
  readonly registrationsPerAddress: number;
  /** Refreshes of one session in a minute. */
  readonly refreshesPerSession: number;
  readonly completionsPerSecond: number;
  readonly trustedProxyHops: number;
  readonly sseHeartbeatMs: number;
  readonly sseRetryMs: number;
  readonly sseMaxClients: number;
  readonly sseMaxBufferedBytes: number;
  readonly broadcastIntervalMs: number;
  readonly corsOrigins: readonly string[];
  readonly shutdownTimeoutMs: number;
  /**
   * On SIGTERM, how long the instance goes on serving, unready and closing connections after each
   * answer, before it stops (so that proxies and load balancers stop sending it work first).
   */
  readonly shutdownDrainMs: number;
  /** How long a stream lives at most (then its client comes back, wherever there is room); 0: ever. */
  readonly sseMaxLifetimeS: number;
  /** How long a request may take before its response starts (503 after that). */
  readonly requestTimeoutMs: number;
  readonly logLevel: Env["LOG_LEVEL"];
  /** json or pretty lines; null: pretty on a terminal, json otherwise. */
  readonly logFormat: "json" | "pretty" | null;
  /** Whether pretty lines are coloured (NO_COLOR unset). */
  readonly logColor: boolean;
}

/** The names of every variable the service reads, for `--allow-env` and the README. */
export const CONFIG_VARIABLES = Object.keys(schema.shape) as (keyof Env)[];

/** Thrown by `loadConfig`; its message names every variable that is wrong. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Validates `env` and returns a frozen Config. Pure: it reads nothing but its arguments.
 * `cores` is the default for BCRYPT_WORKERS.
 */
export function loadConfig(env: Record<string, string | undefined>, cores = 1): Config {
  const picked = Object.fromEntries(CONFIG_VARIABLES.map((name) => [name, env[name]]));
  const result = schema.safeParse(picked);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
  }
  const e = result.data;
  if ((e.REDIS_SENTINELS === undefined) !== (e.REDIS_SENTINEL_NAME === undefined)) {
    throw new ConfigError(
      "invalid configuration:\n  REDIS_SENTINELS and REDIS_SENTINEL_NAME go together " +
        "(the sentinels, and the name of the master they watch)",
    );
  }
  if (e.REDIS_SENTINELS !== undefined && e.REDIS_CLUSTER_NODES !== undefined) {
    throw new ConfigError(
      "invalid configuration:\n  REDIS_SENTINELS and REDIS_CLUSTER_NODES: one or the other",
    );
  }
  const cluster = e.REDIS_CLUSTER_NODES ?? null;
  const redis: RedisTarget | null =
    e.REDIS_URL === undefined && e.REDIS_SENTINELS === undefined && cluster === null
      ? null
      : Object.freeze({
        url: e.REDIS_URL ?? null,
        sentinels: e.REDIS_SENTINELS ? Object.freeze(e.REDIS_SENTINELS) : null,
        sentinelName: e.REDIS_SENTINEL_NAME ?? null,
        sentinelPassword: e.REDIS_SENTINEL_PASSWORD ?? null,
        clusterNodes: cluster === null ? null : Object.freeze(cluster),
        tls: Object.freeze({
          ca: e.REDIS_CA_FILE ?? null,
          cert: e.REDIS_CLIENT_CERT ?? null,
          key: e.REDIS_CLIENT_KEY ?? null,
        }),
      });
  // DATABASE_CA_FILE & co. become the URLs' libpq parameters (see src/db/tls.ts).
  const databaseTls = {
    sslrootcert: e.DATABASE_CA_FILE,
    sslcert: e.DATABASE_CLIENT_CERT,
    sslkey: e.DATABASE_CLIENT_KEY,
  };
  const tlsOf = (value: string | undefined) =>
    value === undefined ? null : withTlsFiles(value, databaseTls);
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    httpServer: e.HTTP_SERVER,
    databaseUrl: tlsOf(e.DATABASE_URL),
    dataDir: e.DATA_DIR ?? "./data",
    databasePoolSize: e.DATABASE_POOL_SIZE,
    databaseMigrationUrl: tlsOf(e.DATABASE_MIGRATION_URL),
    databasePrepare: e.DATABASE_PREPARE,
    completionStatements: e.COMPLETION_STATEMENTS,
    redis,
    redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    redisKeyPrefix: cluster === null ? e.REDIS_KEY_PREFIX : clusterPrefix(e.REDIS_KEY_PREFIX),
    jwtSecret: e.JWT_SECRET ?? null,
    adminToken: e.ADMIN_TOKEN ?? null,
    metricsToken: e.METRICS_TOKEN ?? null,
    bcryptCost: e.BCRYPT_COST,
    bcryptWorkers: e.BCRYPT_WORKERS ?? Math.max(1, cores),
    accessTokenTtl: e.ACCESS_TOKEN_TTL,
    refreshTokenTtl: e.REFRESH_TOKEN_TTL,
    refreshTokenReuseInterval: e.REFRESH_TOKEN_REUSE_INTERVAL,
    loginMaxFailuresPerEmail: e.LOGIN_MAX_FAILURES_PER_EMAIL,
    loginMaxFailuresPerAddress: e.LOGIN_MAX_FAILURES_PER_ADDRESS,
    loginFailureWindow: e.LOGIN_FAILURE_WINDOW,
    registrationsPerAddress: e.REGISTRATIONS_PER_ADDRESS,
    refreshesPerSession: e.REFRESHES_PER_SESSION,
    completionsPerSecond: e.COMPLETIONS_PER_SECOND,
    trustedProxyHops: e.TRUSTED_PROXY_HOPS,
    sseHeartbeatMs: e.SSE_HEARTBEAT_MS,
    sseRetryMs: e.SSE_RETRY_MS,
    sseMaxClients: e.SSE_MAX_CLIENTS,
    sseMaxBufferedBytes: e.SSE_MAX_BUFFERED_BYTES,
    broadcastIntervalMs: e.BROADCAST_INTERVAL_MS,
    corsOrigins: Object.freeze([...e.CORS_ORIGINS]),
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    sseMaxLifetimeS: e.SSE_MAX_LIFETIME_S,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT ?? null,
    logColor: e.NO_COLOR === undefined,
  });
}

/**
 * For entry points: the configuration from this process's environment, or, when a value is
 * wrong, the message on stderr and exit code 78 (EX_CONFIG).
 */
export function loadConfigOrExit(cores = 1): Config {
  const env = Object.fromEntries(CONFIG_VARIABLES.map((name) => [name, Deno.env.get(name)]));
  try {
    return loadConfig(env, cores);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    Deno.exit(78);
  }
}

/** Where a URL points, for logs and messages: scheme, host, port and path — never a password. */
export function whereTo(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname === "/" ? "" : parsed.pathname}`;
}
