/**
 * The OpenAPI 3.1 document of the service, built once from the route definitions the app was
 * assembled from (the same zod schemas that validate the requests), and GET /openapi.json.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./http/env.ts";
import { ACCESS_TOKEN, jsonBytes, METRICS_TOKEN, OPERATOR_TOKEN } from "./http/openapi.ts";
import { consoleRoute } from "./console/api.ts";
import { liveRoutes } from "./live/api.ts";
import { documentRoute } from "./ops/api.ts";
import { VERSION } from "./version.ts";

const DESCRIPTION = `A live leaderboard: accounts complete actions worth points; boards rank them
all-time and by UTC day, ISO week and month; a Server-Sent Events stream pushes each board's top 10.

The reference with every rule and choice is \`docs/api.md\` in the service's repository.

**Conventions.** JSON in and out, camelCase; timestamps ISO 8601 in UTC; ids are integers. A
route that takes a body takes it as \`application/json\` (else 415); unknown fields are ignored.
Strict input on every route alike: a body is at most 16 KiB (else 413) and UTF-8 (else 400, as is
JSON holding a lone surrogate), and a body on a route that takes none is ignored; a request not
sent in time is 408; a path and query over 8 KiB are 414, headers over 16 KiB 431; a method a path
does not have is 405 with \`Allow\`. Every error is an RFC 9457
\`application/problem+json\` [Problem](#/components/schemas/Problem); validation failures (400)
list \`errors: [{ path, message }]\`; a 500 never carries the error, only the request id (also in
\`X-Request-Id\`). Every GET also answers HEAD. Responses are \`Cache-Control: no-store\` unless
said otherwise. With \`CORS_ORIGINS\` set, other origins may read \`GET /actions\`,
\`/leaderboard…\` (the stream included) and \`/openapi.json\`, and nothing else.

**503.** While PostgreSQL does not answer, routes that need it answer 503 with \`Retry-After\`
(never a hang); reads of the current boards go on from Redis where it holds them.`;

const TAGS = [
  {
    name: "Accounts and sessions",
    description: "Sign-up, sign-in, tokens, sessions, the account.",
  },
  { name: "Actions", description: "The catalogue, completing actions, one's own completions." },
  { name: "Leaderboard", description: "Boards by period, entries, the live stream." },
  { name: "Operator", description: "The catalogue's upkeep, behind ADMIN_TOKEN." },
  {
    name: "Moderation",
    description: "Accounts, suspensions, voids, the audit trail and the console, behind " +
      "ADMIN_TOKEN.",
  },
  { name: "Operations", description: "Health, readiness, metrics, the page, this document." },
];

/** The OpenAPI document of `app`, whose routes are all mounted. */
function describe(app: OpenAPIHono<AppEnv>): Json {
  const registry = app.openAPIRegistry;
  registry.registerComponent("securitySchemes", ACCESS_TOKEN, {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "An access token from POST /auth/register, /auth/login or /auth/refresh " +
      "(`accessToken`), 15 minutes by default.",
  });
  registry.registerComponent("securitySchemes", OPERATOR_TOKEN, {
    type: "http",
    scheme: "bearer",
    description: "The operator token, the instance's `ADMIN_TOKEN`; without it set, every " +
      "/admin route answers 403.",
  });
  registry.registerComponent("securitySchemes", METRICS_TOKEN, {
    type: "http",
    scheme: "bearer",
    description: "The instance's `METRICS_TOKEN`, which GET /metrics asks for when it is set.",
  });
  // Served by plain routes (a stream, a page): described here, validated by the same schemas.
  for (const route of [...liveRoutes, consoleRoute]) registry.registerPath(route);
  const doc = app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "scoreboard",
      version: VERSION,
      description: DESCRIPTION,
      contact: { name: "The operators of this instance" },
    },
    // Relative: the document describes the instance (or the proxy in front) that serves it.
    servers: [{ url: "/", description: "The origin that serves this document." }],
    tags: TAGS,
  }) as unknown as Json;
  return completed(doc);
}

// deno-lint-ignore no-explicit-any
type Json = any;

/**
 * What the door answers on every route alike (API.md "Conventions"), before any route runs:
 * shared responses that every operation refers to.
 */
const DOOR: Record<string, [name: string, response: Json]> = {
  "400": [
    "InvalidRequest",
    doorProblem(
      "The request is not valid: `errors` lists each failure (a field, a parameter, a " +
        "percent-escape of the URL or a body that is not UTF-8, JSON holding a lone surrogate).",
      "validation-error",
    ),
  ],
  "408": [
    "RequestTimeout",
    doorProblem(
      "The client did not send the whole request in time (`REQUEST_TIMEOUT_MS`); nothing was " +
        "done. The connection is closed.",
      "request-timeout",
    ),
  ],
  "413": [
    "BodyTooLarge",
    doorProblem(
      "The body is over 16 KiB (on every route: a body a route does not take is ignored only " +
        "within the limit).",
      "body-too-large",
    ),
  ],
  "414": ["UriTooLong", doorProblem("The path and query are over 8 KiB.", "uri-too-long")],
  "431": [
    "HeadersTooLarge",
    doorProblem(
      "The headers are over 16 KiB in all.",
      "headers-too-large",
    ),
  ],
};

/** A problem response of the door, as the document holds it. */
function doorProblem(description: string, kind: string): Json {
  const type = `urn:scoreboard:problem:${kind}`;
  return {
    description: `${description} \`type\`: \`${type}\`.`,
    content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
    "x-problem-types": [type],
  };
}

/**
 * The document as clients and linters take it: `security: []` on public operations, the door's
 * answers on every operation, and every problem `type` the document lists in the Problem
 * schemas' `type`.
 */
function completed(doc: Json): Json {
  doc.components.responses = Object.fromEntries(Object.values(DOOR));
  const kinds = new Set<string>();
  for (const item of Object.values<Json>(doc.paths)) {
    for (const [method, op] of Object.entries<Json>(item)) {
      op.security ??= [];
      for (const [status, [name, response]] of Object.entries(DOOR)) {
        if (op.responses[status] !== undefined) continue;
        op.responses[status] = method === "head"
          ? { description: `${response.description} (No body: a HEAD.)` }
          : { $ref: `#/components/responses/${name}` };
      }
      for (const response of Object.values<Json>(op.responses)) {
        for (const kind of response["x-problem-types"] ?? []) kinds.add(kind);
      }
    }
  }
  for (const response of Object.values<Json>(doc.components.responses)) {
    for (const kind of response["x-problem-types"]) kinds.add(kind);
  }
  for (const [name, schema] of Object.entries<Json>(doc.components.schemas)) {
    if (name.endsWith("Problem") && schema.properties?.type) {
      schema.properties.type.enum = [...kinds].sort();
    }
  }
  return doc;
}

/** Mounts GET /openapi.json on `app` once every other route is, and builds its bytes once. */
export function serveDescription(app: OpenAPIHono<AppEnv>): void {
  let bytes = new Uint8Array();
  app.openapi(documentRoute, (c) => jsonBytes<Record<string, unknown>>(c, bytes));
  bytes = new TextEncoder().encode(JSON.stringify(describe(app)));
}
