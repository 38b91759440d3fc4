/** What the catalogue, completion and operator routes take and answer: OpenAPI definitions. */
import { createRoute } from "@hono/zod-openapi";
import {
  alwaysPossible,
  bodyRules,
  invalid,
  json,
  jsonRequest,
  needsAccessToken,
  needsOperatorToken,
  notAnOperator,
  problem,
  RETRY_AFTER,
  tooMany,
  unauthorizedResponse,
} from "../http/openapi.ts";
import {
  Action,
  ActionLimitProblem,
  ActionList,
  completeHeaders,
  Completion,
  CompletionPage,
  completionsQuery,
  createActionBody,
  MyActionList,
  slugParams,
  updateActionBody,
} from "./schemas.ts";

const unknownAction = problem("No action with that slug.", ["unknown-action"]);

/** GET /actions */
export const listActionsRoute = createRoute({
  operationId: "listActions",
  method: "get",
  path: "/",
  tags: ["Actions"],
  summary: "The active actions",
  description: "Sorted by slug. Public.",
  responses: {
    200: json(ActionList, "The actions that can be completed."),
    ...alwaysPossible,
  },
});

/** POST /actions/{slug}/complete */
export const completeRoute = createRoute({
  operationId: "completeAction",
  method: "post",
  path: "/{slug}/complete",
  tags: ["Actions"],
  summary: "Complete an action",
  description: "Logs the completion with the action's current point value and adds it to the " +
    "account's total in one transaction; the live boards update. No body. Limited per account " +
    "(by default 10 a second).",
  security: needsAccessToken,
  request: { params: slugParams, headers: completeHeaders },
  responses: {
    201: json(Completion, "Completed."),
    200: json(
      Completion,
      "A replay (same `Idempotency-Key`, same action): the original completion, the current " +
        "total and rank; nothing awarded.",
    ),
    400: invalid("The `Idempotency-Key` is empty or over 200 characters."),
    401: unauthorizedResponse(),
    404: unknownAction,
    409: problem(
      "A rule of the action refuses it (`action-limit`: `retryAt` says from when it will be " +
        "accepted, null for never, and `Retry-After` comes with it when not null), or the total " +
        "would pass 2147483647 points (`score-overflow`). Nothing changed.",
      ["action-limit", "score-overflow"],
      { "Retry-After": { ...RETRY_AFTER, required: false } },
      ActionLimitProblem,
    ),
    410: problem("The action is retired.", ["action-retired"]),
    422: problem(
      "This `Idempotency-Key` was used by this account to complete another action.",
      ["idempotency-key-reused"],
    ),
    429: tooMany("Too many completions by this account."),
    ...alwaysPossible,
  },
});

/** GET /me/actions */
export const myActionsRoute = createRoute({
  operationId: "listMyActions",
  method: "get",
  path: "/",
  tags: ["Actions"],
  summary: "The active actions, with the caller's standing",
  description: "Sorted by slug: each action with how many completions its limit still allows " +
    "in the current window and from when the caller may complete it again.",
  security: needsAccessToken,
  responses: {
    200: json(MyActionList, "The actions that can be completed, and the caller's standing."),
    401: unauthorizedResponse(),
    ...alwaysPossible,
  },
});

/** GET /me/completions */
export const myCompletionsRoute = createRoute({
  operationId: "listMyCompletions",
  method: "get",
  path: "/",
  tags: ["Actions"],
  summary: "The caller's completions",
  description: "Newest first, a page at a time.",
  security: needsAccessToken,
  request: { query: completionsQuery },
  responses: {
    200: json(CompletionPage, "A page of completions."),
    400: invalid(),
    401: unauthorizedResponse(),
    ...alwaysPossible,
  },
});

/** GET /admin/actions */
export const adminListRoute = createRoute({
  operationId: "listAllActions",
  method: "get",
  path: "/",
  tags: ["Operator"],
  summary: "Every action, retired ones included",
  description: "Sorted by slug.",
  security: needsOperatorToken,
  responses: {
    200: json(ActionList, "Every action."),
    403: notAnOperator,
    ...alwaysPossible,
  },
});

/** POST /admin/actions */
export const createActionRoute = createRoute({
  operationId: "createAction",
  method: "post",
  path: "/",
  tags: ["Operator"],
  summary: "Add an action",
  description: "Adds an action to the catalogue, with its rules if any (a limit per window, a " +
    "cooldown); an audit line records it.",
  security: needsOperatorToken,
  request: { body: jsonRequest(createActionBody) },
  responses: {
    201: {
      ...json(Action, "Added."),
      headers: {
        Location: {
          description: "The action's operator URL, `/admin/actions/{slug}`.",
          required: true,
          schema: { type: "string" },
        },
      },
    },
    400: invalid(),
    403: notAnOperator,
    409: problem("The slug is taken (retired actions keep theirs).", ["slug-taken"]),
    ...bodyRules,
    ...alwaysPossible,
  },
});

/** PATCH /admin/actions/{slug} */
export const updateActionRoute = createRoute({
  operationId: "updateAction",
  method: "patch",
  path: "/{slug}",
  tags: ["Operator"],
  summary: "Change an action's label, point value or rules",
  description: "Points already earned never change. A rule applies from then on to every " +
    "account, counting the completions already made in its current window.",
  security: needsOperatorToken,
  request: { params: slugParams, body: jsonRequest(updateActionBody) },
  responses: {
    200: json(Action, "Changed."),
    400: invalid(),
    403: notAnOperator,
    404: unknownAction,
    ...bodyRules,
    ...alwaysPossible,
  },
});

/** DELETE /admin/actions/{slug} */
export const retireActionRoute = createRoute({
  operationId: "retireAction",
  method: "delete",
  path: "/{slug}",
  tags: ["Operator"],
  summary: "Retire an action",
  description: "It can no longer be completed (410) and leaves GET /actions; its slug stays " +
    "taken and points already earned stay. Retiring twice keeps the first `retiredAt`.",
  security: needsOperatorToken,
  request: { params: slugParams },
  responses: {
    204: { description: "Retired." },
    403: notAnOperator,
    404: unknownAction,
    ...alwaysPossible,
  },
});
