/**
 * Runs dbmate (the pinned npm binary) against DATABASE_URL with this project's settings:
 * `deno task db:migrate` (up), `deno task db:new <name>`, or any dbmate command after `--`.
 */
import { resolveBinary } from "dbmate";

const DEFAULT_DATABASE_URL = "postgres://postgres@localhost:5432/scoreboard";

/**
 * dbmate's driver (lib/pq) insists on TLS unless told otherwise, while postgres.js uses TLS only
 * when the URL asks for it; give dbmate the same default so both reach the same server alike.
 */
export function dbmateUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  if (!url.searchParams.has("sslmode")) url.searchParams.set("sslmode", "disable");
  return url.toString();
}

/** Runs dbmate with `args` and resolves to its exit code; `quiet` drops its progress lines. */
export async function dbmate(
  args: string[],
  databaseUrl: string,
  options: { quiet?: boolean } = {},
): Promise<number> {
  const child = new Deno.Command(resolveBinary(), {
    args: ["--wait", "--no-dump-schema", "--migrations-dir", "./migrations", ...args],
    env: { DATABASE_URL: dbmateUrl(databaseUrl) },
    stdin: "null",
    stdout: options.quiet ? "null" : "inherit",
  }).spawn();
  const status = await child.status;
  return status.code;
}

if (import.meta.main) {
  const url = Deno.env.get("DATABASE_URL") || DEFAULT_DATABASE_URL;
  Deno.exit(await dbmate(Deno.args.length ? Deno.args : ["up"], url));
}
