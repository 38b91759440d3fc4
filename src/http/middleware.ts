/** Middleware every route shares: the body rules of the contract and the client's address. */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { getConnInfo } from "hono/deno";
import { Problem } from "./problem.ts";

/** The largest request body accepted (API.md: 16 KiB, beyond it 413). */
export const MAX_BODY_BYTES = 16 * 1024;

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * Whether the request carries a body: by HTTP/1.1's rules, only with a Content-Length above zero
 * or a Transfer-Encoding (a POST with neither, like `curl -X POST`, has none).
 */
function hasBody(c: Context): boolean {
  const length = c.req.header("content-length");
  if (length !== undefined) return length.trim() !== "0";
  return c.req.header("transfer-encoding") !== undefined;
}

/** Refuses bodies over MAX_BODY_BYTES, whether announced by Content-Length or streamed. */
export function limitBodies(): MiddlewareHandler {
  const limit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError() {
      throw new Problem(413, {
        kind: "body-too-large",
        detail: `Request bodies are limited to ${MAX_BODY_BYTES} bytes.`,
      });
    },
  });
  return function limitBody(c, next) {
    return hasBody(c) ? limit(c, next) : next();
  };
}

/** 415: the one answer to a body that is not JSON, whichever check refuses it. */
export function unsupportedMediaType(): Problem {
  return new Problem(415, {
    kind: "unsupported-media-type",
    detail: "Request bodies must be sent as application/json.",
    headers: { "accept-post": "application/json" },
  });
}

/** A request that carries a body must carry JSON (API.md: any other content type gets 415). */
export function requireJsonBodies(): MiddlewareHandler {
  return async function requireJson(c, next) {
    if (hasBody(c)) {
      const mediaType = (c.req.header("content-type") ?? "").split(";")[0].trim();
      if (!JSON_MEDIA_TYPE.test(mediaType)) throw unsupportedMediaType();
    }
    await next();
  };
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
