/**
 * The boards' specification (all time, day, week, month; pages, entries, around, by ids), run
 * as it is against both ways an instance ranks: the Redis copy, and PostgreSQL alone (one
 * instance without Redis). The clock is injected, so that windows turn when a test says so.
 */
import assert from "node:assert/strict";
import { fakeClock } from "./clock.ts";
import {
  accountsWith,
  complete,
  createAction,
  openTestApp,
  problem,
  register,
  type SessionBody,
  type TestApp,
} from "./helpers.ts";

type Entry = { rank: number; accountId: number; username: string; totalPoints: number };

const MODES: Record<string, Record<string, string>> = {
  "redis": {},
  "postgres only": { REDIS_URL: "" },
};

async function json(t: TestApp, path: string, token?: string) {
  const res = await t.call("GET", path, { token });
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  return await res.json();
}

const ranked = (entries: Entry[]) => entries.map((e) => [e.rank, e.accountId, e.totalPoints]);

for (const [mode, env] of Object.entries(MODES)) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test(`[boards, ${mode}] ${name}`, fn);
  const open = (clock?: string) =>
    openTestApp(
      { COMPLETIONS_PER_SECOND: "1000", ...env },
      clock ? { clock: fakeClock(clock) } : {},
    );

  test("entries are best first, ties share a rank, pages keep it, total counts them all", async () => {
    const t = await open();
    try {
      const [a, b, c, d, e, f] = await accountsWith(t, [5, 9, 9, 3, 9, 1]);
      const id = (s: SessionBody) => s.account.id;
      const board = await json(t, "/leaderboard");
      assert.deepEqual(
        [board.period, board.startsAt, board.endsAt, board.total],
        ["all", null, null, 6],
      );
      assert.deepEqual(board.entries.map((e: Entry) => e.rank), [1, 1, 1, 4, 5, 6]);
      assert.deepEqual(
        new Set(board.entries.slice(0, 3).map((e: Entry) => e.accountId)),
        new Set([id(b), id(c), id(e)]),
      );
      assert.deepEqual(ranked(board.entries.slice(3)), [[4, id(a), 5], [5, id(d), 3], [
        6,
        id(f),
        1,
      ]]);
      assert.equal(board.entries[0].username.length > 0, true);

      // A page that starts inside the tie keeps the tie's rank, in the same order.
      const page = await json(t, "/leaderboard?limit=2&offset=1");
      assert.equal(page.total, 6);
      assert.deepEqual(ranked(page.entries), ranked(board.entries.slice(1, 3)));
      const tail = await json(t, "/leaderboard?limit=10&offset=4");
      assert.deepEqual(ranked(tail.entries), ranked(board.entries.slice(4)));
      const beyond = await json(t, "/leaderboard?offset=50");
      assert.deepEqual([beyond.total, beyond.entries], [6, []]);

      // One account's entry ranks as the board does.
      const entry = await json(t, `/leaderboard/accounts/${id(c)}`);
      assert.deepEqual(entry, {
        rank: 1,
        accountId: id(c),
        username: c.account.username,
        totalPoints: 9,
      });
      assert.equal((await json(t, `/leaderboard/accounts/${id(f)}`)).rank, 6);
    } finally {
      await t.close();
    }
  });

  test("a completion counts in all four current boards, and GET /me gives each", async () => {
    const t = await open("2031-05-14T10:00:00Z");
    try {
      const { slug } = await createAction(t, 40);
      const [x, y] = [await register(t), await register(t)];
      for (const s of [x, y, y]) {
        const res = await complete(t, s.accessToken, slug);
        assert.equal(res.status, 201);
        await res.body?.cancel();
      }
      const windows = {
        day: ["2031-05-14T00:00:00.000Z", "2031-05-15T00:00:00.000Z"],
        week: ["2031-05-12T00:00:00.000Z", "2031-05-19T00:00:00.000Z"],
        month: ["2031-05-01T00:00:00.000Z", "2031-06-01T00:00:00.000Z"],
      };
      for (const period of ["all", "day", "week", "month"] as const) {
        const board = await json(t, `/leaderboard?period=${period}`);
        assert.equal(board.period, period);
        assert.deepEqual(
          [board.startsAt, board.endsAt],
          period === "all" ? [null, null] : windows[period],
        );
        assert.equal(board.total, 2);
        assert.deepEqual(ranked(board.entries), [[1, y.account.id, 80], [2, x.account.id, 40]]);
        assert.equal(
          (await json(t, `/leaderboard/accounts/${x.account.id}?period=${period}`)).rank,
          2,
        );
      }
      const me = await json(t, "/me", x.accessToken);
      const standing = { totalPoints: 40, rank: 2 };
      assert.deepEqual([me.totalPoints, me.rank], [40, 2]);
      assert.deepEqual(me.periods, { day: standing, week: standing, month: standing });
    } finally {
      await t.close();
    }
  });

  test("windows turn at their edges: Sunday 23:59:59.999 → Monday the 1st, a leap day", async () => {
    const clock = fakeClock("2031-08-31T23:59:59.999Z"); // a Sunday, the last of August
    const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000", ...env }, { clock });
    try {
      const { slug } = await createAction(t, 7);
      const [before, after] = [await register(t), await register(t)];
      await (await complete(t, before.accessToken, slug)).body?.cancel();
      clock.set("2031-09-01T00:00:00.000Z"); // Monday, September 1st: every window turns
      await (await complete(t, after.accessToken, slug)).body?.cancel();

      for (const period of ["day", "week", "month"]) {
        const now = await json(t, `/leaderboard?period=${period}`);
        assert.deepEqual(ranked(now.entries), [[1, after.account.id, 7]], period);
        assert.equal(now.startsAt, "2031-09-01T00:00:00.000Z");
        const past = await json(t, `/leaderboard?period=${period}&at=2031-08-31T23:59:59.999Z`);
        assert.deepEqual(ranked(past.entries), [[1, before.account.id, 7]], period);
        assert.equal(past.total, 1);
      }
      const week = await json(t, "/leaderboard?period=week&at=2031-08-31");
      assert.deepEqual([week.startsAt, week.endsAt], [
        "2031-08-25T00:00:00.000Z",
        "2031-09-01T00:00:00.000Z",
      ]);
      assert.equal((await json(t, "/leaderboard")).total, 2);

      clock.set("2032-02-29T12:00:00Z"); // a leap day
      await (await complete(t, before.accessToken, slug)).body?.cancel();
      clock.set("2032-03-01T00:00:00Z");
      const leap = await json(t, "/leaderboard?period=day&at=2032-02-29");
      assert.deepEqual(
        [leap.startsAt, leap.endsAt, ranked(leap.entries)],
        ["2032-02-29T00:00:00.000Z", "2032-03-01T00:00:00.000Z", [[1, before.account.id, 7]]],
      );
      const february = await json(t, "/leaderboard?period=month&at=2032-02-01T00:00:00Z");
      assert.deepEqual(ranked(february.entries), [[1, before.account.id, 7]]);
      assert.deepEqual((await json(t, "/leaderboard?period=month")).entries, []);
    } finally {
      await t.close();
    }
  });

  test("a completion made at a past time shows in its past window, not in the current one", async () => {
    const clock = fakeClock("2031-03-10T12:00:00Z");
    const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000", ...env }, { clock });
    try {
      const { slug } = await createAction(t, 25);
      const s = await register(t);
      const made = await complete(t, s.accessToken, slug);
      assert.equal((await made.json()).completion.completedAt, "2031-03-10T12:00:00.000Z");
      clock.set("2031-04-02T08:00:00Z");

      for (const period of ["day", "week", "month"]) {
        const current = await json(t, `/leaderboard?period=${period}`);
        assert.deepEqual([current.total, current.entries], [0, []], period);
        const res = await t.call("GET", `/leaderboard/accounts/${s.account.id}?period=${period}`);
        assert.equal(res.status, 404);
        await problem(res);
      }
      const march = await json(t, "/leaderboard?period=month&at=2031-03-31T23:00:00Z");
      assert.deepEqual(ranked(march.entries), [[1, s.account.id, 25]]);
      const entry = await json(
        t,
        `/leaderboard/accounts/${s.account.id}?period=day&at=2031-03-10`,
      );
      assert.equal(entry.totalPoints, 25);
      assert.equal((await json(t, "/leaderboard")).entries[0].totalPoints, 25);
      const me = await json(t, "/me", s.accessToken);
      const none = { totalPoints: 0, rank: null };
      assert.deepEqual(me.periods, { day: none, week: none, month: none });
      assert.deepEqual([me.totalPoints, me.rank], [25, 1]);
    } finally {
      await t.close();
    }
  });

  test("around: the account with up to radius entries each side, at the top, the bottom, in ties", async () => {
    const t = await open();
    try {
      const s = await accountsWith(t, [10, 8, 8, 8, 6, 4, 2]);
      const around = async (who: SessionBody, radius?: number) => {
        const body = await json(
          t,
          `/leaderboard/accounts/${who.account.id}/around${radius ? `?radius=${radius}` : ""}`,
        );
        assert.equal(body.period, "all");
        return body.entries as Entry[];
      };
      const board: Entry[] = (await json(t, "/leaderboard?limit=100")).entries;
      const positionOf = (who: SessionBody) =>
        board.findIndex((e) => e.accountId === who.account.id);

      // At the top: nothing above, `radius` below.
      assert.deepEqual(ranked(await around(s[0], 2)), ranked(board.slice(0, 3)));
      // At the bottom: `radius` above, nothing below.
      assert.deepEqual(ranked(await around(s[6], 2)), ranked(board.slice(4, 7)));
      // In a tie: the same order as the whole board, ranks shared.
      for (const who of [s[1], s[2], s[3]]) {
        const p = positionOf(who);
        const got = await around(who, 1);
        assert.deepEqual(ranked(got), ranked(board.slice(p - 1, p + 2)));
        assert.equal(got.find((e) => e.accountId === who.account.id)!.rank, 2);
      }
      // The default radius is 5.
      assert.equal((await around(s[3])).length, 7);

      const nobody = await register(t);
      for (const id of [nobody.account.id, 999999]) {
        const res = await t.call("GET", `/leaderboard/accounts/${id}/around`);
        assert.equal(res.status, 404);
        await problem(res);
      }
    } finally {
      await t.close();
    }
  });

  test("by ids: those ranked, best first, ranked as in the whole board; others left out", async () => {
    const t = await open();
    try {
      const [a, b, c, d] = await accountsWith(t, [3, 9, 5, 9]);
      const unranked = await register(t);
      const ids = [a, b, c, unranked].map((s) => s.account.id);
      const body = await json(t, `/leaderboard/accounts?ids=${[...ids, 999999, ids[0]].join(",")}`);
      assert.equal(body.period, "all");
      assert.deepEqual(ranked(body.entries), [
        [1, b.account.id, 9],
        [3, c.account.id, 5],
        [4, a.account.id, 3],
      ]);
      assert.equal(body.entries[0].username, b.account.username);
      assert.ok(d.account.id > 0);
      const none = await json(t, `/leaderboard/accounts?ids=${unranked.account.id}&period=day`);
      assert.deepEqual(none, { period: "day", entries: [] });
    } finally {
      await t.close();
    }
  });

  test("DELETE /me takes the account off every board, past windows included", async () => {
    const clock = fakeClock("2031-06-10T09:00:00Z");
    const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000", ...env }, { clock });
    try {
      const { slug } = await createAction(t, 3);
      const [gone, kept] = [await register(t), await register(t)];
      for (const s of [gone, gone, kept]) {
        await (await complete(t, s.accessToken, slug)).body?.cancel();
      }
      clock.set("2031-06-11T09:00:00Z");
      await (await complete(t, gone.accessToken, slug)).body?.cancel();
      const res = await t.call("DELETE", "/me", { token: gone.accessToken });
      assert.equal(res.status, 204);

      for (
        const query of [
          "",
          "?period=day",
          "?period=week",
          "?period=month",
          "?period=day&at=2031-06-10",
        ]
      ) {
        const board = await json(t, `/leaderboard${query}`);
        assert.deepEqual(
          board.entries.map((e: Entry) => e.accountId),
          query === "?period=day" ? [] : [kept.account.id],
          query,
        );
        assert.equal(board.total, query === "?period=day" ? 0 : 1, query);
      }
      const picked = await json(
        t,
        `/leaderboard/accounts?ids=${gone.account.id},${kept.account.id}`,
      );
      assert.deepEqual(picked.entries.map((e: Entry) => e.accountId), [kept.account.id]);
    } finally {
      await t.close();
    }
  });

  test("bad period, at, radius and ids are 400 problems", async () => {
    const t = await open("2031-01-15T12:00:00Z");
    try {
      const [s] = await accountsWith(t, [1]);
      const id = s.account.id;
      const tooMany = Array.from({ length: 101 }, (_, i) => i + 1).join(",");
      for (
        const path of [
          "/leaderboard?period=year",
          "/leaderboard?period=",
          "/leaderboard?at=yesterday",
          "/leaderboard?at=2031-02-30",
          "/leaderboard?period=day&at=2031-01-16",
          "/leaderboard?period=day&at=2031-01-15T12:00:01Z",
          "/leaderboard?at=2031-01-15T10:00:00Z&at=2031-01-14",
          `/leaderboard/accounts/${id}?period=hour`,
          `/leaderboard/accounts/${id}/around?radius=0`,
          `/leaderboard/accounts/${id}/around?radius=51`,
          `/leaderboard/accounts/${id}/around?radius=two`,
          `/leaderboard/accounts?ids=${tooMany}`,
          "/leaderboard/accounts?ids=",
          "/leaderboard/accounts?ids=1,two",
          "/leaderboard/accounts?ids=0",
          "/leaderboard/accounts",
          "/leaderboard/stream?period=decade",
        ]
      ) {
        const res = await t.call("GET", path);
        assert.equal(res.status, 400, path);
        const body = await problem(res);
        assert.equal(body.status, 400);
        assert.ok(Array.isArray(body.errors) && body.errors.length > 0, path);
      }
      // The limits themselves are fine: 100 ids, radius 50, at = now.
      const hundred = Array.from({ length: 100 }, (_, i) => i + 1).join(",");
      for (
        const path of [
          `/leaderboard/accounts?ids=${hundred}`,
          `/leaderboard/accounts/${id}/around?radius=50`,
          "/leaderboard?period=day&at=2031-01-15T12:00:00Z",
          "/leaderboard?period=week&at=2031-01-15",
        ]
      ) {
        const res = await t.call("GET", path);
        assert.equal(res.status, 200, path);
        await res.body?.cancel();
      }
    } finally {
      await t.close();
    }
  });
}
