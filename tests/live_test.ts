import assert from "node:assert/strict";
import {
  clearRedisPrefix,
  complete,
  createAction,
  createTestDatabase,
  eventually,
  httpClient,
  randomPrefix,
  register,
  type TestDatabase,
  testEnv,
} from "./helpers.ts";
import { startServer, type TestServer } from "./server.ts";
import { startTestRedis } from "./redis_server.ts";
import { openStream, type SseEvent } from "./sse.ts";

type Entry = { rank: number; accountId: number; username: string; totalPoints: number };

const entriesOf = (event: SseEvent): Entry[] => JSON.parse(event.data).entries;

/** A database, a prefix and `count` servers on them; `close` stops and drops everything. */
/** Both ways an instance can serve: the streams must behave the same on each. */
const SERVERS = ["deno", "node"] as const;

/** A cluster whose servers run on `server` (HTTP_SERVER). */
function clusterOn(server: string, count: number, env: Record<string, string> = {}) {
  return cluster(count, { HTTP_SERVER: server, ...env });
}

async function cluster(count: number, env: Record<string, string> = {}) {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const servers: TestServer[] = [];
  try {
    for (let i = 0; i < count; i++) {
      servers.push(
        await startServer(testEnv(db, prefix, { COMPLETIONS_PER_SECOND: "1000", ...env })),
      );
    }
  } catch (error) {
    await Promise.all(servers.map((s) => s.stop()));
    await db.drop();
    throw error;
  }
  return {
    db,
    prefix,
    servers,
    api: servers.map((s) => httpClient(s.url)),
    async close() {
      await Promise.all(servers.map((s) => s.stop()));
      await db.drop();
      await clearRedisPrefix(prefix);
    },
  };
}

async function openStreams(server: TestServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^scoreboard_sse_open_streams (\d+)/m.exec(text)?.[1]);
}

