/**
 * Fan-out: the live stream under load, through the real server with the load client on the same
 * box — delay from a completion to its receipt on every open stream (p50/p99), whether every
 * stream got every update, and the server's resident memory per stream above idle.
 *
 *   deno task bench:live       (STREAMS="1000,10000", ROUNDS=20, HTTP_SERVER=node|deno)
 *
 * Streams are raw TCP connections (cheaper for the load client than `fetch`). Each round makes
 * one completion and times, for each stream, the arrival of the event carrying the new total;
 * a stream that has not seen it after MISS_MS counts as a miss. Rounds are spaced wider than
 * BROADCAST_INTERVAL_MS so that each is one broadcast. Events are about 1 KB (ten players with
 * long names), like the reference figures.
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
import { percentile, type Row, rssKiB } from "./lib.ts";

const LEVELS = (Deno.env.get("STREAMS") ?? "1000,10000").split(",").map(Number);
const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 20);
const SERVER = Deno.env.get("HTTP_SERVER") ?? "node";
const MISS_MS = 5000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A stream read over a raw connection; `waitFor` resolves when `marker` arrives. */
class RawStream {
  #conn: Deno.TcpConn;
  #tail = "";
  #waiting: { marker: string; resolve: (at: number | null) => void } | undefined;
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
    // Small buffers: ten thousand of them live in this process.
    const buffer = new Uint8Array(4096);
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

  /** When `marker` arrived, or null when it did not within MISS_MS. */
  waitFor(marker: string): Promise<number | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting = undefined;
        resolve(null);
      }, MISS_MS);
      this.#waiting = {
        marker,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
    });
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}

/** One level's figures. */
interface Level {
  streams: number;
  p50: number;
  p99: number;
  receipts: number;
  missed: number;
  rssMiB: number;
  perStreamKiB: number;
}

/** Runs the scenario (with HTTP_SERVER, default node) and returns its line of the table. */
export async function run(): Promise<Row> {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const server = await startServer(testEnv(db, prefix, {
    SSE_MAX_CLIENTS: "20000",
    COMPLETIONS_PER_SECOND: "100000",
    HTTP_SERVER: SERVER,
    LOG_LEVEL: "warning",
  }));
  const pid = server.pid;
  const streams: RawStream[] = [];
  const levels: Level[] = [];
  try {
    const api = httpClient(server.url);
    const { slug } = await createAction(api, 1);
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
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idle = await rssKiB(pid);
    console.log(`server (${SERVER}) RSS with no stream: ${(idle / 1024).toFixed(1)} MiB`);

    for (const level of LEVELS) {
      while (streams.length < level) {
        const batch = Math.min(200, level - streams.length);
        streams.push(
          ...await Promise.all(Array.from({ length: batch }, () => RawStream.open(server.port))),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const rss = await rssKiB(pid);
      const delays: number[] = [];
      let missed = 0;
      for (let round = 0; round < ROUNDS; round++) {
        total += 1;
        const marker = `"totalPoints":${total}}`;
        const arrivals = streams.map((s) => s.waitFor(marker));
        const sent = performance.now();
        await (await complete(api, leader.accessToken, slug)).body?.cancel();
        for (const at of await Promise.all(arrivals)) {
          if (at === null) missed++;
          else delays.push(at - sent);
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      delays.sort((a, b) => a - b);
      const figures: Level = {
        streams: level,
        p50: percentile(delays, 0.5),
        p99: percentile(delays, 0.99),
        receipts: delays.length,
        missed,
        rssMiB: rss / 1024,
        perStreamKiB: (rss - idle) / level,
      };
      levels.push(figures);
      console.log(
        `${level} streams: completion → receipt p50 ${figures.p50.toFixed(1)} ms, ` +
          `p99 ${figures.p99.toFixed(1)} ms (${delays.length} receipts, ${missed} missed); ` +
          `server RSS ${figures.rssMiB.toFixed(1)} MiB, ` +
          `${figures.perStreamKiB.toFixed(1)} KiB per stream above idle`,
      );
    }
  } finally {
    for (const stream of streams) stream.close();
    await server.stop();
    await db.drop();
    await clearRedisPrefix(prefix);
  }
  const top = levels.at(-1)!;
  return {
    scenario: "fan-out",
    figure: `${top.streams} streams (${SERVER}): p50 ${top.p50.toFixed(0)} ms, ` +
      `p99 ${top.p99.toFixed(0)} ms, ${top.perStreamKiB.toFixed(1)} KiB per stream, ` +
      `${top.missed} of ${top.receipts + top.missed} updates missed`,
    reference: "—",
    result: `p99 ${top.p99.toFixed(0)} ms, ${top.perStreamKiB.toFixed(1)} KiB/stream`,
    target: "10,000 streams: p99 ≤ 200 ms, ≤ 30 KB per stream, every update delivered",
    met: top.streams >= 10_000 && top.p99 <= 200 && top.perStreamKiB <= 30 && top.missed === 0,
    details: { server: SERVER, levels },
  };
}

if (import.meta.main) await run();
