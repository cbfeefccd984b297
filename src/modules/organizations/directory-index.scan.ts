import { ACTIVE, CURATED, type DirectoryIndexData } from './directory-index.build.js';
import { DirectoryScore } from './directory-index.score.js';
import type { WordMatch } from './directory-index.words.js';

/**
 * Bounds on one query's work, for queries whose words are common but rarely together ("churcho f
 * the li"): past them the best found so far is the answer. Organizations are looked at best first
 * (see scan()), so what the bound leaves out ranks below what was found; and such a query is
 * ambiguous anyway: the next keystroke narrows it.
 */
export const MAX_POSTINGS_READ = 50_000;
const MAX_ORGANIZATIONS_SCORED = 5_000;
/** Runs of names starting with the typed words (typo variants of each word multiply them). */
const MAX_START_RUNS = 5_000;
export const FULL = 0;
export const ALL_BUT_ONE = 1;

/** The `capacity` smallest keys offered, smallest first. */
export class Best {
  readonly keys: number[] = [];
  constructor(readonly capacity: number) {}
  get full(): boolean {
    return this.keys.length >= this.capacity;
  }
  get worst(): number {
    return this.keys[this.keys.length - 1]!;
  }
  offer(key: number) {
    if (this.full && key >= this.worst) return;
    let i = this.keys.length;
    while (i > 0 && this.keys[i - 1]! > key) i--;
    this.keys.splice(i, 0, key);
    if (this.keys.length > this.capacity) this.keys.pop();
  }
}

/** What a filter lets through, compiled once per query. */
export interface CompiledFilter {
  activeOnly: boolean;
  /** State number to require, or -1 for any. */
  state: number;
  /** Allowed NTEE numbers, or null for any. */
  ntee: Uint8Array | null;
}

/**
 * Reading the directory best first within the bounds on one query's work: the runs of names that
 * start with the query (startRuns) and the merged posting lists of a typed word (scan), the
 * candidates DirectoryIndex.search() ranks. The second layer of DirectoryIndex (see DirectoryScore).
 */
export class DirectoryScan extends DirectoryScore {
  /** scan()'s merge of posting lists, reused: list cursors and a binary heap of them by key. */
  private cursorAt = new Int32Array(256);
  private cursorEnd = new Int32Array(256);
  private cursorEdits = new Int32Array(256);
  private cursorKey = new Float64Array(256);
  private heap = new Int32Array(256);
  /** Organizations already looked at by the current scan (value = its serial). */
  private readonly seen: Int32Array;
  private serial = 0;
  /** Organizations with the second rarest typed word, for the current scan (value = markSerial). */
  private readonly marked: Int32Array;
  private markSerial = 0;
  protected postingsRead = 0;
  private runSteps = 0;

  constructor(data: DirectoryIndexData) {
    super(data);
    this.seen = new Int32Array(data.size);
    this.marked = new Int32Array(data.size);
  }

  /**
   * The runs of organizations whose names start with the typed words, each matched in place by a
   * word of its WordMatch (the last also by any word it begins), with the edits the run took. Key
   * order is word-number order word by word (a space sorts before any letter, as a shorter word
   * before its extensions), so organizations sharing their first i words are one run, ordered by
   * word i + 1: each typed word narrows a run by binary search. Exact matches give one run, that of
   * `search_key LIKE q || '%'`.
   */
  protected startRuns(matches: WordMatch[]): number[] {
    const runs: number[] = [];
    this.runSteps = 0;
    this.walkRuns(matches, 0, 0, this.data.size, 0, runs);
    return runs;
  }

  /** startRuns() from typed word `at` on, within [from, to); each run as from, to, edits. */
  private walkRuns(matches: WordMatch[], at: number, from: number, to: number, edits: number, runs: number[]): void {
    if (from >= to || ++this.runSteps > MAX_START_RUNS) return;
    if (at === matches.length) {
      runs.push(from, to, edits);
      return;
    }
    const { orgWords, orgWordStart } = this.data;
    const m = matches[at]!;
    if (m.prefixFrom < m.prefixTo) {
      const start = firstWithWordFrom(orgWords, orgWordStart, at, m.prefixFrom, from, to);
      this.walkRuns(matches, at + 1, start, firstWithWordFrom(orgWords, orgWordStart, at, m.prefixTo, start, to), edits, runs);
    }
    for (let i = 0; i < m.words.length; i += 2) {
      const w = m.words[i]!;
      const start = firstWithWordFrom(orgWords, orgWordStart, at, w, from, to);
      this.walkRuns(matches, at + 1, start, firstWithWordFrom(orgWords, orgWordStart, at, w + 1, start, to), edits + m.words[i + 1]!, runs);
    }
  }

