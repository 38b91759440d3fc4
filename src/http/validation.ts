/** zod validation of requests, failing as one 400 problem; the parameters' shared schemas. */
import { zValidator } from "@hono/zod-validator";
import { z } from "@hono/zod-openapi";
import { type FieldError, validationProblem } from "./problem.ts";

/** zod issues as the `errors` member of a problem. */
function fieldErrors(issues: readonly z.core.$ZodIssue[]): FieldError[] {
  return issues.map((issue) => ({
    path: issue.path.map(String).join("."),
    message: issue.message,
  }));
}

/** A header's name as it is written (`Idempotency-Key`); Hono hands them over lower-cased. */
function headerName(name: string): string {
  return name.replace(
    /(^|-)([a-z])/g,
    (_, dash: string, letter: string) => dash + letter.toUpperCase(),
  );
}

/**
 * The hook of every validator (`openApiRouter`'s routes and `queryParams`): a failure throws the
 * one 400 problem, naming each failing field, or header.
 */
export function rejectInvalid(
  result: { success: boolean; error?: z.core.$ZodError; target?: string },
): void {
  if (result.success || !result.error) return;
  const errors = fieldErrors(result.error.issues);
  throw validationProblem(
    result.target === "header"
      ? errors.map((error) => ({ ...error, path: headerName(error.path) }))
      : errors,
  );
}

/** Validates the query string of a route outside `openApiRouter`; a parameter given twice fails. */
export function queryParams<T extends z.ZodType>(schema: T) {
  return zValidator("query", schema, rejectInvalid);
}

/** A query or path parameter holding a whole number in [min, max]. */
export function intParam(min: number, max: number) {
  return z.string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`))
    // Documented as the integer it spells (a string on the wire, as every parameter is).
    .openapi({ type: "integer", minimum: min, maximum: max, pattern: undefined });
}

/** An intParam that is `fallback` when absent. */
export function intParamOr(min: number, max: number, fallback: number) {
  // The document needs the default spelled out: a type given to it hides the one zod holds.
  return intParam(min, max).default(fallback).openapi({ default: fallback });
}

/** The largest id a SERIAL column holds. */
export const MAX_ID = 2 ** 31 - 1;
