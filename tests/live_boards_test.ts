/**
 * The stream of each period's board (in process, with an injected clock, in both ranking modes):
 * its first event, the boards a completion refreshes, and the window's turn.
 */
import assert from "node:assert/strict";
import { fakeClock } from "./clock.ts";
import { complete, createAction, openTestApp, register, type TestApp } from "./helpers.ts";
import { readStream, type SseEvent, type SseStream } from "./sse.ts";

const MODES: Record<string, Record<string, string>> = {
  "redis": {},
  "postgres only": { REDIS_URL: "" },
};

const data = (event: SseEvent) => JSON.parse(event.data);

async function stream(t: TestApp, period?: string): Promise<SseStream> {
  const res = await t.call("GET", `/leaderboard/stream${period ? `?period=${period}` : ""}`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  return await readStream(res);
}

for (const [mode, env] of Object.entries(MODES)) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test(`[live boards, ${mode}] ${name}`, fn);

  test("each period's stream starts with its board; one completion refreshes all four", async () => {
    const clock = fakeClock("2031-05-14T10:00:00Z");
    const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000", ...env }, { clock });
    const streams: SseStream[] = [];
    try {
      const { slug } = await createAction(t, 12);
      const s = await register(t);
      for (const period of ["all", "day", "week", "month"]) {
        const opened = await stream(t, period);
        streams.push(opened);
        const first = await opened.next(2000);
        assert.equal(first.event, "leaderboard");
        assert.deepEqual(data(first), {
          period,
          startsAt: period === "all" ? null : data(first).startsAt,
          endsAt: period === "all" ? null : data(first).endsAt,
          total: 0,
          entries: [],
        });
      }
      const res = await complete(t, s.accessToken, slug);
      assert.equal(res.status, 201);
      await res.body?.cancel();
      for (const [i, period] of ["all", "day", "week", "month"].entries()) {
        const update = data(await streams[i].next(2000));
        assert.equal(update.period, period);
        assert.equal(update.total, 1);
        assert.deepEqual(update.entries, [{
          rank: 1,
          accountId: s.account.id,
          username: s.account.username,
          totalPoints: 12,
        }]);
      }
      // Without `period` the stream is the all-time board.
      const plain = await stream(t);
      streams.push(plain);
      assert.equal(data(await plain.next(2000)).period, "all");
    } finally {
      for (const s of streams) await s.close();
      await t.close();
    }
  });

  test("when a window turns, its stream sends the new, empty board with no message needed", async () => {
    const clock = fakeClock("2031-08-31T23:59:59.000Z"); // Sunday, the last of August
    const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000", ...env }, { clock });
    const streams: SseStream[] = [];
    try {
      const { slug } = await createAction(t, 5);
      const s = await register(t);
      await (await complete(t, s.accessToken, slug)).body?.cancel();
      const [day, week, all] = [await stream(t, "day"), await stream(t, "week"), await stream(t)];
      streams.push(day, week, all);
      for (const opened of [day, week, all]) {
        assert.equal(data(await opened.next(2000)).entries.length, 1);
      }

      clock.set("2031-09-01T00:00:00.000Z");
      for (const [opened, start] of [[day, "2031-09-01"], [week, "2031-09-01"]] as const) {
        const turned = data(await opened.next(5000));
        assert.deepEqual(
          [turned.startsAt, turned.total, turned.entries],
          [`${start}T00:00:00.000Z`, 0, []],
        );
      }
      // The all-time board did not turn: the next thing it hears of is the next completion.
      await (await complete(t, s.accessToken, slug)).body?.cancel();
      assert.equal(data(await all.next(2000)).entries[0].totalPoints, 10);
      const after = data(await day.next(2000));
      assert.equal(after.entries[0].totalPoints, 5);
    } finally {
      for (const s of streams) await s.close();
      await t.close();
    }
  });
}
