/**
 * Whole responses kept for reads whose answer has not changed: the default board is what most
 * clients poll, thousands of times a second, and its bytes and headers are the same every time
 * until the board changes. A route offers its response by setting `cacheStamp` (what the answer
 * was read at); it is served again — cloned, with the request's own id — for as long as `fresh`
 * says that stamp still holds, and at most a second. It comes first: a request it answers gets
 * its id, its metrics and its access-log line from `served`, and skips the rest of the chain.
 */
import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { AppEnv } from "./env.ts";
import { newRequestId } from "./request_id.ts";

/** What a route's answer was read at: the board's version and window. */
export interface CacheStamp {
  version: number;
  /** Where the answer applies: false once its window has turned. */
  current(): boolean;
}

/** How long a response may be served again, however fresh its stamp. */
const MAX_AGE_MS = 1000;

/** The most responses kept (distinct URLs of cacheable reads). */
const MAX_ENTRIES = 256;

/** What the cache tells its owner of a request it answered itself. */
export interface Served {
  route: string;
  status: number;
  started: number;
  requestId: string;
}

/** Serves kept responses while `version()` equals their stamp's; `bypass`ed requests skip it. */
export function responseCache(options: {
  version(): number;
  bypass?(c: Context<AppEnv>): boolean;
  served(c: Context<AppEnv>, answer: Served): void;
}): MiddlewareHandler<AppEnv> {
  const kept = new Map<
    string,
    { response: Response; stamp: CacheStamp; at: number; route: string }
  >();
  return async function cached(c, next) {
    if (c.req.method !== "GET" || options.bypass?.(c)) return await next();
    const url = c.req.url;
    const key = url.slice(url.indexOf("/", url.indexOf("//") + 2));
    const hit = kept.get(key);
    if (hit) {
      if (
        hit.stamp.version === options.version() && performance.now() - hit.at < MAX_AGE_MS &&
        hit.stamp.current()
      ) {
        const started = performance.now();
        const requestId = newRequestId();
        const response = hit.response.clone();
        response.headers.set("x-request-id", requestId);
        options.served(c, { route: hit.route, status: response.status, started, requestId });
        return response;
      }
      kept.delete(key);
    }
    await next();
    const stamp = c.get("cacheStamp");
    if (stamp && c.res.status === 200) {
      if (kept.size >= MAX_ENTRIES) kept.delete(kept.keys().next().value!);
      kept.set(key, {
        response: c.res.clone(),
        stamp,
        at: performance.now(),
        route: routePath(c, -1),
      });
    }
  };
}
