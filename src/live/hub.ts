/**
 * The live top 10 of one instance: it follows the refresh feed, reads the top 10 at most once per
 * interval (always ending on the latest state), and when it changed writes one pre-encoded SSE
 * event — the same bytes — to every open stream. Streams that go away are dropped at once, and
 * streams whose reader stopped reading are dropped before their buffer passes a bound.
 */
import type { Entry } from "../leaderboard/leaderboard.ts";
import type { RefreshFeed } from "../leaderboard/feed.ts";

/** What the hub needs and reports. */
export interface HubOptions {
  feed: RefreshFeed;
  /** Reads the current top 10. */
  top(): Promise<Entry[]>;
  intervalMs: number;
  heartbeatMs: number;
  retryMs: number;
  maxClients: number;
  maxBufferedBytes: number;
  onStreams(count: number): void;
  onBroadcast(): void;
  onError(error: Error): void;
}

/** Why `open` refused a stream. */
export type Refusal = "full" | "closing";

/** The instance's stream hub. */
export interface LiveHub {
  /** Open streams. */
  readonly size: number;
  /** A new stream that starts with the current top 10, or why there is none. */
  open(): Promise<ReadableStream<Uint8Array> | Refusal>;
  /** Ends every stream (clients reconnect elsewhere) and refuses new ones. */
  close(): void;
}

const encoder = new TextEncoder();
const HEARTBEAT = encoder.encode(": heartbeat\n\n");

interface Snapshot {
  json: string;
  /** The whole event, `retry:` hint excluded. */
  event: Uint8Array;
}

/** Builds the hub; it does nothing until the first stream opens or the feed speaks. */
export function createLiveHub(options: HubOptions): LiveHub {
  const { feed, intervalMs } = options;
  const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const retry = encoder.encode(`retry: ${options.retryMs}\n`);
  let lastId = 0;
  let snapshot: Snapshot | undefined;
  /** The top 10 may have changed since `snapshot` was read. */
  let stale = true;
  let closing = false;

  // Coalescing: at most one read per interval; a change during a read schedules one more.
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reading: Promise<void> | undefined;
  let lastReadAt = -Infinity;
  let rerun = false;
  let forceNext = false;
  let heartbeat: ReturnType<typeof setInterval> | undefined;

  function encode(json: string): Snapshot {
    // Ids increase, and stay comparable across instances as long as clocks roughly agree.
    lastId = Math.max(lastId + 1, Date.now());
    return {
      json,
      event: encoder.encode(`id: ${lastId}\nevent: leaderboard\ndata: ${json}\n\n`),
    };
  }

  /** Writes `bytes` to one stream, dropping it if its reader has fallen too far behind. */
  function write(stream: ReadableStreamDefaultController<Uint8Array>, bytes: Uint8Array): void {
    if ((stream.desiredSize ?? 0) <= 0) {
      drop(stream, new Error("the client stopped reading"));
      return;
    }
    try {
      stream.enqueue(bytes);
    } catch {
      drop(stream);
    }
  }

  function drop(stream: ReadableStreamDefaultController<Uint8Array>, reason?: Error): void {
    if (!streams.delete(stream)) return;
    try {
      if (reason) stream.error(reason);
      else stream.close();
    } catch {
      // already closed by the other side
    }
    changed();
  }

  function changed(): void {
    options.onStreams(streams.size);
    if (streams.size === 0) {
      clearInterval(heartbeat);
      heartbeat = undefined;
    } else {
      heartbeat ??= setInterval(() => {
        for (const stream of streams) write(stream, HEARTBEAT);
      }, options.heartbeatMs);
    }
  }

  /** Reads the top 10; broadcasts it when it changed (or always, when `force`). */
  async function refresh(force: boolean): Promise<void> {
    lastReadAt = performance.now();
    stale = false;
    const entries = await options.top();
    const json = JSON.stringify({ entries });
    if (!force && snapshot?.json === json) return;
    snapshot = encode(json);
    if (streams.size === 0) return;
    for (const stream of streams) write(stream, snapshot.event);
    options.onBroadcast();
  }

  function schedule(): void {
    if (timer || closing) return;
    if (reading) {
      rerun = true;
      return;
    }
    const wait = Math.max(0, lastReadAt + intervalMs - performance.now());
    timer = setTimeout(run, wait);
  }

  function run(): void {
    timer = undefined;
    const force = forceNext;
    forceNext = false;
    reading = refresh(force).catch((error) => {
      stale = true;
      options.onError(error);
    }).finally(() => {
      reading = undefined;
      if (rerun) {
        rerun = false;
        schedule();
      }
    });
  }

  feed.listen(function onFeed(event) {
    stale = true;
    if (event === "resubscribed") forceNext = true;
    if (streams.size > 0) schedule();
  });

  /** The current snapshot, read now if changes may have been missed while nobody listened. */
  async function current(): Promise<Snapshot> {
    if (stale || !snapshot || !feed.live) {
      // Join a read in flight rather than start a second one.
      if (reading) await reading;
      if (stale || !snapshot || !feed.live) {
        await refresh(false);
      }
    }
    return snapshot!;
  }

  return {
    get size() {
      return streams.size;
    },
    async open() {
      if (closing) return "closing";
      if (streams.size >= options.maxClients) return "full";
      const first = await current();
      if (closing) return "closing";
      if (streams.size >= options.maxClients) return "full";
      let self: ReadableStreamDefaultController<Uint8Array>;
      return new ReadableStream<Uint8Array>({
        start(controller) {
          self = controller;
          streams.add(controller);
          controller.enqueue(retry);
          controller.enqueue(first.event);
          changed();
        },
        cancel() {
          // The client went away.
          drop(self);
        },
      }, new ByteLengthQueuingStrategy({ highWaterMark: options.maxBufferedBytes }));
    },
    close() {
      closing = true;
      clearTimeout(timer);
      for (const stream of [...streams]) drop(stream);
    },
  };
}
