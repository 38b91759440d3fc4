/** Request and response shapes of the moderation and audit routes (API.md's rules for each). */
import { z } from "@hono/zod-openapi";
import { intParam, intParamOr, MAX_ID } from "../http/validation.ts";

const CONTROL = /[\p{Cc}\u2028\u2029]/u;
const timestamp = z.iso.datetime().openapi({ example: "2026-12-03T18:00:00.000Z" });

/** Why an operator did something: 1–500 characters, trimmed, no control characters. */
const reason = z.string({ error: "must be a string" }).trim()
  .refine((value) => [...value].length >= 1, "must not be empty")
  .refine((value) => [...value].length <= 500, "must be at most 500 characters")
  .refine((value) => !CONTROL.test(value), "must not contain control characters")
  .openapi({
    description: "1–500 characters (Unicode code points) after trimming, no control characters.",
    example: "Scripted completions",
  });

/** `{id}` of an account. */
export const accountParams = z.object({
  id: intParam(1, MAX_ID).openapi({ description: "An account's id." }),
});

/** `{id}` of a completion. */
export const completionParams = z.object({
  id: intParam(1, MAX_ID).openapi({ description: "A completion's id." }),
});

const page = {
  limit: intParamOr(1, 100, 20).openapi({ description: "Items per page." }),
  before: intParam(1, Number.MAX_SAFE_INTEGER).optional().openapi({
    description: "Only items with a smaller id: the previous page's `nextBefore`.",
  }),
};

/** GET /admin/accounts */
export const accountsQuery = z.object({
  q: z.string().min(1, "must not be empty").max(255, "must be at most 255 characters")
    .optional().openapi({
      description: "The start of a username or an email, case-insensitively.",
      example: "ada",
    }),
  ...page,
});

/** GET /admin/accounts/{id}/completions */
export const completionsQuery = z.object(page);

/** POST /admin/accounts/{id}/suspension */
export const suspensionBody = z.object({
  reason,
  until: timestamp.optional().openapi({
    description: "When the suspension ends (in the future); absent: until an operator lifts it.",
  }),
}).openapi("SuspensionRequest");

/** POST /admin/completions/{id}/void */
export const voidBody = z.object({ reason }).openapi("VoidRequest");

/** The targets of the trail. */
export const TARGET = /^(action:[a-z0-9]+(-[a-z0-9]+)*|account:\d+|completion:\d+)$/;

/** GET /admin/audit */
export const auditQuery = z.object({
  ...page,
  target: z.string().max(120, "must be at most 120 characters")
    .regex(TARGET, "must be action:<slug>, account:<id> or completion:<id>")
    .optional().openapi({ description: "Only entries about this target.", example: "account:42" }),
});

/** API.md's `AdminAccount`. */
export const AdminAccount = z.object({
  id: z.number().int().openapi({ example: 42 }),
  username: z.string().openapi({ example: "ada" }),
  email: z.string().openapi({ format: "email", example: "ada@example.com" }),
  createdAt: timestamp,
  deletedAt: timestamp.nullable(),
  suspension: z.object({
    reason: z.string(),
    since: timestamp,
    until: timestamp.nullable().openapi({ description: "null: until lifted." }),
  }).nullable().openapi({ description: "null when the account is not suspended." }),
  totalPoints: z.number().int().openapi({
    description: "All time; kept while suspended, voided completions left out.",
    example: 130,
  }),
  rank: z.number().int().nullable().openapi({
    description: "All time; null without points, or while the account is off the boards.",
    example: 3,
  }),
  sessions: z.number().int().openapi({ description: "Live sessions.", example: 1 }),
}).openapi("AdminAccount");

/** GET /admin/accounts */
export const AdminAccountPage = z.object({
  accounts: z.array(AdminAccount).openapi({ description: "Newest first." }),
  nextBefore: z.number().int().nullable().openapi({
    description: "The `before` of the next page; null at the end.",
  }),
}).openapi("AdminAccountPage");

/** API.md's `AuditEntry`. */
export const AuditEntry = z.object({
  id: z.number().int().openapi({ example: 7 }),
  at: timestamp,
  action: z.enum([
    "action.created",
    "action.updated",
    "action.retired",
    "account.suspended",
    "account.reinstated",
    "completion.voided",
  ]),
  target: z.string().openapi({ example: "account:42" }),
  detail: z.record(z.string(), z.unknown()).openapi({
    description: "The change made (the reason included).",
  }),
  requestId: z.string().nullable().openapi({
    description: "The request that made it; null for a suspension that ended by itself.",
  }),
  client: z.string().nullable().openapi({
    description: "The caller's address; null for a suspension that ended by itself.",
  }),
}).openapi("AuditEntry");

/** GET /admin/audit */
export const AuditPage = z.object({
  entries: z.array(AuditEntry).openapi({ description: "Newest first." }),
  nextBefore: z.number().int().nullable().openapi({
    description: "The `before` of the next page; null at the end.",
  }),
}).openapi("AuditPage");
