/** What the accounts-and-sessions routes take and answer: their OpenAPI route definitions. */
import { createRoute } from "@hono/zod-openapi";
import {
  alwaysPossible,
  bodyRules,
  invalid,
  json,
  jsonRequest,
  needsAccessToken,
  problem,
  tooMany,
  unauthorizedResponse,
} from "../http/openapi.ts";
import {
  changePasswordBody,
  loginBody,
  Me,
  refreshBody,
  registerBody,
  Session,
  SessionList,
  sessionParams,
  SuspendedProblem,
} from "./schemas.ts";

const TAG = ["Accounts and sessions"];

/** What every one of these routes may answer besides its own. */

/** POST /auth/register */
export const registerRoute = createRoute({
  operationId: "register",
  method: "post",
  path: "/register",
  tags: TAG,
  summary: "Create an account and sign in",
  description: "Starts a session. The username and email stay taken for good, also after the " +
    "account is deleted. Registrations are limited per client address " +
    "(`REGISTRATIONS_PER_ADDRESS`, by default 20 an hour); a refused one costs nothing.",
  request: { body: jsonRequest(registerBody) },
  responses: {
    201: json(Session, "The account exists; its first session's tokens."),
    400: invalid(),
    409: problem(
      "The email is taken, or the username is, or one that looks like it (the same " +
        "confusable skeleton, case-folded).",
      ["username-taken", "email-taken"],
    ),
    429: tooMany("Too many registrations from this address."),
    ...bodyRules,
    ...alwaysPossible,
  },
});

/** POST /auth/login */
export const loginRoute = createRoute({
  operationId: "login",
  method: "post",
  path: "/login",
  tags: TAG,
  summary: "Sign in",
  description: "Starts a session. An unknown email, a wrong password and a deleted account " +
    "get the same 401 in about the same time; a suspended account with its right password, " +
    "a 403. Failed sign-ins are limited per email and per " +
    "client address (by default 5 and 50 in 15 minutes); a successful one clears the email's " +
    "count.",
  request: { body: jsonRequest(loginBody) },
  responses: {
    200: json(Session, "Signed in: a new session's tokens."),
    400: invalid("The body's shape is wrong (missing or non-string fields)."),
    401: problem("The email or password is not right.", ["invalid-credentials"]),
    403: problem(
      "The email and password are right, but an operator suspended the account: `until` says " +
        "until when (null: until lifted). The reason is not shown.",
      ["account-suspended"],
      {},
      SuspendedProblem,
    ),
    429: tooMany("Too many failed sign-ins for this email or from this address."),
    ...bodyRules,
    ...alwaysPossible,
  },
});

/** POST /auth/refresh */
export const refreshRoute = createRoute({
  operationId: "refresh",
  method: "post",
  path: "/refresh",
  tags: TAG,
  summary: "Rotate a refresh token",
  description: "Answers a new pair of the same session and revokes the token presented. A token " +
    "presented again within `REFRESH_TOKEN_REUSE_INTERVAL` seconds (10) of its rotation gets " +
    "another new pair (retries, two tabs); after that, a rotated or signed-out token is theft: " +
    "401, and every session of the account ends. Refreshes are limited per session " +
    "(`REFRESHES_PER_SESSION`, by default 30 a minute); a refused one rotates nothing.",
  request: { body: jsonRequest(refreshBody) },
  responses: {
    200: json(Session, "A new pair of the same session."),
    400: invalid(),
    401: problem(
      "The refresh token is unknown, expired, revoked, or its session or account ended.",
      ["invalid-refresh-token"],
    ),
    429: tooMany("Too many refreshes of this session."),
    ...bodyRules,
    ...alwaysPossible,
  },
});

/** POST /auth/logout */
export const logoutRoute = createRoute({
  operationId: "logout",
  method: "post",
  path: "/logout",
  tags: TAG,
  summary: "Sign out",
  description: "Ends the session of the refresh token presented (also when that token was " +
    "already rotated). Idempotent: 204 for a live, spent or unknown token alike.",
  request: { body: jsonRequest(refreshBody) },
  responses: {
    204: { description: "Signed out." },
    400: invalid(),
    ...bodyRules,
    ...alwaysPossible,
  },
});

/** GET /me */
export const meRoute = createRoute({
  operationId: "getMe",
  method: "get",
  path: "/",
  tags: TAG,
  summary: "The caller's account and standing",
  description: "The account of the access token, its all-time points and rank, and its " +
    "points and rank in the current day, week and month.",
  security: needsAccessToken,
  responses: {
    200: json(Me, "The account, its all-time points and rank, and those of the current windows."),
    401: unauthorizedResponse(),
    ...alwaysPossible,
  },
});

/** DELETE /me */
export const deleteMeRoute = createRoute({
  operationId: "deleteMe",
  method: "delete",
  path: "/",
  tags: TAG,
  summary: "Delete the caller's account",
  description: "Soft-deletes the account: every session ends, it leaves every board (the live " +
    "top 10 updates), its tokens stop working; its username and email stay taken.",
  security: needsAccessToken,
  responses: {
    204: { description: "Deleted." },
    401: unauthorizedResponse(),
    ...alwaysPossible,
  },
});

/** PUT /me/password */
export const passwordRoute = createRoute({
  operationId: "changePassword",
  method: "put",
  path: "/",
  tags: TAG,
  summary: "Change the caller's password",
  description: "Checks the current password (a wrong one counts as a failed sign-in), stores " +
    "the new one and ends every other session of the account; the caller's session goes on.",
  security: needsAccessToken,
  request: { body: jsonRequest(changePasswordBody) },
  responses: {
    204: { description: "Changed." },
    400: invalid(),
    401: unauthorizedResponse(
      "The access token is refused, or the current password is wrong.",
      ["invalid-credentials"],
    ),
    429: tooMany("Too many failed sign-ins for this account's email or from this address."),
    ...bodyRules,
    ...alwaysPossible,
  },
});

/** GET /me/sessions */
export const sessionsRoute = createRoute({
  operationId: "listSessions",
  method: "get",
  path: "/",
  tags: TAG,
  summary: "The caller's live sessions",
  description: "Newest first.",
  security: needsAccessToken,
  responses: {
    200: json(SessionList, "The live sessions."),
    401: unauthorizedResponse(),
    ...alwaysPossible,
  },
});

/** DELETE /me/sessions/{id} */
export const endSessionRoute = createRoute({
  operationId: "endSession",
  method: "delete",
  path: "/{id}",
  tags: TAG,
  summary: "End one of the caller's sessions",
  description: "Its refresh tokens and its access tokens stop working at once. The caller may " +
    "end its own session.",
  security: needsAccessToken,
  request: { params: sessionParams },
  responses: {
    204: { description: "Ended." },
    400: invalid("The id is not a whole number from 1 to 2147483647."),
    401: unauthorizedResponse(),
    404: problem("No live session of the caller's with that id.", ["unknown-session"]),
    ...alwaysPossible,
  },
});

/** DELETE /me/sessions */
export const endAllSessionsRoute = createRoute({
  operationId: "endAllSessions",
  method: "delete",
  path: "/",
  tags: TAG,
  summary: "Sign out everywhere",
  description: "Ends every session of the caller's, its own included.",
  security: needsAccessToken,
  responses: {
    204: { description: "Every session ended." },
    401: unauthorizedResponse(),
    ...alwaysPossible,
  },
});
