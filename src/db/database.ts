/**
 * The PostgreSQL pool of an instance, behind a handle that survives an outage. postgres.js does
 * not always recover by itself: after PostgreSQL restarts under load its pool can stay wedged
 * (every query pending, none sent) for as long as the process lives. So when a caller reports a
 * connection error or work past its deadline, the pool is checked against a fresh connection:
 * - the fresh connection fails too: PostgreSQL is down. The pool is replaced by a new one (its
 *   queries fail fast instead of queueing behind a wedged pool), and it is probed until it
 *   answers, when the pool is replaced once more and the database is up again;
 * - the fresh connection answers but the pool does not: the pool is wedged and is replaced.
 * Queries run through the handle are counted and timed for the metrics.
 */
import postgres, { type Sql } from "postgres";
import { type PostgresConnection, postgresConnection } from "./tls.ts";

/** What the database reports. */
export interface DatabaseEvents {
  /** PostgreSQL stopped or started answering. */
  onState?(up: boolean, detail: string): void;
  /** A query ran through the handle (a transaction's own queries are not seen here). */
  onQuery?(seconds: number, ok: boolean): void;
  /** Queries in flight changed. */
  onInFlight?(count: number): void;
}

/** Options of `openDatabase`. */
export interface DatabaseOptions extends DatabaseEvents {
  poolSize: number;
  /** How long a connection attempt may take, in seconds. */
  connectTimeout?: number;
  /**
   * Named prepared statements (postgres.js' default); false behind a pooler in transaction mode,
   * where a statement prepared on one server connection is missing on the next (DATABASE_PREPARE).
   */
  prepare?: boolean;
}

/** The instance's database. */
export interface Database {
  /** The pool; stays the same object when the pool behind it is replaced. */
  readonly sql: Sql;
  /** False from a failed check until PostgreSQL answers again. */
  readonly up: boolean;
  /** A caller saw a connection error, or its work outlived its deadline: check the pool. */
  suspect(): void;
  close(): Promise<void>;
}

/** How often PostgreSQL is probed while it is down. */
const PROBE_INTERVAL_MS = 500;

/** How long a probe, through the pool or a fresh connection, may take. */
const PROBE_TIMEOUT_MS = 2000;

/** Error codes that mean "PostgreSQL cannot be reached", not "the query is wrong". */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, shutting down)
  "53300", // too_many_connections
]);

/**
 * Whether `error` says that the database named does not exist: PostgreSQL's 3D000, or a pooler's
 * words for it — PgBouncer answers 08P01 "no such database", or passes PostgreSQL's message on.
 */
export function isMissingDatabase(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code === "3D000") return true;
  return typeof message === "string" &&
    /no such database|database "[^"]*" does not exist/i.test(message);
}

/**
 * Whether `error` says that PostgreSQL could not be reached (SQLSTATE class 08 included) — not a
 * database that does not exist, which waiting will not mend.
 */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && (CONNECTION_CODES.has(code) || code.startsWith("08")) &&
    !isMissingDatabase(error);
}

/**
 * Whether `error` is the PostgreSQL client finding a session inside a transaction that nothing
 * held (vendor/postgres's patch destroys that connection, which rolls the transaction back). It
 * should never happen: every transaction of the service holds its connection (`sql.begin`).
 */
export function isUnsafeTransaction(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "UNSAFE_TRANSACTION";
}

/** postgres.js reads `max_pipeline` (src/index.js) but leaves it out of its types. */
type PoolOptions = postgres.Options<Record<string, never>> & { max_pipeline: number };

function connect(target: PostgresConnection, options: DatabaseOptions): Sql {
  const pool: PoolOptions = {
    max: options.poolSize,
    onnotice: () => {},
    connection: { application_name: "scoreboard" },
    prepare: options.prepare ?? true,
    connect_timeout: options.connectTimeout ?? 2,
    // postgres.js waits up to 20 s between attempts by default: a query would wait that long.
    backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 0.5),
    // At most one query waits behind another on a connection; the rest wait in the pool's queue
    // for the next connection free. postgres.js 3.4.9 pipelines up to 100 by default, and its
    // pool lists are arrays compacted only when a shift empties them while every move of a
    // connection scans them: deep pipelining keeps the busy list from ever emptying under a
    // saturated pool, so each query left a hole that the next ones scan — 42k → 10k SELECTs/s
    // within 20 s (64 clients, 10 connections); with 1, 62k/s, steady over a minute. It also
    // bounds what a quick query waits for behind a slow one. A transaction's BEGIN queued
    // behind a running query still reserves its connection: that is vendor/postgres's patch
    // (postgres.js 3.4.9 did not, and acknowledged writes were rolled back). 0 would pipeline
    // nothing, and postgres.js then never reserves a transaction's connection.
    max_pipeline: 1,
  };
  return postgres(target.url, target.ssl === undefined ? pool : { ...pool, ssl: target.ssl });
}

