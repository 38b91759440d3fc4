/** Routes of API.md's "Leaderboard" (the stream has its own module, `src/live/`). */
import { openApiRouter } from "../http/openapi.ts";
import { Problem } from "../http/problem.ts";
import { leaderboardApi } from "./api.ts";
import type { Leaderboard } from "./leaderboard.ts";
import type { Clock, Window } from "./periods.ts";

/** The window's bounds as the API shows them (null for all time). */
export function windowFields(window: Window) {
  return {
    period: window.period,
    startsAt: window.start?.toISOString() ?? null,
    endsAt: window.end?.toISOString() ?? null,
  };
}

function notRanked(id: number): Problem {
  return new Problem(404, {
    kind: "not-ranked",
    detail: `Account ${id} has no points in this board, or does not exist.`,
  });
}

/** GET /leaderboard, /leaderboard/accounts, /leaderboard/accounts/{id}[/around]. */
export function leaderboardRoutes(deps: { leaderboard: Leaderboard; clock: Clock }) {
  const { leaderboard } = deps;
  const api = leaderboardApi(deps.clock);
  return openApiRouter()
    .openapi(api.page, async (c) => {
      const { period, at, limit, offset } = c.req.valid("query");
      const window = leaderboard.window(period, at);
      // Taken before the read: a change during it makes the answer stale at once.
      c.set("cacheStamp", leaderboard.stamp(window, limit, offset));
      const { total, entries } = await leaderboard.page(window, limit, offset);
      return c.json({ ...windowFields(window), total, entries }, 200);
    })
    .openapi(api.byIds, async (c) => {
      const { period, at, ids } = c.req.valid("query");
      const window = leaderboard.window(period, at);
      return c.json({ period, entries: await leaderboard.pick(window, ids) }, 200);
    })
    .openapi(api.entry, async (c) => {
      const { id } = c.req.valid("param");
      const { period, at } = c.req.valid("query");
      const entry = await leaderboard.entry(leaderboard.window(period, at), id);
      if (!entry) throw notRanked(id);
      return c.json(entry, 200);
    })
    .openapi(api.around, async (c) => {
      const { id } = c.req.valid("param");
      const { period, at, radius } = c.req.valid("query");
      const entries = await leaderboard.around(leaderboard.window(period, at), id, radius);
      if (!entries) throw notRanked(id);
      return c.json({ period, entries }, 200);
    });
}
