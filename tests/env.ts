/** Where the tests find PostgreSQL and Redis (override with TEST_DATABASE_URL, TEST_REDIS_URL). */

/** A database the tests may connect to in order to create and drop their own. */
export const ADMIN_DATABASE_URL = Deno.env.get("TEST_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";

export const REDIS_URL = Deno.env.get("TEST_REDIS_URL") ?? "redis://127.0.0.1:6379";

/**
 * Every database the tests make starts with this; `prepare.ts` drops leftovers. TEST_DATABASE_PREFIX
 * gives two checkouts that test at once on one server prefixes of their own (neither may start
 * with the other's).
 */
export const TEST_DATABASE_PREFIX = Deno.env.get("TEST_DATABASE_PREFIX") ?? "scoreboard_test_";

/** The migrated database each test clones. */
export const TEMPLATE_DATABASE = `${TEST_DATABASE_PREFIX}template`;

/** The URL of database `name` on the test server. */
export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}
