/**
 * The durability check: a mixed load against a running server that records every write it was
 * acknowledged (201/204, and the 200s of refreshes), then, once the server has stopped, checks
 * each one against PostgreSQL. A service that keeps score may be slow or down, never wrong about
 * what it acknowledged.
 */
import assert from "node:assert/strict";
import { bcryptVerify } from "hash-wasm";
import type { Sql } from "postgres";
import { ADMIN_TOKEN, newUser } from "./helpers.ts";
import type { TestServer } from "./server.ts";

/** One client's identity and what it holds. */
interface Client {
  accountId: number;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
  /** Sessions this client signed in to since its last "sign out everywhere". */
  sessions: number[];
}

/** What the server acknowledged, and how it answered. */
export interface Acknowledged {
  /** Registered accounts (201). */
  accounts: number[];
  /** Completions answered 201: the log row's id, its account and points, the key if any. */
  completions: { id: number; accountId: number; points: number; key: string | null }[];
  /** Refresh tokens handed out by a register (201), a login or a refresh (200). */
  refreshTokens: string[];
  /** The last password each account was acknowledged to have (204 of PUT /me/password). */
  passwords: Map<number, string>;
  /** Sessions that a 204 of DELETE /me/sessions ended. */
  endedSessions: number[];
  /** Each client's refresh token when the load stopped (its session live). */
  finalTokens: string[];
  /** `METHOD route status` → count. */
  answers: Map<string, number>;
}

/** Options of `mixedLoad`. */
export interface LoadOptions {
  /** Clients doing everything, one request at a time each. */
  clients: number;
  /** Clients reading `/leaderboard?period=day` in a loop. */
  readers: number;
  seconds: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The `sid` claim of an access token. */
function sessionOf(accessToken: string): number {
  const payload = accessToken.split(".")[1].replaceAll("-", "+").replaceAll("_", "/");
  return JSON.parse(atob(payload)).sid;
}

/**
 * Runs the load against `baseUrl` for `seconds`: registrations, logins, refreshes, completions
 * with and without an Idempotency-Key, `GET /me`, password changes, "sign out everywhere" and
 * board reads, each client one request at a time. Answers what was acknowledged.
 */
export async function mixedLoad(baseUrl: string, options: LoadOptions): Promise<Acknowledged> {
  const ack: Acknowledged = {
    accounts: [],
    completions: [],
    refreshTokens: [],
    passwords: new Map(),
    endedSessions: [],
    finalTokens: [],
    answers: new Map(),
  };
  const slugs: { slug: string; points: number }[] = [];
  for (const points of [3, 7]) {
    const slug = `durable-${points}-${crypto.randomUUID().slice(0, 6)}`;
    const res = await fetch(`${baseUrl}/admin/actions`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ slug, label: slug, pointValue: points }),
    });
    assert.equal(res.status, 201, await res.text());
    slugs.push({ slug, points });
  }

  async function call(
    method: string,
    path: string,
    route: string,
    init: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: Record<string, unknown> | null }> {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    if (init.body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await res.text();
    const key = `${method} ${route} ${res.status}`;
    ack.answers.set(key, (ack.answers.get(key) ?? 0) + 1);
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: counted above, checked by the caller's status
    }
    return { status: res.status, body };
  }

  function signedIn(client: Client | null, session: Record<string, unknown>, password: string) {
    const account = session.account as { id: number; email: string };
    const accessToken = session.accessToken as string;
    ack.refreshTokens.push(session.refreshToken as string);
    return {
      accountId: account.id,
      email: account.email,
      password,
      accessToken,
      refreshToken: session.refreshToken as string,
      sessions: [
        ...(client?.accountId === account.id ? client.sessions : []),
        sessionOf(accessToken),
      ],
    };
  }

  async function registerNew(): Promise<Client | null> {
    const user = newUser("durable");
    const res = await call("POST", "/auth/register", "/auth/register", { body: user });
    if (res.status !== 201) return null;
    const client = signedIn(null, res.body!, user.password);
    ack.accounts.push(client.accountId);
    return client;
  }

  const until = Date.now() + options.seconds * 1000;
  let n = 0;

  async function worker(): Promise<void> {
    let client: Client | null = null;
    while (Date.now() < until) {
      if (client === null) {
        client = await registerNew();
        if (client === null) await sleep(50);
        continue;
      }
      const c: Client = client;
      const roll = Math.random();
      if (roll < 0.5) {
        const { slug, points } = slugs[n++ % slugs.length];
        const key = roll < 0.2 ? `k-${crypto.randomUUID()}` : null;
        const res = await call("POST", `/actions/${slug}/complete`, "/actions/{slug}/complete", {
          token: c.accessToken,
          headers: key ? { "idempotency-key": key } : {},
        });
        if (res.status === 201) {
          const done = res.body!.completion as { id: number; pointsEarned: number };
          assert.equal(done.pointsEarned, points);
          ack.completions.push({ id: done.id, accountId: c.accountId, points, key });
        }
      } else if (roll < 0.6) {
        await call("GET", "/me", "/me", { token: c.accessToken });
      } else if (roll < 0.72) {
        const res = await call("POST", "/auth/refresh", "/auth/refresh", {
          body: { refreshToken: c.refreshToken },
        });
        if (res.status === 200) {
          client = { ...signedIn(c, res.body!, c.password), sessions: c.sessions };
        }
      } else if (roll < 0.8) {
        await call("GET", "/leaderboard?period=day", "/leaderboard");
      } else if (roll < 0.84) {
        const newPassword = `pw-${crypto.randomUUID()}`;
        const res = await call("PUT", "/me/password", "/me/password", {
          token: c.accessToken,
          body: { currentPassword: c.password, newPassword },
        });
        if (res.status === 204) {
          ack.passwords.set(c.accountId, newPassword);
          c.password = newPassword;
        }
      } else if (roll < 0.88) {
        const res = await call("DELETE", "/me/sessions", "/me/sessions", { token: c.accessToken });
        if (res.status === 204) {
          ack.endedSessions.push(...c.sessions);
          c.sessions = [];
          // Signed out everywhere: sign in again.
          const login = await call("POST", "/auth/login", "/auth/login", {
            body: { email: c.email, password: c.password },
          });
          client = login.status === 200 ? signedIn(c, login.body!, c.password) : null;
        }
      } else if (roll < 0.94) {
        const res = await call("POST", "/auth/login", "/auth/login", {
          body: { email: c.email, password: c.password },
        });
        if (res.status === 200) client = signedIn(c, res.body!, c.password);
      } else {
        client = (await registerNew()) ?? c;
      }
    }
    if (client !== null) ack.finalTokens.push(client.refreshToken);
  }

  async function reader(): Promise<void> {
    while (Date.now() < until) await call("GET", "/leaderboard?period=day", "/leaderboard");
  }

  await Promise.all([
    ...Array.from({ length: options.clients }, worker),
    ...Array.from({ length: options.readers }, reader),
  ]);
  return ack;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Checks what was acknowledged against PostgreSQL (`sql`, on the service's database, the server
 * stopped): every account, completion, refresh token, password and sign-out is there, and every
 * total equals the sum of the log it stands for.
 */
