/** The PostgreSQL client, and the handle type that query functions take. */
import postgres, { type Sql, type TransactionSql } from "postgres";

/** `sql` or a transaction's `tx`: what every query function takes first. */
export type Db = Sql | TransactionSql;

/** Opens a postgres.js pool on `url` (TLS only when the URL asks for it with `sslmode`). */
export function connectDatabase(url: string, max: number): Sql {
  return postgres(url, {
    max,
    onnotice: () => {},
    connection: { application_name: "scoreboard" },
  });
}

/** Whether `error` is PostgreSQL's unique violation, and of which constraint. */
export function uniqueViolation(error: unknown): string | null {
  if (error instanceof postgres.PostgresError && error.code === "23505") {
    return error.constraint_name ?? "";
  }
  return null;
}
