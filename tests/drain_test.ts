/**
 * Deploys and crashes nobody notices: two real instances behind Debian's nginx with the shipped
 * deploy/nginx.conf, under a load of keyed completions and reads with live boards followed by the
 * page's own follower. An instance stopped with SIGTERM (a rolling deploy) or SIGKILL (a crash)
 * costs the clients no failed request and no completion counted twice, and the streams it held
 * come back within the rejoin hint and a second. Streams rebalance by their lifetime after a
 * restart, and a pile of streams joining a busy board does not make the others hear it more often.
 */
import assert from "node:assert/strict";
import { followStream } from "../src/live/page/stream.js";
import { REJOIN_MS } from "../src/live/hub.ts";
import {
  actionAndPlayers,
  clearRedisPrefix,
  createTestDatabase,
  eventually,
  randomPrefix,
  type SessionBody,
  type TestDatabase,
  testEnv,
} from "./helpers.ts";
import { startProxy } from "./nginx.ts";
import { startServer, type TestServer } from "./server.ts";
import { openStream } from "./sse.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function openStreamsOf(server: TestServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^scoreboard_sse_open_streams (\d+)/m.exec(text)?.[1] ?? NaN);
}

/** Two instances on one database and Redis prefix, behind nginx. */
async function cluster(env: Record<string, string>) {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const base = testEnv(db, prefix, {
    TRUSTED_PROXY_HOPS: "1",
    COMPLETIONS_PER_SECOND: "100000",
    ...env,
  });
  const servers = [await startServer(base), await startServer(base)];
  const proxy = await startProxy(servers.map((server) => `127.0.0.1:${server.port}`));
  return {
    db,
    prefix,
    base,
    servers,
    proxy,
    async close() {
      await proxy.stop();
      await Promise.all(servers.map((server) => server.stop().catch(() => {})));
      await db.drop();
      await clearRedisPrefix(prefix);
    },
  };
}

/** What the load saw: every answer's status (0: no answer), and the keys acknowledged. */
interface Seen {
  statuses: Map<string, number[]>;
  acknowledged: Set<string>;
}

/** Each player completes with a fresh key and reads the board, in a loop, until `until` resolves. */
async function load(
  url: string,
  slug: string,
  sessions: SessionBody[],
  until: Promise<void>,
): Promise<Seen> {
  const seen: Seen = { statuses: new Map(), acknowledged: new Set() };
  let stop = false;
  until.then(() => stop = true);
  const note = (what: string, status: number) =>
    seen.statuses.set(what, [...(seen.statuses.get(what) ?? []), status]);
  await Promise.all(sessions.map(async (session) => {
    while (!stop) {
      const key = crypto.randomUUID();
      const completed = await fetch(`${url}/actions/${slug}/complete`, {
        method: "POST",
        headers: { authorization: `Bearer ${session.accessToken}`, "idempotency-key": key },
      }).then(async (res) => (await res.body?.cancel(), res.status), () => 0);
      note("complete", completed);
      if (completed === 201 || completed === 200) seen.acknowledged.add(key);
      const read = await fetch(`${url}/leaderboard`)
        .then(async (res) => (await res.body?.cancel(), res.status), () => 0);
      note("leaderboard", read);
    }
  }));
  return seen;
}

/** Statuses outside 2xx, by what was asked. */
function failures(seen: Seen): Record<string, number[]> {
  const failed: Record<string, number[]> = {};
  for (const [what, statuses] of seen.statuses) {
    const bad = statuses.filter((status) => status < 200 || status >= 300);
    if (bad.length > 0) failed[what] = bad;
  }
  return failed;
}

/** Every acknowledged key is one completion in PostgreSQL, and no completion is there twice. */
async function countedOnce(db: TestDatabase, seen: Seen): Promise<void> {
  const keys = new Set(
    (await db.sql`SELECT idempotency_key FROM completion_idempotency_keys`)
      .map((row) => row.idempotency_key as string),
  );
  const missing = [...seen.acknowledged].filter((key) => !keys.has(key));
  assert.deepEqual(missing, [], "acknowledged completions missing from PostgreSQL");
  const [{ log, keyed, points }] = await db.sql`
    SELECT (SELECT count(*)::int FROM action_log) AS log,
           (SELECT count(*)::int FROM completion_idempotency_keys) AS keyed,
           (SELECT coalesce(sum(total_points), 0)::int FROM score_ledger) AS points`;
  assert.equal(log, keyed, "every completion carries its own key");
  assert.equal(points, log, "the ledger holds each completion once");
}

