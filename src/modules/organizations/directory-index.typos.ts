/**
 * Typo tolerance for the directory index by symmetric deletion: two words within k edits of each
 * other share a string reachable from each by at most k deleted letters (a substitution deletes the
 * same position on both sides, an insertion one side, a transposition one of the two letters on
 * both). So every dictionary word is stored under its deletions up to its own edit allowance, a
 * typed word looks up its own deletions, and what both reach is confirmed by computing the actual
 * distance. Deletions are stored as 32-bit hashes, not strings (about 1.5 million of them for the
 * 63,000 distinct words of 300,000 names), which is why every candidate is confirmed.
 */

/** Edits allowed for a word of this length: none under 4 letters, 1 up to 7, 2 from 8. */
export function editAllowance(length: number): number {
  return length >= 8 ? 2 : length >= 4 ? 1 : 0;
}

/** The word and every string made from it by deleting up to `depth` letters. */
export function deletions(word: string, depth: number, out: Set<string> = new Set()): Set<string> {
  out.add(word);
  if (depth > 0 && word.length > 1) {
    for (let i = 0; i < word.length; i++) {
      const shorter = word.slice(0, i) + word.slice(i + 1);
      if (!out.has(shorter) || depth > 1) deletions(shorter, depth - 1, out);
    }
  }
  return out;
}

/** How many hashes deletionHashes writes for a word of this length. */
export function deletionCount(length: number, depth: number): number {
  if (depth < 1 || length < 2) return 1;
  if (depth < 2 || length < 3) return 1 + length;
  return 1 + length + (length * (length - 1)) / 2;
}

/**
 * Writes to out[at...] hash32 of the word and of every string made from it by deleting up to
 * `depth` (at most 2) letters, computed in place without making the strings; returns where it
 * stopped (at + deletionCount). A string reachable in several ways ("committee" less either "m")
 * is written once per way.
 */
export function deletionHashes(word: string, depth: number, out: Uint32Array, at: number): number {
  const n = word.length;
  let w = at;
  out[w++] = hashSkipping(word, -1, -1);
  if (depth < 1 || n < 2) return w;
  for (let i = 0; i < n; i++) out[w++] = hashSkipping(word, i, -1);
  if (depth < 2 || n < 3) return w;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out[w++] = hashSkipping(word, i, j);
  return w;
}

function hashSkipping(word: string, i: number, j: number): number {
  let h = 0x811c9dc5;
  for (let p = 0; p < word.length; p++) {
    if (p === i || p === j) continue;
    h ^= word.charCodeAt(p);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** FNV-1a over the string's UTF-16 code units (the index's words are ASCII). */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Rows of editDistance's table, reused: one search runs at a time on a thread. */
let rows = [new Int32Array(128), new Int32Array(128), new Int32Array(128)];

/**
 * Optimal string alignment distance (insertions, deletions, substitutions and transpositions of
 * neighbours, each 1), or max + 1 as soon as it must exceed max.
 */
export function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  if (a === b) return 0;
  const n = b.length;
  if (rows[0]!.length <= n) rows = rows.map(() => new Int32Array(2 * n + 2));
  let [before, previous, current] = rows as [Int32Array, Int32Array, Int32Array];
  for (let j = 0; j <= n; j++) previous[j] = j;
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    let rowMin = i;
    const ai = a.charCodeAt(i - 1);
    for (let j = 1; j <= n; j++) {
      const bj = b.charCodeAt(j - 1);
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (ai === bj ? 0 : 1));
      if (i > 1 && j > 1 && ai === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === bj) d = Math.min(d, before[j - 2]! + 1);
      current[j] = d;
      if (d < rowMin) rowMin = d;
    }
    if (rowMin > max) return max + 1;
    [before, previous, current] = [previous, current, before];
  }
  return Math.min(previous[n]!, max + 1);
}
