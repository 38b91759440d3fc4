/**
 * The instance's one Redis subscription on `<prefix>scoreboard:refresh`. It tells listeners when
 * the ranking may have changed: on a message, and when the subscription comes back after Redis
 * was away (messages published meanwhile are lost, so everything must be read again).
 */
import type { Redis } from "ioredis";

/** Why listeners are called: a published change, a new subscription, or a lost one. */
export type FeedEvent = "message" | "resubscribed" | "lost";

/** Change notifications from every instance. */
export interface RefreshFeed {
  /** True while subscribed: a cache may trust that it will hear of every change. */
  readonly live: boolean;
  /** Calls `listener` on every event until the returned function is called. */
  listen(listener: (event: FeedEvent) => void): () => void;
  close(): Promise<void>;
}

/**
 * Subscribes `subscriber` (a connection of its own, with its offline queue on) to `channel`.
 * It does not wait for Redis: `live` turns true when the subscription is in place.
 */
export function openRefreshFeed(
  subscriber: Redis,
  channel: string,
  onError: (error: Error) => void,
): RefreshFeed {
  const listeners = new Set<(event: FeedEvent) => void>();
  let live = false;
  let closed = false;

  function emit(event: FeedEvent): void {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        onError(error as Error);
      }
    }
  }

  function onMessage(from: string): void {
    if (from === channel) emit("message");
  }

  function onLost(): void {
    if (!live) return;
    live = false;
    emit("lost");
  }

  // ioredis subscribes again by itself after a reconnect, but only after emitting `ready`:
  // subscribing here too (a no-op for Redis) tells us when the subscription is really back.
  function subscribe(): void {
    subscriber.subscribe(channel).then(() => {
      if (closed || live) return;
      live = true;
      emit("resubscribed");
    }, (error) => onError(error));
  }

  subscriber.on("message", onMessage);
  subscriber.on("close", onLost);
  subscriber.on("ready", subscribe);
  subscribe();

  return {
    get live() {
      return live;
    },
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      live = false;
      listeners.clear();
      subscriber.off("message", onMessage);
      subscriber.off("close", onLost);
      subscriber.off("ready", subscribe);
      // With Redis away this would wait in the offline queue: the connection closes anyway.
      if (subscriber.status === "ready") await subscriber.unsubscribe(channel).catch(() => {});
    },
  };
}
