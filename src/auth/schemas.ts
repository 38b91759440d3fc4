/** Request and response shapes of the accounts-and-sessions routes (API.md's rules for each). */
import { z } from "@hono/zod-openapi";
import { intParam, MAX_ID } from "../http/validation.ts";
import { Problem } from "../http/openapi.ts";
import { MAX_MARKS, usernameFault } from "./usernames.ts";

const utf8 = new TextEncoder();

const username = z.string()
  .transform((value) => value.normalize("NFC").trim())
  .pipe(
    z.string()
      .refine((value) => [...value].length >= 3, "must be at least 3 characters")
      .refine((value) => [...value].length <= 100, "must be at most 100 characters")
      .superRefine((value, ctx) => {
        const fault = usernameFault(value);
        if (fault !== null) ctx.addIssue({ code: "custom", message: fault });
      }),
  )
  .openapi({
    description: "3–100 characters (Unicode code points) after NFC normalisation and trimming. " +
      "Letters, marks, numbers, emoji, single spaces between words and `-` `_` `.` `'`, with at " +
      "least one letter or number; no control, invisible or formatting characters (zero-width, " +
      "bidirectional controls, tags, variation selectors outside emoji); at most " +
      `${MAX_MARKS} combining marks in a row; each word in one script. Unique by its look: a ` +
      "name whose confusable skeleton (Unicode UTS #39), case-folded, equals a taken one's is " +
      "taken (`PaypaI` and `PAYPAL` once `paypal` is).",
    minLength: 3,
    maxLength: 100,
    example: "ada",
  });

const email = z.string().trim().toLowerCase()
  .max(255, "must be at most 255 characters")
  .pipe(z.email("must be a valid email address"))
  .openapi({
    description: "A valid address of at most 255 characters; trimmed and stored lower-cased; " +
      "unique.",
    format: "email",
    example: "ada@example.com",
  });

const password = z.string()
  .refine((value) => utf8.encode(value).length >= 8, "must be at least 8 bytes")
  .refine(
    (value) => utf8.encode(value).length <= 72,
    "must be at most 72 bytes of UTF-8 (bcrypt's limit)",
  )
  .openapi({
    description: "8 to 72 bytes of UTF-8 (bcrypt's limit; longer is refused, never truncated).",
    example: "correct horse battery staple",
  });

/** POST /auth/register */
export const registerBody = z.object({ username, email, password }).openapi("Registration");

/** A password given to be checked: only its shape; anything else is simply a wrong credential. */
const givenPassword = z.string().min(1, "must not be empty").max(1024);

/** POST /auth/login: only shapes are checked; anything else is simply a wrong credential. */
export const loginBody = z.object({
  email: z.string().trim().toLowerCase().min(1, "must not be empty").max(255),
  password: givenPassword,
}).openapi("Credentials");

/** PUT /me/password: the new password follows registration's rules. */
export const changePasswordBody = z.object({
  currentPassword: givenPassword,
  newPassword: password,
}).openapi("PasswordChange");

/** POST /auth/refresh and POST /auth/logout */
export const refreshBody = z.object({
  refreshToken: z.string().min(1, "must not be empty").max(512),
}).openapi("RefreshToken");

/** `{id}` of DELETE /me/sessions/{id}. */
export const sessionParams = z.object({
  id: intParam(1, MAX_ID).openapi({ description: "A session's id (from GET /me/sessions)." }),
});

const timestamp = z.iso.datetime().openapi({ example: "2026-11-23T18:00:00.000Z" });

const accountFields = {
  id: z.number().int().openapi({ example: 42 }),
  username: z.string().openapi({ example: "ada" }),
  email: z.string().openapi({ format: "email", example: "ada@example.com" }),
  createdAt: timestamp,
};

/** An account's public fields. */
export const Account = z.object(accountFields).openapi("Account");

/** API.md's `Session`: a sign-in's pair of tokens. */
export const Session = z.object({
  account: Account,
  accessToken: z.string().openapi({
    description: "A JWT (HS256) with `sub` (the account), `sid` (the session), `iat`, `exp`; " +
      "send it as `Authorization: Bearer <accessToken>`.",
  }),
  refreshToken: z.string().openapi({
    description: "Opaque; rotates: each use returns a new one (see POST /auth/refresh).",
  }),
  tokenType: z.literal("Bearer"),
  expiresIn: z.number().int().openapi({
    description: "Seconds until the access token expires.",
    example: 900,
  }),
}).openapi("Session");

const standingFields = {
  totalPoints: z.number().int().openapi({ example: 120 }),
  rank: z.number().int().nullable().openapi({
    description: "1 + the number of accounts with strictly more points; null without points.",
    example: 3,
  }),
};

/** Points and rank in one board; `rank` is null without points in it. */
export const Standing = z.object(standingFields).openapi("Standing");

/** API.md's `Me`: the account, its all-time standing and its standing in the current windows. */
export const Me = z.object({
  ...accountFields,
  ...standingFields,
  periods: z.object({ day: Standing, week: Standing, month: Standing }).openapi({
    description: "The standing in the current day, week and month (UTC windows).",
  }),
}).openapi("Me");

/** API.md's `SessionInfo`: one live sign-in. */
export const SessionInfo = z.object({
  id: z.number().int().openapi({ example: 7 }),
  createdAt: timestamp,
  lastUsedAt: timestamp.openapi({ description: "The last sign-in or refresh." }),
  expiresAt: timestamp.openapi({ description: "When its newest refresh token expires." }),
  current: z.boolean().openapi({
    description: "The session of the access token making the request.",
  }),
}).openapi("SessionInfo");

/** GET /me/sessions */
export const SessionList = z.object({ sessions: z.array(SessionInfo) }).openapi("SessionList");

/** The 403 of a sign-in to a suspended account. */
export const SuspendedProblem = z.object({
  ...Problem.shape,
  until: timestamp.nullable().openapi({
    description: "When the suspension ends; null: until an operator lifts it.",
  }),
}).openapi("SuspendedProblem");
