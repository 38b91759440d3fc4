/**
 * Strict input at the door, the same on every route (API.md "Conventions"): a URL past
 * MAX_URL_BYTES is 414 and headers past MAX_HEADER_BYTES 431; a URL whose percent-escapes are not
 * UTF-8 is 400; a body is read whole here, before any route sees it — past MAX_BODY_BYTES it is
 * 413, not sent within the time a request has it is 408 (the client's doing: nothing is wrong
 * with the service), not UTF-8 or JSON holding a lone surrogate it is 400. A body on a route that
 * takes none is then ignored; routes that take one read it from here (Hono's body cache).
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "./env.ts";
import { requestBody } from "./node_server.ts";
import { Problem, validationProblem } from "./problem.ts";

/** The largest request body accepted (API.md: 16 KiB, beyond it 413). */
export const MAX_BODY_BYTES = 16 * 1024;
/** The longest request target (path and query) accepted: beyond it 414. */
export const MAX_URL_BYTES = 8 * 1024;
/** The most bytes of header names and values accepted: beyond them 431. */
export const MAX_HEADER_BYTES = 16 * 1024;

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * Whether the request carries a body: by HTTP/1.1's rules, only with a Content-Length above zero
 * or a Transfer-Encoding (a POST with neither, like `curl -X POST`, has none).
 */
export function hasBody(c: Context): boolean {
  const length = c.req.header("content-length");
  if (length !== undefined) return length.trim() !== "0";
  return c.req.header("transfer-encoding") !== undefined;
}

/** The request target: path and query, as sent. */
export function requestTarget(url: string): string {
  return url.slice(url.indexOf("/", url.indexOf("//") + 2));
}

/** Bytes of the request's header names and values, with their separators. */
function headerBytes(headers: Headers): number {
  let bytes = 0;
  headers.forEach((value, name) => bytes += name.length + value.length + 4);
  return bytes;
}

/** Whether every percent-escape of `part` decodes to UTF-8. */
function decodes(part: string): boolean {
  try {
    decodeURIComponent(part);
    return true;
  } catch {
    return false;
  }
}

/**
 * The problem with the request line and headers, if any; cheap enough for every request (the
 * response cache asks it before it answers a read).
 */
export function refusedAtDoor(c: Context): Problem | null {
  const target = requestTarget(c.req.url);
  if (target.length > MAX_URL_BYTES) {
    return new Problem(414, {
      kind: "uri-too-long",
      detail: `The request's path and query are limited to ${MAX_URL_BYTES} bytes.`,
    });
  }
  if (headerBytes(c.req.raw.headers) > MAX_HEADER_BYTES) {
    return new Problem(431, {
      kind: "headers-too-large",
      detail: `The request's headers are limited to ${MAX_HEADER_BYTES} bytes in all.`,
    });
  }
  if (target.includes("%") && !target.split(/[?&=]/).every(decodes)) {
    return validationProblem(
      [{ path: "", message: "a percent-escape of the URL is not UTF-8" }],
      "The URL is not valid: its percent-escapes must spell UTF-8.",
    );
  }
  return null;
}

/** The body, whole, within `limit` bytes and `ms` milliseconds; else the problem. */
async function readBody(
  body: ReadableStream<Uint8Array>,
  ms: number,
): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<"stalled">((resolve) => timer = setTimeout(resolve, ms, "stalled"));
  try {
    for (;;) {
      const read = await Promise.race([reader.read(), stalled]);
      if (read === "stalled") {
        throw new Problem(408, {
          kind: "request-timeout",
          detail: `The request's body did not arrive within ${ms} ms; nothing was done.`,
          headers: { connection: "close" },
        });
      }
      if (read.done) break;
      size += read.value.length;
      if (size > MAX_BODY_BYTES) {
        throw new Problem(413, {
          kind: "body-too-large",
          detail: `Request bodies are limited to ${MAX_BODY_BYTES} bytes.`,
          headers: { connection: "close" },
        });
      }
      chunks.push(read.value);
    }
  } catch (error) {
    reader.cancel().catch(() => {});
    throw error;
  } finally {
    clearTimeout(timer);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

/** Whether every string of a parsed JSON value, and every key, is well-formed UTF-16. */
function wellFormed(value: unknown): boolean {
  if (typeof value === "string") return value.isWellFormed();
  if (Array.isArray(value)) return value.every(wellFormed);
  if (value !== null && typeof value === "object") {
    return Object.entries(value).every(([key, item]) => key.isWellFormed() && wellFormed(item));
  }
  return true;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The middleware: the door's checks, then the body read and checked (see the module). */
export function strictInput(options: { bodyTimeoutMs: number }): MiddlewareHandler<AppEnv> {
  return async function strict(c, next) {
    const refused = refusedAtDoor(c);
    if (refused) throw refused;
    const length = Number(c.req.header("content-length") ?? 0);
    if (length > MAX_BODY_BYTES) {
      throw new Problem(413, {
        kind: "body-too-large",
        detail: `Request bodies are limited to ${MAX_BODY_BYTES} bytes.`,
        headers: { connection: "close" },
      });
    }
    const body = hasBody(c) ? requestBody(c.req.raw) : null;
    if (body !== null) {
      const bytes = await readBody(body, options.bodyTimeoutMs);
      let text: string;
      try {
        text = utf8.decode(bytes);
      } catch {
        throw validationProblem(
          [{ path: "", message: "is not valid UTF-8" }],
          "The body is not valid UTF-8.",
        );
      }
      const mediaType = (c.req.header("content-type") ?? "").split(";")[0].trim();
      if (JSON_MEDIA_TYPE.test(mediaType)) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          // Malformed: the route that takes a body says so; one that takes none ignores it.
        }
        if (!wellFormed(parsed)) {
          throw validationProblem(
            [{ path: "", message: "holds a lone surrogate (\\ud800-\\udfff), not a character" }],
            "The body's JSON holds a string that is not Unicode text.",
          );
        }
      }
      // Hono's cache holds promises of bodies (its type says bodies).
      (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(text);
    }
    await next();
  };
}
