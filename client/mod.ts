/**
 * A typed client of the scoreboard API for TypeScript (Deno, browsers, Node 18+): the types are
 * generated from the service's OpenAPI document (`schema.d.ts`, `deno task client:types`), the
 * calls are plain `fetch`.
 *
 * - Sessions: the client keeps the pair of tokens it was given (`onSession` hears each change, to
 *   store it), refreshes the access token before it expires or when a call is refused with 401,
 *   one refresh at a time however many calls wait for it, and retries a refresh that failed on
 *   the network with the same refresh token (the service's reuse grace, 10 s by default, answers
 *   it with a new pair instead of taking it for theft).
 * - Errors: every refusal is a `ScoreboardError` with the problem's `type`, `status` and, on 429
 *   and 503, `retryAfterMs`.
 * - The live board: `followBoard` follows a board's stream with the page's own rules (statuses and
 *   `Retry-After` read, exponential backoff with jitter, the server's `retry:` hint, a silent
 *   stream taken for dead).
 *
 *   const client = createClient({ baseUrl: "http://localhost:8000" });
 *   await client.register({ username: "ada", email: "ada@example.com", password: "…" });
 *   await client.completeAction("daily-login");
 *   const follower = client.followBoard("day", { onBoard: (board) => show(board.entries) });
 */
import { followStream, parseRetryAfter } from "../src/live/page/stream.js";
import type { components, paths } from "./schema.d.ts";

type Schemas = components["schemas"];
export type Session = Schemas["Session"];
export type Me = Schemas["Me"];
export type Action = Schemas["Action"];
export type BoardPage = Schemas["BoardPage"];
export type Entry = Schemas["Entry"];
export type Problem = Schemas["Problem"];
export type Period = NonNullable<
  NonNullable<paths["/leaderboard"]["get"]["parameters"]["query"]>["period"]
>;

/** The JSON body of the `status` answer of `method` on `path`. */
type Answer<P extends keyof paths, M extends keyof paths[P], S extends number = 200> =
  paths[P][M] extends { responses: { [status in S]: { content: { "application/json": infer T } } } }
    ? T
    : never;

/** The JSON body `method` on `path` takes. */
type Body<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends
  { requestBody: { content: { "application/json": infer T } } } ? T : never;

/** A refusal of the service: its problem (RFC 9457) and, on 429 and 503, when to try again. */
export class ScoreboardError extends Error {
  override name = "ScoreboardError";
  readonly status: number;
  readonly problem: Problem;
  /** From `Retry-After`. */
  readonly retryAfterMs: number | undefined;

  constructor(status: number, problem: Problem, retryAfterMs: number | undefined) {
    super(problem.detail ?? problem.title);
    this.status = status;
    this.problem = problem;
    this.retryAfterMs = retryAfterMs;
  }

  /** The problem's type without its prefix: `action-limit`, `rate-limited`… */
  get kind(): string {
    return this.problem.type.replace("urn:scoreboard:problem:", "");
  }
}

/** Options of `createClient`. */
export interface ClientOptions {
  /** The service's origin (or the proxy's), with no trailing slash: `https://scores.example`. */
  baseUrl: string;
  /** A session kept from before (what `onSession` last heard). */
  session?: Session | null;
  /** Hears every new session and its end (null), to keep it across restarts. */
  onSession?(session: Session | null): void;
  /** Refresh this long before the access token expires (default 30 s). */
  refreshMarginMs?: number;
  fetch?: typeof fetch;
}

/** Query parameters of the board reads. */
export interface BoardQuery {
  period?: Period;
  /** A past instant of the window to read (`2026-11-23`). */
  at?: string;
}

/** The client. */
export type ScoreboardClient = ReturnType<typeof createClient>;

