/** The start line: where the instance listens and what it runs on, never a password. */
import { type Config, whereTo } from "../config.ts";
import { describeRedis } from "../redis/target.ts";
import { VERSION } from "../version.ts";

/** The message and properties of the start line (a logger's arguments). */
export function startLine(
  config: Config,
  at: {
    hostname: string;
    port: number;
    embedded: string | null;
    /** Whether /admin is open, and the file of the token the instance made (never the token). */
    operator: { on: boolean; tokenFile: string | null };
  },
): [string, Record<string, unknown>] {
  const host = at.hostname === "0.0.0.0" || at.hostname === "::" ? "localhost" : at.hostname;
  const url = `http://${host}:${at.port}`;
  const alone = config.redis === null;
  const operator = !at.operator.on
    ? "; the console is off (ADMIN_TOKEN is not set)"
    : at.operator.tokenFile === null
    ? "; the console at {console} (ADMIN_TOKEN)"
    : "; the console at {console}, its operator token in {operatorTokenFile}";
  return [
    (alone
      ? "listening on {url}: one instance on its own (no Redis), it cannot scale out"
      : "listening on {url}: scale-out mode, Redis {redis}") +
    `. The board at {page}${operator}`,
    {
      url,
      page: `${url}/`,
      console: `${url}/admin/`,
      operatorTokenFile: at.operator.tokenFile,
      hostname: at.hostname,
      port: at.port,
      version: VERSION,
      mode: alone ? "single-instance" : "scale-out",
      httpServer: config.httpServer,
      database: at.embedded === null
        ? whereTo(config.databaseUrl!)
        : `embedded PostgreSQL at ${at.embedded}`,
      redis: alone ? null : describeRedis(config.redis!),
      redisKeyPrefix: config.redisKeyPrefix,
      operatorRoutes: at.operator.on,
    },
  ];
}
