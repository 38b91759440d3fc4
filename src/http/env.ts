/** The Hono environment every route shares: what middleware puts on the context. */
import type { AccountRow } from "../auth/queries.ts";
import type { CacheStamp } from "./response_cache.ts";

/**
 * Context variables. `accountId`, `sessionId` (null for a token without `sid`) and `account` exist
 * behind the auth middleware only.
 */
export type AppEnv = {
  Variables: {
    requestId: string;
    accountId: number;
    sessionId: number | null;
    account: AccountRow;
    /** Set by a read whose response may be served again (see response_cache.ts). */
    cacheStamp: CacheStamp | undefined;
    /** When the request is answered 503 if it has not been (`performance.now()` time; deadline.ts). */
    deadlineAt: number;
    /** Behind the operator guard: who makes the change, for the audit trail. */
    operator: { requestId: string; client: string };
  };
};
