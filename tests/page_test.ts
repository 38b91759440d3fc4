/** The live page: its headers and policy, and its modules' logic (run here, without a browser). */
import assert from "node:assert/strict";
import { addScores, compareBoards, summarise } from "../src/live/page/board.js";
import {
  formatAge,
  formatMovement,
  formatRules,
  formatTotal,
  formatWindow,
  ordinal,
} from "../src/live/page/format.js";
import { createSseParser, type SseEvent } from "../src/live/page/sse.js";
import { parseRetryAfter, reconnectDelay } from "../src/live/page/stream.js";
import { openTestApp } from "./helpers.ts";

const SCRIPTS = ["/app.js", "/board.js", "/format.js", "/sse.js", "/stream.js"];

/** The page's own policy, checked on the document and on each of its files. */
function assertPagePolicy(res: Response, path: string): void {
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /default-src 'none'/, path);
  assert.match(csp, /script-src 'self'/, path);
  assert.match(csp, /connect-src 'self'/, path);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
  assert.equal(res.headers.get("cache-control"), "no-cache", path);
  assert.equal(res.headers.get("x-frame-options"), "DENY", path);
}

Deno.test("[page] GET / serves the live page with a strict policy of its own", async () => {
  const t = await openTestApp();
  try {
    const res = await t.call("GET", "/");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    assertPagePolicy(res, "/");
    const html = await res.text();
    assert.match(html, /<html lang="en">/);
    assert.match(html, /<script type="module" src="\/app.js"><\/script>/);
    assert.match(html, /role="status"/);
    assert.match(html, /role="tablist"/);
    assert.equal(html.match(/aria-live="polite"/g)?.length, 2, "the status and the announcer");
    // No inline code: the policy would block it anyway, so it would only be dead weight.
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/);
    assert.doesNotMatch(html, /<style|\son[a-z]+=/i);

    for (const path of SCRIPTS) {
      const js = await t.call("GET", path);
      assert.equal(js.status, 200, path);
      assert.match(js.headers.get("content-type") ?? "", /^text\/javascript/, path);
      assertPagePolicy(js, path);
      const source = await js.text();
      // Every module it imports is served too.
      for (const [, imported] of source.matchAll(/from "\.(\/[a-z_]+\.js)"/g)) {
        assert.ok(SCRIPTS.includes(imported), `${path} imports ${imported}`);
      }
    }
    const css = await t.call("GET", "/app.css");
    assert.equal(css.status, 200);
    assert.match(css.headers.get("content-type") ?? "", /^text\/css/);
    assertPagePolicy(css, "/app.css");
    await css.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("[cors] CORS_ORIGINS opens the public read routes and the stream, and nothing else", async () => {
  const t = await openTestApp({ CORS_ORIGINS: "https://board.example, https://other.example" });
  try {
    const origin = { origin: "https://board.example" };
    for (const path of ["/leaderboard", "/leaderboard/accounts/1", "/actions"]) {
      const res = await t.call("GET", path, { headers: origin });
      assert.equal(res.headers.get("access-control-allow-origin"), "https://board.example", path);
      await res.body?.cancel();
    }
    const preflight = await t.call("OPTIONS", "/leaderboard/stream", {
      headers: { ...origin, "access-control-request-method": "GET" },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "https://board.example");

    const stranger = await t.call("GET", "/leaderboard", {
      headers: { origin: "https://evil.example" },
    });
    assert.equal(stranger.headers.get("access-control-allow-origin"), null);
    await stranger.body?.cancel();

    for (
      const [method, path] of [["POST", "/auth/login"], ["GET", "/me"], [
        "POST",
        "/actions/x/complete",
      ]]
    ) {
      const res = await t.call(method, path, { headers: origin });
      assert.equal(res.headers.get("access-control-allow-origin"), null, `${method} ${path}`);
      await res.body?.cancel();
      const pre = await t.call("OPTIONS", path, {
        headers: { ...origin, "access-control-request-method": method },
      });
      assert.equal(pre.headers.get("access-control-allow-origin"), null, `OPTIONS ${path}`);
      await pre.body?.cancel();
    }
  } finally {
    await t.close();
  }
});

Deno.test("[cors] no origin is allowed by default", async () => {
  const t = await openTestApp();
  try {
    const res = await t.call("GET", "/leaderboard", {
      headers: { origin: "https://board.example" },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), null);
    await res.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("[page] the SSE parser reads events, comments and retry hints split anywhere", () => {
  const text =
    '\uFEFFretry: 2500\r\n: heartbeat\r\n\r\nid: 7\nevent: leaderboard\ndata: {"a":\ndata: 1}\n\n' +
    "data: plain\rdata: second\r\r: bye\n";
  // Every split of the text into two chunks (a CRLF pair split too) reads the same.
  for (let cut = 0; cut <= text.length; cut++) {
    const events: SseEvent[] = [];
    const retries: number[] = [];
    const comments: string[] = [];
    const parser = createSseParser({
      onEvent: (event) => events.push(event),
      onRetry: (ms) => retries.push(ms),
      onComment: (comment) => comments.push(comment),
    });
    parser.push(text.slice(0, cut));
    parser.push(text.slice(cut));
    assert.deepEqual(retries, [2500], `cut at ${cut}`);
    assert.deepEqual(comments, ["heartbeat", "bye"], `cut at ${cut}`);
    assert.deepEqual(events, [
      { type: "leaderboard", data: '{"a":\n1}', id: "7" },
      { type: "message", data: "plain\nsecond", id: "7" },
    ], `cut at ${cut}`);
  }
});

Deno.test("[page] the SSE parser ignores bad retry values and fields it does not know", () => {
  const events: SseEvent[] = [];
  const retries: number[] = [];
  const parser = createSseParser({
    onEvent: (event) => events.push(event),
    onRetry: (ms) => retries.push(ms),
  });
  parser.push("retry: 2s\nretry: -1\nfoo: bar\nevent: x\n\ndata\n\n");
  assert.deepEqual(retries, []);
  // An event with no data is not dispatched; a field name alone is an empty value.
  assert.deepEqual(events, [{ type: "message", data: "", id: "" }]);
});

Deno.test("[page] reconnection waits grow exponentially with jitter, capped, and honour Retry-After", () => {
  const low = () => 0;
  const high = () => 1;
  // Equal jitter: between half the backoff and the whole of it.
  assert.equal(reconnectDelay({ attempt: 0, baseMs: 2000 }, low), 1000);
  assert.equal(reconnectDelay({ attempt: 0, baseMs: 2000 }, high), 2000);
  assert.equal(reconnectDelay({ attempt: 3, baseMs: 2000 }, low), 8000);
  assert.equal(reconnectDelay({ attempt: 3, baseMs: 2000 }, high), 16000);
  assert.equal(reconnectDelay({ attempt: 40, baseMs: 2000 }, high), 30000);
  // Never sooner than the server asked; jitter on top spreads the clients that it sent away.
  assert.equal(reconnectDelay({ attempt: 0, baseMs: 1000, retryAfterMs: 5000 }, low), 5000);
  assert.equal(reconnectDelay({ attempt: 0, baseMs: 1000, retryAfterMs: 5000 }, high), 5500);
  assert.equal(reconnectDelay({ attempt: 4, baseMs: 1000, retryAfterMs: 2000 }, low), 8000);
  assert.equal(reconnectDelay({ attempt: 0, baseMs: 1000, retryAfterMs: 1e9 }, low), 300000);

  assert.equal(parseRetryAfter("2"), 2000);
  assert.equal(parseRetryAfter(" 0 "), 0);
  assert.equal(parseRetryAfter(null), undefined);
  assert.equal(parseRetryAfter("soon"), undefined);
  const now = Date.parse("2026-11-24T10:00:00Z");
  assert.equal(parseRetryAfter("Tue, 24 Nov 2026 10:00:30 GMT", now), 30000);
  assert.equal(parseRetryAfter("Tue, 24 Nov 2026 09:00:00 GMT", now), 0);
});

const entry = (rank: number, accountId: number, totalPoints: number) => ({
  rank,
  accountId,
  username: `p${accountId}`,
  totalPoints,
});
const board = (entries: ReturnType<typeof entry>[], total = entries.length, startsAt = null) => ({
  period: "all",
  startsAt,
  endsAt: null,
  total,
  entries,
});

Deno.test("[page] one scorer overtaking others lights only its own row", () => {
  const before = board([entry(1, 1, 30), entry(2, 2, 20), entry(3, 3, 10), entry(3, 4, 10)]);
  const after = board([entry(1, 4, 55), entry(2, 1, 30), entry(3, 2, 20), entry(4, 3, 10)]);
  const rows = compareBoards(before, after);
  assert.deepEqual(
    rows.map(({ accountId, move, gained, scored }) => ({ accountId, move, gained, scored })),
    [
      { accountId: 4, move: 2, gained: 45, scored: true },
      { accountId: 1, move: -1, gained: null, scored: false },
      { accountId: 2, move: -1, gained: null, scored: false },
      { accountId: 3, move: -1, gained: null, scored: false },
    ],
  );
  // The first event of a board (or of another window) shows no movement at all.
  assert.deepEqual(compareBoards(null, after).filter((row) => row.move || row.scored), []);
  const nextWeek = { ...after, startsAt: "2026-11-30T00:00:00.000Z" };
  assert.deepEqual(compareBoards(after, nextWeek).filter((row) => row.move || row.scored), []);
});

Deno.test("[page] a newcomer scored when the board was whole or it passed the lowest shown", () => {
  const top = (n: number) => Array.from({ length: n }, (_, i) => entry(i + 1, i + 1, 100 - i));
  // Every ranked account was shown: the newcomer had nothing, so all its points are new.
  const whole = compareBoards(board(top(3)), board([...top(3), entry(4, 99, 5)]));
  assert.deepEqual(whole.at(-1), { ...entry(4, 99, 5), move: "new", gained: 5, scored: true });
  // A full top 10 of 12: a newcomer above the old 10th scored (by how much is unknown)…
  const full = board(top(10), 12);
  const passed = compareBoards(full, board([entry(1, 99, 95), ...top(9)], 12));
  assert.deepEqual(passed.find((row) => row.accountId === 99), {
    ...entry(1, 99, 95),
    move: "new",
    gained: null,
    scored: true,
  });
  // …one that only moved up because someone left did not.
  const left = compareBoards(full, board([...top(9), entry(10, 99, 91)], 11));
  assert.equal(left.find((row) => row.accountId === 99)?.scored, false);
  assert.equal(left.find((row) => row.accountId === 99)?.move, "new");
});

Deno.test("[page] scorers are summed until announced, in one short sentence", () => {
  const first = compareBoards(board([entry(1, 1, 10)]), board([entry(1, 1, 55)]));
  const pending = addScores(new Map(), first);
  addScores(pending, compareBoards(board([entry(1, 1, 55)]), board([entry(1, 1, 60)])));
  assert.equal(summarise(pending.values()), "p1 +50, now 1st");
  const many = [1, 2, 3, 4, 5].map((i) => ({
    accountId: i,
    username: `p${i}`,
    gained: i === 2 ? null : 1000 * i,
    rank: i,
  }));
  assert.equal(
    summarise(many.reverse()),
    "p1 +1,000, now 1st; p2 scored, now 2nd; p3 +3,000, now 3rd; and 2 more scored",
  );
  assert.deepEqual([1, 2, 3, 4, 11, 12, 13, 21, 22, 101].map(ordinal), [
    "1st",
    "2nd",
    "3rd",
    "4th",
    "11th",
    "12th",
    "13th",
    "21st",
    "22nd",
    "101st",
  ]);
});

Deno.test("[page] windows, totals, ages and movement read as people write them", () => {
  assert.equal(formatWindow(null, null), "All time");
  assert.equal(
    formatWindow("2026-11-24T00:00:00.000Z", "2026-11-25T00:00:00.000Z"),
    "Tue 24 Nov 2026, UTC",
  );
  assert.equal(
    formatWindow("2026-11-23T00:00:00.000Z", "2026-11-30T00:00:00.000Z"),
    "Mon 23 Nov – Sun 29 Nov 2026, UTC",
  );
  assert.equal(
    formatWindow("2026-12-28T00:00:00.000Z", "2027-01-04T00:00:00.000Z"),
    "Mon 28 Dec 2026 – Sun 3 Jan 2027, UTC",
  );
  assert.equal(
    formatWindow("2028-02-01T00:00:00.000Z", "2028-03-01T00:00:00.000Z"),
    "Tue 1 Feb – Tue 29 Feb 2028, UTC",
  );
  assert.equal(formatTotal(0), "No ranked accounts yet");
  assert.equal(formatTotal(1), "1 ranked account");
  assert.equal(formatTotal(12345), "12,345 ranked accounts");
  assert.equal(formatAge(400), "just now");
  assert.equal(formatAge(3200), "3 s ago");
  assert.equal(formatAge(185_000), "3 min ago");
  assert.equal(formatAge(7_300_000), "2 h ago");
  assert.deepEqual(formatMovement(2, 45), { shown: "▲2 +45", spoken: "up 2, +45 points" });
  assert.deepEqual(formatMovement(-1, null), { shown: "▼1", spoken: "down 1" });
  assert.deepEqual(formatMovement("new", 5), {
    shown: "new +5",
    spoken: "new in the top 10, +5 points",
  });
  assert.deepEqual(formatMovement(null, null), { shown: "", spoken: "" });
});

Deno.test("[page] an action's rules read as a few words beside its points", () => {
  assert.equal(formatRules(null, null), "");
  assert.equal(formatRules({ count: 1, per: "day" }, null), "once a day");
  assert.equal(formatRules({ count: 2, per: "week" }, null), "twice a week");
  assert.equal(formatRules({ count: 3, per: "month" }, null), "3 times a month");
  assert.equal(formatRules({ count: 1, per: "ever" }, null), "once");
  assert.equal(formatRules({ count: 1000, per: "ever" }, null), "1,000 times");
  assert.equal(formatRules(null, 45), "at most every 45 s");
  assert.equal(formatRules(null, 5400), "at most every 1 h 30 min");
  assert.equal(
    formatRules({ count: 1, per: "day" }, 2 * 86_400),
    "once a day · at most every 2 days",
  );
});
