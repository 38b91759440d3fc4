/**
 * What every route definition shares: the router that validates with the service's one 400
 * problem, the problem's schema, the error responses and the security schemes of the OpenAPI
 * document (built in `src/openapi.ts`).
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context, TypedResponse } from "hono";
import type { JSONParsed } from "hono/utils/types";
import type { AppEnv } from "./env.ts";
import { rejectInvalid } from "./validation.ts";

/** `errors[]` of a validation problem. */
export const FieldError = z.object({
  path: z.string().openapi({
    description: 'Where: a dotted path into the body or parameters ("" for the whole value); ' +
      "a header's name for a header.",
    example: "email",
  }),
  message: z.string().openapi({ example: "must be a valid email address" }),
}).openapi("FieldError");

/** RFC 9457 `application/problem+json`: the body of every error. */
export const Problem = z.object({
  type: z.string().openapi({
    description: "`about:blank` for plain HTTP errors, else `urn:scoreboard:problem:<kind>`; " +
      "each response lists the kinds it may carry.",
    example: "urn:scoreboard:problem:validation-error",
  }),
  title: z.string().openapi({ example: "Invalid request" }),
  status: z.number().int().openapi({ example: 400 }),
  detail: z.string().optional().openapi({ example: "The request is not valid." }),
  errors: z.array(FieldError).optional().openapi({
    description: "Validation failures only: one item per failing field.",
  }),
}).openapi("Problem");

/** The security scheme of account routes: `Authorization: Bearer <accessToken>`. */
export const ACCESS_TOKEN = "accessToken";
/** The security scheme of `/admin`: `Authorization: Bearer <ADMIN_TOKEN>`. */
export const OPERATOR_TOKEN = "operatorToken";

/** The security scheme of GET /metrics when METRICS_TOKEN is set. */
export const METRICS_TOKEN = "metricsToken";

/** `security` of a route that needs an account's access token. */
export const needsAccessToken = [{ [ACCESS_TOKEN]: [] }];
/** `security` of an operator route. */
export const needsOperatorToken = [{ [OPERATOR_TOKEN]: [] }];

type Header = { description: string; required: boolean; schema: { type: "string" | "integer" } };

/** The Retry-After header of a response that always sends it. */
export const RETRY_AFTER: Header = {
  description: "Whole seconds to wait before trying again.",
  required: true,
  schema: { type: "integer" },
};

/**
 * A problem response; `kinds` are the `type`s it may carry (`about:blank` when none), listed in
 * its description and, for programs, in `x-problem-types`.
 */
export function problem(
  description: string,
  kinds: readonly string[] = [],
  headers: Record<string, Header> = {},
  schema: z.ZodType = Problem,
) {
  const types = kinds.length === 0
    ? ["about:blank"]
    : kinds.map((kind) => `urn:scoreboard:problem:${kind}`);
  return {
    description: `${description} \`type\`: ${types.map((type) => `\`${type}\``).join(", ")}.`,
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    content: { "application/problem+json": { schema } },
    // Machine-readable: a client (and the contract test) can tell the kinds apart.
    "x-problem-types": types,
  };
}

/** 403 of every /admin route. */
export const notAnOperator = problem(
  "ADMIN_TOKEN is not set (every /admin route is refused), or the request does not carry it.",
  ["operator-routes-disabled", "not-an-operator"],
);

/** 400: the request failed validation (`errors` lists each failure). */
export function invalid(description = "The request is not valid; `errors` lists each failure.") {
  return problem(description, ["validation-error"]);
}

/**
 * 401. An access token's refusal (`unauthorized`) carries the challenge RFC 6750 asks for; the
 * `others` kinds (a wrong password, say) carry none.
 */
export function unauthorizedResponse(
  description = "No access token, a malformed, expired or badly signed one, or one whose " +
    "account or session no longer exists.",
  others: readonly string[] = [],
  challenge = '`Bearer realm="scoreboard"`, with `error="invalid_token"` when a token was given',
) {
  return problem(description, ["unauthorized", ...others], {
    "WWW-Authenticate": {
      description: challenge +
        (others.length === 0 ? "." : " (on `urn:scoreboard:problem:unauthorized` only)."),
      required: others.length === 0,
      schema: { type: "string" },
    },
  });
}

/** 429 with Retry-After. */
export function tooMany(description: string) {
  return problem(description, ["rate-limited"], { "Retry-After": RETRY_AFTER });
}

/** 503 with Retry-After: PostgreSQL away, a dependency too slow, the schema not checked yet. */
export function unavailable(
  description = "PostgreSQL does not answer, a dependency did not answer in time, or the " +
    "instance has not checked its schema yet; nothing was changed unless `detail` says it may " +
    "have been.",
  kinds: readonly string[] = ["database-unavailable", "timed-out", "starting"],
) {
  return problem(description, kinds, { "Retry-After": RETRY_AFTER });
}

/** 500: never caused by input; `detail` names the request id the error was logged under. */
export const internalError = problem(
  "An error on the service's side; `detail` names the request id (also in `X-Request-Id`).",
);

/** What any route that reaches PostgreSQL may answer besides its own responses. */
export const alwaysPossible = { 500: internalError, 503: unavailable() } as const;

/** 413 and 415: the body rules of every route that takes a body. */
export const bodyRules = {
  413: problem("The body is over 16 KiB.", ["body-too-large"]),
  415: problem("The body is not sent as `application/json`.", ["unsupported-media-type"]),
} as const;

/** A JSON request body, required. */
export function jsonRequest<T extends z.ZodType>(schema: T, description?: string) {
  return {
    required: true,
    ...(description === undefined ? {} : { description }),
    content: { "application/json": { schema } },
  };
}

/** A JSON response. */
export function json<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/**
 * A 200 JSON answer of bytes serialised beforehand (once, not per request), typed as the body
 * `T` it holds so that it satisfies a route whose 200 is described by `T`'s schema. Nothing checks
 * the bytes against `T`: the caller serialised a `T`.
 */
export function jsonBytes<T>(
  c: Context,
  bytes: Uint8Array<ArrayBuffer>,
): Response & TypedResponse<JSONParsed<T>, 200, "json"> {
  const response: Response = c.body(bytes, 200, { "content-type": "application/json" });
  return response as Response & TypedResponse<JSONParsed<T>, 200, "json">;
}

/** The router of a feature: fails validation as the service's one 400 problem. */
export function openApiRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalid });
}
