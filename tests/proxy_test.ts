/**
 * deploy/nginx.conf for real: Debian's nginx with that file in front of two server processes on
 * one database and one Redis prefix, as docker-compose.yml runs them.
 */
import assert from "node:assert/strict";
import {
  clearRedisPrefix,
  complete,
  createAction,
  createTestDatabase,
  httpClient,
  newUser,
  randomPrefix,
  register,
  testEnv,
} from "./helpers.ts";
import { loadConfig } from "../src/config.ts";
import { startProxy } from "./nginx.ts";
import { startServer, type TestServer } from "./server.ts";
import { openStream, type SseEvent, type SseStream } from "./sse.ts";

const HEARTBEAT_MS = 300;

async function openStreams(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^scoreboard_sse_open_streams (\d+)/m.exec(text)?.[1]);
}

/**
 * Opens the stream through the proxy; fails after 2 s without response headers (a proxy that
 * holds the response back would otherwise hang the test until it is stopped).
 */
function streamThroughProxy(proxyUrl: string): Promise<SseStream> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no response through the proxy within 2 s")), 2000);
  });
  return Promise.race([openStream(`${proxyUrl}/leaderboard/stream`), timeout])
    .finally(() => clearTimeout(timer));
}

const entriesOf = (event: SseEvent) =>
  JSON.parse(event.data).entries as { accountId: number; totalPoints: number }[];

