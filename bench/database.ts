/** The benchmarks' databases: each its own, cloned from the tests' template. */
import { migrate } from "../src/db/migrate.ts";
import { databaseUrl, TEMPLATE_DATABASE } from "../tests/env.ts";
import { createTestDatabase, type TestDatabase } from "../tests/helpers.ts";

let template: Promise<unknown> | undefined;

/**
 * A database of the benchmark's own, cloned from the tests' template. The template is migrated
 * first, as `deno task test` does, so that a benchmark runs from a fresh clone on its own.
 */
export async function benchDatabase(): Promise<TestDatabase> {
  template ??= migrate(databaseUrl(TEMPLATE_DATABASE), { onLine: () => {} });
  await template;
  return await createTestDatabase();
}
