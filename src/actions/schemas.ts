/** Request and response shapes of the actions catalogue and of completions (API.md's rules). */
import { z } from "@hono/zod-openapi";
import { Problem } from "../http/openapi.ts";
import { intParam, intParamOr, MAX_ID } from "../http/validation.ts";
import { LIMIT_PERIODS } from "./rules.ts";

/** Lower-case words (letters and digits) joined by single hyphens: `daily-login`. */
export const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const CONTROL = /[\p{Cc}\u2028\u2029]/u;

const slug = z.string()
  .max(100, "must be at most 100 characters")
  .regex(SLUG, "must be lower-case words joined by hyphens, like daily-login")
  .openapi({ example: "daily-login" });

const label = z.string().trim()
  .refine((value) => [...value].length >= 1, "must not be empty")
  .refine((value) => [...value].length <= 255, "must be at most 255 characters")
  .refine((value) => !CONTROL.test(value), "must not contain control characters")
  .openapi({
    description: "1–255 characters (Unicode code points) after trimming, no control characters.",
    example: "Daily login",
  });

const whole = (min: number, max: number) =>
  z.number({ error: "must be a number" })
    .int("must be a whole number")
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);

const pointValue = whole(1, 1_000_000).openapi({ example: 10 });

/** An action's limit: at most `count` completions per account in each `per` window. */
export const Limit = z.object({
  count: whole(1, 1000).openapi({ example: 1 }),
  per: z.enum(LIMIT_PERIODS, { error: `must be one of ${LIMIT_PERIODS.join(", ")}` }).openapi({
    description: "The boards' UTC windows (`day`; `week` from Monday; `month`), or `ever`.",
  }),
}).openapi("Limit", {
  description: "At most `count` completions of the action per account in each `per` window.",
});

const limit = Limit.nullable().openapi({
  description: "null: no limit. Counts the completions already made in the current window.",
});

const cooldownSeconds = whole(1, 2_592_000).nullable().openapi({
  description: "The least time between two completions of the action by one account (up to " +
    "30 days); null: none.",
  example: 3600,
});

/** POST /admin/actions */
export const createActionBody = z.object({
  slug,
  label,
  pointValue,
  limit: limit.optional(),
  cooldownSeconds: cooldownSeconds.optional(),
}).openapi("NewAction");

const CHANGES = ["label", "pointValue", "limit", "cooldownSeconds"] as const;

/** PATCH /admin/actions/{slug}: at least one field; a rule given as null is cleared. */
export const updateActionBody = z.object({
  label: label.optional(),
  pointValue: pointValue.optional(),
  limit: limit.optional(),
  cooldownSeconds: cooldownSeconds.optional(),
}).refine(
  (body) => CHANGES.some((field) => body[field] !== undefined),
  `give at least one of ${CHANGES.join(", ")}`,
).openapi("ActionChange", {
  description: "At least one field; `limit` or `cooldownSeconds` given as null clears that rule.",
});

/** GET /me/completions */
export const completionsQuery = z.object({
  limit: intParamOr(1, 100, 20).openapi({ description: "Items per page." }),
  before: intParam(1, MAX_ID).optional().openapi({
    description: "Only completions with a smaller id: the previous page's `nextBefore`.",
  }),
});

/** The Idempotency-Key header (API.md: 1–200 characters). */
const idempotencyKey = z.string()
  .min(1, "must not be empty")
  .max(200, "must be at most 200 characters");

/**
 * The headers POST /actions/{slug}/complete reads. Hono hands their names over lower-cased, so
 * that is how the document names them too (header names are case-insensitive).
 */
export const completeHeaders = z.object({
  "idempotency-key": idempotencyKey.optional().openapi({
    description: "Makes a retry safe: the same key from the same account answers 200 with the " +
      "original completion and awards nothing, also when the two requests race. Keys are kept " +
      "for good.",
    example: "3f1c2a9e-7d44-4e0b-9a51-5c1d7e2b8f60",
  }),
});

/** `{slug}` in a path. One that cannot be a slug is simply not found (404), never a 400. */
export const slugParams = z.object({
  slug: z.string().openapi({
    description: "The action's slug.",
    example: "daily-login",
  }),
});

const timestamp = z.iso.datetime().openapi({ example: "2026-11-23T18:00:00.000Z" });

const actionFields = {
  slug: z.string().openapi({ example: "daily-login" }),
  label: z.string().openapi({ example: "Daily login" }),
  pointValue: z.number().int().openapi({ example: 10 }),
  limit: Limit.nullable().openapi({ description: "null: no limit." }),
  cooldownSeconds: z.number().int().nullable().openapi({
    description: "The least time between two completions by one account; null: none.",
    example: null,
  }),
  createdAt: timestamp,
  retiredAt: timestamp.nullable().openapi({ description: "null while the action is active." }),
};

/** API.md's `Action`. */
export const Action = z.object(actionFields).openapi("Action");

/** GET /actions, GET /admin/actions */
export const ActionList = z.object({ actions: z.array(Action) }).openapi("ActionList");

/** API.md's `MyAction`: an action and the caller's standing with its rules. */
export const MyAction = z.object({
  ...actionFields,
  remaining: z.number().int().nullable().openapi({
    description: "Completions the limit still allows in its current window; null without a " +
      "limit.",
    example: 1,
  }),
  availableAt: timestamp.nullable().openapi({
    description: "null when the action can be completed now (or never again: then `remaining` " +
      "is 0); else the time from which it can.",
  }),
}).openapi("MyAction");

/** The 409 of a completion: a rule's refusal carries `retryAt`. */
export const ActionLimitProblem = z.object({
  ...Problem.shape,
  retryAt: timestamp.nullable().optional().openapi({
    description: "`action-limit` only: from when the action will be accepted again for this " +
      "account; null when never (an `ever` limit that is spent).",
  }),
}).openapi("ActionLimitProblem");

/** GET /me/actions */
export const MyActionList = z.object({ actions: z.array(MyAction) }).openapi("MyActionList");

/** One logged completion. */
export const CompletionItem = z.object({
  id: z.number().int().openapi({ example: 1234 }),
  action: z.string().openapi({ description: "The action's slug.", example: "daily-login" }),
  actionLabel: z.string().openapi({
    description: "The action's current label (also for a retired action).",
    example: "Daily login",
  }),
  pointsEarned: z.number().int().openapi({
    description: "The action's point value when it was completed.",
    example: 10,
  }),
  completedAt: timestamp,
  voidedAt: timestamp.nullable().openapi({
    description: "When an operator voided it (its points taken back); null while it stands.",
  }),
}).openapi("CompletionItem");

/** API.md's `Completion`: the completion and the account's all-time figures after it. */
export const Completion = z.object({
  completion: CompletionItem,
  totalPoints: z.number().int().openapi({ example: 130 }),
  rank: z.number().int().nullable().openapi({ example: 3 }),
}).openapi("Completion");

/** GET /me/completions */
export const CompletionPage = z.object({
  completions: z.array(CompletionItem).openapi({ description: "Newest first." }),
  nextBefore: z.number().int().nullable().openapi({
    description: "The `before` of the next page; null at the end.",
  }),
}).openapi("CompletionPage");
