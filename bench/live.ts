/**
 * Fan-out: the live stream under load, through the real server with the load clients on the same
 * box — delay from a completion to its receipt on every open stream (p50/p99), whether every
 * stream got every update, and the server's resident memory per stream above idle.
 *
 *   deno task bench:live       (STREAMS="1000,10000", ROUNDS=20, HTTP_SERVER=node|deno,
 *                               CLIENTS=2 load-client processes, PROFILE_DIR: the server's CPU
 *                               profile)
 *
 * The streams are raw TCP connections held by CLIENTS processes (bench/live_client.ts), which
 * share the reading: one process reading ten thousand sockets falls behind the server that
 * writes them, and would time its own backlog. Each round makes one completion and times, for
 * each stream, the arrival of the event carrying the new total (clocks: performance.timeOrigin +
 * now, the same machine); a stream that has not seen it after 5 s counts as a miss. Rounds are spaced wider than
 * BROADCAST_INTERVAL_MS so that each is one broadcast. Events are about 1 KB (ten players with
 * long names), like the reference figures.
 */
import { benchDatabase } from "./database.ts";
import {
  clearRedisPrefix,
  complete,
  createAction,
  httpClient,
  randomPrefix,
  register,
  testEnv,
} from "../tests/helpers.ts";
import { startServer } from "../tests/server.ts";
import { lines, percentile, profileFlags, type Row, rssKiB } from "./lib.ts";

const LEVELS = (Deno.env.get("STREAMS") ?? "1000,10000").split(",").map(Number);
const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 20);
const SERVER = Deno.env.get("HTTP_SERVER") ?? "node";
const CLIENTS = Number(Deno.env.get("CLIENTS") ?? 2);
const encoder = new TextEncoder();

/** A load-client process (bench/live_client.ts) and its streams. */
class Client {
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #lines: AsyncGenerator<string>;
  streams = 0;

  constructor() {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net=127.0.0.1", new URL("./live_client.ts", import.meta.url).pathname],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#lines = lines(this.#child.stdout);
  }

  async #ask(command: unknown): Promise<Record<string, unknown>> {
    await this.#writer.write(encoder.encode(JSON.stringify(command) + "\n"));
    return this.#next();
  }

  async #next(): Promise<Record<string, unknown>> {
    const line = await this.#lines.next();
    if (line.done) throw new Error("a load client ended");
    return JSON.parse(line.value);
  }

  async open(count: number, port: number): Promise<void> {
    this.streams = (await this.#ask({ open: count, port })).opened as number;
  }

  /** Arms every stream for `marker`; the returned promise gives their arrival times. */
  async arm(marker: string): Promise<() => Promise<(number | null)[]>> {
    await this.#ask({ wait: marker });
    const arrivals = this.#next();
    return async () => (await arrivals).arrivals as (number | null)[];
  }

  async close(): Promise<void> {
    await this.#writer.write(encoder.encode(JSON.stringify({ close: true }) + "\n")).catch(
      () => {},
    );
    await this.#writer.close().catch(() => {});
    await this.#child.status;
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
  const db = await benchDatabase();
  const prefix = randomPrefix();
  const server = await startServer(
    testEnv(db, prefix, {
      SSE_MAX_CLIENTS: "20000",
      COMPLETIONS_PER_SECOND: "100000",
      HTTP_SERVER: SERVER,
      LOG_LEVEL: "warning",
    }),
    { flags: profileFlags() },
  );
  const pid = server.pid;
  const clients = Array.from({ length: CLIENTS }, () => new Client());
  const open = () => clients.reduce((sum, client) => sum + client.streams, 0);
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
      // Each client opens its share of the new streams.
      const more = level - open();
      await Promise.all(
        clients.map((client, i) =>
          client.open(Math.floor(more / CLIENTS) + (i < more % CLIENTS ? 1 : 0), server.port)
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const rss = await rssKiB(pid);
      const delays: number[] = [];
      let missed = 0;
      for (let round = 0; round < ROUNDS; round++) {
        total += 1;
        const marker = `"totalPoints":${total}}`;
        const arrivals = await Promise.all(clients.map((client) => client.arm(marker)));
        const sent = performance.timeOrigin + performance.now();
        await (await complete(api, leader.accessToken, slug)).body?.cancel();
        const received = (await Promise.all(arrivals.map((wait) => wait()))).flat();
        for (const at of received) {
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
    await Promise.all(clients.map((client) => client.close()));
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
