/** GET /leaderboard/stream (Server-Sent Events) and the page at GET / that shows it. */
import { Hono } from "hono";
import { assetRoutes } from "../http/assets.ts";
import type { AppEnv } from "../http/env.ts";
import { Problem } from "../http/problem.ts";
import { queryParams } from "../http/validation.ts";
import { streamQuery } from "../leaderboard/schemas.ts";
import type { LiveHub } from "./hub.ts";

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
  return assetRoutes(new URL("./page/", import.meta.url), ASSETS);
}
