/**
 * Moderation (API.md "Moderation and audit"): finding accounts, suspending and reinstating them,
 * voiding completions — each change and its audit entry in one transaction, then the boards of
 * every instance brought to the new state (src/leaderboard/: by revision, whatever the order).
 * Every instance reinstates accounts whose suspension has ended; each reinstatement happens once.
 */
import type { Sql } from "postgres";
import { type Completion, toCompletionItem } from "../actions/completions.ts";
import { completionsPage } from "../actions/queries.ts";
import { bumpRevision, endSessions } from "../auth/queries.ts";
import type { Leaderboard } from "../leaderboard/leaderboard.ts";
import type { Clock } from "../leaderboard/periods.ts";
import type { Audit } from "../ops/audit.ts";
import * as q from "./queries.ts";

/** API.md's `AdminAccount`. */
export interface AdminAccount {
  id: number;
  username: string;
  email: string;
  createdAt: string;
  deletedAt: string | null;
  suspension: { reason: string; since: string; until: string | null } | null;
  totalPoints: number;
  rank: number | null;
  sessions: number;
}

/** What the service needs. */
export interface ModerationDeps {
  sql: Sql;
  leaderboard: Leaderboard;
  clock: Clock;
  /** The audit log lines (the trail itself is in PostgreSQL). */
  audit: Audit;
  /** How often ended suspensions are looked for. */
  sweepMs: number;
  onError(error: Error): void;
}

/** How a page of a listing ends: the `before` of the next one, or null. */
function paged<T extends { id: number }>(rows: T[], limit: number) {
  const page = rows.slice(0, limit);
  return { page, nextBefore: rows.length > limit ? page[page.length - 1].id : null };
}

