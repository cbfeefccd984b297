import type { DirectoryIndexData } from './directory-index.build.js';
import { deletionCount, deletionHashes, editAllowance, editDistance } from './directory-index.typos.js';

/** Typed words whose typo matches are remembered; autocomplete sends the same words again and again. */
const TYPO_CACHE_WORDS = 50_000;
const NO_TYPOS = new Int32Array(0);

/** One typed word and the dictionary words that match it. */
export interface WordMatch {
  /** Words [prefixFrom, prefixTo) start with the typed word (the last word only): 0 edits. */
  prefixFrom: number;
  prefixTo: number;
  /** Other matching words and their edits, flat: [word, edits, word, edits, ...]. */
  words: number[];
  /** How many postings all its words have together (an upper bound): the smallest drives a scan. */
  postings: number;
}

/** The dictionary's answer for one typed word, kept across queries. */
interface WordLookup {
  /** The word's own number, or -1. */
  exact: number;
  /** Other words within the edit allowance, flat: [word, edits, ...]. */
  typos: Int32Array;
}

/**
 * The directory's dictionary: the words a typed word matches, exactly, by a prefix or within its
 * edit allowance. It keeps nothing per query, only answers worth remembering across queries, so
 * DirectoryIndex holds one beside its scratch space and asks it once per typed word.
 */
export class DirectoryWords {
  private readonly words: Buffer;
  readonly wordCount: number;
  private readonly typoCache = new Map<string, WordLookup>();

  constructor(private readonly data: DirectoryIndexData) {
    this.words = Buffer.from(data.wordText.buffer, data.wordText.byteOffset, data.wordText.byteLength);
    this.wordCount = data.wordStart.length - 1;
  }

  private word(w: number): string {
    return this.words.toString('latin1', this.data.wordStart[w], this.data.wordStart[w + 1]);
  }

  /** The first word not sorting before `s` (ASCII), compared in place. */
  private wordAtOrAfter(s: string): number {
    const { wordText, wordStart } = this.data;
    let lo = 0;
    let hi = this.wordCount;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const from = wordStart[mid]!;
      const length = wordStart[mid + 1]! - from;
      let order = 0;
      for (let i = 0; order === 0 && i < length && i < s.length; i++) order = wordText[from + i]! - s.charCodeAt(i);
      if (order === 0) order = length - s.length;
      if (order < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  match(typed: string, last: boolean): WordMatch {
    const { postingStart } = this.data;
    // Search keys hold a-z, 0-9 and spaces only, and "{" sorts after them all.
    const prefixFrom = last ? this.wordAtOrAfter(typed) : 0;
    const prefixTo = last ? this.wordAtOrAfter(`${typed}{`) : 0;
    const { exact, typos } = this.lookUp(typed);
    const words: number[] = [];
    if (!last && exact >= 0) words.push(exact, 0);
    for (let i = 0; i < typos.length; i += 2) if (typos[i]! < prefixFrom || typos[i]! >= prefixTo) words.push(typos[i]!, typos[i + 1]!);
    let postings = postingStart[prefixTo]! - postingStart[prefixFrom]!;
    for (let i = 0; i < words.length; i += 2) postings += postingStart[words[i]! + 1]! - postingStart[words[i]!]!;
    return { prefixFrom, prefixTo, words, postings };
  }

  /** The word's number and the words within its edit allowance (and within theirs), remembered. */
  private lookUp(typed: string): WordLookup {
    const known = this.typoCache.get(typed);
    if (known) return known;
    const w = this.wordAtOrAfter(typed);
    const exact = w < this.wordCount && this.word(w) === typed ? w : -1;
    const typos: number[] = [];
    const allowance = editAllowance(typed.length);
    if (allowance > 0) {
      const { typoBits, typoBucketStart, typoHash, typoWord, wordStart } = this.data;
      const hashes = new Uint32Array(deletionCount(typed.length, allowance));
      deletionHashes(typed, allowance, hashes, 0);
      const checked = new Set<number>([exact]);
      const shift = 32 - typoBits;
      for (const h of hashes) {
        const bucket = h >>> shift;
        for (let i = typoBucketStart[bucket]!; i < typoBucketStart[bucket + 1]!; i++) {
          if (typoHash[i] !== h || checked.has(typoWord[i]!)) continue;
          const candidate = typoWord[i]!;
          checked.add(candidate);
          const length = wordStart[candidate + 1]! - wordStart[candidate]!;
          const max = Math.min(allowance, editAllowance(length));
          if (Math.abs(length - typed.length) > max) continue;
          const e = editDistance(typed, this.word(candidate), max);
          if (e <= max) typos.push(candidate, e);
        }
      }
    }
    const lookup = { exact, typos: typos.length ? Int32Array.from(typos) : NO_TYPOS };
    if (this.typoCache.size >= TYPO_CACHE_WORDS) {
      // The least recently added tenth goes, in one pass (see SearchCache.evictOldest).
      let n = TYPO_CACHE_WORDS / 10;
      for (const word of this.typoCache.keys()) {
        this.typoCache.delete(word);
        if (--n === 0) break;
      }
    }
    this.typoCache.set(typed, lookup);
    return lookup;
  }
}