  /**
   * Marks (in `marked`, with the returned serial) every organization with a word of `m` (in the
   * filter's state, if it names one).
   */
  protected markOrganizations(m: WordMatch, filter: CompiledFilter): number {
    if (++this.markSerial === 0x7fffffff) {
      this.marked.fill(0);
      this.markSerial = 1;
    }
    const { postingStart, state } = this.data;
    const postings = filter.state >= 0 ? this.data.statePostings : this.data.postings;
    const { marked, markSerial } = this;
    const lists = m.prefixTo - m.prefixFrom + m.words.length / 2;
    for (let l = 0; l < lists; l++) {
      const w = l < m.prefixTo - m.prefixFrom ? m.prefixFrom + l : m.words[2 * (l - m.prefixTo + m.prefixFrom)]!;
      let from = postingStart[w]!;
      let to = postingStart[w + 1]!;
      if (filter.state >= 0) {
        from = firstOfState(postings, state, filter.state, from, to);
        to = firstOfState(postings, state, filter.state + 1, from, to);
      }
      for (let p = from; p < to; p++) marked[postings[p]!] = markSerial;
    }
    return markSerial;
  }

  protected scan(m: WordMatch, best: Best, mode: number, k: number, filter: CompiledFilter, fresh = true, mustHave = 0) {
    if (fresh && ++this.serial === 0x7fffffff) {
      this.seen.fill(0);
      this.serial = 1;
    }
    const { postingStart, flags, size, state } = this.data;
    // With a state filter, each list is read only over that state's run of statePostings.
    const postings = filter.state >= 0 ? this.data.statePostings : this.data.postings;
    const lists = m.prefixTo - m.prefixFrom + m.words.length / 2;
    if (this.heap.length < lists) {
      const n = 2 * lists;
      [this.cursorAt, this.cursorEnd, this.cursorEdits, this.heap] = [new Int32Array(n), new Int32Array(n), new Int32Array(n), new Int32Array(n)];
      this.cursorKey = new Float64Array(n);
    }
    const { cursorAt, cursorEnd, cursorEdits, cursorKey, heap, seen, serial, marked } = this;
    let count = 0;
    for (let l = 0; l < lists; l++) {
      const inRange = l < m.prefixTo - m.prefixFrom;
      const w = inRange ? m.prefixFrom + l : m.words[2 * (l - m.prefixTo + m.prefixFrom)]!;
      const edits = inRange ? 0 : m.words[2 * (l - m.prefixTo + m.prefixFrom) + 1]!;
      let from = postingStart[w]!;
      let to = postingStart[w + 1]!;
      if (filter.state >= 0) {
        from = firstOfState(postings, state, filter.state, from, to);
        to = firstOfState(postings, state, filter.state + 1, from, to);
      }
      if (from === to) continue;
      cursorAt[count] = from;
      cursorEnd[count] = to;
      cursorEdits[count] = edits;
      cursorKey[count] = edits * size + postings[from]!;
      heap[count] = count;
      count++;
    }
    for (let i = (count >>> 1) - 1; i >= 0; i--) siftDown(heap, cursorKey, count, i);
    while (count > 0) {
      const c = heap[0]!;
      if (best.full && cursorKey[c]! >= best.worst) return;
      if (++this.postingsRead > MAX_POSTINGS_READ || this.scored > MAX_ORGANIZATIONS_SCORED) return;
      const o = postings[cursorAt[c]!]!;
      if (++cursorAt[c]! < cursorEnd[c]!) cursorKey[c] = cursorEdits[c]! * size + postings[cursorAt[c]!]!;
      else heap[0] = heap[--count]!;
      if (count > 0) siftDown(heap, cursorKey, count, 0);
      if (seen[o] === serial) continue;
      seen[o] = serial;
      if (mustHave !== 0 && marked[o] !== mustHave) continue;
      if (flags[o]! & CURATED || !this.passes(o, filter)) continue;
      this.score(o, k);
      if (mode === FULL ? this.matched === k && !this.leads : this.matched === k - 1) best.offer(this.edits * size + o);
    }
  }

  protected passes(o: number, f: CompiledFilter): boolean {
    const d = this.data;
    if (f.activeOnly && !(d.flags[o]! & ACTIVE)) return false;
    if (f.state >= 0 && d.state[o] !== f.state) return false;
    return f.ntee === null || f.ntee[d.ntee[o]!] === 1;
  }
}

/** The first position of [lo, hi) of statePostings whose organization's state is `st` or later. */
function firstOfState(postings: Int32Array, state: Uint16Array, st: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (state[postings[mid]!]! < st) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first organization of [lo, hi) whose word at `at` is w or later (lacking it sorts first). */
function firstWithWordFrom(orgWords: Int32Array, orgWordStart: Uint32Array, at: number, w: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const start = orgWordStart[mid]!;
    if (orgWordStart[mid + 1]! - start <= at || orgWords[start + at]! < w) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Restores the heap order of heap[0..count) below position i, by cursorKey. */
function siftDown(heap: Int32Array, cursorKey: Float64Array, count: number, i: number) {
  const c = heap[i]!;
  const key = cursorKey[c]!;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= count) break;
    if (child + 1 < count && cursorKey[heap[child + 1]!]! < cursorKey[heap[child]!]!) child++;
    if (cursorKey[heap[child]!]! >= key) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = c;
}
