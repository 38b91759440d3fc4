/**
 * The live page in a real browser: Debian's Chromium (`/usr/bin/chromium`, never a downloaded
 * one), driven by playwright-core, against the real server.
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import {
  clearRedisPrefix,
  complete,
  createAction,
  createTestDatabase,
  eventually,
  httpClient,
  randomPrefix,
  register,
  testEnv,
} from "./helpers.ts";
import { startServer } from "./server.ts";

const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

Deno.test("[browser] the page shows the live top 10, highlights a change, and says when it reconnects", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const server = await startServer(testEnv(db, prefix));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    const api = httpClient(server.url);
    const { slug } = await createAction(api, 10);
    const first = await register(api);
    await (await complete(api, first.accessToken, slug)).body?.cancel();

    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(String(error)));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    await page.goto(server.url);
    await page.locator("#status[data-state=live]").waitFor({ timeout: 5000 });
    assert.equal(await page.locator("#status-text").textContent(), "Live");
    await page.locator(`tr[data-account-id="${first.account.id}"]`).waitFor({ timeout: 5000 });

    // A new player completes an action through the API: the row appears, highlighted.
    const second = await register(api);
    await (await complete(api, second.accessToken, slug)).body?.cancel();
    await (await complete(api, second.accessToken, slug)).body?.cancel();
    const row = page.locator(`tr[data-account-id="${second.account.id}"]`);
    await row.waitFor({ timeout: 5000 });
    // The row may first show the state after one completion: wait for the state after both.
    await eventually(async () => (await row.locator("td").nth(2).textContent()) === "20");
    assert.deepEqual(await row.locator("td").allTextContents(), [
      "1",
      second.account.username,
      "20",
    ]);
    assert.match(await row.getAttribute("class") ?? "", /\bchanged\b/);
    const order = [];
    for (const tr of await page.locator("#entries tr").all()) {
      order.push(await tr.getAttribute("data-account-id"));
    }
    assert.deepEqual(order, [String(second.account.id), String(first.account.id)]);
    assert.equal(await page.title(), "Scoreboard — live top 10");

    // The server goes away: the page says it is reconnecting.
    await server.stop();
    await page.locator("#status[data-state=reconnecting]").waitFor({ timeout: 5000 });
    assert.equal(await page.locator("#status-text").textContent(), "Reconnecting…");
    assert.deepEqual(
      errors.filter((e) => !/leaderboard\/stream|ERR_CONNECTION_REFUSED/.test(e)),
      [],
    );
  } finally {
    await browser.close();
    await server.stop();
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});
