/**
 * The live page in a real browser: Debian's Chromium (`/usr/bin/chromium`, never a downloaded
 * one), driven by playwright-core, against real server processes.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { launch } from "./chromium.ts";
import { formatWindow } from "../src/live/page/format.js";
import {
  ADMIN_TOKEN,
  clearRedisPrefix,
  complete,
  createAction,
  createTestDatabase,
  eventually,
  httpClient,
  randomPrefix,
  register,
  type SessionBody,
  type TestDatabase,
  testEnv,
} from "./helpers.ts";
import { startServer, type TestServer } from "./server.ts";

/** Reconnection waits grow up to 30 s; these tests wait for a few attempts at most. */
const RECOVERY_MS = 30_000;

/** What a page did: its errors (failed stream requests aside), its states, its stream answers. */
interface Watched {
  errors: string[];
  /** Statuses of its /leaderboard/stream responses, in order. */
  streamStatuses: number[];
  /** The status region's states, in order, starting with the one the document has. */
  states(): Promise<string[]>;
}

/**
 * Runs before the page's own script (and outside its CSP): records every state the status region
 * goes through, so that tests can assert their order. A string: these tests have no DOM types.
 */
const RECORD_STATES = `
  globalThis.states = ["connecting"];
  new MutationObserver((changes) => {
    for (const change of changes) {
      if (change.target.id === "status") globalThis.states.push(change.target.dataset.state);
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-state"] });
`;

async function watch(page: Page): Promise<Watched> {
  const errors: string[] = [];
  const streamStatuses: number[] = [];
  const isStream = (url: string) => new URL(url).pathname === "/leaderboard/stream";
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => {
    // The browser logs each failed request (a 503, a refused connection): expected of the stream.
    if (message.type() === "error" && !isStream(message.location().url || "http://x/")) {
      errors.push(message.text());
    }
  });
  page.on("response", (res) => {
    if (isStream(res.url())) streamStatuses.push(res.status());
  });
  // Runs before the page's own script (and outside its CSP): records every state the status
  // region goes through, so that tests can assert their order.
  await page.addInitScript({ content: RECORD_STATES });
  return {
    errors,
    streamStatuses,
    states: () => page.evaluate("globalThis.states"),
  };
}

async function openStreams(server: TestServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^scoreboard_sse_open_streams (\d+)/m.exec(text)?.[1]);
}

async function completeOk(server: TestServer, session: SessionBody, slug: string): Promise<void> {
  const res = await complete(httpClient(server.url), session.accessToken, slug);
  assert.equal(res.status, 201, await res.text());
}

/** The page's rows as [account id, rank, points, change shown, scored]. */
async function rows(page: Page): Promise<[string, string, string, string, boolean][]> {
  return await page.locator("#entries tr").evaluateAll((trs) =>
    trs.map((tr) =>
      [
        tr.dataset.accountId ?? "",
        tr.querySelector(".rank")?.textContent ?? "",
        tr.querySelector(".points")?.textContent ?? "",
        tr.querySelector(".change [aria-hidden]")?.textContent ?? "",
        tr.classList.contains("scored"),
      ] as [string, string, string, string, boolean]
    )
  );
}

/** Records, in PostgreSQL (the truth), a completion made a year ago: all-time points only. */
async function completedLastYear(
  db: TestDatabase,
  accountId: number,
  slug: string,
): Promise<void> {
  const at = new Date(Date.now() - 400 * 86_400_000);
  await db.sql.begin(async (sql) => {
    const [action] = await sql`SELECT id, point_value FROM actions WHERE slug = ${slug}`;
    const points = action.point_value as number;
    await sql`INSERT INTO action_log (account_id, action_id, points_earned, completed_at)
              VALUES (${accountId}, ${action.id}, ${points}, ${at})`;
    await sql`INSERT INTO score_ledger (account_id, total_points, last_activity_at)
              VALUES (${accountId}, ${points}, ${at})
              ON CONFLICT (account_id)
              DO UPDATE SET total_points = score_ledger.total_points + ${points}`;
    await sql`INSERT INTO period_scores (period, starts_at, account_id, total_points)
              SELECT p, date_trunc(p, ${at}::timestamptz AT TIME ZONE 'UTC')::date,
                     ${accountId}, ${points}
              FROM unnest(ARRAY['day', 'week', 'month']) AS p`;
  });
}

