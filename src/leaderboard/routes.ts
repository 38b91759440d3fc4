/** Routes of API.md's "Leaderboard" (the stream has its own module, `src/live/`). */
import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../http/env.ts";
import { Problem } from "../http/problem.ts";
import { intParam, MAX_ID, pathParams, queryParams } from "../http/validation.ts";
import type { Leaderboard } from "./leaderboard.ts";

const pageQuery = z.object({
  limit: intParam(1, 100).default(10),
  offset: intParam(0, MAX_ID).default(0),
});

const accountParams = z.object({ id: intParam(1, MAX_ID) });

/** GET /leaderboard and GET /leaderboard/accounts/{id}. */
export function leaderboardRoutes(deps: { leaderboard: Leaderboard }) {
  const { leaderboard } = deps;
  return new Hono<AppEnv>()
    .get("/", queryParams(pageQuery), async (c) => {
      const { limit, offset } = c.req.valid("query");
      return c.json({ entries: await leaderboard.page(limit, offset) });
    })
    .get("/accounts/:id", pathParams(accountParams), async (c) => {
      const { id } = c.req.valid("param");
      const entry = await leaderboard.entry(id);
      if (!entry) {
        throw new Problem(404, {
          kind: "not-ranked",
          detail: `Account ${id} has no points, or does not exist.`,
        });
      }
      return c.json(entry);
    });
}
