/** createApp(deps): the HTTP application — shared middleware, each feature's routes, errors. */
import type { Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import {
  actionRoutes,
  adminActionRoutes,
  myActionRoutes,
  myCompletionRoutes,
} from "./actions/routes.ts";
import { requireOperator } from "./auth/operator.ts";
import { consoleRoutes } from "./console/routes.ts";
import { authRoutes, meRoutes, mySessionRoutes, passwordRoutes } from "./auth/routes.ts";
import { isConnectionError, isUnsafeTransaction } from "./db/database.ts";
import { unstorableText } from "./db/mod.ts";
import { deadline } from "./http/deadline.ts";
import { responseCache, type Served } from "./http/response_cache.ts";
import type { AppEnv } from "./http/env.ts";
import { unsupportedMediaType } from "./http/middleware.ts";
import { methodsOf } from "./http/methods.ts";
import { hasBody, refusedAtDoor, strictInput } from "./http/strict_input.ts";
import { openApiRouter } from "./http/openapi.ts";
import { newRequestId } from "./http/request_id.ts";
import { Problem, validationProblem } from "./http/problem.ts";
import { leaderboardRoutes } from "./leaderboard/routes.ts";
import { adminAccountRoutes, adminCompletionRoutes, auditRoutes } from "./moderation/routes.ts";
import { pageRoutes, streamRoutes } from "./live/routes.ts";
import { serveDescription } from "./openapi.ts";
import { accessRecord } from "./ops/access_log.ts";
import { routeOf } from "./ops/metrics.ts";
import { opsRoutes } from "./ops/routes.ts";
import { schemaGate } from "./ops/schema_gate.ts";
import type { Runtime } from "./runtime.ts";

/** API responses are data, never documents: nothing may load from or frame them. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/** Builds the application on an open runtime (its clients, services and config). */
export function createApp(rt: Runtime): Hono<AppEnv> {
  const app = openApiRouter();

  const hops = rt.config.trustedProxyHops;
  // Answers that vary with the Origin (CORS) are not kept.
  const corsOn = rt.config.corsOrigins.length > 0;
  /** A request's metrics and access-log line, once its response has started. */
  const served = (c: Context<AppEnv>, answer: Served) => {
    const seconds = (performance.now() - answer.started) / 1000;
    rt.metrics.observe(answer.route, c.req.method, answer.status, seconds);
    rt.accessLog?.(accessRecord(c, hops, answer));
  };
  app.use(responseCache({
    version: () => rt.leaderboard.version(),
    // Requests the door refuses, or with a body to check, go the whole way.
    bypass: (c) =>
      (corsOn && c.req.header("origin") !== undefined) || hasBody(c) || refusedAtDoor(c) !== null,
    served,
  }));
  app.use(requestId({ generator: newRequestId }));
  app.use(async function observed(c, next) {
    const started = performance.now();
    await next();
    served(c, { route: routeOf(c), status: c.res.status, started, requestId: c.get("requestId") });
  });
  // Of OWASP's REST list: nosniff, and the CSP (frame-ancestors 'none' included). No
  // X-Frame-Options (the CSP supersedes it; the page sends both), and no HSTS: browsers ignore it
  // over the plain HTTP this service speaks, and the TLS terminator in front knows the domain's
  // policy. Every header is paid on every response (Deno.serve: about 6% of a hot read's rate).
  app.use(async function defaults(c, next) {
    await next();
    // Stopping: the proxy in front opens a new connection for its next request (to another
    // instance, once this one stops accepting) instead of reusing this one as it closes.
    if (rt.lifecycle.draining) c.header("connection", "close");
    c.header("x-content-type-options", "nosniff");
    // Routes that need other rules (the page, the stream) set their own.
    if (!c.res.headers.has("cache-control")) c.header("cache-control", "no-store");
    if (!c.res.headers.has("content-security-policy")) {
      c.header("content-security-policy", API_CSP);
    }
  });
  // The body is read before the deadline starts: a client slow to send it is a 408, its own doing.
  app.use(strictInput({ bodyTimeoutMs: rt.config.requestTimeoutMs }));
  app.use(deadline({ ms: rt.config.requestTimeoutMs, onMiss: () => rt.database.suspect() }));
  app.use(schemaGate(rt.schema));
  /** Handlers that pass requests on, not a route's own (for the methods a path has). */
  const passing = new Set<unknown>();
  if (corsOn) {
    // Other origins may read the public routes and the stream, and nothing else.
    const readable = cors({
      origin: rt.config.corsOrigins.includes("*") ? "*" : [...rt.config.corsOrigins],
      allowMethods: ["GET", "HEAD"],
      maxAge: 600,
    });
    passing.add(readable);
    for (const path of ["/actions", "/leaderboard", "/leaderboard/*", "/openapi.json"]) {
      app.on(["GET", "HEAD", "OPTIONS"], path, readable);
    }
  }

  app.route("/", opsRoutes({ ...rt, metricsToken: rt.config.metricsToken }));
  app.route(
    "/auth",
    authRoutes({ sessions: rt.sessions, trustedProxyHops: rt.config.trustedProxyHops }),
  );
  app.route("/me", meRoutes(rt));
  app.route(
    "/me/password",
    passwordRoutes({ ...rt, trustedProxyHops: rt.config.trustedProxyHops }),
  );
  app.route("/me/sessions", mySessionRoutes(rt));
  app.route("/me/completions", myCompletionRoutes(rt));
  app.route("/me/actions", myActionRoutes(rt));
  app.route("/actions", actionRoutes(rt));
  app.route("/leaderboard/stream", streamRoutes({ hub: rt.hub, retryMs: rt.config.sseRetryMs }));
  app.route("/leaderboard", leaderboardRoutes(rt));
  app.route("/", pageRoutes());
  // The console's files come before the operator guard: it is the page that asks for the token.
  app.route("/", consoleRoutes());
  const operator = requireOperator({ adminToken: rt.adminToken, trustedProxyHops: hops });
  app.use("/admin", operator);
  app.use("/admin/*", operator);
  app.route("/admin/actions", adminActionRoutes(rt));
  app.route("/admin/accounts", adminAccountRoutes(rt));
  app.route("/admin/completions", adminCompletionRoutes(rt));
  app.route("/admin/audit", auditRoutes(rt));
  serveDescription(app);

  let methods: ((path: string) => string[]) | undefined;
  app.notFound((c) => {
    // Every route is in place by the first request.
    methods ??= methodsOf(app.routes, (route) => passing.has(route.handler));
    const allowed = methods(c.req.path);
    if (allowed.length === 0) {
      return new Problem(404, { detail: `No route for ${c.req.method} ${c.req.path}.` }).render(c);
    }
    return new Problem(405, {
      detail: `${c.req.path} does not take ${c.req.method}; it takes ${allowed.join(", ")}.`,
      headers: { allow: allowed.join(", ") },
    }).render(c);
  });

  app.onError(function renderError(error, c) {
    if (error instanceof Problem) return error.render(c);
    if (error instanceof HTTPException && error.status === 415) {
      // @hono/zod-openapi's media-type check of the routes that take a body.
      return unsupportedMediaType().render(c);
    }
    if (error instanceof HTTPException && error.status < 500) {
      // Hono's own 4xx (malformed JSON in the validator): its message is meant for clients.
      return new Problem(error.status, {
        kind: error.status === 400 ? "validation-error" : undefined,
        detail: error.message,
        errors: error.status === 400 ? [{ path: "", message: error.message }] : undefined,
      }).render(c);
    }
    if (unstorableText(error)) {
      // A last line of defence: inputs are checked before they reach PostgreSQL.
      return validationProblem(
        [{ path: "", message: "contains a character that cannot be stored (NUL)" }],
      ).render(c);
    }
    if (isConnectionError(error)) {
      rt.database.suspect();
      return new Problem(503, {
        kind: "database-unavailable",
        detail: "The database does not answer; nothing was changed. Try again shortly.",
        headers: { "retry-after": "2" },
      }).render(c);
    }
    const id = c.get("requestId");
    // Only the error's name, message and stack: driver errors also carry the query's
    // parameters, which may be a password hash or a token hash.
    const { name, message, stack } = error;
    const details = { method: c.req.method, path: c.req.path, requestId: id, name, message, stack };
    if (isUnsafeTransaction(error)) {
      // A bug, never the client's: what the request ran was rolled back with its connection.
      rt.metrics.unsafeTransactions.inc();
      rt.log.error(
        "a PostgreSQL session of {method} {path} (request {requestId}) was inside a transaction " +
          "nothing held; its connection was destroyed: {message}",
        details,
      );
      return new Problem(503, {
        kind: "database-unavailable",
        detail: `The database connection was in an unexpected state and was dropped; nothing ` +
          `was changed. Try again shortly (request id ${id}).`,
        headers: { "retry-after": "1" },
      }).render(c);
    }
    rt.log.error(
      "unhandled error in {method} {path} (request {requestId}): {name}: {message}",
      details,
    );
    return new Problem(500, {
      detail: `Something went wrong on our side. Quote request id ${id} when you report it.`,
    }).render(c);
  });

  return app;
}