/** Resolves true when `work` succeeds within `ms`, false otherwise (a probe of a dependency). */
export async function succeedsWithin(ms: number, work: () => Promise<unknown>): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      work().then(() => true, () => false),
      new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Opens the pool on `url` (TLS when the URL asks for it with `sslmode`, with the certificates its
 * `sslrootcert`, `sslcert` and `sslkey` name: see tls.ts).
 */
export function openDatabase(url: string, options: DatabaseOptions): Database {
  // Read once (certificate files included): pools replaced after an outage and the probes reuse it.
  const target = postgresConnection(url);
  let current = connect(target, options);
  let up = true;
  let checking: Promise<void> | undefined;
  let closed = false;
  let inFlight = 0;

  function replace(): void {
    const old = current;
    current = connect(target, options);
    // Whatever waits on the old pool fails now (CONNECTION_DESTROYED) instead of hanging.
    old.end({ timeout: 0 }).catch(() => {});
  }

  async function freshAnswers(): Promise<boolean> {
    const probe = postgres(target.url, {
      max: 1,
      onnotice: () => {},
      connect_timeout: PROBE_TIMEOUT_MS / 1000,
      connection: { application_name: "scoreboard-probe" },
      prepare: options.prepare ?? true,
      ...(target.ssl === undefined ? {} : { ssl: target.ssl }),
    });
    try {
      return await succeedsWithin(PROBE_TIMEOUT_MS, () => probe`SELECT 1`);
    } finally {
      probe.end({ timeout: 0 }).catch(() => {});
    }
  }

  async function check(): Promise<void> {
    while (!closed) {
      if (!(await freshAnswers())) {
        if (up) {
          up = false;
          replace();
          options.onState?.(false, "PostgreSQL does not answer");
        }
        await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
        continue;
      }
      if (!up) {
        replace();
        up = true;
        options.onState?.(true, "PostgreSQL answers again");
      } else if (!(await succeedsWithin(PROBE_TIMEOUT_MS, () => current`SELECT 1`))) {
        replace();
        options.onState?.(true, "the pool stopped answering and was replaced");
      }
      return;
    }
  }

  function counted<T extends object>(query: T): T {
    // Queries run when awaited (`then`); fragments nested in another query never are.
    return new Proxy(query, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (property !== "then") {
          return typeof value === "function" ? value.bind(target) : value;
        }
        return (resolve?: (v: unknown) => unknown, reject?: (e: unknown) => unknown) => {
          const started = performance.now();
          options.onInFlight?.(++inFlight);
          const done = (ok: boolean) => {
            options.onInFlight?.(--inFlight);
            options.onQuery?.((performance.now() - started) / 1000, ok);
          };
          return (value as Promise<unknown>["then"]).call(
            target,
            (result) => {
              done(true);
              return resolve ? resolve(result) : result;
            },
            (error) => {
              done(false);
              if (reject) return reject(error);
              throw error;
            },
          );
        };
      },
    });
  }

  const handle = new Proxy(function () {} as unknown as Sql, {
    apply(_target, thisArg, args) {
      const query = Reflect.apply(current as unknown as () => object, thisArg, args);
      // Tagged templates make queries; `sql(value)` makes identifiers and lists to interpolate.
      return Array.isArray(args[0]) && "raw" in args[0] ? counted(query) : query;
    },
    get(_target, property) {
      const value = Reflect.get(current, property, current);
      return typeof value === "function" ? value.bind(current) : value;
    },
  });

  return {
    sql: handle,
    get up() {
      return up;
    },
    suspect() {
      if (!checking && !closed) checking = check().finally(() => checking = undefined);
    },
    async close() {
      closed = true;
      await checking;
      await current.end({ timeout: 5 });
    },
  };
}
