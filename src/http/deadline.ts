/**
 * A deadline on every request's work before its response starts: a dependency that stalls (a
 * stopped PostgreSQL, a black-holed network) costs a client a quick, honest 503, never a hang.
 * The work itself runs on in the background; what it may still change is said in the answer. The
 * deadline is on the context (`deadlineAt`), for work that can still be called off.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./env.ts";
import { Problem } from "./problem.ts";

/** Answers 503 when the rest of the chain has not answered within `ms`; tells `onMiss`. */
export function deadline(options: { ms: number; onMiss(): void }): MiddlewareHandler<AppEnv> {
  const { ms } = options;
  return async function withDeadline(c, next) {
    c.set("deadlineAt", performance.now() + ms);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const missed = new Promise<"missed">((resolve) => timer = setTimeout(resolve, ms, "missed"));
    try {
      if ((await Promise.race([next(), missed])) !== "missed") return;
    } finally {
      clearTimeout(timer);
    }
    options.onMiss();
    const changes = c.req.method !== "GET" && c.req.method !== "HEAD";
    throw new Problem(503, {
      kind: "timed-out",
      detail: `The request did not complete within ${ms} ms: a dependency is not answering or ` +
        "the service is overloaded." +
        (changes
          ? " What it would change may or may not have been done: check, or retry with the " +
            "same Idempotency-Key where the route takes one."
          : ""),
      headers: { "retry-after": "2" },
    });
  };
}
