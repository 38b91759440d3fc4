/** The service's one error type, rendered as RFC 9457 `application/problem+json` in `app.onError`. */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { STATUS_TEXT } from "./status.ts";

/** One field that failed validation; `path` is dotted (`entries.0.name`), "" for the whole value. */
export interface FieldError {
  path: string;
  message: string;
}

/** Options of a Problem beyond its status. */
export interface ProblemOptions {
  /** A short name for the kind of problem (`username-taken`); it becomes the `type` URI. */
  kind?: string;
  title?: string;
  detail?: string;
  errors?: FieldError[];
  headers?: Record<string, string>;
  /** Members of the problem's own beyond RFC 9457's (`retryAt`, say). */
  members?: Record<string, unknown>;
}

/** An error that the client caused or must know of. Throw it; `app.onError` renders it. */
export class Problem extends Error {
  override name = "Problem";
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly detail?: string;
  readonly errors?: FieldError[];
  readonly headers: Record<string, string>;
  readonly members: Record<string, unknown>;

  constructor(status: number, options: ProblemOptions = {}) {
    super(options.detail ?? options.title ?? STATUS_TEXT[status] ?? `HTTP ${status}`);
    this.status = status;
    this.type = options.kind ? `urn:scoreboard:problem:${options.kind}` : "about:blank";
    this.title = options.title ?? STATUS_TEXT[status] ?? `HTTP ${status}`;
    this.detail = options.detail;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
    this.members = options.members ?? {};
  }

  /** The RFC 9457 body. */
  toJSON(): Record<string, unknown> {
    return {
      type: this.type,
      title: this.title,
      status: this.status,
      ...(this.detail === undefined ? {} : { detail: this.detail }),
      ...(this.errors === undefined ? {} : { errors: this.errors }),
      ...this.members,
    };
  }

  /** The response, through `c` so that headers set by earlier middleware are kept. */
  render(c: Context): Response {
    return c.body(JSON.stringify(this), this.status as ContentfulStatusCode, {
      ...this.headers,
      "content-type": "application/problem+json",
    });
  }
}

/** 400 for input that failed validation, listing each failure. */
export function validationProblem(
  errors: FieldError[],
  detail = "The request is not valid.",
): Problem {
  return new Problem(400, { kind: "validation-error", title: "Invalid request", detail, errors });
}

/** 401 for a missing or unusable access token, with the challenge RFC 6750 asks for. */
export function unauthorized(detail: string, tokenGiven: boolean): Problem {
  const challenge = tokenGiven
    ? 'Bearer realm="scoreboard", error="invalid_token"'
    : 'Bearer realm="scoreboard"';
  return new Problem(401, {
    kind: "unauthorized",
    detail,
    headers: { "www-authenticate": challenge },
  });
}

/** 429 telling the client how many whole seconds to wait. */
export function tooManyRequests(retryAfterMs: number, detail: string): Problem {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new Problem(429, {
    kind: "rate-limited",
    detail,
    headers: { "retry-after": String(seconds) },
  });
}
