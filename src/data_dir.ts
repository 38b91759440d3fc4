/**
 * DATA_DIR, the embedded mode's directory: the lock that keeps a second instance out of it, and
 * the secrets kept in it (made once, then read on every start).
 */
import { Buffer } from "node:buffer";
import { join, resolve } from "node:path";

/** Thrown when another process holds DATA_DIR's lock. */
export class DataDirInUse extends Error {
  override name = "DataDirInUse";
  constructor(readonly dir: string) {
    super(`DATA_DIR ${dir} is in use by another instance (it holds ${join(dir, ".lock")})`);
  }
}

/** DATA_DIR, held by this process until `release()` (or until the process ends). */
export interface DataDir {
  /** The absolute path. */
  readonly path: string;
  release(): void;
}

/**
 * Creates `dir` if needed (mode 0700) and takes its lock, or throws DataDirInUse. The lock is an
 * advisory lock on `dir/.lock`, which the kernel drops when the process ends however it ends.
 */
export async function lockDataDir(dir: string): Promise<DataDir> {
  const path = resolve(dir);
  await Deno.mkdir(path, { recursive: true, mode: 0o700 });
  const file = await Deno.open(join(path, ".lock"), {
    read: true,
    write: true,
    create: true,
    mode: 0o600,
  });
  if (!(await file.tryLock(true))) {
    file.close();
    throw new DataDirInUse(path);
  }
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      file.close();
    },
  };
}

const SECRET_BYTES = 32;

/**
 * The secret kept in `path` (mode 0600), made on the first call: 32 random bytes, base64url. The
 * file is written whole under another name and linked into place, which fails when the name is
 * taken, so that two racing first starts end up with one secret and a crash leaves none half
 * written.
 */
export async function keptSecret(path: string): Promise<string> {
  const existing = await readSecret(path);
  if (existing !== null) return existing;
  const temporary = `${path}.${crypto.randomUUID()}.tmp`;
  const file = await Deno.open(temporary, { write: true, createNew: true, mode: 0o600 });
  try {
    const value = Buffer.from(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)))
      .toString("base64url");
    await file.write(new TextEncoder().encode(`${value}\n`));
    await file.syncData();
  } finally {
    file.close();
  }
  try {
    await Deno.link(temporary, path);
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    // Another start made it first: use that one.
  } finally {
    await Deno.remove(temporary);
  }
  const made = await readSecret(path);
  if (made === null) throw new Error(`${path} vanished right after it was made`);
  return made;
}

async function readSecret(path: string): Promise<string | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  const value = text.trim();
  if (new TextEncoder().encode(value).length < SECRET_BYTES) {
    throw new Error(`${path} holds fewer than ${SECRET_BYTES} bytes; delete it to make a new one`);
  }
  return value;
}