export async function checkAcknowledged(sql: Sql, ack: Acknowledged): Promise<void> {
  const accounts = await sql<{ id: number }[]>`
    SELECT id FROM accounts WHERE id = ANY(${ack.accounts}::int[])`;
  assert.equal(accounts.length, new Set(ack.accounts).size, "acknowledged registrations missing");

  const ids = ack.completions.map((c) => c.id);
  const logged = new Map(
    (await sql<{ id: number; account_id: number; points_earned: number }[]>`
      SELECT id, account_id, points_earned FROM action_log WHERE id = ANY(${ids}::int[])`)
      .map((row) => [row.id, row]),
  );
  const missing = ack.completions.filter((c) => !logged.has(c.id));
  assert.deepEqual(
    missing.length,
    0,
    `${missing.length} of ${ack.completions.length} completions answered 201 are not in ` +
      `action_log: ${JSON.stringify(missing.slice(0, 5))}`,
  );
  for (const c of ack.completions) {
    const row = logged.get(c.id)!;
    assert.deepEqual([row.account_id, row.points_earned], [c.accountId, c.points]);
  }
  const keyed = ack.completions.filter((c) => c.key !== null);
  const [{ keys }] = await sql<{ keys: number }[]>`
    SELECT count(*)::int AS keys FROM completion_idempotency_keys
    WHERE action_log_id = ANY(${keyed.map((c) => c.id)}::int[])`;
  assert.equal(keys, keyed.length, "acknowledged completions' idempotency keys missing");

  const ledgerOff = await sql`
    SELECT a.id, s.total_points, l.points
    FROM accounts a
    LEFT JOIN score_ledger s ON s.account_id = a.id
    LEFT JOIN (SELECT account_id, sum(points_earned)::int AS points FROM action_log
               GROUP BY account_id) l ON l.account_id = a.id
    WHERE COALESCE(s.total_points, 0) <> COALESCE(l.points, 0)`;
  assert.deepEqual([...ledgerOff], [], "score_ledger differs from the sum of action_log");
  const periodsOff = await sql`
    WITH logged AS (
      SELECT w.period, w.starts_at, l.account_id, sum(l.points_earned)::int AS points
      FROM action_log l,
           LATERAL (VALUES
             ('day', (l.completed_at AT TIME ZONE 'UTC')::date),
             ('week', date_trunc('week', l.completed_at AT TIME ZONE 'UTC')::date),
             ('month', date_trunc('month', l.completed_at AT TIME ZONE 'UTC')::date))
             AS w (period, starts_at)
      GROUP BY 1, 2, 3)
    SELECT * FROM logged FULL JOIN period_scores p USING (period, starts_at, account_id)
    WHERE logged.points IS DISTINCT FROM p.total_points`;
  assert.deepEqual([...periodsOff], [], "period_scores differ from the sums of action_log");

  const hashes = await Promise.all(ack.refreshTokens.map(sha256Hex));
  const [{ stored }] = await sql<{ stored: number }[]>`
    SELECT count(*)::int AS stored FROM refresh_tokens WHERE token_hash = ANY(${hashes}::text[])`;
  assert.equal(stored, hashes.length, "refresh tokens handed out are not stored");

  for (const [accountId, password] of ack.passwords) {
    const [{ password_hash }] = await sql<{ password_hash: string }[]>`
      SELECT password_hash FROM accounts WHERE id = ${accountId}`;
    assert.ok(
      await bcryptVerify({ password, hash: password_hash }),
      `account ${accountId}: its acknowledged new password is not the stored one`,
    );
  }

  const [{ live }] = await sql<{ live: number }[]>`
    SELECT count(*)::int AS live FROM sessions
    WHERE id = ANY(${ack.endedSessions}::int[]) AND ended_at IS NULL`;
  assert.equal(live, 0, "sessions ended by a 204 of DELETE /me/sessions are live");
}