Deno.test("[browser] the live board: a completion shows its movement and lights only its row; tabs by keyboard switch boards, one stream at a time; the actions", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const server = await startServer(testEnv(db, prefix));
  const browser = await launch();
  try {
    const api = httpClient(server.url);
    const small = await createAction(api, 10);
    const big = await createAction(api, 45);
    const ruled = await api.call("PATCH", `/admin/actions/${big.slug}`, {
      token: ADMIN_TOKEN,
      body: { limit: { count: 1, per: "day" } },
    });
    assert.equal(ruled.status, 200);
    const [veteran, a, b, c, d] = await Promise.all([1, 2, 3, 4, 5].map(() => register(api)));
    // The veteran scored last year: on the all-time board, on none of the current windows.
    await completedLastYear(db, veteran.account.id, big.slug);
    await clearRedisPrefix(prefix); // the copy is rebuilt from PostgreSQL
    for (const [session, times] of [[a, 3], [b, 2], [c, 1], [d, 1]] as const) {
      for (let i = 0; i < times; i++) await completeOk(server, session, small.slug);
    }
    const boards = Object.fromEntries(
      await Promise.all(["all", "day", "week", "month"].map(async (period) => {
        const res = await api.call("GET", `/leaderboard?period=${period}`);
        assert.equal(res.status, 200);
        return [period, await res.json()] as const;
      })),
    );
    assert.equal(boards.all.total, 5);
    assert.equal(boards.day.total, 4);

    const page = await browser.newPage();
    const watched = await watch(page);
    await page.goto(server.url);
    await page.locator("#status[data-state=live]").waitFor({ timeout: 5000 });
    assert.equal(await page.locator("#status-text").textContent(), "Live");
    assert.equal(await page.getAttribute("#tab-all", "aria-selected"), "true");
    assert.equal(await page.textContent("#window"), "All time");
    assert.equal(await page.textContent("#total"), "5 ranked accounts");
    assert.match(await page.textContent("#age") ?? "", /^Updated (just now|\d+ s ago)$/);
    const id = (session: SessionBody) => String(session.account.id);
    // c and d are tied: their order is the server's; their rank is shared.
    const initial = await rows(page);
    assert.deepEqual(initial.slice(0, 3), [
      [id(veteran), "1", "45", "", false],
      [id(a), "2", "30", "", false],
      [id(b), "3", "20", "", false],
    ]);
    assert.deepEqual(
      initial.slice(3).sort(),
      [[id(c), "4", "10", "", false], [id(d), "4", "10", "", false]].sort(),
    );
    assert.equal(await page.textContent("#announcer"), "");

    // The actions one can complete, most points first.
    await page.locator("#actions[aria-busy=false]").waitFor({ state: "attached", timeout: 5000 });
    assert.deepEqual(await page.locator("#actions li").allTextContents(), [
      `Action ${big.slug}45 points · once a day`,
      `Action ${small.slug}10 points`,
    ]);
    assert.equal(await page.isHidden("#actions-note"), true);

    // d scores 45 and overtakes everyone: four rows move, one row is lit.
    await completeOk(server, d, big.slug);
    await page.locator(`tr[data-account-id="${id(d)}"][data-rank="1"]`).waitFor({
      timeout: 5000,
    });
    assert.deepEqual(await rows(page), [
      [id(d), "1", "55", "▲3 +45", true],
      [id(veteran), "2", "45", "▼1", false],
      [id(a), "3", "30", "▼1", false],
      [id(b), "4", "20", "▼1", false],
      [id(c), "5", "10", "▼1", false],
    ]);
    assert.equal(
      await page.textContent(`tr[data-account-id="${id(d)}"] .change .visually-hidden`),
      "up 3, +45 points",
    );
    await eventually(async () =>
      (await page.textContent("#announcer")) === `${d.account.username} +45, now 1st`
    );

    // The tabs, by keyboard: Home is Today, Right goes on, End is All time; focus and selection
    // move together (activation follows focus), and the URL names the board.
    await page.focus("#tab-all");
    const expectations = [
      ["Home", "day", 4],
      ["ArrowRight", "week", 4],
      ["ArrowRight", "month", 4],
      ["End", "all", 5],
      ["ArrowRight", "day", 4],
      ["ArrowLeft", "all", 5],
    ] as const;
    for (const [key, period, total] of expectations) {
      await page.keyboard.press(key);
      const tab = page.locator(`#tab-${period}`);
      assert.equal(await tab.getAttribute("aria-selected"), "true", key);
      assert.equal(await page.evaluate("document.activeElement.id"), `tab-${period}`, key);
      assert.deepEqual(
        await page.locator("[role=tab]").evaluateAll((tabs) => tabs.map((t) => t.tabIndex)),
        ["day", "week", "month", "all"].map((p) => p === period ? 0 : -1),
      );
      assert.equal(await page.getAttribute("#board", "aria-labelledby"), `tab-${period}`);
      assert.equal(
        new URL(page.url()).searchParams.get("period"),
        period === "all" ? null : period,
      );
      await page.locator("#status[data-state=live]").waitFor({ timeout: 5000 });
      await page.locator("#table[aria-busy=false]").waitFor({ timeout: 5000 });
      assert.equal(
        await page.textContent("#total"),
        `${total} ranked accounts`,
        `${key} → ${period}`,
      );
      assert.equal(
        await page.textContent("#window"),
        formatWindow(boards[period].startsAt, boards[period].endsAt),
      );
      const shown = await rows(page);
      assert.equal(shown.length, total);
      assert.equal(shown.some(([account]) => account === id(veteran)), period === "all");
      // A board new to the page shows no movement.
      assert.deepEqual(shown.filter(([, , , change, scored]) => change || scored), []);
      // The old stream was closed: one open at a time.
      await eventually(async () => (await openStreams(server)) === 1);
    }
    assert.match(await page.textContent("#window") ?? "", /^All time$/);

    // A link opens the board it names.
    await page.goto(`${server.url}/?period=week`);
    await page.locator("#status[data-state=live]").waitFor({ timeout: 5000 });
    assert.equal(await page.getAttribute("#tab-week", "aria-selected"), "true");
    assert.equal(
      await page.textContent("#window"),
      formatWindow(boards.week.startsAt, boards.week.endsAt),
    );
    assert.match(await page.textContent("caption") ?? "", /this week/);
    assert.deepEqual(watched.errors, []);
  } finally {
    await browser.close();
    await server.stop();
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});

