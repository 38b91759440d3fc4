/**
 * One JSON access-log line per request (category `scoreboard.http`, level info, so LOG_LEVEL
 * warning turns them off): method, route pattern, path, status, duration to the response's
 * headers, request id and client address. Never a body, a query string, a header or a token.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../http/env.ts";
import { clientAddress } from "../http/middleware.ts";
import type { AccessLogWriter, AccessRecord } from "./logging.ts";
import { routeOf } from "./metrics.ts";

/** The access-log line of the request of `c`, answered by `route` with `status`. */
export function accessRecord(
  c: Context<AppEnv>,
  trustedProxyHops: number,
  answer: { route: string; status: number; started: number; requestId: string },
): AccessRecord {
  return {
    method: c.req.method,
    route: answer.route,
    path: c.req.path,
    status: answer.status,
    durationMs: Math.round((performance.now() - answer.started) * 100) / 100,
    requestId: answer.requestId,
    client: clientAddress(c, trustedProxyHops),
  };
}

/** Writes every request to `write` once its response starts. */
export function accessLog(
  write: AccessLogWriter,
  trustedProxyHops: number,
): MiddlewareHandler<AppEnv> {
  return async function logRequest(c, next) {
    const started = performance.now();
    await next();
    write(accessRecord(c, trustedProxyHops, {
      route: routeOf(c),
      status: c.res.status,
      started,
      requestId: c.get("requestId"),
    }));
  };
}