/** Every refresh token the clients held at the end is usable: a 200 from `baseUrl`. */
export async function checkTokensUsable(baseUrl: string, ack: Acknowledged): Promise<void> {
  for (const refreshToken of ack.finalTokens) {
    const res = await fetch(`${baseUrl}/auth/refresh`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refreshToken }),
    });
    assert.equal(res.status, 200, `a client's last refresh token: ${await res.text()}`);
  }
}

/** A summary of the answers, for the test's output. */
export function summary(ack: Acknowledged): string {
  const lines = [...ack.answers].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) =>
    `${k}: ${v}`
  );
  return `${ack.completions.length} completions acknowledged; ${lines.join(", ")}`;
}

/** Seconds of load per run (DURABILITY_SECONDS to try longer). */
const SECONDS = Number(Deno.env.get("DURABILITY_SECONDS") ?? 8);

const LOAD = { clients: 20, readers: 2, seconds: SECONDS };

/** What the server printed that is an error: any line at level ERROR, or anything on stderr. */
export function errorsIn(server: TestServer): string[] {
  return [
    ...server.logs.filter((line) =>
      line.includes('"level":"ERROR"') || line.includes("UNSAFE_TRANSACTION")
    ),
    ...server.stderr,
  ];
}

/** The load's answers that are server errors (a 503 is honest; a 500 is not). */
export function serverErrors(ack: Acknowledged): string[] {
  return [...ack.answers.keys()].filter((key) => / 5\d\d$/.test(key) && !key.endsWith(" 503"));
}

/** Runs the load on `server` and stops it. */
export async function loadAndStop(server: TestServer): Promise<Acknowledged> {
  let ack: Acknowledged;
  try {
    ack = await mixedLoad(server.url, LOAD);
  } finally {
    const status = await server.stop("SIGTERM");
    assert.equal(status.code, 0, server.logs.slice(-20).join("\n"));
  }
  console.log(summary(ack));
  assert.ok(ack.completions.length > 0, "the load made no completion");
  return ack;
}

/** What the server printed and answered was no error (checked after the writes: a loss first). */
export function assertNoErrors(server: TestServer, ack: Acknowledged): void {
  const printed = errorsIn(server);
  assert.equal(
    printed.length,
    0,
    `the server printed ${printed.length} errors, the first:\n${printed.slice(0, 2).join("\n")}`,
  );
  assert.deepEqual(serverErrors(ack), [], "the server answered 5xx other than 503");
}
