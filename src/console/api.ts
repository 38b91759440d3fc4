/** GET /admin, the way to the operator console, for the OpenAPI document (served by plain routes). */
import { createRoute } from "@hono/zod-openapi";

/** GET /admin */
export const consoleRoute = createRoute({
  operationId: "openConsole",
  method: "get",
  path: "/admin",
  tags: ["Moderation"],
  summary: "The operator console",
  description: "Redirects to `/admin/`, the console: HTML for browsers, served to anyone, which " +
    "asks for the operator token (kept for the browser tab only) and does everything the " +
    "operator routes do. It loads its own script and style from this origin (not described " +
    "here).",
  security: [],
  responses: {
    301: {
      description: "To the console.",
      headers: {
        Location: { description: "`/admin/`.", required: true, schema: { type: "string" } },
      },
    },
  },
});
