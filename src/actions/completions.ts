/**
 * Completing actions: one statement (one transaction) checks the per-account limit, writes the log
 * row and the totals together, then the new totals go to the boards. Idempotency keys make retries
 * safe, racing ones included.
 */
import postgres, { type Sql } from "postgres";
import { Problem, tooManyRequests, unauthorized } from "../http/problem.ts";
import type { Leaderboard } from "../leaderboard/leaderboard.ts";
import type { Clock } from "../leaderboard/periods.ts";
import { totalsOf } from "../leaderboard/queries.ts";
import { createBatcher, TooLate } from "./batches.ts";
import * as q from "./queries.ts";
import { standing } from "./rules.ts";

/** API.md's `Completion`. */
export interface Completion {
  completion: {
    id: number;
    action: string;
    actionLabel: string;
    pointsEarned: number;
    completedAt: string;
    voidedAt: string | null;
  };
  totalPoints: number;
  rank: number | null;
}

/** What `complete` answers: 201 for a new completion, 200 for a replayed one. */
export interface CompletionResult {
  status: 200 | 201;
  body: Completion;
}

/** What the service needs. */
export interface CompletionsDeps {
  sql: Sql;
  leaderboard: Leaderboard;
  clock: Clock;
  perSecond: number;
  /** Completion statements in flight at once: others wait and go together (src/actions/batches.ts). */
  concurrency: number;
  /** A statement in flight longer than this (stuck on a lock, say) no longer holds its place. */
  stallMs: number;
  /** A completion was refused with 429. */
  onLimited?(): void;
  /** A statement for `size` completions was sent. */
  onBatch?(size: number): void;
}

/** A log row as the API shows it. */
export function toCompletionItem(row: q.CompletionRow): Completion["completion"] {
  return {
    id: row.id,
    action: row.slug,
    actionLabel: row.label,
    pointsEarned: row.points_earned,
    completedAt: row.completed_at.toISOString(),
    voidedAt: row.voided_at?.toISOString() ?? null,
  };
}

const OVERFLOW = "22003";

/** 409 for a completion an action's rule refuses: from when it will be accepted, if ever. */
function actionLimit(slug: string, retryAt: Date | null, now: number): Problem {
  return new Problem(409, {
    kind: "action-limit",
    detail: retryAt === null
      ? `The action "${slug}" cannot be completed again by this account.`
      : `The action "${slug}" can be completed again by this account from ${retryAt.toISOString()}.`,
    members: { retryAt: retryAt?.toISOString() ?? null },
    headers: retryAt === null
      ? {}
      : { "retry-after": String(Math.max(1, Math.ceil((retryAt.getTime() - now) / 1000))) },
  });
}

/** The most completions sent in one statement. */
const MAX_BATCH = 64;

