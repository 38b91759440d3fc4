/** Request shapes of the actions catalogue and of completions (API.md's rules for each field). */
import { z } from "zod";
import { intParam, MAX_ID } from "../http/validation.ts";

/** Lower-case words (letters and digits) joined by single hyphens: `daily-login`. */
export const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const CONTROL = /[\p{Cc}\u2028\u2029]/u;

const slug = z.string()
  .max(100, "must be at most 100 characters")
  .regex(SLUG, "must be lower-case words joined by hyphens, like daily-login");

const label = z.string().trim()
  .refine((value) => [...value].length >= 1, "must not be empty")
  .refine((value) => [...value].length <= 255, "must be at most 255 characters")
  .refine((value) => !CONTROL.test(value), "must not contain control characters");

const pointValue = z.number({ error: "must be a number" })
  .int("must be a whole number")
  .min(1, "must be at least 1")
  .max(1_000_000, "must be at most 1000000");

/** POST /admin/actions */
export const createActionBody = z.object({ slug, label, pointValue });

/** PATCH /admin/actions/{slug}: at least one field. */
export const updateActionBody = z.object({
  label: label.optional(),
  pointValue: pointValue.optional(),
}).refine(
  (body) => body.label !== undefined || body.pointValue !== undefined,
  "give label, pointValue or both",
);

/** GET /me/completions */
export const completionsQuery = z.object({
  limit: intParam(1, 100).default(20),
  before: intParam(1, MAX_ID).optional(),
});

/** The Idempotency-Key header (API.md: 1–200 characters). */
export const idempotencyKey = z.string()
  .min(1, "must not be empty")
  .max(200, "must be at most 200 characters");
