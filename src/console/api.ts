/** GET /admin/, the operator console, for the OpenAPI document (served by plain routes). */
import { createRoute, z } from "@hono/zod-openapi";

/** GET /admin/ */
export const consoleRoute = createRoute({
  method: "get",
  path: "/admin/",
  tags: ["Moderation"],
  summary: "The operator console",
  description: "HTML for browsers, served to anyone: it asks for the operator token (kept for " +
    "the browser tab only) and does everything the operator routes do. It loads its own script " +
    "and style from this origin (not described here). `GET /admin` redirects here.",
  responses: {
    200: {
      description: "The console.",
      content: { "text/html": { schema: z.string() } },
    },
  },
});
