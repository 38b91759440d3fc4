/** Whole responses served again while the board has not changed (src/http/response_cache.ts). */
import assert from "node:assert/strict";
import { fakeClock } from "./clock.ts";
import { accountsWith, complete, createAction, openTestApp, register } from "./helpers.ts";

const headersOf = (res: Response) =>
  Object.fromEntries([...res.headers].filter(([name]) => name !== "x-request-id"));

Deno.test("[cache] a board read again is the same answer with its own request id, counted as a request", async () => {
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000" });
  try {
    await accountsWith(t, [3, 2]);
    const first = await t.call("GET", "/leaderboard");
    const second = await t.call("GET", "/leaderboard");
    assert.equal(second.status, 200);
    assert.deepEqual(await second.json(), await first.json());
    assert.deepEqual(headersOf(second), headersOf(first));
    assert.notEqual(second.headers.get("x-request-id"), first.headers.get("x-request-id"));
    assert.match(second.headers.get("x-request-id") ?? "", /^[\w-]{8,}$/);
    const metrics = await t.rt.metrics.registry.metrics();
    const count =
      /scoreboard_http_requests_total\{route="\/leaderboard",method="GET",status="200"\} (\d+)/
        .exec(metrics);
    assert.equal(Number(count?.[1]), 2);
  } finally {
    await t.close();
  }
});

Deno.test("[cache] a change, another query or a turned window is never answered from the cache", async () => {
  const clock = fakeClock("2031-08-31T23:59:59.500Z");
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000" }, { clock });
  try {
    const { slug } = await createAction(t, 4);
    const s = await register(t);
    await (await complete(t, s.accessToken, slug)).body?.cancel();
    const day = await (await t.call("GET", "/leaderboard?period=day")).json();
    assert.equal(day.total, 1);
    assert.equal((await (await t.call("GET", "/leaderboard?period=day&limit=1")).json()).total, 1);

    // A completion: the next read sees it.
    await (await complete(t, s.accessToken, slug)).body?.cancel();
    const after = await (await t.call("GET", "/leaderboard?period=day")).json();
    assert.equal(after.entries[0].totalPoints, 8);

    // Midnight: the same URL is a new, empty board at once.
    clock.set("2031-09-01T00:00:00.100Z");
    const turned = await (await t.call("GET", "/leaderboard?period=day")).json();
    assert.deepEqual([turned.startsAt, turned.total], ["2031-09-01T00:00:00.000Z", 0]);
  } finally {
    await t.close();
  }
});

Deno.test("[cache] with CORS_ORIGINS, an answer kept for no origin is not served to one", async () => {
  const t = await openTestApp({ CORS_ORIGINS: "https://fans.example" });
  try {
    await (await t.call("GET", "/leaderboard")).body?.cancel();
    await (await t.call("GET", "/leaderboard")).body?.cancel();
    const cross = await t.call("GET", "/leaderboard", {
      headers: { origin: "https://fans.example" },
    });
    assert.equal(cross.headers.get("access-control-allow-origin"), "https://fans.example");
    await cross.body?.cancel();
    const plain = await t.call("GET", "/leaderboard");
    assert.equal(plain.headers.get("access-control-allow-origin"), null);
    await plain.body?.cancel();
  } finally {
    await t.close();
  }
});
