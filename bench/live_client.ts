/**
 * A load client of the fan-out benchmark (bench/live.ts), run as a process of its own so that
 * several share the reading of ten thousand streams: reading a socket costs about as much as
 * writing it, and one client process would fall behind the server and time its own backlog.
 *
 * It reads commands on stdin and answers on stdout, one JSON line each:
 *   {"open": n, "port": p}  → opens n streams, answers {"opened": n} once each has its first event
 *   {"wait": "<marker>"}    → answers {"armed": true}, then {"arrivals": [...]} once every stream
 *                             saw the marker (an absolute time in ms: performance.timeOrigin + now)
 *                             or gave up after MISS_MS (null)
 *   {"close": true}         → closes every stream and exits
 *
 * Streams are raw TCP connections, read without decoding: only the bytes are searched.
 */
import { lines } from "./lib.ts";

const MISS_MS = 5000;
const TAIL = 64;
const encoder = new TextEncoder();
const FIRST = encoder.encode("event: leaderboard");

/** Whether `needle` occurs in `haystack`. */
function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  const last = haystack.length - needle.length;
  for (
    let at = haystack.indexOf(needle[0]);
    at >= 0 && at <= last;
    at = haystack.indexOf(needle[0], at + 1)
  ) {
    let i = 1;
    while (i < needle.length && haystack[at + i] === needle[i]) i++;
    if (i === needle.length) return true;
  }
  return false;
}

/** One stream; `waitFor` resolves with the time `marker` arrived, or null. */
class RawStream {
  #conn: Deno.TcpConn;
  #waiting: { marker: Uint8Array; resolve: (at: number | null) => void } | undefined;
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
    // Small buffers: thousands of them live in this process. The last TAIL bytes of each read
    // stay at the front, so that a marker split between two reads is still found.
    const buffer = new Uint8Array(TAIL + 4096);
    let kept = 0;
    let first = true;
    try {
      for (;;) {
        const n = await this.#conn.read(buffer.subarray(kept));
        if (n === null) return;
        const at = performance.timeOrigin + performance.now();
        const seen = buffer.subarray(0, kept + n);
        if (first && contains(seen, FIRST)) {
          first = false;
          onFirst();
        }
        if (this.#waiting && contains(seen, this.#waiting.marker)) {
          this.#waiting.resolve(at);
          this.#waiting = undefined;
        }
        kept = Math.min(TAIL, seen.length);
        buffer.copyWithin(0, seen.length - kept, seen.length);
      }
    } catch {
      // closed by close()
    }
  }

  waitFor(marker: Uint8Array): Promise<number | null> {
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

const streams: RawStream[] = [];
const answer = (message: unknown) =>
  Deno.stdout.write(encoder.encode(JSON.stringify(message) + "\n"));

for await (const line of lines(Deno.stdin.readable)) {
  const command = JSON.parse(line);
  if (command.open) {
    for (let opened = 0; opened < command.open;) {
      const batch = Math.min(200, command.open - opened);
      streams.push(
        ...await Promise.all(Array.from({ length: batch }, () => RawStream.open(command.port))),
      );
      opened += batch;
    }
    await answer({ opened: streams.length });
  } else if (command.wait) {
    const arrivals = streams.map((stream) => stream.waitFor(encoder.encode(command.wait)));
    await answer({ armed: true });
    await answer({ arrivals: await Promise.all(arrivals) });
  } else if (command.close) {
    for (const stream of streams) stream.close();
    break;
  }
}
