/**
 * The OpenAPI 3.1 document of the service, built once from the route definitions the app was
 * assembled from (the same zod schemas that validate the requests), and GET /openapi.json.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./http/env.ts";
import { ACCESS_TOKEN, jsonBytes, OPERATOR_TOKEN } from "./http/openapi.ts";
import { consoleRoute } from "./console/api.ts";
import { liveRoutes } from "./live/api.ts";
import { documentRoute } from "./ops/api.ts";
import { VERSION } from "./version.ts";

const DESCRIPTION = `A live leaderboard: accounts complete actions worth points; boards rank them
all-time and by UTC day, ISO week and month; a Server-Sent Events stream pushes each board's top 10.

The reference with every rule and choice is \`docs/api.md\` in the service's repository.

**Conventions.** JSON in and out, camelCase; timestamps ISO 8601 in UTC; ids are integers. A
request that carries a body (any route) must send it as \`application/json\` (else 415) and at most
16 KiB (else 413); unknown fields are ignored. Every error is an RFC 9457
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
function describe(app: OpenAPIHono<AppEnv>): Record<string, unknown> {
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
  // Served by plain routes (a stream, a page): described here, validated by the same schemas.
  for (const route of [...liveRoutes, consoleRoute]) registry.registerPath(route);
  return app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: { title: "scoreboard", version: VERSION, description: DESCRIPTION },
    tags: TAGS,
  }) as unknown as Record<string, unknown>;
}

/** Mounts GET /openapi.json on `app` once every other route is, and builds its bytes once. */
export function serveDescription(app: OpenAPIHono<AppEnv>): void {
  let bytes = new Uint8Array();
  app.openapi(documentRoute, (c) => jsonBytes<Record<string, unknown>>(c, bytes));
  bytes = new TextEncoder().encode(JSON.stringify(describe(app)));
}