/** Builds a client. */
export function createClient(options: ClientOptions) {
  const base = options.baseUrl.replace(/\/+$/, "");
  const fetcher = options.fetch ?? globalThis.fetch.bind(globalThis);
  const margin = options.refreshMarginMs ?? 30_000;
  let session: Session | null = options.session ?? null;
  /** When the access token stops being good to send (ms since the epoch). */
  let freshUntil = session ? expiryOf(session.accessToken) - margin : 0;
  let refreshing: Promise<Session> | null = null;

  function keep(next: Session | null): void {
    session = next;
    freshUntil = next ? Date.now() + next.expiresIn * 1000 - margin : 0;
    options.onSession?.(next);
  }

  async function send(
    method: string,
    path: string,
    init: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json", ...init.headers };
    if (init.body !== undefined) headers["content-type"] = "application/json";
    if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
    return await fetcher(`${base}${path}`, {
      method,
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  }

  async function read<T>(res: Response): Promise<T> {
    if (res.ok) return (res.status === 204 ? undefined : await res.json()) as T;
    let problem: Problem;
    try {
      problem = await res.json();
    } catch {
      problem = { type: "about:blank", title: res.statusText, status: res.status } as Problem;
    }
    throw new ScoreboardError(res.status, problem, parseRetryAfter(res.headers.get("retry-after")));
  }

  /** A new pair for the session, one refresh at a time; a network failure is retried once. */
  function refresh(): Promise<Session> {
    refreshing ??= (async () => {
      const token = session?.refreshToken;
      if (token === undefined) throw new Error("not signed in");
      let res: Response;
      try {
        res = await send("POST", "/auth/refresh", { body: { refreshToken: token } });
      } catch {
        // The service may have rotated it already: within the reuse grace the same token gets
        // another new pair, not a theft alarm.
        res = await send("POST", "/auth/refresh", { body: { refreshToken: token } });
      }
      try {
        const next = await read<Session>(res);
        keep(next);
        return next;
      } catch (error) {
        if (error instanceof ScoreboardError && error.status === 401) keep(null);
        throw error;
      }
    })().finally(() => refreshing = null);
    return refreshing;
  }

  /** A call with the access token: refreshed first when about to expire, and after a 401. */
  async function authed<T>(
    method: string,
    path: string,
    init: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<T> {
    if (session === null) throw new Error("not signed in");
    if (Date.now() >= freshUntil) await refresh();
    let res = await send(method, path, { ...init, token: session!.accessToken });
    if (res.status === 401) {
      await res.body?.cancel();
      await refresh();
      res = await send(method, path, { ...init, token: session!.accessToken });
    }
    return await read<T>(res);
  }

  const query = (params: Record<string, string | number | undefined>) => {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined) search.set(name, String(value));
    }
    const text = search.toString();
    return text === "" ? "" : `?${text}`;
  };

  return {
    /** The session held, or null. */
    get session(): Session | null {
      return session;
    },

    async register(body: Body<"/auth/register", "post">): Promise<Session> {
      const next = await read<Session>(await send("POST", "/auth/register", { body }));
      keep(next);
      return next;
    },

    async login(body: Body<"/auth/login", "post">): Promise<Session> {
      const next = await read<Session>(await send("POST", "/auth/login", { body }));
      keep(next);
      return next;
    },

    refresh,

    /** Ends this session (also when the service cannot be reached: the tokens are dropped). */
    async logout(): Promise<void> {
      const token = session?.refreshToken;
      keep(null);
      if (token !== undefined) {
        await read<void>(await send("POST", "/auth/logout", { body: { refreshToken: token } }));
      }
    },

    me: () => authed<Answer<"/me", "get">>("GET", "/me"),

    async deleteMe(): Promise<void> {
      await authed<void>("DELETE", "/me");
      keep(null);
    },

    changePassword: (body: Body<"/me/password", "put">) =>
      authed<void>("PUT", "/me/password", { body }),

    sessions: () => authed<Answer<"/me/sessions", "get">>("GET", "/me/sessions"),

    endSession: (id: number) => authed<void>("DELETE", `/me/sessions/${id}`),

    async endAllSessions(): Promise<void> {
      await authed<void>("DELETE", "/me/sessions");
      keep(null);
    },

    actions: async () => await read<Answer<"/actions", "get">>(await send("GET", "/actions")),

    myActions: () => authed<Answer<"/me/actions", "get">>("GET", "/me/actions"),

    myCompletions: (page: { limit?: number; before?: number } = {}) =>
      authed<Answer<"/me/completions", "get">>("GET", `/me/completions${query(page)}`),

    /**
     * Completes an action, always with an `Idempotency-Key` (a new one unless `idempotencyKey`
     * is given): a proxy may then send it again to another instance when the first one fails
     * (deploy/nginx.conf does), and a retry with the same key (after a timeout, or a 502, say)
     * answers the first one's result instead of completing it twice.
     */
    completeAction: (slug: string, how: { idempotencyKey?: string } = {}) =>
      authed<Answer<"/actions/{slug}/complete", "post", 201>>(
        "POST",
        `/actions/${encodeURIComponent(slug)}/complete`,
        { headers: { "idempotency-key": how.idempotencyKey ?? crypto.randomUUID() } },
      ),

    leaderboard: async (board: BoardQuery & { limit?: number; offset?: number } = {}) =>
      await read<Answer<"/leaderboard", "get">>(
        await send("GET", `/leaderboard${query({ ...board })}`),
      ),

    entries: async (ids: number[], board: BoardQuery = {}) =>
      await read<Answer<"/leaderboard/accounts", "get">>(
        await send("GET", `/leaderboard/accounts${query({ ...board, ids: ids.join(",") })}`),
      ),

    entry: async (id: number, board: BoardQuery = {}) =>
      await read<Answer<"/leaderboard/accounts/{id}", "get">>(
        await send("GET", `/leaderboard/accounts/${id}${query({ ...board })}`),
      ),

    around: async (id: number, board: BoardQuery & { radius?: number } = {}) =>
      await read<Answer<"/leaderboard/accounts/{id}/around", "get">>(
        await send("GET", `/leaderboard/accounts/${id}/around${query({ ...board })}`),
      ),

    /**
     * Follows the live top 10 of `period` until `close()`: `onBoard` gets each board, `onState`
     * each change between connecting, live and reconnecting.
     */
    followBoard(
      period: Period,
      handlers: {
        onBoard(board: BoardPage): void;
        onState?(state: "connecting" | "live" | "reconnecting"): void;
      },
    ): { close(): void } {
      return followStream(`${base}/leaderboard/stream?period=${period}`, {
        onBoard: (board: unknown) => handlers.onBoard(board as BoardPage),
        onState: (state: "connecting" | "live" | "reconnecting") => handlers.onState?.(state),
        onHeard: () => {},
      });
    },
  };
}

/** The `exp` of a JWT, in ms since the epoch (0 when it cannot be read: refresh first). */
function expiryOf(token: string): number {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return typeof payload.exp === "number" ? payload.exp * 1000 : 0;
  } catch {
    return 0;
  }
}
