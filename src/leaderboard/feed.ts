/**
 * Change notifications: when a board may have changed. With Redis, the instance's one
 * subscription on `<prefix>scoreboard:refresh` hears every instance's changes; without it, the
 * feed stays in the process (one instance). Either way the instance's own writes are announced
 * locally too, so that its streams keep moving while Redis is away.
 */
import type { Redis } from "ioredis";

/** Why listeners are called: a change, a new subscription, or a lost one. */
export type FeedEvent = "message" | "resubscribed" | "lost";

/** Change notifications from every instance. */
export interface RefreshFeed {
  /** True while every change anywhere is heard: a cache may trust that it will be told. */
  readonly live: boolean;
  /** Calls `listener` on every event until the returned function is called. */
  listen(listener: (event: FeedEvent) => void): () => void;
  /** Tells this instance's listeners of a change it made itself. */
  announce(): void;
  close(): Promise<void>;
}

/** Listeners and their dispatch, shared by both feeds. */
function listeners(onError: (error: Error) => void) {
  const set = new Set<(event: FeedEvent) => void>();
  return {
    add(listener: (event: FeedEvent) => void) {
      set.add(listener);
      return () => set.delete(listener);
    },
    emit(event: FeedEvent) {
      for (const listener of set) {
        try {
          listener(event);
        } catch (error) {
          onError(error as Error);
        }
      }
    },
    clear: () => set.clear(),
  };
}

/** The feed of one instance on its own: every change is made here, so it is always live. */
export function openLocalFeed(onError: (error: Error) => void): RefreshFeed {
  const to = listeners(onError);
  return {
    live: true,
    listen: to.add,
    announce: () => to.emit("message"),
    close() {
      to.clear();
      return Promise.resolve();
    },
  };
}

/** How often the subscription is pinged, so that a Redis that stalls is noticed. */
const PING_INTERVAL_MS = 2000;

/**
 * Subscribes `subscriber` (a connection of its own, with its offline queue on and a socket
 * timeout) to `channel`. It does not wait for Redis: `live` turns true once subscribed.
 */
export function openRedisFeed(
  subscriber: Redis,
  channel: string,
  onError: (error: Error) => void,
): RefreshFeed {
  const to = listeners(onError);
  let live = false;
  let closed = false;

  function onMessage(from: string): void {
    if (from === channel) to.emit("message");
  }

  function onLost(): void {
    if (!live) return;
    live = false;
    to.emit("lost");
  }

  // ioredis subscribes again by itself after a reconnect, but only after emitting `ready`:
  // subscribing here too (a no-op for Redis) tells us when the subscription is really back.
  function subscribe(): void {
    subscriber.subscribe(channel).then(() => {
      if (closed || live) return;
      live = true;
      to.emit("resubscribed");
    }, (error) => onError(error));
  }

  // A subscription hears nothing from a Redis that stalls (a stopped process, a black-holed
  // network): a ping that goes unanswered lets the socket timeout drop the connection.
  const pinger = setInterval(() => {
    if (subscriber.status === "ready") subscriber.ping().catch(() => {});
  }, PING_INTERVAL_MS);

  subscriber.on("message", onMessage);
  subscriber.on("close", onLost);
  subscriber.on("ready", subscribe);
  subscribe();

  return {
    get live() {
      return live;
    },
    listen: to.add,
    announce: () => to.emit("message"),
    async close() {
      closed = true;
      live = false;
      clearInterval(pinger);
      to.clear();
      subscriber.off("message", onMessage);
      subscriber.off("close", onLost);
      subscriber.off("ready", subscribe);
      // With Redis away this would wait in the offline queue: the connection closes anyway.
      if (subscriber.status === "ready") await subscriber.unsubscribe(channel).catch(() => {});
    },
  };
}
