/**
 * The live boards of one instance. Each board in use (a period's current window) follows the
 * refresh feed, reads its top 10 at most once per interval (always ending on the latest state),
 * and when it changed writes one pre-encoded SSE event — the same bytes — to every stream open on
 * it. A window that turns sends its new, empty board by the clock, with no message needed. While
 * the feed is not live (Redis away), boards are read again every tick so that other instances'
 * changes still arrive through PostgreSQL. Streams that go away are dropped at once, and streams
 * whose reader stopped reading are dropped before their buffer passes a bound.
 *
 * A new stream starts with the board as it is, read for it alone (streams joining together share
 * the read): only a change goes to every stream, at most once per interval, however many join. A
 * stream ends by itself after its lifetime (with jitter) and when the instance stops, telling its
 * client to come back at once (`retry: REJOIN_MS`): behind a load balancer it lands wherever
 * there is room, so a restarted or added instance gets its share within a lifetime.
 */
import { ATTACH, type AttachableBody } from "../http/node_server.ts";
import type { Entry } from "../leaderboard/entries.ts";
import type { RefreshFeed } from "../leaderboard/feed.ts";
import { type Clock, isCurrent, type Period, type Window } from "../leaderboard/periods.ts";

/** A board's top as the hub sends it. */
export interface Top {
  window: Window;
  total: number;
  entries: Entry[];
}

/** What the hub needs and reports. */
export interface HubOptions {
  feed: RefreshFeed;
  clock: Clock;
  /** Reads the top 10 of `period`'s current window. */
  top(period: Period): Promise<Top>;
  intervalMs: number;
  heartbeatMs: number;
  retryMs: number;
  /** How long a stream lives, at most (it ends between 75 and 100 % of it); 0: for ever. */
  lifetimeMs: number;
  maxClients: number;
  maxBufferedBytes: number;
  /**
   * Streams are delivered by attaching the server's socket to the body (node:http, see
   * `src/http/node_server.ts`) rather than by reading it (Deno.serve).
   */
  attach?: boolean;
  onStreams(count: number): void;
  /** An event went out; `delaySeconds` since the first change heard after the previous one. */
  onBroadcast(period: Period, delaySeconds: number | null): void;
  /** A stream was refused. */
  onRefused(reason: Refusal): void;
  /** A stream was dropped because its client stopped reading. */
  onSlowReader(): void;
  onError(error: Error): void;
}

/** Why `open` refused a stream. */
export type Refusal = "full" | "closing";

/** The instance's stream hub. */
export interface LiveHub {
  /** Open streams, all boards together. */
  readonly size: number;
  /** A new stream of `period`'s board that starts with its current top, or why there is none. */
  open(period: Period): Promise<ReadableStream<Uint8Array> | Refusal>;
  /** Ends every stream (clients reconnect elsewhere) and refuses new ones. */
  close(): void;
}

/** One open stream, whatever carries it: a ReadableStream's queue, or a node socket. */
interface Stream {
  /** Bytes accepted but not yet sent (the slow-reader bound applies to them). */
  readonly pending: number;
  /** When it ends by itself (performance.now()); Infinity: never. */
  endsAt: number;
  write(bytes: Uint8Array): void;
  /** Ends the stream: cleanly, or with `reason` when its client is dropped. */
  end(reason?: Error): void;
}

const encoder = new TextEncoder();
const HEARTBEAT = encoder.encode(": heartbeat\n\n");

/** The reconnection delay a stream ending by itself asks of its client: at once, but not all of
 * them in the same millisecond (the page and the client wait 50 to 100 % of it). */
export const REJOIN_MS = 200;
const REJOIN = encoder.encode(`retry: ${REJOIN_MS}\n\n`);

/** How often boards check the clock (window turns) and, with the feed down, read again. */
const TICK_MS = 1000;

interface Snapshot {
  /** Its event's id: one encoded later has a greater one. */
  id: number;
  /** What decides whether a new read changed anything: the window and its entries. */
  key: string;
  /** The whole event, `retry:` hint excluded. */
  event: Uint8Array;
  window: Window;
}

