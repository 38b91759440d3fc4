/** What routes share about the client: the 415 of a body they cannot take, its address. */
import type { Context } from "hono";
import { getConnInfo } from "hono/deno";
import { Problem } from "./problem.ts";

/** 415: the one answer to a body that is not JSON on a route that takes one. */
export function unsupportedMediaType(): Problem {
  return new Problem(415, {
    kind: "unsupported-media-type",
    detail: "Request bodies must be sent as application/json.",
    headers: { "accept-post": "application/json" },
  });
}

/**
 * The address the request came from. Behind `hops` trusted proxies it is the entry that the
 * outermost of them appended to X-Forwarded-For; entries further left could be forged.
 */
export function clientAddress(c: Context, hops: number): string {
  if (hops > 0) {
    const forwarded = (c.req.header("x-forwarded-for") ?? "")
      .split(",").map((part) => part.trim()).filter(Boolean);
    if (forwarded.length > 0) return forwarded[Math.max(0, forwarded.length - hops)];
  }
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    // app.request() in tests has no connection.
    return "unknown";
  }
}
