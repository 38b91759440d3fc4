/**
 * Audit events: what operators and security reviews need to find later (catalogue changes,
 * suspensions and voids — also kept in PostgreSQL's trail, src/moderation/ — account deletions,
 * sessions revoked after a refresh token's reuse, lock-outs), each a log line of its own under the
 * `scoreboard.audit` category. Never a password, token, hash or email.
 */
import type { Logger } from "@logtape/logtape";

/** The events audited. */
export type AuditEvent =
  | "action.created"
  | "action.updated"
  | "action.retired"
  | "account.suspended"
  | "account.reinstated"
  | "completion.voided"
  | "account.deleted"
  | "password.changed"
  | "sessions.ended"
  | "refresh-token.reused"
  | "login.locked";

/** Records one audit event with its fields (ids, slugs, counts, rules: nothing secret). */
export type Audit = (event: AuditEvent, fields: Record<string, unknown>) => void;

/** Audit events as info lines of `log`'s `audit` child. */
export function auditLog(log: Logger): Audit {
  const audit = log.getChild("audit");
  return (event, fields) => audit.info(event, { event, ...fields });
}

/** An audit that records nothing (scripts, tests that do not look). */
export const noAudit: Audit = () => {};
