/** Request and response shapes of the actions catalogue and of completions (API.md's rules). */
import { z } from "@hono/zod-openapi";
import { intParam, intParamOr, MAX_ID } from "../http/validation.ts";

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

const pointValue = z.number({ error: "must be a number" })
  .int("must be a whole number")
  .min(1, "must be at least 1")
  .max(1_000_000, "must be at most 1000000")
  .openapi({ example: 10 });

/** POST /admin/actions */
export const createActionBody = z.object({ slug, label, pointValue }).openapi("NewAction");

/** PATCH /admin/actions/{slug}: at least one field. */
export const updateActionBody = z.object({
  label: label.optional(),
  pointValue: pointValue.optional(),
}).refine(
  (body) => body.label !== undefined || body.pointValue !== undefined,
  "give label, pointValue or both",
).openapi("ActionChange", { description: "At least one of `label` and `pointValue`." });

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

/** API.md's `Action`. */
export const Action = z.object({
  slug: z.string().openapi({ example: "daily-login" }),
  label: z.string().openapi({ example: "Daily login" }),
  pointValue: z.number().int().openapi({ example: 10 }),
  createdAt: timestamp,
  retiredAt: timestamp.nullable().openapi({ description: "null while the action is active." }),
}).openapi("Action");

/** GET /actions, GET /admin/actions */
export const ActionList = z.object({ actions: z.array(Action) }).openapi("ActionList");

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
