/**
 * TLS to PostgreSQL as libpq users know it: `sslmode`, `sslrootcert`, `sslcert` and `sslkey` in the
 * URL (DATABASE_CA_FILE, DATABASE_CLIENT_CERT and DATABASE_CLIENT_KEY put them there). postgres.js
 * would send the three file parameters to the server as settings (FATAL): they are read here and
 * become its TLS options instead. dbmate's driver (lib/pq) reads them as they are.
 */

/** libpq's certificate parameters, which postgres.js does not know. */
const FILE_PARAMETERS = ["sslrootcert", "sslcert", "sslkey"] as const;

/**
 * `url` with the certificate files given apart (`files`: URL parameter → path) as its parameters,
 * where the URL names none of its own; with a CA and no `sslmode`, `verify-full`.
 */
export function withTlsFiles(url: string, files: Partial<Record<string, string>>): string {
  if (!Object.values(files).some(Boolean)) return url;
  const parsed = new URL(url);
  for (const [name, path] of Object.entries(files)) {
    if (path && !parsed.searchParams.has(name)) parsed.searchParams.set(name, path);
  }
  if (parsed.searchParams.has("sslrootcert") && !parsed.searchParams.has("sslmode")) {
    parsed.searchParams.set("sslmode", "verify-full");
  }
  return parsed.toString();
}

/** What postgres.js takes for `url`: the URL without libpq's file parameters, and its `ssl`. */
export interface PostgresConnection {
  url: string;
  /** undefined: postgres.js reads `sslmode` from the URL itself. */
  ssl?: false | Record<string, unknown>;
}

/** postgres.js' URL and TLS options for a libpq-style `url` (the files are read now). */
export function postgresConnection(url: string): PostgresConnection {
  const parsed = new URL(url);
  const files = Object.fromEntries(
    FILE_PARAMETERS.map((name) => [name, parsed.searchParams.get(name)]),
  );
  if (FILE_PARAMETERS.every((name) => files[name] === null) || files.sslrootcert === "system") {
    return { url };
  }
  for (const name of FILE_PARAMETERS) parsed.searchParams.delete(name);
  const mode = parsed.searchParams.get("sslmode") ?? "verify-full";
  parsed.searchParams.delete("sslmode");
  if (mode === "disable") return { url: parsed.toString(), ssl: false };
  // libpq: a root certificate makes `require` verify the chain too; verify-ca skips the name.
  const verify = mode === "verify-full" || mode === "verify-ca" || files.sslrootcert !== null;
  return {
    url: parsed.toString(),
    ssl: {
      ...(files.sslrootcert ? { ca: Deno.readTextFileSync(files.sslrootcert) } : {}),
      ...(files.sslcert ? { cert: Deno.readTextFileSync(files.sslcert) } : {}),
      ...(files.sslkey ? { key: Deno.readTextFileSync(files.sslkey) } : {}),
      rejectUnauthorized: verify,
      ...(mode === "verify-full" ? {} : { checkServerIdentity: () => undefined }),
    },
  };
}

/** The files `url` names (to check that this process may read them). */
export function tlsFilesOf(url: string): string[] {
  const parsed = new URL(url);
  return FILE_PARAMETERS.map((name) => parsed.searchParams.get(name))
    .filter((path): path is string => path !== null && path !== "system");
}
