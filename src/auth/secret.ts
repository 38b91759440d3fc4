/** The key that signs access tokens, and where it comes from. */
import type { Logger } from "@logtape/logtape";
import { join } from "node:path";
import type { Config } from "../config.ts";
import { keptSecret } from "../data_dir.ts";

/**
 * The key that signs access tokens: JWT_SECRET; else, in the embedded mode, one kept in DATA_DIR
 * (made on the first start) so that tokens outlive a restart; else a random one, with a warning.
 */
export async function accessTokenSecret(config: Config, log: Logger): Promise<Uint8Array> {
  if (config.jwtSecret !== null) return new TextEncoder().encode(config.jwtSecret);
  if (config.databaseUrl === null) {
    return new TextEncoder().encode(await keptSecret(join(config.dataDir, "jwt-secret")));
  }
  log.warn(
    "JWT_SECRET is not set: this instance signs with a random key, so its access tokens " +
      "die with it and are not accepted by other instances",
  );
  return crypto.getRandomValues(new Uint8Array(32));
}
