/**
 * The top of each current board, kept in memory: most clients read just that. It is trusted only
 * while the feed is live, dropped by every change the feed announces (from any instance), and
 * never older than a second, which bounds what nobody announces (a set deleted by hand).
 */
import type { PageEntries } from "./truth.ts";
import type { Window } from "./periods.ts";

/** How many entries the cached top holds (the live top 10). */
export const TOP = 10;

/** How long a cached top may be served without any change announced. */
const MAX_AGE_MS = 1000;

/** Cached tops by board. */
export interface TopCache {
  /** The top of `window`'s board, from memory when it can be trusted. */
  get(window: Window): Promise<PageEntries>;
  /** Drops everything: a board may have changed. */
  invalidate(): void;
  /** Changes whenever the cache is dropped; a page read at a version holds while it stands. */
  readonly version: number;
  /** Whether tops are trusted at all (the feed is live). */
  readonly trusted: boolean;
}

/** A cache over `read`, trusted while `live()` holds. */
export function createTopCache(
  read: (window: Window) => Promise<PageEntries>,
  live: () => boolean,
): TopCache {
  // `generation` keeps a read that started before a change from filling the cache after it.
  let generation = 0;
  const cached = new Map<string, { page: PageEntries; at: number }>();
  const reading = new Map<string, { generation: number; promise: Promise<PageEntries> }>();

  return {
    get(window) {
      const hit = cached.get(window.id);
      if (hit && performance.now() - hit.at < MAX_AGE_MS && live()) {
        return Promise.resolve(hit.page);
      }
      const inFlight = reading.get(window.id);
      if (inFlight?.generation === generation) return inFlight.promise;
      const started = generation;
      const promise = read(window).then((page) => {
        if (started === generation && live()) {
          // Windows that turned are dropped with the first read of another one.
          if (!cached.has(window.id)) {
            for (const [id] of cached) if (id.startsWith(`${window.period}:`)) cached.delete(id);
          }
          cached.set(window.id, { page, at: performance.now() });
        }
        return page;
      }).finally(() => {
        if (reading.get(window.id)?.promise === promise) reading.delete(window.id);
      });
      reading.set(window.id, { generation: started, promise });
      return promise;
    },
    invalidate() {
      generation++;
      cached.clear();
    },
    get version() {
      return generation;
    },
    get trusted() {
      return live();
    },
  };
}
