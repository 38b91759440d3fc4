// Follows one board's event stream with fetch() and reopens it, with backoff, whenever it fails.
//
// Why not EventSource: it cannot see a response's status or headers, and it gives up for good on
// an error status (the 503 of a full or draining instance, a 500), so a page built on it stays
// "Reconnecting…" forever. With fetch() the page reads the status and `Retry-After`, and decides
// itself when to try again; the server's `retry:` hint still sets the base delay.
import { createSseParser } from "./sse.js";

/** The base delay before the server has sent a `retry:` hint. */
const DEFAULT_BASE_MS = 1000;
/** Backoff never waits longer than this… */
const MAX_BACKOFF_MS = 30_000;
/** …unless the server asks for more, up to this. */
const MAX_RETRY_AFTER_MS = 300_000;
/**
 * A stream that has sent nothing for this long (events or heartbeats, every 15 s by default) is
 * taken for dead: a connection can die without an error reaching the page.
 */
const SILENCE_MS = 60_000;

/**
 * The wait before attempt `attempt` (0 after a stream that was live): exponential from `baseMs`,
 * with "equal jitter" (half fixed, half random) so that the clients of a failed instance do not
 * return at the same moment; never shorter than the server's `Retry-After`.
 * @param {{ attempt: number, baseMs: number, retryAfterMs?: number }} state
 * @param {() => number} [random]
 */
export function reconnectDelay({ attempt, baseMs, retryAfterMs }, random = Math.random) {
  const backoff = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.min(attempt, 16));
  const floor = retryAfterMs === undefined
    ? backoff / 2
    : Math.max(Math.min(retryAfterMs, MAX_RETRY_AFTER_MS), backoff / 2);
  return Math.round(floor + random() * backoff / 2);
}

/**
 * `Retry-After` in milliseconds (delay-seconds or an HTTP date), or undefined.
 * @param {string | null} value
 * @param {number} [now]
 */
export function parseRetryAfter(value, now = Date.now()) {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * @typedef {"connecting" | "live" | "reconnecting"} StreamState
 * @typedef {{
 *   onBoard(board: unknown): void,
 *   onState(state: StreamState): void,
 *   onHeard(): void,
 * }} StreamHandlers
 */

/**
 * Opens `url` and keeps it open until `close()`: `onBoard` gets each `leaderboard` event's data,
 * `onState` each change of state (live once an event arrived), `onHeard` every chunk (heartbeats
 * too) as proof that the board shown is still current.
 * @param {string} url
 * @param {StreamHandlers} handlers
 */
export function followStream(url, handlers) {
  let closed = false;
  let attempt = 0;
  let baseMs = DEFAULT_BASE_MS;
  /** @type {StreamState} */
  let state = "connecting";
  /** @type {AbortController | undefined} */
  let controller;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let retryTimer;

  /** @param {StreamState} next */
  function setState(next) {
    if (state === next || closed) return;
    state = next;
    handlers.onState(next);
  }

  /** @param {SseEvent} event */
  function onEvent(event) {
    if (closed || event.type !== "leaderboard") return;
    let board;
    try {
      board = JSON.parse(event.data);
    } catch {
      return; // not ours to show; the next event will be whole
    }
    attempt = 0;
    setState("live");
    handlers.onBoard(board);
  }

  async function connect() {
    retryTimer = undefined;
    const aborter = controller = new AbortController();
    /** @type {number | undefined} */
    let retryAfterMs;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let silence;
    // A live stream the server ended cleanly (its lifetime, the instance stopping) asks to be
    // reopened at once: the board stays "Live" unless that fails.
    let ended = false;
    const listen = () => {
      clearTimeout(silence);
      silence = setTimeout(() => aborter.abort(), SILENCE_MS);
    };
    try {
      const res = await fetch(url, {
        headers: { accept: "text/event-stream" },
        cache: "no-store",
        signal: aborter.signal,
      });
      const type = res.headers.get("content-type") ?? "";
      if (!res.ok || !res.body || !type.startsWith("text/event-stream")) {
        retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
        await res.body?.cancel().catch(() => {});
      } else {
        listen();
        const parser = createSseParser({
          onEvent,
          onRetry: (ms) => baseMs = Math.max(100, ms),
        });
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) ended = true;
          if (done || closed) break;
          listen();
          handlers.onHeard();
          parser.push(value);
        }
      }
    } catch {
      // A refused connection, a reset, an abort: all mean "try again", unless closed.
    } finally {
      clearTimeout(silence);
    }
    if (closed) return;
    if (!(ended && state === "live")) setState("reconnecting");
    const wait = reconnectDelay({ attempt, baseMs, retryAfterMs });
    attempt++;
    retryTimer = setTimeout(connect, wait);
  }

  connect();
  return {
    /** Ends the stream for good (another board was chosen). */
    close() {
      closed = true;
      clearTimeout(retryTimer);
      controller?.abort();
    },
  };
}

/** @typedef {import("./sse.js").SseEvent} SseEvent */
