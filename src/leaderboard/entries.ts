/** Board rows as the API shows them (API.md's `Entry`), and the one rule that ranks them. */

/** One row of a board. */
export interface Entry {
  rank: number;
  accountId: number;
  username: string;
  totalPoints: number;
}

/** A row read in board order, before it is ranked. */
export interface Row {
  id: number;
  name: string;
  points: number;
}

/**
 * Ranks consecutive rows of a board, best first: `rank` is 1 + the accounts with strictly more
 * points. `above` counts those above the first row; `position` is the first row's place in board
 * order (0-based), so that a row not tied with the one before it ranks `position + i + 1`.
 */
export function rankRows(rows: readonly Row[], above: number, position: number): Entry[] {
  const entries: Entry[] = [];
  for (let i = 0; i < rows.length; i++) {
    const { id, name, points } = rows[i];
    const previous = entries[i - 1];
    const rank = previous === undefined
      ? above + 1
      : previous.totalPoints === points
      ? previous.rank
      : position + i + 1;
    entries.push({ rank, accountId: id, username: name, totalPoints: points });
  }
  return entries;
}

/** Entries of one account each, ranked on their own (a friends board), best first. */
export function byRank(entries: Entry[]): Entry[] {
  return entries.sort((a, b) => a.rank - b.rank || a.accountId - b.accountId);
}
