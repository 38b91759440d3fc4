/**
 * One JSON access-log line per request (category `scoreboard.http`, level info, so LOG_LEVEL
 * warning turns them off): method, route pattern, path, status, duration to the response's
 * headers, request id and client address. Never a body, a query string, a header or a token.
 */
import type { Context } from "hono";
import type { AppEnv } from "../http/env.ts";
import { clientAddress } from "../http/middleware.ts";
import type { AccessRecord } from "./logging.ts";

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
