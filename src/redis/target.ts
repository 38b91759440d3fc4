/**
 * Clients on the configured Redis: a URL (`redis://`, `rediss://`), or a Sentinel group
 * (REDIS_SENTINELS, REDIS_SENTINEL_NAME), where every connection asks the sentinels for the
 * current master and follows it through a failover.
 */
import { Cluster, Redis, type RedisOptions } from "ioredis";
import { type RedisTarget, whereTo } from "../config.ts";

/** At most one reconnection a connection makes for READONLY in this long. */
const READONLY_RECONNECT_MS = 2000;

/**
 * What a connection does with an error reply. READONLY: the server it talks to is a replica now
 * (a failover promoted another): reconnect — through Sentinel, to the new master; behind a DNS
 * name, to wherever it points now — once in a while, not for every refused command (a URL that
 * names a replica for good would make it reconnect for ever). The command that met it fails as
 * any Redis error does (the copy is repaired from PostgreSQL). Nothing else makes it reconnect.
 */
export function reconnectOnReadonly(): (error: Error) => 1 | false {
  let last = -Infinity;
  return (error) => {
    if (!error.message.startsWith("READONLY")) return false;
    const now = performance.now();
    if (now - last < READONLY_RECONNECT_MS) return false;
    last = now;
    return 1;
  };
}

/**
 * TLS with the CA and client certificate files of `target` (read now), or undefined: whatever the
 * URL says (`rediss:` is TLS with the system's CAs).
 */
function tlsOptions(target: RedisTarget): RedisOptions["tls"] {
  const { ca, cert, key } = target.tls;
  if (ca === null && cert === null && key === null) return undefined;
  return {
    ...(ca === null ? {} : { ca: Deno.readTextFileSync(ca) }),
    ...(cert === null ? {} : { cert: Deno.readTextFileSync(cert) }),
    ...(key === null ? {} : { key: Deno.readTextFileSync(key) }),
  };
}

/** The connection options a URL carries, for a Sentinel group's master (its host is unused). */
function urlOptions(url: string): RedisOptions {
  const parsed = new URL(url);
  const db = parsed.pathname.replace(/^\//, "");
  return {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(parsed.protocol === "rediss:" ? { tls: {} } : {}),
  };
}

/**
 * A client on `target` with `options` (each connection of its own). A Redis Cluster's client is
 * typed as a plain one: it takes the same commands, scripts and subscriptions, and every key the
 * service uses is in one slot (see `clusterPrefix`).
 */
export function redisClient(target: RedisTarget, options: RedisOptions): Redis {
  const tls = tlsOptions(target);
  const common: RedisOptions = {
    reconnectOnError: reconnectOnReadonly(),
    ...(tls ? { tls } : {}),
    ...options,
  };
  if (target.clusterNodes !== null) return clusterClient(target, common);
  if (target.sentinels === null) return new Redis(target.url!, common);
  return new Redis({
    ...(target.url ? urlOptions(target.url) : {}),
    ...common,
    sentinels: target.sentinels.map(({ host, port }) => ({ host, port })),
    name: target.sentinelName!,
    ...(target.sentinelPassword === null ? {} : { sentinelPassword: target.sentinelPassword }),
    // Told of a failover by the sentinels (+switch-master), not only by the next error.
    failoverDetector: true,
  });
}

function clusterClient(target: RedisTarget, options: RedisOptions): Redis {
  const {
    enableOfflineQueue,
    enableAutoPipelining,
    autoPipeliningIgnoredCommands,
    lazyConnect,
    retryStrategy,
    ...node
  } = options;
  const cluster = new Cluster(target.clusterNodes!.map(({ host, port }) => ({ host, port })), {
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
    ...(autoPipeliningIgnoredCommands ? { autoPipeliningIgnoredCommands } : {}),
    ...(lazyConnect === undefined ? {} : { lazyConnect }),
    ...(retryStrategy ? { clusterRetryStrategy: (times: number) => retryStrategy(times) } : {}),
    redisOptions: { ...(target.url ? urlOptions(target.url) : {}), ...node },
  });
  return cluster as unknown as Redis;
}

/** Where `target` points, for logs and messages: never a password. */
export function describeRedis(target: RedisTarget): string {
  if (target.clusterNodes !== null) {
    return `cluster://${target.clusterNodes.map(({ host, port }) => `${host}:${port}`).join(",")}`;
  }
  if (target.sentinels === null) return whereTo(target.url!);
  const hosts = target.sentinels.map(({ host, port }) => `${host}:${port}`).join(",");
  return `sentinel://${hosts}/${target.sentinelName}`;
}
