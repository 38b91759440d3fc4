/**
 * The OpenAPI description of the stream and of the page. They are served by plain Hono routes
 * (`routes.ts`: a stream is not a typed JSON answer); these definitions only describe them, with
 * the query schema that validates the stream's request.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { internalError, invalid, unavailable } from "../http/openapi.ts";
import { streamQuery } from "../leaderboard/schemas.ts";

const TAG = ["Leaderboard"];

const EVENTS = "Server-Sent Events for `EventSource`. The first bytes are a `retry:` hint (ms), " +
  "then at once an event named `leaderboard` with the period's current top 10; then one such " +
  "event each time that top 10 changes (at most one per `BROADCAST_INTERVAL_MS`, 100 ms by " +
  "default, always ending on the latest state) and one when the window turns (the new, empty " +
  "board). Each event has an increasing `id`, and its `data` is one line of JSON: a " +
  "[BoardPage](#/components/schemas/BoardPage) `{ period, startsAt, endsAt, total, entries }` " +
  "with the first 10 entries. A comment line `: heartbeat` comes every `SSE_HEARTBEAT_MS` " +
  "(15 s). A client that reconnects gets the current top 10 at once. When the instance shuts " +
  "down it ends the stream, and `EventSource` reconnects (elsewhere, behind a load balancer).";

const EXAMPLE = "retry: 2000\n" +
  "id: 1764000000000\n" +
  "event: leaderboard\n" +
  'data: {"period":"all","startsAt":null,"endsAt":null,"total":1,"entries":[{"rank":1,' +
  '"accountId":42,"username":"ada","totalPoints":1200}]}\n\n' +
  ": heartbeat\n\n";

const streamHeaders = {
  "Cache-Control": { description: "`no-cache`.", schema: { type: "string" as const } },
  "X-Accel-Buffering": {
    description: "`no`: nginx passes each event on as it arrives.",
    schema: { type: "string" as const },
  },
};

const refused = {
  400: invalid("`period` is not one of all, day, week, month."),
  503: unavailable(
    "The instance holds as many streams as it allows (`SSE_MAX_CLIENTS`), is shutting down, or " +
      "could not read the board; try again (another instance).",
    ["too-many-streams", "shutting-down", "database-unavailable", "timed-out"],
  ),
  500: internalError,
};

/** GET /leaderboard/stream */
export const streamRoute = createRoute({
  operationId: "streamLeaderboard",
  method: "get",
  path: "/leaderboard/stream",
  tags: TAG,
  summary: "The live top 10 of a board (Server-Sent Events)",
  description: "Public (`EventSource` cannot send headers). " + EVENTS,
  request: { query: streamQuery },
  responses: {
    200: {
      description: "The stream; it stays open until the client or the instance ends it.",
      headers: streamHeaders,
      content: {
        "text/event-stream": {
          schema: z.string().openapi({
            description: "Events named `leaderboard` whose `data` is a BoardPage (the top 10).",
          }),
          example: EXAMPLE,
          // For programs: each event's name and the schema of its data.
          "x-events": {
            leaderboard: { data: { $ref: "#/components/schemas/BoardPage" } },
          },
        },
      },
    },
    ...refused,
  },
});

/** HEAD /leaderboard/stream: the stream's headers, without opening one. */
export const streamHeadRoute = createRoute({
  operationId: "checkLeaderboardStream",
  method: "head",
  path: "/leaderboard/stream",
  tags: TAG,
  summary: "The stream's headers, without opening a stream",
  description: "Public. What a GET would answer first (status and headers), with no stream " +
    "opened and no body: a check that a board's stream is there.",
  request: { query: streamQuery },
  responses: {
    200: {
      description: "The headers a stream would have; no body, no stream opened.",
      headers: {
        "Content-Type": {
          description: "`text/event-stream; charset=utf-8`.",
          schema: { type: "string" as const },
        },
        ...streamHeaders,
      },
    },
    400: { description: "`period` is not one of all, day, week, month (no body)." },
  },
});

/** GET / */
export const pageRoute = createRoute({
  operationId: "getPage",
  method: "get",
  path: "/",
  tags: ["Operations"],
  summary: "A page that shows the live top 10",
  description: "HTML for browsers; it loads its own scripts and style from this origin (not " +
    "described here) and follows the stream, read with `fetch()` so that it sees statuses and " +
    "`Retry-After`.",
  responses: {
    200: {
      description: "The page.",
      content: { "text/html": { schema: z.string() } },
    },
  },
});

/** Every definition here, for the document. */
export const liveRoutes = [streamRoute, streamHeadRoute, pageRoute];
