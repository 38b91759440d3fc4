/**
 * The operator console (`GET /admin/`) in Debian's Chromium, against the real server: signing in,
 * the catalogue with a rule, an account found, suspended, lifted, a completion voided, and each
 * change in the audit trail. Screenshots go to CONSOLE_SCREENSHOTS (a temporary directory by
 * default, printed), to be looked at.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { launch } from "./chromium.ts";
import {
  ADMIN_TOKEN,
  clearRedisPrefix,
  complete,
  createTestDatabase,
  httpClient,
  newUser,
  randomPrefix,
  register,
  testEnv,
} from "./helpers.ts";
import { startServer } from "./server.ts";

async function shot(page: Page, dir: string, name: string): Promise<void> {
  await page.screenshot({ path: `${dir}/${name}.png`, fullPage: true });
}

Deno.test("[console] an operator signs in, adds a rule, suspends and lifts an account, voids a completion, and sees it all in the trail", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const server = await startServer(testEnv(db, prefix));
  const browser = await launch();
  const dir = Deno.env.get("CONSOLE_SCREENSHOTS") ??
    await Deno.makeTempDir({ prefix: "scoreboard-console-" });
  console.log(`console screenshots: ${dir}`);
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error" && !/status of 403/.test(message.text())) {
        errors.push(message.text());
      }
    });
    const response = await page.goto(`${server.url}/admin/`);
    assert.equal(response?.status(), 200);
    assert.match(response?.headers()["content-security-policy"] ?? "", /script-src 'self'/);
    const status = page.locator("#status");

    // A wrong token: a clear message, and nothing of the console.
    await page.fill("#token", "not-the-token");
    await page.keyboard.press("Enter");
    // A locator, not waitForFunction: Playwright polls a function with eval in the page, which the
    // console's CSP (no 'unsafe-eval') refuses once the first synchronous check has not matched.
    await page.locator('#status[data-kind="error"]').waitFor();
    assert.match(await status.textContent() ?? "", /refused/);
    assert.equal(await page.isHidden("#app"), true);
    await shot(page, dir, "1-refused");

    // The right one, by keyboard.
    await page.fill("#token", ADMIN_TOKEN);
    await page.keyboard.press("Enter");
    await page.locator("#app").waitFor({ state: "visible" });
    assert.equal(await page.evaluate("sessionStorage.length"), 1);

    // An action with a daily limit.
    await page.fill("#action-slug", "console-daily");
    await page.fill("#action-label", "Console daily");
    await page.fill("#action-points", "15");
    await page.fill("#action-count", "1");
    await page.selectOption("#action-per", "day");
    await page.click("#action-submit");
    await page.locator("#actions tr", { hasText: "console-daily" }).waitFor();
    assert.match(
      await page.locator("#actions tr", { hasText: "console-daily" }).textContent() ?? "",
      /1 per day/,
    );
    await shot(page, dir, "2-catalogue");

    // An account that scores through the API.
    const api = httpClient(server.url);
    const user = newUser("console");
    const player = await register(api, user);
    const done = await complete(api, player.accessToken, "console-daily");
    assert.equal(done.status, 201);
    const { completion } = await done.json();

    // Found, opened, suspended until lifted.
    await page.click("#tab-accounts");
    await page.fill("#search-q", user.username.slice(0, 10));
    await page.click("#search button");
    await page.click(`button[aria-label="Open ${user.username}"]`);
    await page.locator("#account-heading", { hasText: user.username }).waitFor();
    assert.match(await page.textContent("#account-facts") ?? "", /15/);
    await page.fill("#suspend-reason", "Botting");
    await page.click("#suspend-form button");
    await page.locator("#account-facts", { hasText: "suspended" }).waitFor();
    const board = await (await fetch(`${server.url}/leaderboard`)).json();
    assert.deepEqual(board.entries, []);
    assert.equal((await api.call("POST", "/auth/login", { body: user })).status, 403);
    await shot(page, dir, "3-suspended");

    // Lifted, then the completion voided.
    await page.click("#lift");
    await page.locator("#account-facts", { hasText: "active" }).waitFor();
    assert.equal((await (await fetch(`${server.url}/leaderboard`)).json()).entries.length, 1);
    await page.click(`button[aria-label="Void completion ${completion.id}"]`);
    await page.fill(`input[aria-label="Why completion ${completion.id} is voided"]`, "Duplicate");
    await page.keyboard.press("Enter");
    await page.locator("#status", { hasText: "voided" }).waitFor();
    assert.match(await status.textContent() ?? "", /0 points now/);
    await shot(page, dir, "4-voided");

    // Each change in the trail, newest first.
    await page.click("#tab-audit");
    await page.click("#audit-filter button");
    await page.locator("#entries tr", { hasText: "completion.voided" }).waitFor();
    const changes = await page.locator("#entries tr td:nth-child(2)").allTextContents();
    assert.deepEqual(changes.slice(0, 4), [
      "completion.voided",
      "account.reinstated",
      "account.suspended",
      "action.created",
    ]);
    await shot(page, dir, "5-audit");

    // Keyboard: the tabs move with the arrow keys.
    await page.focus("#tab-audit");
    await page.keyboard.press("ArrowLeft");
    assert.equal(await page.getAttribute("#tab-accounts", "aria-selected"), "true");
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await server.stop();
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});
