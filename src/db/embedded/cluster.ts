/**
 * The embedded cluster's directory: made by initdb on the first start (aside, then renamed into
 * place, so that a start that dies half-way leaves nothing that looks finished), and freed of a
 * server that an instance which died without stopping it left running.
 */
import type { Logger } from "@logtape/logtape";
import { Buffer } from "node:buffer";
import { dirname, join } from "node:path";
import type { Binaries, RunAs } from "./binaries.ts";
import { run } from "./process.ts";

/** The superuser of the embedded cluster. */
export const SUPERUSER = "postgres";

/** The superuser's password, kept in the cluster's directory (mode 0600). */
const PASSWORD_FILE = "scoreboard-password";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Hands `path` to the user PostgreSQL runs as, when that is not this process's user. */
async function giveTo(path: string, owner: RunAs | null): Promise<void> {
  if (owner !== null) await Deno.chown(path, owner.uid, owner.gid);
}

/**
 * Makes the cluster at `dir` unless it is there; resolves to whether it did. The superuser gets a
 * random password (scram-sha-256 on 127.0.0.1: other local users cannot get in).
 */
export async function initialiseCluster(
  bin: Binaries,
  dir: string,
  owner: RunAs | null,
  log: Logger,
): Promise<boolean> {
  if (await exists(join(dir, "PG_VERSION"))) return false;
  if (await exists(dir)) {
    throw new Error(`${dir} exists but is not a PostgreSQL cluster; move it away`);
  }
  const aside = `${dir}.initdb`;
  await Deno.remove(aside, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  await Deno.mkdir(aside, { mode: 0o700 });
  await giveTo(aside, owner);

  const password = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
  // initdb reads the password from a file that its user can read; it lives only while initdb runs.
  const pwfile = join(dirname(dir), `.initdb-password-${crypto.randomUUID()}`);
  await Deno.writeTextFile(pwfile, `${password}\n`, { createNew: true, mode: 0o600 });
  try {
    await giveTo(pwfile, owner);
    log.info("initialising the embedded PostgreSQL cluster in {dir}", { dir });
    await run(bin.initdb, [
      `--pgdata=${aside}`,
      `--username=${SUPERUSER}`,
      `--pwfile=${pwfile}`,
      "--auth=scram-sha-256",
      "--encoding=UTF8",
      // Collation and case rules built into PostgreSQL: the same on every machine, whatever
      // locales the operating system has.
      "--locale-provider=builtin",
      "--builtin-locale=C.UTF-8",
      "--locale=C",
      "--no-instructions",
    ], owner);
  } finally {
    await Deno.remove(pwfile);
  }
  await Deno.writeTextFile(join(aside, PASSWORD_FILE), `${password}\n`, { mode: 0o600 });
  await Deno.rename(aside, dir);
  return true;
}

/** The superuser's password of the cluster at `dir`. */
export async function clusterPassword(dir: string): Promise<string> {
  const password = (await Deno.readTextFile(join(dir, PASSWORD_FILE))).trim();
  if (password === "") throw new Error(`${join(dir, PASSWORD_FILE)} is empty`);
  return password;
}

/**
 * Stops a server still running on the cluster. Only one that an earlier instance left behind can
 * be: the caller holds DATA_DIR's lock. pg_ctl runs as the cluster's owner, so it can signal only
 * that user's processes.
 */
export async function stopLeftoverServer(
  bin: Binaries,
  dir: string,
  owner: RunAs | null,
  log: Logger,
): Promise<void> {
  const pidFile = join(dir, "postmaster.pid");
  if (!(await exists(pidFile))) return;
  const pid = (await Deno.readTextFile(pidFile)).split("\n")[0];
  const stopped = await run(bin.pgCtl, ["stop", "-D", dir, "-m", "fast", "-w", "-t", "60"], owner, {
    check: false,
  });
  if (stopped.success) {
    log.warn("stopped the embedded PostgreSQL (pid {pid}) that an earlier instance left running", {
      pid,
    });
  }
  // Otherwise nothing ran there (a stale pid file, which PostgreSQL itself clears).
}