/** Followers of the all-time board (the page's own code), with when each received a board. */
function followers(url: string, count: number) {
  const boards: number[][] = [];
  const closers: { close(): void }[] = [];
  for (let i = 0; i < count; i++) {
    const mine: number[] = [];
    boards.push(mine);
    closers.push(followStream(`${url}/leaderboard/stream?period=all`, {
      onBoard: () => mine.push(performance.now()),
      onState() {},
      onHeard() {},
    }));
  }
  return {
    /**
     * The longest time each follower went without a board since `from` (performance.now()), the
     * longest first. The board changes every interval meanwhile, so a longer wait is a stream
     * lost and found again.
     */
    longestGaps(from: number): number[] {
      const now = performance.now();
      return boards.map((mine) => {
        const times = [from, ...mine.filter((at) => at > from), now];
        let longest = 0;
        for (let i = 1; i < times.length; i++) longest = Math.max(longest, times[i] - times[i - 1]);
        return longest;
      }).sort((a, b) => b - a);
    },
    close: () => closers.forEach((closer) => closer.close()),
  };
}

/** One player completing every few milliseconds until stopped: the board changes every interval. */
function trickle(url: string, slug: string, session: SessionBody) {
  let running = true;
  const done = (async () => {
    while (running) {
      const res = await fetch(`${url}/actions/${slug}/complete`, {
        method: "POST",
        headers: { authorization: `Bearer ${session.accessToken}` },
      }).catch(() => null);
      await res?.body?.cancel();
      await sleep(20);
    }
  })();
  return { stop: async () => (running = false, await done) };
}

Deno.test("[drain] SIGTERM under load behind nginx: no failed request, every completion once, streams back at once", async () => {
  // The default drain (5 s): longer than nginx's idle upstream keep-alive (4 s).
  // A stream ended without the rejoin hint would wait 2.5 to 5 s (SSE_RETRY_MS) to come back.
  const c = await cluster({ SHUTDOWN_DRAIN_MS: "5000", SSE_RETRY_MS: "5000" });
  try {
    const { slug, sessions } = await actionAndPlayers(c.proxy.url, 16);
    const follow = followers(c.proxy.url, 100);
    await eventually(async () =>
      (await openStreamsOf(c.servers[0])) + (await openStreamsOf(c.servers[1])) === 100
    );
    const onA = await openStreamsOf(c.servers[0]);
    assert.ok(onA > 0, "some streams are on the instance that stops");
    let finish = () => {};
    const running = load(c.proxy.url, slug, sessions, new Promise((resolve) => finish = resolve));
    await sleep(2000);
    const stoppedAt = performance.now();
    const stopped = c.servers[0].stop("SIGTERM");
    // Draining: unready at once, serving meanwhile.
    await eventually(async () => (await fetch(`${c.servers[0].url}/readyz`)).status === 503);
    const status = await stopped;
    assert.equal(status.code, 0);
    await sleep(2000);
    // The stopped instance's streams came back on the other within the rejoin hint and a second:
    // no follower went longer without a board while it changed every interval.
    const gaps = follow.longestGaps(stoppedAt);
    finish();
    const seen = await running;
    assert.deepEqual(failures(seen), {});
    assert.ok(seen.acknowledged.size > 100, `completions acknowledged: ${seen.acknowledged.size}`);
    await countedOnce(c.db, seen);
    assert.equal(await openStreamsOf(c.servers[1]), 100);
    console.info(
      `SIGTERM: ${seen.acknowledged.size} completions acknowledged, ${onA} streams moved, ` +
        `longest gap ${Math.round(gaps[0])} ms`,
    );
    assert.ok(gaps[0] <= REJOIN_MS + 1000, `longest gap ${Math.round(gaps[0])} ms`);
    follow.close();
  } finally {
    await c.close();
  }
});

Deno.test("[drain] SIGKILL under load behind nginx: keyed completions retried elsewhere, none failed, none twice", async () => {
  const c = await cluster({});
  try {
    const { slug, sessions } = await actionAndPlayers(c.proxy.url, 16);
    let finish = () => {};
    const running = load(c.proxy.url, slug, sessions, new Promise((resolve) => finish = resolve));
    await sleep(2000);
    const killed = await c.servers[0].stop("SIGKILL");
    assert.equal(killed.signal, "SIGKILL");
    await sleep(2000);
    finish();
    const seen = await running;
    assert.deepEqual(failures(seen), {});
    await countedOnce(c.db, seen);
    console.info(`SIGKILL: ${seen.acknowledged.size} completions acknowledged`);
  } finally {
    await c.close();
  }
});