for (const server of SERVERS) {
  Deno.test(`[live, ${server}] a stream gets the current top 10 at once, with a retry hint`, async () => {
    const c = await clusterOn(server, 1);
    try {
      const [api] = c.api;
      const { slug } = await createAction(api, 7);
      const session = await register(api);
      await (await complete(api, session.accessToken, slug)).body?.cancel();

      const stream = await openStream(`${c.servers[0].url}/leaderboard/stream`);
      try {
        assert.equal(stream.response.status, 200);
        assert.match(stream.response.headers.get("content-type") ?? "", /^text\/event-stream/);
        assert.equal(stream.response.headers.get("cache-control"), "no-cache");
        const first = await stream.next(1000);
        assert.equal(first.event, "leaderboard");
        assert.ok(first.retry && first.retry > 0, "retry hint");
        assert.match(first.id ?? "", /^\d+$/);
        assert.deepEqual(entriesOf(first), [
          {
            rank: 1,
            accountId: session.account.id,
            username: session.account.username,
            totalPoints: 7,
          },
        ]);
      } finally {
        await stream.close();
      }
    } finally {
      await c.close();
    }
  });

  Deno.test(`[live, ${server}] a completion reaches an open stream within a second, with a higher id`, async () => {
    const c = await clusterOn(server, 1);
    try {
      const [api] = c.api;
      const { slug } = await createAction(api, 5);
      const session = await register(api);
      const stream = await openStream(`${c.servers[0].url}/leaderboard/stream`);
      try {
        const first = await stream.next(1000);
        assert.deepEqual(entriesOf(first), []);
        const res = await complete(api, session.accessToken, slug);
        assert.equal(res.status, 201);
        await res.body?.cancel();
        const update = await stream.next(1000);
        assert.equal(update.event, "leaderboard");
        assert.ok(BigInt(update.id!) > BigInt(first.id!), "ids increase");
        assert.deepEqual(entriesOf(update).map((e) => [e.accountId, e.totalPoints]), [
          [session.account.id, 5],
        ]);
      } finally {
        await stream.close();
      }
    } finally {
      await c.close();
    }
  });

  Deno.test(`[live, ${server}] a completion through one server reaches the streams of another`, async () => {
    const c = await clusterOn(server, 2);
    try {
      const [a, b] = c.api;
      const { slug } = await createAction(a, 11);
      const session = await register(a);
      const onB = await openStream(`${c.servers[1].url}/leaderboard/stream`);
      const onA = await openStream(`${c.servers[0].url}/leaderboard/stream`);
      try {
        assert.deepEqual(entriesOf(await onB.next(1000)), []);
        assert.deepEqual(entriesOf(await onA.next(1000)), []);
        await (await complete(a, session.accessToken, slug)).body?.cancel();
        for (const stream of [onB, onA]) {
          const update = await stream.next(1000);
          assert.deepEqual(entriesOf(update).map((e) => e.totalPoints), [11]);
        }
        // and the other way round
        await (await complete(b, session.accessToken, slug)).body?.cancel();
        assert.deepEqual(entriesOf(await onA.next(1000)).map((e) => e.totalPoints), [22]);
      } finally {
        await onA.close();
        await onB.close();
      }
    } finally {
      await c.close();
    }
  });

  Deno.test(`[live, ${server}] a burst of 40 completions yields a handful of events ending in the final state`, async () => {
    const c = await clusterOn(server, 1, { BROADCAST_INTERVAL_MS: "100" });
    try {
      const [api] = c.api;
      const { slug } = await createAction(api, 1);
      const sessions = await Promise.all(Array.from({ length: 4 }, () => register(api)));
      const stream = await openStream(`${c.servers[0].url}/leaderboard/stream`);
      try {
        await stream.next(1000);
        const started = performance.now();
        await Promise.all(Array.from({ length: 40 }, async (_, i) => {
          const res = await complete(api, sessions[i % 4].accessToken, slug);
          assert.equal(res.status, 201);
          await res.body?.cancel();
        }));
        const final = await (await api.call("GET", "/leaderboard")).json();
        assert.deepEqual(final.entries.map((e: Entry) => e.totalPoints), [10, 10, 10, 10]);

        const events: SseEvent[] = [];
        await stream.until((event) => {
          if (event.event === "leaderboard") events.push(event);
          return event.event === "leaderboard" &&
            JSON.stringify(entriesOf(event)) === JSON.stringify(final.entries);
        }, 3000);
        const elapsed = performance.now() - started;
        // At most one event per 100 ms interval (one more for an interval already running).
        assert.ok(events.length >= 1);
        assert.ok(events.length <= Math.ceil(elapsed / 100) + 1, `${events.length} events`);
        assert.ok(events.length < 40, `${events.length} events for 40 completions`);
        // Nothing more comes after the final state.
        await assert.rejects(stream.until((e) => e.event === "leaderboard", 400));
      } finally {
        await stream.close();
      }
    } finally {
      await c.close();
    }
  });

  Deno.test(`[live, ${server}] streams send a comment heartbeat`, async () => {
    const c = await clusterOn(server, 1, { SSE_HEARTBEAT_MS: "200" });
    try {
      const stream = await openStream(`${c.servers[0].url}/leaderboard/stream`);
      try {
        const first = await stream.next(1000);
        // The instance's first subscription to Redis may go live after this stream opened: the
        // board is sent again then (a change may have been missed before it), the same board.
        const beat = await stream.until((event) => {
          if (event.event !== "comment") assert.equal(event.data, first.data);
          return event.event === "comment";
        }, 1000);
        assert.equal(beat.event, "comment");
      } finally {
        await stream.close();
      }
    } finally {
      await c.close();
    }
  });

  Deno.test(`[live, ${server}] on the wire: HTTP/1.1 gets well-formed chunks, HTTP/1.0 the bytes as they are`, async () => {
    const c = await clusterOn(server, 1, { SSE_HEARTBEAT_MS: "100" });
    try {
      for (const version of ["1.1", "1.0"]) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: c.servers[0].port });
        try {
          await conn.write(new TextEncoder().encode(
            `GET /leaderboard/stream HTTP/${version}\r\nHost: test\r\n\r\n`,
          ));
          // Read until the head, the first event and two heartbeats have arrived.
          let raw = "";
          const buffer = new Uint8Array(4096);
          while ((raw.match(/: heartbeat/g) ?? []).length < 2) {
            const n = await conn.read(buffer);
            if (n === null) break;
            raw += new TextDecoder().decode(buffer.subarray(0, n));
          }
          const [head, rest] = [
            raw.slice(0, raw.indexOf("\r\n\r\n")),
            raw.slice(raw.indexOf("\r\n\r\n") + 4),
          ];
          assert.match(head, /^HTTP\/1\.[01] 200/, version);
          let body = rest;
          if (version === "1.1") {
            assert.match(head, /transfer-encoding: chunked/i);
            // Every chunk is "<hex size>\r\n<size bytes>\r\n"; unwrap them all.
            body = "";
            let at = 0;
            while (at < rest.length) {
              const eol = rest.indexOf("\r\n", at);
              if (eol < 0) break;
              const size = parseInt(rest.slice(at, eol), 16);
              assert.ok(Number.isInteger(size) && size > 0, `a chunk size: ${rest.slice(at, eol)}`);
              const bytes = new TextEncoder().encode(rest.slice(eol + 2));
              if (bytes.length < size + 2) break; // the last chunk is still arriving
              const chunk = new TextDecoder().decode(bytes.subarray(0, size));
              assert.equal(new TextDecoder().decode(bytes.subarray(size, size + 2)), "\r\n");
              body += chunk;
              at = eol + 2 + chunk.length + 2;
            }
          } else {
            assert.doesNotMatch(head, /transfer-encoding/i);
          }
          assert.match(body, /^retry: \d+\n/, version);
          assert.match(body, /event: leaderboard\ndata: \{.*"entries":\[\]/, version);
          assert.match(body, /\n\n: heartbeat\n\n/, version);
        } finally {
          conn.close();
        }
      }
    } finally {
      await c.close();
    }
  });

  Deno.test(`[live, ${server}] 1,000 connect/disconnect cycles leave no stream open`, async () => {
    const c = await clusterOn(server, 1);
    try {
      const server = c.servers[0];
      for (let round = 0; round < 20; round++) {
        await Promise.all(Array.from({ length: 50 }, async () => {
          const stream = await openStream(`${server.url}/leaderboard/stream`);
          await stream.next(2000);
          await stream.close();
        }));
      }
      await eventually(async () => (await openStreams(server)) === 0, 5000);
    } finally {
      await c.close();
    }
  });

  Deno.test(`[live, ${server}] beyond SSE_MAX_CLIENTS a stream is refused with 503`, async () => {
    const c = await clusterOn(server, 1, { SSE_MAX_CLIENTS: "2" });
    try {
      const url = `${c.servers[0].url}/leaderboard/stream`;
      const first = await openStream(url);
      const second = await openStream(url);
      try {
        const third = await fetch(url);
        assert.equal(third.status, 503);
        assert.ok(Number(third.headers.get("retry-after")) >= 1);
        assert.equal(third.headers.get("content-type"), "application/problem+json");
        await third.body?.cancel();
        await first.close();
        await eventually(async () => (await openStreams(c.servers[0])) === 1);
        const again = await openStream(url);
        await again.next(1000);
        await again.close();
      } finally {
        await first.close();
        await second.close();
      }
    } finally {
      await c.close();
    }
  });

  Deno.test(`[live, ${server}] a client that stops reading is dropped`, async () => {
    const c = await clusterOn(server, 1, {
      BROADCAST_INTERVAL_MS: "1",
      SSE_MAX_BUFFERED_BYTES: "16384",
      COMPLETIONS_PER_SECOND: "100000",
    });
    try {
      const server = c.servers[0];
      const [api] = c.api;
      const { slug } = await createAction(api, 1);
      // Long names make big events: the kernel's socket buffers fill sooner.
      const sessions = await Promise.all(Array.from({ length: 10 }, (_, i) =>
        register(api, {
          username: `${"n".repeat(90)}-${i}-${crypto.randomUUID().slice(0, 4)}`,
          email: `slow-${i}-${crypto.randomUUID().slice(0, 4)}@example.com`,
          password: "slow reader password",
        })));
      // A raw connection that sends the request and then never reads.
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      await conn.write(new TextEncoder().encode(
        "GET /leaderboard/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n",
      ));
      const reader = await openStream(`${server.url}/leaderboard/stream`);
      try {
        await reader.next(1000);
        await eventually(async () => (await openStreams(server)) === 2);
        // Every completion changes the top 10: events of ~1.6 KB, as fast as the server can. The
        // kernel's socket buffers take a few MB before the stream's own buffer starts to fill.
        let dropped = false;
        const deadline = Date.now() + 60_000;
        const reading = (async () => {
          while (!dropped) {
            await reader.next(500).catch((error) => {
              if (/ended/.test(String(error))) throw error;
            });
          }
        })();
        const watching = (async () => {
          while (!dropped && Date.now() < deadline) {
            dropped = (await openStreams(server)) === 1;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        })();
        await Promise.all(sessions.map(async (s) => {
          while (!dropped && Date.now() < deadline) {
            await (await complete(api, s.accessToken, slug)).body?.cancel();
          }
        }));
        await watching;
        assert.ok(dropped, "the slow client was dropped");
        const metrics = await (await fetch(`${server.url}/metrics`)).text();
        assert.match(metrics, /^scoreboard_sse_slow_readers_dropped_total 1$/m);
        // The client that reads was kept, and is still served.
        await reading;
        await (await complete(api, sessions[0].accessToken, slug)).body?.cancel();
        await reader.until((e) => e.event === "leaderboard", 2000);
        assert.equal(await openStreams(server), 1);
      } finally {
        conn.close();
        await reader.close();
      }
    } finally {
      await c.close();
    }
  });

  Deno.test(`[live, ${server}] when the subscription comes back after Redis was away, streams get the current state`, async () => {
    const redis = await startTestRedis();
    const c = await clusterOn(server, 1, { REDIS_URL: redis.url });
    try {
      const [api] = c.api;
      const { slug } = await createAction(api, 4);
      const session = await register(api);
      await (await complete(api, session.accessToken, slug)).body?.cancel();
      const stream = await openStream(`${c.servers[0].url}/leaderboard/stream`);
      try {
        const first = await stream.next(1000);
        assert.deepEqual(entriesOf(first).map((e) => e.totalPoints), [4]);
        await redis.stop();
        // A completion while Redis is away: committed, announced to nobody.
        await (await complete(api, session.accessToken, slug)).body?.cancel();
        await redis.start();
        const back = await stream.until((e) => e.event === "leaderboard", 10_000);
        assert.deepEqual(entriesOf(back).map((e) => e.totalPoints), [8]);
      } finally {
        await stream.close();
      }
    } finally {
      await c.close();
      await redis.stop();
    }
  });

  Deno.test(`[live, ${server}] SIGTERM ends the streams and the server exits cleanly`, async () => {
    const db: TestDatabase = await createTestDatabase();
    const prefix = randomPrefix();
    const instance = await startServer(testEnv(db, prefix, { HTTP_SERVER: server }));
    try {
      const stream = await openStream(`${instance.url}/leaderboard/stream`);
      await stream.next(1000);
      const status = instance.stop("SIGTERM");
      await stream.ended(5000);
      assert.equal((await status).code, 0);
    } finally {
      await instance.stop();
      await db.drop();
      await clearRedisPrefix(prefix);
    }
  });

  Deno.test(`[live, ${server}] DELETE /me takes the account off the live top 10`, async () => {
    const c = await clusterOn(server, 1);
    try {
      const [api] = c.api;
      const { slug } = await createAction(api, 3);
      const [x, y] = [await register(api), await register(api)];
      await (await complete(api, x.accessToken, slug)).body?.cancel();
      await (await complete(api, y.accessToken, slug)).body?.cancel();
      const stream = await openStream(`${c.servers[0].url}/leaderboard/stream`);
      try {
        assert.equal(entriesOf(await stream.next(1000)).length, 2);
        await (await api.call("DELETE", "/me", { token: x.accessToken })).body?.cancel();
        const update = await stream.next(1000);
        assert.deepEqual(entriesOf(update).map((e) => e.accountId), [y.account.id]);
      } finally {
        await stream.close();
      }
    } finally {
      await c.close();
    }
  });

  Deno.test(`[live, ${server}] a POST without a body, as curl -X POST sends it, completes`, async () => {
    const c = await clusterOn(server, 1);
    try {
      const [api] = c.api;
      const { slug } = await createAction(api, 2);
      const session = await register(api);
      const res = await fetch(`${c.servers[0].url}/actions/${slug}/complete`, {
        method: "POST",
        headers: { authorization: `Bearer ${session.accessToken}` },
      });
      assert.equal(res.status, 201);
      await res.body?.cancel();
    } finally {
      await c.close();
    }
  });
}
