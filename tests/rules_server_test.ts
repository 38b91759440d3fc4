/**
 * An action's rules hold across instances: completions racing on two real server processes are
 * counted one after the other by the completion statement, whichever instance sends them.
 */
import assert from "node:assert/strict";
import {
  ADMIN_TOKEN,
  clearRedisPrefix,
  complete,
  createTestDatabase,
  httpClient,
  randomPrefix,
  register,
  testEnv,
} from "./helpers.ts";
import { startServer } from "./server.ts";

Deno.test("[rules] 50 completions of a once-a-day action racing on two instances: exactly one 201", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const env = testEnv(db, prefix, { COMPLETIONS_PER_SECOND: "1000" });
  const [one, two] = await Promise.all([startServer(env), startServer(env)]);
  try {
    const apis = [httpClient(one.url), httpClient(two.url)];
    const slug = `daily-${crypto.randomUUID().slice(0, 6)}`;
    const created = await apis[0].call("POST", "/admin/actions", {
      token: ADMIN_TOKEN,
      body: { slug, label: "Daily", pointValue: 10, limit: { count: 1, per: "day" } },
    });
    assert.equal(created.status, 201);
    for (let round = 0; round < 3; round++) {
      const ada = await register(apis[0]);
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) => complete(apis[i % 2], ada.accessToken, slug)),
      );
      const statuses = answers.map((res) => res.status);
      await Promise.all(answers.map((res) => res.body?.cancel()));
      assert.equal(statuses.filter((s) => s === 201).length, 1, String(statuses));
      assert.equal(statuses.filter((s) => s === 409).length, 49, String(statuses));
      const [row] = await db.sql`
        SELECT (SELECT count(*)::int FROM action_log WHERE account_id = ${ada.account.id}) AS logged,
               (SELECT total_points FROM score_ledger WHERE account_id = ${ada.account.id})
                 AS total`;
      assert.deepEqual([row.logged, row.total], [1, 10]);
    }
  } finally {
    await Promise.all([one.stop(), two.stop()]);
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});
