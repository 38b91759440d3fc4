/** What the moderation and audit routes take and answer: OpenAPI definitions. */
import { createRoute } from "@hono/zod-openapi";
import { Completion, CompletionPage } from "../actions/schemas.ts";
import {
  alwaysPossible,
  bodyRules,
  invalid,
  json,
  jsonRequest,
  needsOperatorToken,
  notAnOperator,
  problem,
} from "../http/openapi.ts";
import {
  accountParams,
  accountsQuery,
  AdminAccount,
  AdminAccountPage,
  AuditPage,
  auditQuery,
  completionParams,
  completionsQuery,
  suspensionBody,
  voidBody,
} from "./schemas.ts";

const TAG = ["Moderation"];

const unknownAccount = problem("No account with that id.", ["unknown-account"]);

/** GET /admin/accounts */
export const accountsRoute = createRoute({
  operationId: "findAccounts",
  method: "get",
  path: "/",
  tags: TAG,
  summary: "Find accounts",
  description: "By the start of a username or an email (case-insensitively), or every account; " +
    "newest first, a page at a time.",
  security: needsOperatorToken,
  request: { query: accountsQuery },
  responses: {
    200: json(AdminAccountPage, "A page of accounts."),
    400: invalid(),
    403: notAnOperator,
    ...alwaysPossible,
  },
});

/** GET /admin/accounts/{id} */
export const accountRoute = createRoute({
  operationId: "getAccount",
  method: "get",
  path: "/{id}",
  tags: TAG,
  summary: "One account",
  description: "The account as operators see it: its email, whether it is deleted or " +
    "suspended (until when, and why), and its all-time points.",
  security: needsOperatorToken,
  request: { params: accountParams },
  responses: {
    200: json(AdminAccount, "The account."),
    400: invalid(),
    403: notAnOperator,
    404: unknownAccount,
    ...alwaysPossible,
  },
});

/** GET /admin/accounts/{id}/completions */
export const accountCompletionsRoute = createRoute({
  operationId: "listAccountCompletions",
  method: "get",
  path: "/{id}/completions",
  tags: TAG,
  summary: "An account's completions, voided ones too",
  description: "Newest first, a page at a time; `voidedAt` marks the voided ones.",
  security: needsOperatorToken,
  request: { params: accountParams, query: completionsQuery },
  responses: {
    200: json(CompletionPage, "A page of completions."),
    400: invalid(),
    403: notAnOperator,
    404: unknownAccount,
    ...alwaysPossible,
  },
});

/** POST /admin/accounts/{id}/suspension */
export const suspendRoute = createRoute({
  operationId: "suspendAccount",
  method: "post",
  path: "/{id}/suspension",
  tags: TAG,
  summary: "Suspend an account",
  description: "At once, on every instance: the account leaves every board (the live top 10s " +
    "included), every session of it ends, and sign-in answers 403 `account-suspended`. Its " +
    "points, log and username stay. It comes back by itself at `until`, or when lifted. " +
    "Suspending a suspended account replaces its reason and `until`.",
  security: needsOperatorToken,
  request: { params: accountParams, body: jsonRequest(suspensionBody) },
  responses: {
    200: json(AdminAccount, "Suspended."),
    400: invalid("The reason is empty or too long, or `until` is not in the future."),
    403: notAnOperator,
    404: unknownAccount,
    ...bodyRules,
    ...alwaysPossible,
  },
});

/** DELETE /admin/accounts/{id}/suspension */
export const liftRoute = createRoute({
  operationId: "liftSuspension",
  method: "delete",
  path: "/{id}/suspension",
  tags: TAG,
  summary: "Lift a suspension",
  description: "The account is back on every board with all its points, and can sign in again. " +
    "Lifting a suspension that is not there changes nothing.",
  security: needsOperatorToken,
  request: { params: accountParams },
  responses: {
    200: json(AdminAccount, "Reinstated (or was not suspended)."),
    400: invalid(),
    403: notAnOperator,
    404: unknownAccount,
    ...alwaysPossible,
  },
});

/** POST /admin/completions/{id}/void */
export const voidRoute = createRoute({
  operationId: "voidCompletion",
  method: "post",
  path: "/{id}/void",
  tags: TAG,
  summary: "Void a completion",
  description: "Takes its points back from the account's all-time total and from the day, week " +
    "and month it counted in (past ones included); the boards follow at once, on every " +
    "instance. The log keeps the completion, now with `voidedAt`.",
  security: needsOperatorToken,
  request: { params: completionParams, body: jsonRequest(voidBody) },
  responses: {
    200: json(Completion, "Voided: the completion, and the account's totals after it."),
    400: invalid(),
    403: notAnOperator,
    404: problem("No completion with that id.", ["unknown-completion"]),
    409: problem("The completion is voided already.", ["already-voided"]),
    ...bodyRules,
    ...alwaysPossible,
  },
});

/** GET /admin/audit */
export const auditRoute = createRoute({
  operationId: "listAudit",
  method: "get",
  path: "/",
  tags: TAG,
  summary: "The audit trail",
  description: "Every operator change (the catalogue, suspensions, voids), kept for good; " +
    "newest first, a page at a time, of one target or all.",
  security: needsOperatorToken,
  request: { query: auditQuery },
  responses: {
    200: json(AuditPage, "A page of the trail."),
    400: invalid(),
    403: notAnOperator,
    ...alwaysPossible,
  },
});
