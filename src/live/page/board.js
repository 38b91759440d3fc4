// What changed between two events of one board: each row's movement, and who scored. No DOM.
import { formatNumber, ordinal } from "./format.js";

/**
 * @typedef {{ rank: number, accountId: number, username: string, totalPoints: number }} Entry
 * @typedef {{
 *   period: string, startsAt: string | null, endsAt: string | null, total: number,
 *   entries: Entry[],
 * }} Board
 * @typedef {Entry & {
 *   move: number | "new" | null,
 *   gained: number | null,
 *   scored: boolean,
 * }} Row
 */

/**
 * Whether `next` continues `previous` (same period and window), so that movement means something.
 * @param {Board | null} previous
 * @param {Board} next
 */
export function sameBoard(previous, next) {
  return previous !== null && previous.period === next.period &&
    previous.startsAt === next.startsAt;
}

/**
 * `next`'s rows with their movement since `previous` (null: the board is new to the page, nothing
 * moved). `move` is places gained (negative: lost), "new" for an account that was not shown, null
 * when unchanged. Only points mark a row as scored: when one account overtakes others, theirs
 * ranks drop but they did nothing, and lighting them would hide who did.
 * @param {Board | null} previous
 * @param {Board} next
 * @returns {Row[]}
 */
export function compareBoards(previous, next) {
  if (!sameBoard(previous, next)) {
    return next.entries.map((entry) => ({ ...entry, move: null, gained: null, scored: false }));
  }
  const before = new Map(previous.entries.map((entry) => [entry.accountId, entry]));
  // Whether the previous event showed every ranked account: then a newcomer had no points.
  const wholeBoard = previous.total <= previous.entries.length;
  const lowest = previous.entries.length > 0
    ? Math.min(...previous.entries.map((entry) => entry.totalPoints))
    : 0;
  return next.entries.map((entry) => {
    const was = before.get(entry.accountId);
    if (was) {
      const gained = entry.totalPoints - was.totalPoints;
      const move = was.rank - entry.rank;
      return {
        ...entry,
        move: move === 0 ? null : move,
        gained: gained === 0 ? null : gained,
        scored: gained !== 0,
      };
    }
    if (wholeBoard) return { ...entry, move: "new", gained: entry.totalPoints, scored: true };
    // It was below the top: it scored if it now has more than the lowest shown had (its gain is
    // unknown); otherwise it moved up because someone left the board.
    return { ...entry, move: "new", gained: null, scored: entry.totalPoints > lowest };
  });
}

/**
 * @typedef {{ accountId: number, username: string, gained: number | null, rank: number }} Score
 */

/**
 * Folds the scorers of a new event into those not announced yet: gains add up, ranks are the
 * latest.
 * @param {Map<number, Score>} pending
 * @param {Row[]} rows
 */
export function addScores(pending, rows) {
  for (const row of rows) {
    if (!row.scored) continue;
    const earlier = pending.get(row.accountId);
    const gained = earlier === undefined
      ? row.gained
      : earlier.gained === null || row.gained === null
      ? null
      : earlier.gained + row.gained;
    pending.set(row.accountId, {
      accountId: row.accountId,
      username: row.username,
      gained,
      rank: row.rank,
    });
  }
  return pending;
}

/** How many scorers an announcement names before "and N more". */
const NAMED = 3;

/**
 * One short sentence for screen readers: "alice +45, now 1st; bob +10, now 4th".
 * @param {Iterable<Score>} scores
 */
export function summarise(scores) {
  const all = [...scores].sort((a, b) => a.rank - b.rank);
  const parts = all.slice(0, NAMED).map((score) =>
    `${score.username} ${
      score.gained === null ? "scored" : `+${formatNumber(score.gained)}`
    }, now ${ordinal(score.rank)}`
  );
  if (all.length > NAMED) parts.push(`and ${all.length - NAMED} more scored`);
  return parts.join("; ");
}