Deno.test("[browser] the page recovers by itself from a 503 (the stream cap), then shows the current board", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const server = await startServer(testEnv(db, prefix, { SSE_MAX_CLIENTS: "1" }));
  const browser = await launch();
  let holder: Response | undefined;
  try {
    const api = httpClient(server.url);
    // Another client holds the one stream this instance allows.
    holder = await fetch(`${server.url}/leaderboard/stream`);
    assert.equal(holder.status, 200);
    assert.equal(await openStreams(server), 1);

    const page = await browser.newPage();
    const watched = await watch(page);
    await page.goto(server.url);
    await page.locator("#status[data-state=reconnecting]").waitFor({ timeout: 5000 });
    assert.equal(await page.textContent("#status-text"), "Reconnecting…");
    assert.equal(watched.streamStatuses[0], 503);
    // The catalogue is empty yet, and says so.
    await page.locator("#actions[aria-busy=false]").waitFor({ state: "attached", timeout: 5000 });
    assert.equal(await page.locator("#actions li").count(), 0);
    assert.equal(
      await page.textContent("#actions-note"),
      "No actions are open right now; check back soon.",
    );

    const { slug } = await createAction(api, 10);
    // A score made while the page waits: the board it goes live with must have it.
    const player = await register(api);
    await completeOk(server, player, slug);
    await holder.body?.cancel();
    holder = undefined;

    const row = page.locator(`tr[data-account-id="${player.account.id}"]`);
    await row.waitFor({ timeout: RECOVERY_MS });
    assert.equal(await page.textContent("#status-text"), "Live");
    assert.equal(await row.locator(".points").textContent(), "10");
    assert.equal(await page.textContent("#total"), "1 ranked account");
    // In order: connecting, refused (reconnecting), live; every answer a 503 until the last.
    assert.deepEqual(await watched.states(), ["connecting", "reconnecting", "live"]);
    const last = watched.streamStatuses.length - 1;
    assert.ok(last >= 1, `stream answers: ${watched.streamStatuses}`);
    assert.deepEqual(watched.streamStatuses, [...Array(last).fill(503), 200]);
    assert.equal(await openStreams(server), 1);
    assert.deepEqual(watched.errors, []);
  } finally {
    await holder?.body?.cancel();
    await browser.close();
    await server.stop();
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});

Deno.test("[browser] the page recovers by itself from an instance restart and shows a completion made after it", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const env = testEnv(db, prefix);
  let server = await startServer(env);
  const browser = await launch();
  try {
    const { slug } = await createAction(httpClient(server.url), 10);
    const first = await register(httpClient(server.url));
    await completeOk(server, first, slug);

    const page = await browser.newPage();
    const watched = await watch(page);
    await page.goto(server.url);
    await page.locator(`tr[data-account-id="${first.account.id}"]`).waitFor({ timeout: 5000 });
    await page.locator("#status[data-state=live]").waitFor({ timeout: 5000 });

    // The instance drains and exits: its stream ends, the page says so and shows its board stale.
    await server.stop();
    await page.locator("#status[data-state=reconnecting]").waitFor({ timeout: 5000 });
    assert.equal(await page.textContent("#status-text"), "Reconnecting…");
    await page.locator("#age[data-state=stale]").waitFor({ timeout: 5000 });
    assert.match(await page.textContent("#age") ?? "", /^Not live: last confirmed /);
    assert.equal(await page.getAttribute("#table", "data-stale"), "");

    // A new instance on the same port: the page finds it on its own.
    server = await startServer({ ...env, PORT: String(server.port) });
    await page.locator("#status[data-state=live]").waitFor({ timeout: RECOVERY_MS });
    assert.equal(await page.getAttribute("#table", "data-stale"), null);
    assert.equal(await page.getAttribute("#age", "data-state"), "live");

    const second = await register(httpClient(server.url));
    await completeOk(server, second, slug);
    await completeOk(server, second, slug);
    const row = page.locator(`tr[data-account-id="${second.account.id}"]`);
    // Its two completions may come as one event or two.
    await eventually(async () =>
      (await row.count()) === 1 && (await row.locator(".points").textContent()) === "20"
    );
    assert.equal(await row.getAttribute("data-rank"), "1");
    assert.match(await row.getAttribute("class") ?? "", /\bscored\b/);
    assert.deepEqual(await watched.states(), ["connecting", "live", "reconnecting", "live"]);
    assert.deepEqual(watched.errors, []);
  } finally {
    await browser.close();
    await server.stop();
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});
