/**
 * The live stream under load, through the real server with the load client on the same box:
 * delay from a completion to its receipt on every open stream (p50/p99), and the server's RSS,
 * at 1,000 and 5,000 streams (STREAMS="1000,5000", ROUNDS=20).
 *
 *   deno task bench:live
 *
 * Streams are raw TCP connections (cheaper for the load client than `fetch`). Each round makes
 * one completion and times, for each stream, the arrival of the event carrying the new total.
 * Rounds are spaced wider than BROADCAST_INTERVAL_MS so that each is one broadcast.
 */
import {
  clearRedisPrefix,
  complete,
  createAction,
  createTestDatabase,
  httpClient,
  randomPrefix,
  register,
  testEnv,
} from "../tests/helpers.ts";
import { startServer } from "../tests/server.ts";

const LEVELS = (Deno.env.get("STREAMS") ?? "1000,5000").split(",").map(Number);
const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 20);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function rssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
}

/** A stream read over a raw connection; `waitFor` resolves when `marker` arrives. */
class RawStream {
  #conn: Deno.TcpConn;
  #tail = "";
  #waiting: { marker: string; resolve: (at: number) => void } | undefined;
  #first: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    let sawFirst: () => void;
    this.#first = new Promise((resolve) => sawFirst = resolve);
    this.#read(() => sawFirst());
  }

  static async open(port: number): Promise<RawStream> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(encoder.encode(
      "GET /leaderboard/stream HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n",
    ));
    const stream = new RawStream(conn);
    await stream.#first;
    return stream;
  }

  async #read(onFirst: () => void): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    let first = true;
    try {
      for (;;) {
        const n = await this.#conn.read(buffer);
        if (n === null) return;
        const at = performance.now();
        const text = this.#tail + decoder.decode(buffer.subarray(0, n));
        if (first && text.includes("event: leaderboard")) {
          first = false;
          onFirst();
        }
        if (this.#waiting && text.includes(this.#waiting.marker)) {
          this.#waiting.resolve(at);
          this.#waiting = undefined;
        }
        this.#tail = text.slice(-64);
      }
    } catch {
      // closed by close()
    }
  }

  waitFor(marker: string): Promise<number> {
    return new Promise((resolve) => this.#waiting = { marker, resolve });
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}

const db = await createTestDatabase();
const prefix = randomPrefix();
const server = await startServer(testEnv(db, prefix, {
  SSE_MAX_CLIENTS: "20000",
  COMPLETIONS_PER_SECOND: "100000",
  LOG_LEVEL: "warning",
}));
const pid = server.pid;
const streams: RawStream[] = [];
try {
  const api = httpClient(server.url);
  const { slug } = await createAction(api, 1);
  // Ten players with longish names: each event is about 1 KB, like the reference figures.
  const players = [];
  for (let i = 0; i < 10; i++) {
    players.push(
      await register(api, {
        username: `bench-player-${String(i).padStart(2, "0")}-${"x".repeat(40)}`,
        email: `bench-${i}@example.com`,
        password: "bench password",
      }),
    );
    for (let j = 0; j <= i; j++) {
      await (await complete(api, players[i].accessToken, slug)).body?.cancel();
    }
  }
  const leader = players[9];
  let total = 10;
  const idle = await rssKiB(pid);
  console.log(`server RSS with no stream: ${(idle / 1024).toFixed(1)} MiB (pid ${pid})`);

  for (const level of LEVELS) {
    while (streams.length < level) {
      const batch = Math.min(200, level - streams.length);
      streams.push(
        ...await Promise.all(Array.from({ length: batch }, () => RawStream.open(server.port))),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const rss = await rssKiB(pid);
    const delays: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      total += 1;
      const marker = `"totalPoints":${total}}`;
      const arrivals = streams.map((s) => s.waitFor(marker));
      const sent = performance.now();
      await (await complete(api, leader.accessToken, slug)).body?.cancel();
      for (const at of await Promise.all(arrivals)) delays.push(at - sent);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    delays.sort((a, b) => a - b);
    console.log(
      `${level} streams: completion → receipt p50 ${percentile(delays, 0.5).toFixed(1)} ms, ` +
        `p99 ${percentile(delays, 0.99).toFixed(1)} ms (${delays.length} receipts); ` +
        `server RSS ${(rss / 1024).toFixed(1)} MiB, ` +
        `${((rss - idle) / level).toFixed(1)} KiB per stream above idle`,
    );
  }
} finally {
  for (const stream of streams) stream.close();
  await server.stop();
  await db.drop();
  await clearRedisPrefix(prefix);
}