Deno.test("[drain] streams rebalance by their lifetime after a restart: each instance 40–60 % within two lifetimes", async () => {
  const LIFETIME_S = 4;
  const c = await cluster({
    SSE_MAX_LIFETIME_S: String(LIFETIME_S),
    SHUTDOWN_DRAIN_MS: "500",
    // A stream ended without the rejoin hint would wait 2.5 to 5 s to come back.
    SSE_RETRY_MS: "5000",
  });
  const { slug, sessions: [player] } = await actionAndPlayers(c.proxy.url, 1);
  const follow = followers(c.proxy.url, 1000);
  const changing = trickle(c.proxy.url, slug, player);
  try {
    const counts = async () =>
      await Promise.all(c.servers.map((server) => openStreamsOf(server).catch(() => 0)));
    await eventually(async () => (await counts()).reduce((a, b) => a + b) === 1000, 20_000);
    await sleep(500);
    const from = performance.now();
    // One instance restarts on its port: its streams move to the other.
    const port = c.servers[0].port;
    await c.servers[0].stop("SIGTERM");
    await eventually(async () => (await openStreamsOf(c.servers[1])) === 1000, 20_000);
    c.servers[0] = await startServer({ ...c.base, PORT: String(port) });
    const restarted = performance.now();
    // Within two lifetimes, each holds its share again (told by one count of both: streams keep
    // ending and coming back, so two counts in turn may miss one in between).
    let split = [0, 0];
    await eventually(async () => {
      split = await counts();
      const [a, b] = split;
      return a + b === 1000 && a >= 400 && a <= 600;
    }, 2 * LIFETIME_S * 1000);
    const elapsed = performance.now() - restarted;
    console.info(
      `rebalance: ${split[0]} / ${split[1]} after ${Math.round(elapsed)} ms ` +
        `(lifetime ${LIFETIME_S} s), longest gap ${Math.round(follow.longestGaps(from)[0])} ms`,
    );
    assert.ok(elapsed <= 2 * LIFETIME_S * 1000 + 1000);
    // Nobody was without a board for longer than a rejoin and a second, while it changed.
    const gaps = follow.longestGaps(from);
    assert.ok(gaps[0] <= REJOIN_MS + 1000, `longest gap ${Math.round(gaps[0])} ms`);
  } finally {
    await changing.stop();
    follow.close();
    await c.close();
  }
});

Deno.test("[drain] streams piling onto a busy board: every open stream still hears it at most once per interval", async () => {
  const INTERVAL_MS = 200;
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const server = await startServer(testEnv(db, prefix, {
    BROADCAST_INTERVAL_MS: String(INTERVAL_MS),
    COMPLETIONS_PER_SECOND: "1000",
  }));
  const streams: Awaited<ReturnType<typeof openStream>>[] = [];
  try {
    const { slug, sessions } = await actionAndPlayers(server.url, 12);
    // A busy board: its top 10 changes with every completion.
    let busy = true;
    const busyLoad = Promise.all(sessions.map(async (session, i) => {
      while (busy) {
        const res = await fetch(`${server.url}/actions/${slug}/complete`, {
          method: "POST",
          headers: { authorization: `Bearer ${session.accessToken}` },
        });
        await res.body?.cancel();
        await sleep(5 * (i + 1));
      }
    }));
    for (let i = 0; i < 50; i++) streams.push(await openStream(`${server.url}/leaderboard/stream`));
    // The events each of the first 50 gets while 250 more join, told by their ids: an event's id
    // is the time it was made (ms), so those queued before the count began are left out.
    const counted = streams.map((stream) => {
      const ids: number[] = [];
      let reading = true;
      const done = (async () => {
        while (reading) {
          const event = await stream.next(2000).catch(() => null);
          if (event?.event === "leaderboard") ids.push(Number(event.id));
        }
      })();
      return { stop: async () => (reading = false, await done, ids) };
    });
    const from = Date.now();
    const joiners = await Promise.all(
      Array.from({ length: 250 }, () => openStream(`${server.url}/leaderboard/stream`)),
    );
    streams.push(...joiners);
    await sleep(2000);
    const to = Date.now();
    busy = false;
    await busyLoad;
    const events = (await Promise.all(counted.map((count) => count.stop())))
      .map((ids) => ids.filter((id) => id >= from && id <= to).length);
    // At most one per interval (and one at each end of the window) — and one more: the board is
    // read at most once per interval counted from each read's start, while an event's id is the
    // time its read ended, so two ids can be closer than an interval by a read's time.
    const most = Math.floor((to - from) / INTERVAL_MS) + 2;
    console.info(
      `pile-in: events per open stream ${Math.min(...events)}–${Math.max(...events)}, ` +
        `at most ${most} allowed`,
    );
    assert.ok(
      Math.max(...events) <= most,
      `events per stream: up to ${Math.max(...events)} of ${most}`,
    );
    assert.ok(Math.min(...events) >= 2, "the board changed and was heard");
  } finally {
    await Promise.all(streams.map((stream) => stream.close().catch(() => {})));
    await server.stop();
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});