/** Builds the service; `start()` begins looking for ended suspensions. */
export function createModeration(deps: ModerationDeps) {
  const { sql, leaderboard, clock } = deps;
  let timer: ReturnType<typeof setInterval> | undefined;

  async function toAdminAccount(row: q.AdminAccountRow): Promise<AdminAccount> {
    const hidden = row.deleted_at !== null || row.suspended_at !== null;
    const rank = hidden || row.total_points <= 0
      ? null
      : (await leaderboard.ranks(row.id, { all: row.total_points })).all;
    return {
      id: row.id,
      username: row.username,
      email: row.email,
      createdAt: row.created_at.toISOString(),
      deletedAt: row.deleted_at?.toISOString() ?? null,
      suspension: row.suspended_at === null ? null : {
        reason: row.suspension_reason!,
        since: row.suspended_at.toISOString(),
        until: row.suspension_until?.toISOString() ?? null,
      },
      totalPoints: row.total_points,
      rank,
      sessions: row.sessions,
    };
  }

  async function account(id: number): Promise<AdminAccount | null> {
    const row = await q.adminAccount(sql, id);
    return row ? await toAdminAccount(row) : null;
  }

  /**
   * Lifts the account's suspension (with `due`, only one that has ended by then) and records it:
   * null when there was nothing to lift.
   */
  async function reinstate(
    id: number,
    context: q.AuditContext,
    due: Date | null,
  ): Promise<q.SuspensionRow | null> {
    const lifted = await sql.begin(async (tx) => {
      const lifted = await q.lift(tx, id, due);
      if (lifted === null) return null;
      await bumpRevision(tx, id);
      await q.recordAudit(tx, {
        action: "account.reinstated",
        target: `account:${id}`,
        detail: {
          by: due === null ? "operator" : "expiry",
          suspension: {
            reason: lifted.suspension_reason,
            since: lifted.suspended_at.toISOString(),
            until: lifted.suspension_until?.toISOString() ?? null,
          },
        },
      }, context);
      return lifted;
    });
    if (lifted !== null) {
      deps.audit("account.reinstated", { accountId: id, by: due === null ? "operator" : "expiry" });
      await leaderboard.sync([id]);
    }
    return lifted;
  }

  const NO_CALLER: q.AuditContext = { requestId: null, client: null };

  /** Reinstates every account whose suspension has ended (another instance may too: once each). */
  async function sweep(): Promise<void> {
    const now = new Date(clock.now());
    for (const id of await q.dueSuspensions(sql, now)) await reinstate(id, NO_CALLER, now);
  }

  // One sweep at a time: while PostgreSQL is slow, ticks are skipped rather than piled up.
  let sweeping = false;
  function tick(): void {
    if (sweeping) return;
    sweeping = true;
    sweep().catch((error) => deps.onError(error)).finally(() => sweeping = false);
  }

  return {
    account,

    /** Accounts by the start of their username or email, newest first. */
    async search(query: { q: string | null; limit: number; before: number | null }) {
      const { page, nextBefore } = paged(await q.adminAccounts(sql, query), query.limit);
      return { accounts: await Promise.all(page.map(toAdminAccount)), nextBefore };
    },

    /** An account's completions, voided ones too; null when there is no such account. */
    async completions(id: number, limit: number, before: number | null) {
      if (!(await q.accountExists(sql, id))) return null;
      // The same page a player gets of their own: voided ones are in it, marked.
      const { page, nextBefore } = paged(await completionsPage(sql, id, limit, before), limit);
      return { completions: page.map(toCompletionItem), nextBefore };
    },

    /**
     * Suspends the account (replacing a suspension it has): every session ends, it leaves every
     * board. Null when there is no such account.
     */
    async suspend(
      id: number,
      suspension: { reason: string; until: Date | null },
      context: q.AuditContext,
    ): Promise<AdminAccount | null> {
      const now = new Date(clock.now());
      const done = await sql.begin(async (tx) => {
        const done = await q.suspend(tx, id, { ...suspension, now });
        if (!done) return undefined;
        const ended = await endSessions(tx, { accountId: id });
        await bumpRevision(tx, id);
        await q.recordAudit(tx, {
          action: "account.suspended",
          target: `account:${id}`,
          detail: {
            reason: suspension.reason,
            until: suspension.until?.toISOString() ?? null,
            replaced: done.before === null ? null : {
              reason: done.before.suspension_reason,
              until: done.before.suspension_until?.toISOString() ?? null,
            },
            sessionsEnded: ended.length,
          },
        }, context);
        return done;
      });
      if (!done) return null;
      deps.audit("account.suspended", {
        accountId: id,
        until: suspension.until?.toISOString() ?? null,
      });
      await leaderboard.sync([id]);
      return await account(id);
    },

    /** Lifts the account's suspension, if it has one. Null when there is no such account. */
    async lift(id: number, context: q.AuditContext): Promise<AdminAccount | null> {
      await reinstate(id, context, null);
      return await account(id);
    },

    /** Reinstates the account if its suspension has ended (sign-in does not wait for a sweep). */
    async reinstateDue(id: number): Promise<void> {
      await reinstate(id, NO_CALLER, new Date(clock.now()));
    },

    /**
     * Voids a completion: its points leave the account's totals, the log row stays. Answers the
     * voided completion with the account's totals after it; "voided" when it was already, null
     * when there is no such completion.
     */
    async void(
      id: number,
      reason: string,
      context: q.AuditContext,
    ): Promise<Completion | "voided" | null> {
      const row = await sql.begin(async (tx) => {
        const row = await q.voidCompletion(tx, id, { reason, now: new Date(clock.now()) });
        if (!row?.voided) return row;
        await q.recordAudit(tx, {
          action: "completion.voided",
          target: `completion:${id}`,
          detail: {
            reason,
            accountId: row.account_id,
            action: row.slug,
            pointsEarned: row.points_earned,
            completedAt: row.completed_at.toISOString(),
          },
        }, context);
        return row;
      });
      if (!row) return null;
      if (!row.voided) return "voided";
      deps.audit("completion.voided", { completionId: id, accountId: row.account_id });
      await leaderboard.sync([row.account_id]);
      const admin = await q.adminAccount(sql, row.account_id);
      const totalPoints = admin?.total_points ?? 0;
      const shown = admin !== undefined && admin.deleted_at === null &&
        admin.suspended_at === null && totalPoints > 0;
      return {
        completion: toCompletionItem(row),
        totalPoints,
        rank: shown ? (await leaderboard.ranks(row.account_id, { all: totalPoints })).all : null,
      };
    },

    /** The audit trail, newest first. */
    async trail(query: { limit: number; before: number | null; target: string | null }) {
      const { page, nextBefore } = paged(await q.auditPage(sql, query), query.limit);
      return {
        entries: page.map((row) => ({
          id: row.id,
          at: row.at.toISOString(),
          action: row.action,
          target: row.target,
          detail: row.detail,
          requestId: row.request_id,
          client: row.client,
        })),
        nextBefore,
      };
    },

    sweep,

    /** Looks for ended suspensions every `sweepMs`. */
    start(): void {
      timer ??= setInterval(tick, deps.sweepMs);
      Deno.unrefTimer(timer);
    },

    close(): void {
      clearInterval(timer);
    },
  };
}

/** The moderation service. */
export type Moderation = ReturnType<typeof createModeration>;
