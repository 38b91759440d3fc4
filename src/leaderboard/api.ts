/**
 * What the leaderboard reads take and answer: their OpenAPI route definitions, made for a clock
 * (`at` may not be in the future).
 */
import { createRoute } from "@hono/zod-openapi";
import { internalError, invalid, json, problem, unavailable } from "../http/openapi.ts";
import type { Clock } from "./periods.ts";
import {
  accountParams,
  aroundQuery,
  BoardPage,
  boardQuery,
  Entry,
  EntryList,
  idsQuery,
  pageQuery,
} from "./schemas.ts";

const TAG = ["Leaderboard"];

/** Reads of the current boards go on from Redis while PostgreSQL is away, where it holds them. */
const always = {
  500: internalError,
  503: unavailable(
    "PostgreSQL does not answer and Redis does not hold this board, or a dependency did not " +
      "answer in time.",
    ["database-unavailable", "timed-out"],
  ),
} as const;

const notRanked = problem(
  "The account has no points in this board, or does not exist.",
  ["not-ranked"],
);

/** The definitions of GET /leaderboard, /leaderboard/accounts, /leaderboard/accounts/{id}[/around]. */
export function leaderboardApi(clock: Clock) {
  return {
    page: createRoute({
      operationId: "getLeaderboard",
      method: "get",
      path: "/",
      tags: TAG,
      summary: "A page of a board",
      description: "Public. Best first; `rank` as in the whole board.",
      request: { query: pageQuery(clock) },
      responses: {
        200: json(BoardPage, "The page, with the window and the board's size."),
        400: invalid(),
        ...always,
      },
    }),
    byIds: createRoute({
      operationId: "getLeaderboardEntries",
      method: "get",
      path: "/accounts",
      tags: TAG,
      summary: "The entries of some accounts (a friends board)",
      description: "Best first, ranks as in the whole board; ids without points in it are left " +
        "out.",
      request: { query: idsQuery(clock) },
      responses: {
        200: json(EntryList, "Their entries."),
        400: invalid(),
        ...always,
      },
    }),
    entry: createRoute({
      operationId: "getLeaderboardEntry",
      method: "get",
      path: "/accounts/{id}",
      tags: TAG,
      summary: "One account's entry",
      description: "Public.",
      request: { params: accountParams, query: boardQuery(clock) },
      responses: {
        200: json(Entry, "Its entry."),
        400: invalid(),
        404: notRanked,
        ...always,
      },
    }),
    around: createRoute({
      operationId: "getLeaderboardAround",
      method: "get",
      path: "/accounts/{id}/around",
      tags: TAG,
      summary: "An account's entry and its neighbours",
      description: "Up to `radius` entries above and below the account's, in board order.",
      request: { params: accountParams, query: aroundQuery(clock) },
      responses: {
        200: json(EntryList, "The entries around it, its own included."),
        400: invalid(),
        404: notRanked,
        ...always,
      },
    }),
  };
}