/** Builds the service. */
export function createCompletions(deps: CompletionsDeps) {
  const { sql, leaderboard, perSecond } = deps;
  const batches = createBatcher<q.NewCompletion, q.Inserted | undefined>({
    concurrency: deps.concurrency,
    maxSize: MAX_BATCH,
    stallMs: deps.stallMs,
    key: (completion) => completion.accountId,
    async send(completions) {
      let inserted;
      try {
        inserted = await q.insertCompletions(sql, completions, perSecond);
      } catch (error) {
        // A deadlock or serialization failure rolled the statement back whole: once more.
        if (!(error instanceof postgres.PostgresError && error.code.startsWith("40"))) throw error;
        inserted = await q.insertCompletions(sql, completions, perSecond);
      }
      return completions.map((_, i) => inserted.get(i));
    },
    // An error of PostgreSQL's about the data (a total past the integer's range) or the
    // transaction (a deadlock with another instance's batch, twice) may be one row's: each is
    // sent alone.
    retryAlone: (error) =>
      error instanceof postgres.PostgresError &&
      ["22", "23", "40"].includes(error.code.slice(0, 2)),
    onBatch: deps.onBatch,
  });

  /** The answer to a request whose key was used before: the original, and the current total. */
  async function replay(
    accountId: number,
    slug: string,
    original: q.CompletionRow,
  ): Promise<CompletionResult> {
    if (original.slug !== slug) {
      throw new Problem(422, {
        kind: "idempotency-key-reused",
        detail: `This Idempotency-Key was used to complete "${original.slug}", not "${slug}".`,
      });
    }
    const { all: total } = await totalsOf(sql, accountId, leaderboard.windows());
    if (total === undefined) {
      throw unauthorized("The access token's account no longer exists.", true);
    }
    const { all: rank } = await leaderboard.ranks(accountId, { all: total });
    return {
      status: 200,
      body: { completion: toCompletionItem(original), totalPoints: total, rank },
    };
  }

  return {
    /**
     * `sessionId`: the access token's session (null without one), checked in the statement.
     * `deadlineAt` (`performance.now()` time): when the request is answered 503; a completion
     * still waiting for a statement then is not made.
     */
    async complete(
      accountId: number,
      slug: string,
      key: string | null,
      sessionId: number | null,
      deadlineAt = Infinity,
    ): Promise<CompletionResult> {
      const now = deps.clock.now();
      const completion = {
        accountId,
        sessionId,
        slug,
        key,
        at: new Date(now),
        windows: leaderboard.windows(now),
      };
      let inserted: q.Inserted | undefined;
      try {
        inserted = await batches.submit(completion, deadlineAt);
      } catch (error) {
        if (error instanceof TooLate) {
          throw new Problem(503, {
            kind: "timed-out",
            detail: "The completion waited too long for the database and was not made.",
            headers: { "retry-after": "2" },
          });
        }
        if (error instanceof postgres.PostgresError && error.code === OVERFLOW) {
          throw new Problem(409, {
            kind: "score-overflow",
            detail: "This completion would take the total past 2147483647 points.",
          });
        }
        throw error;
      }
      if (!inserted) {
        const obstacle = await q.completionObstacle(sql, completion, perSecond);
        switch (obstacle.kind) {
          case "limited":
            deps.onLimited?.();
            throw tooManyRequests(obstacle.retryAfterMs, "Too many completions; slow down.");
          case "replay":
            return await replay(accountId, slug, obstacle.original);
          case "account":
            throw unauthorized("The access token's account or session no longer exists.", true);
          case "rule":
            throw actionLimit(slug, obstacle.retryAt, now);
          case "missing":
            throw new Problem(404, { kind: "unknown-action", detail: `No action "${slug}".` });
          case "retired":
            throw new Problem(410, {
              kind: "action-retired",
              detail: `The action "${slug}" is retired.`,
            });
        }
      }
      const rank = await leaderboard.record({
        accountId,
        username: inserted.username,
        revision: inserted.revision,
        hidden: false,
        at: inserted.completed_at,
        totals: {
          all: inserted.total_points,
          day: inserted.day_points,
          week: inserted.week_points,
          month: inserted.month_points,
        },
      });
      return {
        status: 201,
        body: {
          completion: toCompletionItem(inserted),
          totalPoints: inserted.total_points,
          rank,
        },
      };
    },

    /** Completions waiting for a statement (src/actions/batches.ts). */
    get waiting(): number {
      return batches.waiting;
    },

    /** Every active action, and where the account stands with its rules now. */
    async standings(accountId: number) {
      const now = deps.clock.now();
      const rows = await q.myActions(sql, accountId, leaderboard.windows(now));
      return rows.map((row) => ({
        row,
        standing: standing(q.rulesOf(row), {
          completions: row.completions ?? 0,
          lastAt: row.last_at,
        }, now),
      }));
    },

    async list(accountId: number, limit: number, before: number | null) {
      const rows = await q.completionsPage(sql, accountId, limit, before);
      const page = rows.slice(0, limit);
      return {
        completions: page.map(toCompletionItem),
        nextBefore: rows.length > limit ? page[page.length - 1].id : null,
      };
    },
  };
}

/** The completions service. */
export type Completions = ReturnType<typeof createCompletions>;
