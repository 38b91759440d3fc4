/** The operator guard of `/admin`: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time. */
import { join, resolve } from "node:path";
import type { Config } from "../config.ts";
import { keptSecret } from "../data_dir.ts";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../http/env.ts";
import { clientAddress } from "../http/middleware.ts";
import { Problem } from "../http/problem.ts";
import { bearerCheck } from "./bearer.ts";

/**
 * Lets a request through only with the operator token, and puts who calls on the context (the
 * audit trail's request id and client address). Without ADMIN_TOKEN every request is 403; a
 * missing or wrong token (an account's access token included) is 403 as well.
 */
export function requireOperator(options: { adminToken: string | null; trustedProxyHops: number }) {
  const carries = options.adminToken === null ? null : bearerCheck(options.adminToken);
  return createMiddleware<AppEnv>(async function operatorOnly(c, next) {
    if (carries === null) {
      throw new Problem(403, {
        kind: "operator-routes-disabled",
        detail: "Operator routes are disabled: ADMIN_TOKEN is not set.",
      });
    }
    if (!carries(c.req.header("authorization"))) {
      throw new Problem(403, {
        kind: "not-an-operator",
        detail: "Operator routes need Authorization: Bearer <ADMIN_TOKEN>.",
      });
    }
    c.set("operator", {
      requestId: c.get("requestId"),
      client: clientAddress(c, options.trustedProxyHops),
    });
    await next();
  });
}

/** The operator token of an instance, and the file it is kept in (when the instance made it). */
export interface OperatorToken {
  token: string | null;
  file: string | null;
}

/**
 * ADMIN_TOKEN; else, with the embedded PostgreSQL, a token the instance made on its first start
 * and keeps in DATA_DIR/admin-token (mode 0600), so that a first start is usable as it is; else
 * none (every /admin route is 403).
 */
export async function operatorToken(config: Config): Promise<OperatorToken> {
  if (config.adminToken !== null) return { token: config.adminToken, file: null };
  if (config.databaseUrl !== null) return { token: null, file: null };
  const file = resolve(join(config.dataDir, "admin-token"));
  return { token: await keptSecret(file), file };
}
