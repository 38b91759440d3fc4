/** Query and path parameters of the leaderboard routes (API.md "Leaderboard"). */
import { z } from "zod";
import { intParam, MAX_ID } from "../http/validation.ts";
import { type Clock, PERIODS } from "./periods.ts";

/** `period`: one of all, day, week, month (default all). */
export const period = z.enum(PERIODS, { error: `must be one of ${PERIODS.join(", ")}` })
  .default("all");

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * `at`: an ISO 8601 date (`2026-11-23`) or date and time (`2026-11-23T18:00:00Z`; without an
 * offset it is UTC), not in the future by `clock`, as milliseconds since the epoch.
 */
export function atParam(clock: Clock) {
  return z.string()
    .refine(
      (value) =>
        DATE.test(value) || z.iso.datetime({ offset: true, local: true }).safeParse(value).success,
      "must be an ISO 8601 date (2026-11-23) or date and time (2026-11-23T18:00:00Z)",
    )
    .transform((value) => {
      const utc = DATE.test(value) || /(Z|[+-]\d{2}:?\d{2})$/i.test(value) ? value : `${value}Z`;
      const ms = Date.parse(utc);
      if (!Number.isFinite(ms)) return NaN;
      // Date.parse rolls 2026-02-30 over into March: a date must read back as written.
      return DATE.test(value) && new Date(ms).toISOString().slice(0, 10) !== value ? NaN : ms;
    })
    .pipe(
      z.number()
        .refine((ms) => Number.isFinite(ms), "must be a real date")
        .refine((ms) => ms <= clock.now(), "must not be in the future"),
    );
}

/** A board: which period, and optionally a past instant in it. */
export function boardQuery(clock: Clock) {
  return z.object({ period, at: atParam(clock).optional() });
}

/** GET /leaderboard */
export function pageQuery(clock: Clock) {
  return boardQuery(clock).extend({
    limit: intParam(1, 100).default(10),
    offset: intParam(0, MAX_ID).default(0),
  });
}

/** GET /leaderboard/accounts/{id}/around */
export function aroundQuery(clock: Clock) {
  return boardQuery(clock).extend({ radius: intParam(1, 50).default(5) });
}

/** The most ids one by-ids request may ask for. */
export const MAX_IDS = 100;

/** GET /leaderboard/accounts?ids=3,17,42 */
export function idsQuery(clock: Clock) {
  return boardQuery(clock).extend({
    ids: z.string()
      .transform((value) => value.split(",").map((id) => id.trim()))
      .pipe(
        z.array(intParam(1, MAX_ID))
          .min(1, "give at least one id")
          .max(MAX_IDS, `give at most ${MAX_IDS} ids`),
      )
      .transform((ids) => [...new Set(ids)]),
  });
}

/** `{id}` of /leaderboard/accounts/{id}… */
export const accountParams = z.object({ id: intParam(1, MAX_ID) });
