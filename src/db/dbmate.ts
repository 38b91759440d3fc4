/**
 * Runs dbmate (the pinned npm binary) against DATABASE_URL with this project's settings:
 * `deno task db:rollback`, `deno task db:new <name>`, or any dbmate command given as arguments.
 * Applying migrations goes through `migrate.ts`, which makes concurrent runs safe.
 */
import { resolveBinary } from "dbmate";
import { lines } from "../lines.ts";

/**
 * Used by the command-line entry points (`db:migrate`, `db:rollback`, `db:new`) when DATABASE_URL
 * is unset: the machine's PostgreSQL. (The service itself runs an embedded one then.)
 */
export const DEFAULT_DATABASE_URL = "postgres://postgres@localhost:5432/scoreboard";

/**
 * dbmate's driver (lib/pq) insists on TLS unless told otherwise, while postgres.js uses TLS only
 * when the URL asks for it; give dbmate the same default so both reach the same server alike.
 */
export function dbmateUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  // lib/pq reads the certificate files itself; with a CA and no sslmode, verify-full, as
  // postgres.js does (tls.ts).
  if (!url.searchParams.has("sslmode")) {
    url.searchParams.set(
      "sslmode",
      url.searchParams.has("sslrootcert") ? "verify-full" : "disable",
    );
  }
  // postgres.js' own options, which lib/pq would send to the server as parameters (and fail).
  for (const name of POSTGRES_JS_OPTIONS) url.searchParams.delete(name);
  return url.toString();
}

/** URL parameters that postgres.js reads and libpq does not know. */
const POSTGRES_JS_OPTIONS = [
  "prepare",
  "max",
  "idle_timeout",
  "max_lifetime",
  "fetch_types",
  "publications",
  "keep_alive",
];

/** How `dbmate` reports what the binary prints. */
export interface DbmateOptions {
  /** Drops its progress lines (stdout); errors still reach stderr. */
  quiet?: boolean;
  /** Receives every line it prints, stdout and stderr, instead of this process's own streams. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
}

/**
 * The environment dbmate gets: this process's, less the loader variables (LD_*, DYLD_*), because
 * Deno refuses to pass those to a program unless every program may be run — and the server is
 * allowed to run the dbmate binary only.
 */
function childEnv(databaseUrl: string): Record<string, string> {
  const env = Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([name]) => !/^(LD|DYLD)_/.test(name)),
  );
  return { ...env, DATABASE_URL: dbmateUrl(databaseUrl) };
}

async function forwardLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  for await (const line of lines(stream)) onLine(line);
}

/** Runs dbmate with `args` and resolves to its exit code. */
export async function dbmate(
  args: string[],
  databaseUrl: string,
  options: DbmateOptions = {},
): Promise<number> {
  const { onLine } = options;
  const child = new Deno.Command(resolveBinary(), {
    args: ["--wait", "--no-dump-schema", "--migrations-dir", "./migrations", ...args],
    clearEnv: true,
    env: childEnv(databaseUrl),
    stdin: "null",
    stdout: onLine ? "piped" : options.quiet ? "null" : "inherit",
    stderr: onLine ? "piped" : "inherit",
  }).spawn();
  const forwarded = onLine
    ? Promise.all([
      forwardLines(child.stdout, (line) => onLine(line, "stdout")),
      forwardLines(child.stderr, (line) => onLine(line, "stderr")),
    ])
    : Promise.resolve();
  const [status] = await Promise.all([child.status, forwarded]);
  return status.code;
}

if (import.meta.main) {
  const url = Deno.env.get("DATABASE_URL") || DEFAULT_DATABASE_URL;
  if (Deno.args.length === 0) {
    console.error(
      "usage: dbmate.ts <dbmate command> [arguments] (apply with `deno task db:migrate`)",
    );
    Deno.exit(64);
  }
  Deno.exit(await dbmate(Deno.args, url));
}
