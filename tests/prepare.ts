/**
 * Prepares the test suite's PostgreSQL: a template database, migrated as the server migrates at
 * start, from which each test clones a database of its own (`CREATE DATABASE … TEMPLATE`, tens of
 * milliseconds).
 */
import postgres from "postgres";
import { migrate } from "../src/db/migrate.ts";
import { ADMIN_DATABASE_URL, databaseUrl, TEMPLATE_DATABASE, TEST_DATABASE_PREFIX } from "./env.ts";

const admin = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
try {
  const stale = await admin<{ datname: string }[]>`
    SELECT datname FROM pg_database WHERE starts_with(datname, ${TEST_DATABASE_PREFIX})`;
  for (const { datname } of stale) {
    await admin`DROP DATABASE IF EXISTS ${admin(datname)} WITH (FORCE)`;
  }
} finally {
  await admin.end({ timeout: 5 });
}
try {
  await migrate(databaseUrl(TEMPLATE_DATABASE), { onLine: () => {} });
} catch (error) {
  console.error(
    `tests/prepare.ts: migrating the template database failed: ${(error as Error).message}`,
  );
  Deno.exit(1);
}
