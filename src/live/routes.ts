/** GET /leaderboard/stream (Server-Sent Events) and the page at GET / that shows it. */
import { Hono } from "hono";
import type { AppEnv } from "../http/env.ts";
import { Problem } from "../http/problem.ts";
import { queryParams } from "../http/validation.ts";
import { streamQuery } from "../leaderboard/schemas.ts";
import type { LiveHub } from "./hub.ts";

/** The page's own policy: its script, style and stream come from this origin only. */
const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
  "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The page's files by path: its modules import one another from the root. */
const ASSETS: Record<string, string> = {
  "/": "index.html",
  "/app.css": "app.css",
  "/app.js": "app.js",
  "/board.js": "board.js",
  "/format.js": "format.js",
  "/sse.js": "sse.js",
  "/stream.js": "stream.js",
};

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};

const STREAM_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
};

/** GET /leaderboard/stream?period. */
export function streamRoutes(deps: { hub: LiveHub; retryMs: number }) {
  const { hub } = deps;
  return new Hono<AppEnv>().get("/", queryParams(streamQuery), async (c) => {
    // Hono answers HEAD with the GET handler and drops the body without cancelling it: a stream
    // opened for a HEAD would never learn that its client left.
    if (c.req.method === "HEAD") return c.body(null, 200, STREAM_HEADERS);
    const stream = await hub.open(c.req.valid("query").period);
    if (stream === "full" || stream === "closing") {
      throw new Problem(503, {
        kind: stream === "full" ? "too-many-streams" : "shutting-down",
        detail: stream === "full"
          ? "This instance has as many streams open as it allows; try again shortly."
          : "This instance is shutting down; reconnect to another.",
        headers: { "retry-after": String(Math.ceil(deps.retryMs / 1000)) },
      });
    }
    return c.body(stream, 200, STREAM_HEADERS);
  });
}

/** GET / and its files (ASSETS): the live page, no build step. */
export function pageRoutes() {
  const cache = new Map<string, Promise<Uint8Array>>();
  const app = new Hono<AppEnv>();
  for (const [path, file] of Object.entries(ASSETS)) {
    app.get(path, async (c) => {
      let body = cache.get(file);
      if (!body) {
        body = Deno.readFile(new URL(`./page/${file}`, import.meta.url));
        cache.set(file, body);
      }
      return c.body(await body as Uint8Array<ArrayBuffer>, 200, {
        "content-type": TYPES[file.split(".").pop()!],
        "cache-control": "no-cache",
        "content-security-policy": PAGE_CSP,
        // Headers that only a document needs (the API's responses go without them).
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
        "cross-origin-opener-policy": "same-origin",
        "origin-agent-cluster": "?1",
        "cross-origin-resource-policy": "same-origin",
      });
    });
  }
  return app;
}
