/** zod validation of bodies, queries and path parameters, failing as one 400 problem. */
import { zValidator } from "@hono/zod-validator";
import { z } from "zod";
import { type FieldError, validationProblem } from "./problem.ts";

/** zod issues as the `errors` member of a problem. */
export function fieldErrors(issues: readonly z.core.$ZodIssue[]): FieldError[] {
  return issues.map((issue) => ({
    path: issue.path.map(String).join("."),
    message: issue.message,
  }));
}

function reject(result: { success: boolean; error?: z.core.$ZodError }): void {
  if (!result.success && result.error) {
    throw validationProblem(fieldErrors(result.error.issues));
  }
}

/** Validates the JSON body (the 415 for other media types comes from `requireJsonBodies`). */
export function jsonBody<T extends z.ZodType>(schema: T) {
  return zValidator("json", schema, reject);
}

/** Validates the query string; a parameter given twice arrives as an array and fails. */
export function queryParams<T extends z.ZodType>(schema: T) {
  return zValidator("query", schema, reject);
}

/** Validates path parameters. */
export function pathParams<T extends z.ZodType>(schema: T) {
  return zValidator("param", schema, reject);
}

/** A query or path parameter holding a whole number in [min, max]. */
export function intParam(min: number, max: number) {
  return z.string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
}

/** The largest id a SERIAL column holds. */
export const MAX_ID = 2 ** 31 - 1;