/** A failed login from this machine's address `from` (curl binds it), through the proxy. */
async function failedLoginFrom(from: string, proxyUrl: string): Promise<number> {
  const out = await new Deno.Command("curl", {
    args: [
      "--silent",
      "--output",
      "/dev/null",
      "--write-out",
      "%{http_code}",
      "--interface",
      from,
      "--header",
      "content-type: application/json",
      "--data",
      JSON.stringify({ email: newUser().email, password: "wrong password" }),
      `${proxyUrl}/auth/login`,
    ],
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return Number(new TextDecoder().decode(out.stdout));
}

Deno.test("[proxy] nginx with deploy/nginx.conf in front of two instances", async (t) => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const env = testEnv(db, prefix, {
    TRUSTED_PROXY_HOPS: "1",
    SSE_HEARTBEAT_MS: String(HEARTBEAT_MS),
    LOGIN_MAX_FAILURES_PER_ADDRESS: "3",
    LOGIN_MAX_FAILURES_PER_EMAIL: "1000",
  });
  const servers: TestServer[] = [await startServer(env), await startServer(env)];
  const [a, b] = servers;
  const proxy = await startProxy(servers.map((s) => `127.0.0.1:${s.port}`));
  const api = httpClient(proxy.url);
  const streams: SseStream[] = [];
  try {
    await t.step(
      "metrics are not passed on: the instances answer them, the proxy 404",
      async () => {
        const outside = await fetch(`${proxy.url}/metrics`);
        assert.equal(outside.status, 404);
        await outside.body?.cancel();
        const inside = await fetch(`${a.url}/metrics`);
        assert.equal(inside.status, 200);
        await inside.body?.cancel();
      },
    );

    await t.step("the first event arrives at once and heartbeats pass unbuffered", async () => {
      // Both instances have served a stream before anything is timed.
      for (const server of servers) {
        const warm = await openStream(`${server.url}/leaderboard/stream`);
        await warm.next(2000);
        await warm.close();
      }
      const direct = performance.now();
      const reference = await openStream(`${a.url}/leaderboard/stream`);
      await reference.next(2000);
      const directMs = performance.now() - direct;
      await reference.close();

      const started = performance.now();
      const stream = await streamThroughProxy(proxy.url);
      try {
        assert.match(stream.response.headers.get("content-type") ?? "", /^text\/event-stream/);
        const first = await stream.next(2000);
        const firstMs = performance.now() - started;
        assert.equal(first.event, "leaderboard");
        // A buffering proxy would hold these few bytes back far longer than the 2 s allowed.
        const arrivals: number[] = [];
        const kinds: string[] = [];
        for (let i = 0; i < 4; i++) {
          kinds.push((await stream.next(2000)).event);
          arrivals.push(performance.now());
        }
        assert.deepEqual(kinds, ["comment", "comment", "comment", "comment"]);
        const gaps = arrivals.slice(1).map((at, i) => Math.round(at - arrivals[i]));
        console.log(
          `first event: ${firstMs.toFixed(1)} ms through nginx, ${
            directMs.toFixed(1)
          } ms direct; ` +
            `heartbeat gaps through nginx (every ${HEARTBEAT_MS} ms): ${gaps.join(", ")} ms`,
        );
      } finally {
        await stream.close();
      }
    });

    const session = await register(api);
    const { slug } = await createAction(api, 7);

    // Which instance serves each stream opened through the proxy (read from their metrics).
    const served = new Map<SseStream, TestServer>();
    await t.step(
      "a completion made through the proxy reaches streams on both instances",
      async () => {
        for (let i = 0; i < 4; i++) {
          const before = await openStreams(a.url);
          const stream = await streamThroughProxy(proxy.url);
          streams.push(stream);
          assert.equal((await stream.next(2000)).event, "leaderboard");
          served.set(stream, (await openStreams(a.url)) > before ? a : b);
        }
        const onA = streams.filter((stream) => served.get(stream) === a).length;
        assert.ok(onA > 0 && onA < 4, `streams on the first instance: ${onA} of 4`);
        assert.equal(await openStreams(b.url), 4 - onA);

        const res = await complete(api, session.accessToken, slug);
        assert.equal(res.status, 201);
        await res.body?.cancel();
        for (const stream of streams) {
          const update = await stream.until((e) => e.event === "leaderboard", 2000);
          assert.deepEqual(
            entriesOf(update).map((e) => [e.accountId, e.totalPoints]),
            [[session.account.id, 7]],
          );
        }
      },
    );

    await t.step("the limiter counts the client's address, not the proxy's", async () => {
      // From 127.0.0.1, each attempt with another forged X-Forwarded-For: they still add up.
      const statuses: number[] = [];
      for (let i = 1; i <= 4; i++) {
        const res = await api.call("POST", "/auth/login", {
          body: { email: newUser().email, password: "wrong password" },
          headers: { "x-forwarded-for": `203.0.113.${i}` },
        });
        await res.body?.cancel();
        statuses.push(res.status);
      }
      assert.deepEqual(statuses, [401, 401, 401, 429]);
      // Another client address is counted on its own; the first stays limited.
      assert.equal(await failedLoginFrom("127.0.0.2", proxy.url), 401);
      assert.equal(await failedLoginFrom("127.0.0.1", proxy.url), 429);
    });

    await t.step(
      "SIGTERM ends an instance's streams; they reconnect through the proxy to the other",
      async () => {
        const onA = streams.filter((stream) => served.get(stream) === a);
        const onB = streams.filter((stream) => served.get(stream) === b);
        const signalled = performance.now();
        const stopped = a.stop("SIGTERM");
        // Each of A's streams ends; its client reconnects through the proxy at once.
        const timings = await Promise.all(onA.map(async (stream) => {
          await stream.ended(5000);
          const ended = performance.now();
          const again = await streamThroughProxy(proxy.url);
          streams.push(again);
          const first = await again.next(2000);
          // The current board, at once.
          assert.equal(first.event, "leaderboard");
          assert.deepEqual(entriesOf(first).map((e) => e.totalPoints), [7]);
          return { ended: ended - signalled, reconnected: performance.now() - ended };
        }));
        assert.equal((await stopped).code, 0);
        // B's streams were not disturbed: their heartbeats go on.
        for (const stream of onB) assert.equal((await stream.next(2000)).event, "comment");
        assert.equal(await openStreams(b.url), 4);
        console.log(
          `SIGTERM: ${onA.length} streams ended ${
            timings.map((t) => t.ended.toFixed(1)).join(", ")
          } ms after the signal; reconnected through nginx, first event ${
            timings.map((t) => t.reconnected.toFixed(1)).join(", ")
          } ms after each ended (a browser's EventSource first waits its retry hint, 2 s by default)`,
        );

        // The survivor serves everything: a completion through the proxy reaches every stream.
        const res = await complete(api, session.accessToken, slug);
        assert.equal(res.status, 201);
        await res.body?.cancel();
        for (const stream of streams.filter((stream) => !onA.includes(stream))) {
          const update = await stream.until((e) => e.event === "leaderboard", 2000);
          assert.deepEqual(entriesOf(update).map((e) => e.totalPoints), [14]);
        }
      },
    );
    // Unprivileged, nginx cannot raise its open-file limit (as root in the image it can).
    const serious = proxy.errors().split("\n")
      .filter((line) =>
        /\[(emerg|alert|crit)\]/.test(line) && !/setrlimit\(RLIMIT_NOFILE/.test(line)
      );
    assert.deepEqual(serious, []);
  } finally {
    await Promise.all(streams.map((stream) => stream.close()));
    await proxy.stop();
    await Promise.all(servers.map((server) => server.stop()));
    await db.drop();
    await clearRedisPrefix(prefix);
  }
});

Deno.test("[proxy] the stream's location outlasts several default heartbeats and never buffers", () => {
  const conf = Deno.readTextFileSync(new URL("../deploy/nginx.conf", import.meta.url));
  const block = /location = \/leaderboard\/stream \{([^}]*)\}/.exec(conf)?.[1] ?? "";
  const seconds = (directive: string) => {
    const match = new RegExp(`^\\s*${directive} (\\d+)s;`, "m").exec(block);
    assert.ok(match, `${directive} in the stream's location`);
    return Number(match[1]);
  };
  // The heartbeat a real deployment uses; the test above runs with a short one.
  const heartbeat = loadConfig({}).sseHeartbeatMs / 1000;
  assert.ok(seconds("proxy_read_timeout") >= 3 * heartbeat);
  assert.ok(seconds("send_timeout") >= 3 * heartbeat);
  assert.match(block, /^\s*proxy_buffering off;/m);
});
