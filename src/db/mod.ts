/** The PostgreSQL client, and the handle type that query functions take. */
import postgres, { type Sql, type TransactionSql } from "postgres";
import { postgresConnection } from "./tls.ts";

/** `sql` or a transaction's `tx`: what every query function takes first. */
export type Db = Sql | TransactionSql;

/**
 * Opens a plain postgres.js pool on `url` (TLS as tls.ts reads the URL), for tasks; the server's
 * pool is `openDatabase`'s, which survives outages.
 */
export function connectDatabase(
  url: string,
  max: number,
  connectTimeout = 30,
  applicationName = "scoreboard",
  prepare = true,
): Sql {
  const { url: plain, ssl } = postgresConnection(url);
  return postgres(plain, {
    max,
    onnotice: () => {},
    connect_timeout: connectTimeout,
    connection: { application_name: applicationName },
    prepare,
    ...(ssl === undefined ? {} : { ssl }),
  });
}

/**
 * The text of a PostgreSQL array of `values` (each text quoted), for one text parameter that the
 * statement casts (`${arrayLiteral(ids)}::int[]`). Every array goes so: postgres.js sends a
 * JavaScript array through array serializers that a connection has only once the pool has fetched
 * its types, and a connection opened meanwhile sent `[1]` as "1" (malformed array literal).
 */
export function arrayLiteral(values: readonly (string | number | null)[]): string {
  const items = values.map((value) =>
    value === null
      ? "NULL"
      : typeof value === "number"
      ? String(value)
      : `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`
  );
  return `{${items.join(",")}}`;
}

/** Whether `error` is PostgreSQL's unique violation, and of which constraint. */
export function uniqueViolation(error: unknown): string | null {
  if (error instanceof postgres.PostgresError && error.code === "23505") {
    return error.constraint_name ?? "";
  }
  return null;
}

/** Whether `error` is PostgreSQL refusing a text it cannot store (a NUL byte, say). */
export function unstorableText(error: unknown): boolean {
  return error instanceof postgres.PostgresError &&
    (error.code === "22021" || error.code === "22P05");
}
