/** A clock that tests set by hand, to cross a window's boundary without waiting for midnight. */
import type { Clock } from "../src/leaderboard/periods.ts";

/** A clock that stands still until it is set. */
export interface FakeClock extends Clock {
  set(iso: string): void;
}

/** A clock at `iso`. */
export function fakeClock(iso: string): FakeClock {
  let ms = Date.parse(iso);
  return {
    now: () => ms,
    set(next) {
      ms = Date.parse(next);
    },
  };
}
