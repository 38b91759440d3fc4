/**
 * Redis answering but refusing the service's commands — a replica after a failover (READONLY), a
 * cluster node that holds other slots (MOVED, ASK, CROSSSLOT), a server without scripting or with
 * commands renamed — is not Redis being away: the replies are told apart, counted, and make
 * /readyz say `refusing`, never `ok`.
 */
import type { Redis } from "ioredis";

/** The error replies that mean "I answer, but not to that". */
const REFUSALS = [
  "READONLY",
  "MOVED",
  "ASK",
  "CROSSSLOT",
  "CLUSTERDOWN",
  "TRYAGAIN",
  "MASTERDOWN",
  "NOSCRIPT",
  "NOPERM",
  "NOAUTH",
  "WRONGPASS",
  "LOADING",
  "MISCONF",
  "OOM",
];

/**
 * The refusal `error` is (its reply's first word, or `unknown-command`), or null when it is
 * something else (a timeout, a closed connection). A script's error names the refusal inside.
 */
export function refusalOf(error: unknown): string | null {
  const message = (error as { message?: unknown } | null)?.message;
  if (typeof message !== "string") return null;
  if (/\bunknown command\b/i.test(message)) return "unknown-command";
  const words = message.match(/[A-Z]{2,}/g) ?? [];
  return words.find((word) => REFUSALS.includes(word)) ?? null;
}

/** How Redis is, as readiness tells it. */
export type RedisState = { state: "ok" } | { state: "down" } | { state: "refusing"; reply: string };

/** A probe's keys: two of the service's own names, so that a cluster sees them as its keys do. */
const PROBE = "redis.call('SET', KEYS[1], '1', 'PX', 10000) return redis.call('EXISTS', KEYS[2])";

/**
 * Whether Redis takes what the service sends it: a script that writes one key and reads another
 * under `prefix` (a replica refuses the write, a cluster node keys of other slots, a server
 * without scripting the script) — not only a PING, which all of these answer.
 */
export async function probeRedis(
  redis: Redis,
  prefix: string,
  timeoutMs: number,
): Promise<RedisState> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      redis.eval(PROBE, 2, `${prefix}scoreboard:probe`, `${prefix}scoreboard:probe:other`),
      new Promise((_, reject) => timer = setTimeout(() => reject(new Error("timeout")), timeoutMs)),
    ]);
    return { state: "ok" };
  } catch (error) {
    const reply = refusalOf(error);
    return reply === null ? { state: "down" } : { state: "refusing", reply };
  } finally {
    clearTimeout(timer);
  }
}