/** One board's streams and the coalesced reads that feed them. */
interface Board {
  readonly streams: Set<Stream>;
  /** The board may have changed since its snapshot was read; `force` sends even if not. */
  touch(force?: boolean): void;
  /**
   * The snapshot to start a new stream with: the last one broadcast when it is current, else one
   * read for the streams joining now alone (never broadcast: the schedule does that).
   */
  current(): Promise<Snapshot>;
  /** The last snapshot read (what streams were last sent), without reading. */
  latest(): Snapshot | undefined;
  tick(): void;
  stop(): void;
}

/** Builds the hub; it does nothing until a stream opens or the feed speaks. */
export function createLiveHub(options: HubOptions): LiveHub {
  const { feed, clock, intervalMs } = options;
  const boards = new Map<Period, Board>();
  const retry = encoder.encode(`retry: ${options.retryMs}\n`);
  let size = 0;
  let lastId = 0;
  let closing = false;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let ticker: ReturnType<typeof setInterval> | undefined;

  function encode(period: Period, top: Top): Snapshot {
    const { window, total, entries } = top;
    const json = JSON.stringify({
      period,
      startsAt: window.start?.toISOString() ?? null,
      endsAt: window.end?.toISOString() ?? null,
      total,
      entries,
    });
    // Ids increase, and stay comparable across instances as long as clocks roughly agree.
    lastId = Math.max(lastId + 1, Date.now());
    return {
      id: lastId,
      key: `${window.id} ${JSON.stringify(entries)}`,
      event: encoder.encode(`id: ${lastId}\nevent: leaderboard\ndata: ${json}\n\n`),
      window,
    };
  }

  /** Writes `bytes` to one stream, dropping it if its reader has fallen too far behind. */
  function write(board: Board, stream: Stream, bytes: Uint8Array): void {
    if (stream.pending >= options.maxBufferedBytes) {
      options.onSlowReader();
      drop(board, stream, new Error("the client stopped reading"));
      return;
    }
    try {
      stream.write(bytes);
    } catch {
      drop(board, stream);
    }
  }

  function drop(board: Board, stream: Stream, reason?: Error): void {
    if (!board.streams.delete(stream)) return;
    try {
      stream.end(reason);
    } catch {
      // already closed by the other side
    }
    size--;
    changed();
  }

  /** Ends a stream that is done (its lifetime, the instance stopping): its client comes back. */
  function release(board: Board, stream: Stream): void {
    try {
      stream.write(REJOIN);
    } catch {
      // gone already
    }
    drop(board, stream);
  }

  /** Starts delivering to `stream`: the retry hint, then the board as it is. */
  function subscribe(board: Board, stream: Stream, first: Snapshot): void {
    stream.endsAt = options.lifetimeMs > 0
      ? performance.now() + options.lifetimeMs * (0.75 + Math.random() * 0.25)
      : Infinity;
    board.streams.add(stream);
    size++;
    stream.write(retry);
    stream.write(first.event);
    changed();
  }

  /** Starts or stops the timers that only run while streams are open. */
  function changed(): void {
    options.onStreams(size);
    if (size === 0) {
      clearInterval(heartbeat);
      clearInterval(ticker);
      heartbeat = ticker = undefined;
      return;
    }
    heartbeat ??= setInterval(() => {
      for (const board of boards.values()) {
        for (const stream of board.streams) write(board, stream, HEARTBEAT);
      }
    }, options.heartbeatMs);
    ticker ??= setInterval(() => {
      const now = performance.now();
      for (const board of boards.values()) {
        for (const stream of board.streams) if (stream.endsAt <= now) release(board, stream);
        board.tick();
      }
    }, TICK_MS);
  }

  function createBoard(period: Period): Board {
    const streams = new Set<Stream>();
    let snapshot: Snapshot | undefined;
    let stale = true;
    // Coalescing: at most one read per interval; a change during a read schedules one more.
    let timer: ReturnType<typeof setTimeout> | undefined;
    let reading: Promise<void> | undefined;
    let lastReadAt = -Infinity;
    let rerun = false;
    let forceNext = false;
    /** The read of the streams joining while the snapshot may be out of date, shared by them. */
    let joining: Promise<Snapshot> | undefined;
    /** When the first change since the last broadcast was heard (for the delay metric). */
    let changedAt: number | undefined;

    /** Reads the top; broadcasts it when it changed (or always, when `force`). */
    async function refresh(force: boolean): Promise<void> {
      lastReadAt = performance.now();
      stale = false;
      const heard = changedAt;
      changedAt = undefined;
      const next = encode(period, await options.top(period));
      if (!force && snapshot?.key === next.key) return;
      snapshot = next;
      if (streams.size === 0) return;
      for (const stream of streams) write(board, stream, next.event);
      options.onBroadcast(
        period,
        heard === undefined ? null : (performance.now() - heard) / 1000,
      );
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

    const board: Board = {
      streams,
      touch(force = false) {
        stale = true;
        if (streams.size > 0) changedAt ??= performance.now();
        if (force) forceNext = true;
        if (streams.size > 0) schedule();
      },
      async current() {
        const fresh = () =>
          !stale && snapshot && feed.live && isCurrent(snapshot.window, clock.now());
        // A broadcast read in flight started before this stream: its board may be older than
        // one read now, and it would reach the stream after the newer one.
        if (reading) await reading.catch(() => {});
        if (fresh()) return snapshot!;
        if (!snapshot) {
          // The board's first read: no stream has it yet, so it is everyone's.
          joining ??= refresh(false).then(() => snapshot!).finally(() => joining = undefined);
          return await joining;
        }
        joining ??= options.top(period)
          .then((top) => encode(period, top))
          .finally(() => joining = undefined);
        return await joining;
      },
      latest: () => snapshot,
      tick() {
        if (streams.size === 0) return;
        if (snapshot && !isCurrent(snapshot.window, clock.now())) board.touch(true);
        else if (!feed.live) board.touch();
      },
      stop() {
        clearTimeout(timer);
        for (const stream of [...streams]) release(board, stream);
      },
    };
    return board;
  }

  function boardOf(period: Period): Board {
    let board = boards.get(period);
    if (!board) {
      board = createBoard(period);
      boards.set(period, board);
    }
    return board;
  }

  feed.listen(function onFeed(event) {
    // A change on an account touches every board it is in: all four current ones.
    for (const board of boards.values()) board.touch(event === "resubscribed");
  });

  return {
    get size() {
      return size;
    },
    async open(period) {
      const refused = (): Refusal | null =>
        closing ? "closing" : size >= options.maxClients ? "full" : null;
      let refusal = refused();
      if (refusal) {
        options.onRefused(refusal);
        return refusal;
      }
      const board = boardOf(period);
      const first = await board.current();
      refusal = refused();
      if (refusal) {
        options.onRefused(refusal);
        return refusal;
      }
      if (options.attach) {
        // node:http: the server gives this body its socket instead of reading it.
        const body = new ReadableStream<Uint8Array>() as
          & ReadableStream<Uint8Array>
          & AttachableBody;
        body[ATTACH] = (sink) => {
          // Attached once the response has started: meanwhile the hub may have begun to close
          // (it would not end this stream), and the board may have been sent again.
          if (closing) return sink.end();
          const socket = Object.assign(sink, { endsAt: Infinity });
          socket.onClose(() => drop(board, socket));
          const latest = board.latest();
          subscribe(board, socket, latest && latest.id > first.id ? latest : first);
        };
        return body;
      }
      let self: Stream;
      return new ReadableStream<Uint8Array>({
        start(controller) {
          self = {
            get pending() {
              return options.maxBufferedBytes - (controller.desiredSize ?? 0);
            },
            endsAt: Infinity,
            write: (bytes) => controller.enqueue(bytes),
            end: (reason) => reason ? controller.error(reason) : controller.close(),
          };
          subscribe(board, self, first);
        },
        cancel() {
          // The client went away.
          drop(board, self);
        },
      }, new ByteLengthQueuingStrategy({ highWaterMark: options.maxBufferedBytes }));
    },
    close() {
      closing = true;
      for (const board of boards.values()) board.stop();
    },
  };
}
