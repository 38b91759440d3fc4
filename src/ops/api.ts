/** What the operations routes answer: health, readiness, metrics and this description itself. */
import { createRoute, z } from "@hono/zod-openapi";
import {
  internalError,
  json,
  METRICS_TOKEN,
  unauthorizedResponse,
  unavailable,
} from "../http/openapi.ts";

const TAG = ["Operations"];

/** GET /healthz */
export const Health = z.object({ status: z.literal("ok") }).openapi("Health");

/** GET /readyz while PostgreSQL answers. */
export const Readiness = z.object({
  status: z.enum(["ok", "degraded"]).openapi({
    description: "`degraded`: Redis does not answer, or refuses the service's commands; the " +
      "instance serves from PostgreSQL.",
  }),
  postgres: z.literal("ok"),
  redis: z.enum(["ok", "down", "refusing", "none"]).openapi({
    description: "`refusing`: Redis answers but refuses the service's commands (a replica: " +
      "READONLY; a cluster node: MOVED, CROSSSLOT; no scripting…); `none`: no Redis " +
      "configured, one instance on its own.",
  }),
  mode: z.enum(["single-instance", "scale-out"]),
  detail: z.string().optional().openapi({
    description: "In `single-instance` mode: why; with Redis `refusing`: what it refused.",
  }),
}).openapi("Readiness");

/** The body of GET /readyz while ready. */
export type Readiness = z.infer<typeof Readiness>;

/** GET /openapi.json: an OpenAPI 3.1 document (its own schema is the OpenAPI specification's). */
export const OpenApiDocument = z.record(z.string(), z.unknown()).openapi("OpenApiDocument", {
  description: "An OpenAPI 3.1 document: https://spec.openapis.org/oas/v3.1.0",
});

/** GET /healthz */
export const healthRoute = createRoute({
  operationId: "getHealth",
  method: "get",
  path: "/healthz",
  tags: TAG,
  summary: "Liveness",
  description: "200 while the process runs: restart an instance that stops answering it.",
  responses: {
    200: json(Health, "The process runs."),
  },
});

/** GET /readyz */
export const readyRoute = createRoute({
  operationId: "getReadiness",
  method: "get",
  path: "/readyz",
  tags: TAG,
  summary: "Readiness",
  description: "200 while PostgreSQL answers (without Redis an instance still serves, from " +
    "PostgreSQL), else 503: take the instance out of the load balancer, do not restart it. " +
    "503 `shutting-down` from the moment a stopping instance starts to drain.",
  responses: {
    200: json(Readiness, "Ready; the body says how Redis is."),
    503: unavailable(
      "PostgreSQL does not answer, the migrations have not run yet, or the instance is stopping.",
      ["not-ready", "shutting-down", "timed-out"],
    ),
    500: internalError,
  },
});

/** GET /metrics */
export const metricsRoute = createRoute({
  operationId: "getMetrics",
  method: "get",
  path: "/metrics",
  tags: TAG,
  summary: "Prometheus metrics",
  description: "Requests by route and status, latency histogram, open streams, broadcasts, " +
    "score updates, rate limits, and the process's own health. For the operator's Prometheus, " +
    "which scrapes instances directly (the shipped proxy configuration answers 404 for it): " +
    "with `METRICS_TOKEN` set it takes `Authorization: Bearer <METRICS_TOKEN>`, else anyone.",
  security: [{}, { [METRICS_TOKEN]: [] }],
  responses: {
    200: {
      description: "The Prometheus text exposition format 0.0.4.",
      content: { "text/plain; version=0.0.4": { schema: z.string() } },
    },
    401: unauthorizedResponse(
      "`METRICS_TOKEN` is set and the request does not carry it.",
      [],
      '`Bearer realm="metrics"`',
    ),
    500: internalError,
  },
});

/** GET /openapi.json */
export const documentRoute = createRoute({
  operationId: "getOpenApiDocument",
  method: "get",
  path: "/openapi.json",
  tags: TAG,
  summary: "This description",
  description: "The OpenAPI 3.1 description of every route, generated from the schemas that " +
    "validate the requests. Public.",
  responses: {
    200: json(OpenApiDocument, "The document."),
  },
});
