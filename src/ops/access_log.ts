/**
 * One JSON access-log line per request (category `scoreboard.http`, level info, so LOG_LEVEL
 * warning turns them off): method, route pattern, path, status, duration to the response's
 * headers, request id and client address. Never a body, a query string, a header or a token.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../http/env.ts";
import { clientAddress } from "../http/middleware.ts";
import type { AccessLogWriter } from "./logging.ts";
import { routeOf } from "./metrics.ts";

/** Writes every request to `write` once its response starts. */
export function accessLog(
  write: AccessLogWriter,
  trustedProxyHops: number,
): MiddlewareHandler<AppEnv> {
  return async function logRequest(c, next) {
    const started = performance.now();
    await next();
    write({
      method: c.req.method,
      route: routeOf(c),
      path: c.req.path,
      status: c.res.status,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
      requestId: c.get("requestId"),
      client: clientAddress(c, trustedProxyHops),
    });
  };
}
