/** Parameters and response shapes of the leaderboard routes (API.md "Leaderboard"). */
import { z } from "@hono/zod-openapi";
import { intParam, intParamOr, MAX_ID } from "../http/validation.ts";
import { type Clock, PERIODS } from "./periods.ts";

/** `period`: one of all, day, week, month (default all). */
const period = z.enum(PERIODS, { error: `must be one of ${PERIODS.join(", ")}` })
  .default("all")
  .openapi({
    description: "`all` (the all-time ledger), or the current UTC `day`, ISO `week` (from " +
      "Monday) or `month`.",
  });

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
    )
    .openapi({
      description: "Reads the window of `period` that contains this instant: an ISO 8601 date " +
        "(`2026-11-23`) or date and time (`2026-11-23T18:00:00Z`; without an offset it is UTC), " +
        "not in the future. Without it, the current window.",
      example: "2026-11-23",
    });
}

/** A board: which period, and optionally a past instant in it. */
export function boardQuery(clock: Clock) {
  return z.object({ period, at: atParam(clock).optional() });
}

/** GET /leaderboard */
export function pageQuery(clock: Clock) {
  return boardQuery(clock).extend({
    limit: intParamOr(1, 100, 10).openapi({ description: "Entries per page." }),
    offset: intParamOr(0, MAX_ID, 0).openapi({
      description: "Entries to skip, in board order.",
    }),
  });
}

/** GET /leaderboard/accounts/{id}/around */
export function aroundQuery(clock: Clock) {
  return boardQuery(clock).extend({
    radius: intParamOr(1, 50, 5).openapi({
      description: "Entries to give above and below the account's, at most.",
    }),
  });
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
      .transform((ids) => [...new Set(ids)])
      // On the wire an array of integers, comma-separated (`ids=3,17,42`): form, not exploded.
      .openapi({
        type: "array",
        items: { type: "integer", minimum: 1, maximum: MAX_ID },
        minItems: 1,
        maxItems: MAX_IDS,
        description: `1 to ${MAX_IDS} account ids, comma-separated (repeats count once).`,
        pattern: undefined,
        example: [3, 17, 42],
        param: { style: "form", explode: false },
      }),
  });
}

/** `{id}` of /leaderboard/accounts/{id}… */
export const accountParams = z.object({
  id: intParam(1, MAX_ID).openapi({ description: "An account's id.", example: 42 }),
});

const timestamp = z.iso.datetime().openapi({ example: "2026-11-23T00:00:00.000Z" });

/** API.md's `Entry`: one row of a board. */
export const Entry = z.object({
  rank: z.number().int().openapi({
    description: "1 + the number of accounts with strictly more points in this board; equal " +
      "points share a rank.",
    example: 1,
  }),
  accountId: z.number().int().openapi({ example: 42 }),
  username: z.string().openapi({ example: "ada" }),
  totalPoints: z.number().int().openapi({
    description: "Points in this board's window.",
    example: 1200,
  }),
}).openapi("Entry");

const periodName = z.enum(PERIODS).openapi({ description: "The board's period." });

/** GET /leaderboard; also the data of each event of the stream (its top 10). */
export const BoardPage = z.object({
  period: periodName,
  startsAt: timestamp.nullable().openapi({
    description: "The window's start (inclusive); null for `all`.",
  }),
  endsAt: timestamp.nullable().openapi({
    description: "The window's end (exclusive); null for `all`.",
  }),
  total: z.number().int().openapi({ description: "Ranked accounts in this board." }),
  entries: z.array(Entry).openapi({ description: "Best first." }),
}).openapi("BoardPage");

/** GET /leaderboard/accounts and …/accounts/{id}/around */
export const EntryList = z.object({
  period: periodName,
  entries: z.array(Entry).openapi({ description: "Best first." }),
}).openapi("EntryList");

/** GET /leaderboard/stream */
export const streamQuery = z.object({ period });
