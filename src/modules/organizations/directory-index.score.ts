import type { DirectoryIndexData } from './directory-index.build.js';
import type { WordMatch } from './directory-index.words.js';

/**
 * Typed words beyond these are ignored: each needs 2 bits of a 32-bit word's match record, and
 * nobody types 17 words into an autocomplete box.
 */
export const MAX_TYPED_WORDS = 16;

/**
 * Which typed words an organization's name has, and with how many edits: markWords() records the
 * query's matches per dictionary word, score() reads them for each organization looked at. The
 * first layer of DirectoryIndex (then DirectoryScan, then DirectoryIndex itself): one object, so
 * the scans' hot loops read this scratch space as fields of their own.
 */
export class DirectoryScore {
  /** Per word, for the current query (valid where wordQuery = query): which typed words it matches... */
  private readonly wordQuery: Int32Array;
  private readonly wordMask: Uint32Array;
  /** ...and with how many edits, 2 bits per typed word. */
  private readonly wordEdits: Uint32Array;
  private query = 0;
  private readonly bestEdits = new Uint8Array(MAX_TYPED_WORDS);
  /** The current query's last typed word and the run of words it begins (markWords). */
  private lastWord = 0;
  private prefixFrom = 0;
  private prefixTo = 0;
  protected scored = 0;
  /** score()'s results, kept in fields rather than a new object per organization scored. */
  protected matched = 0;
  protected edits = 0;
  protected leads = false;

  constructor(readonly data: DirectoryIndexData) {
    const wordCount = data.wordStart.length - 1;
    this.wordQuery = new Int32Array(wordCount);
    this.wordMask = new Uint32Array(wordCount);
    this.wordEdits = new Uint32Array(wordCount);
  }

  /** Records, for every word some typed word matches, which ones and with how many edits. */
  protected markWords(matches: WordMatch[]) {
    if (++this.query === 0x7fffffff) {
      this.wordQuery.fill(0);
      this.query = 1;
    }
    for (let t = 0; t < matches.length; t++) {
      const m = matches[t]!;
      for (let i = 0; i < m.words.length; i += 2) this.mark(m.words[i]!, t, m.words[i + 1]!);
    }
    // The last word's prefix run (thousands of words for one letter) is checked by range instead.
    const last = matches[matches.length - 1]!;
    this.lastWord = matches.length - 1;
    this.prefixFrom = last.prefixFrom;
    this.prefixTo = last.prefixTo;
  }

  private mark(w: number, t: number, edits: number) {
    if (this.wordQuery[w] !== this.query) {
      this.wordQuery[w] = this.query;
      this.wordMask[w] = 0;
      this.wordEdits[w] = 0;
    }
    const bit = 1 << t;
    if (this.wordMask[w]! & bit) {
      if (edits >= ((this.wordEdits[w]! >>> (2 * t)) & 3)) return;
      this.wordEdits[w] = this.wordEdits[w]! & ~(3 << (2 * t));
    }
    this.wordMask[w] = this.wordMask[w]! | bit;
    this.wordEdits[w] = this.wordEdits[w]! | (edits << (2 * t));
  }

  /**
   * Sets matched (how many of the k typed words organization `o` has), edits (the fewest it
   * takes) and leads (its name starts with the typed words, each in place).
   */
  protected score(o: number, k: number) {
    this.scored++;
    const { orgWords, orgWordStart } = this.data;
    const { wordQuery, wordMask, wordEdits, bestEdits, query } = this;
    const from = orgWordStart[o]!;
    const to = orgWordStart[o + 1]!;
    const { prefixFrom, prefixTo, lastWord } = this;
    let found = 0;
    for (let i = from; i < to; i++) {
      const w = orgWords[i]!;
      if (w >= prefixFrom && w < prefixTo) {
        // No word is both in the prefix run and marked for the last word; 0 edits is its best.
        bestEdits[lastWord] = 0;
        found |= 1 << lastWord;
      }
      if (wordQuery[w] !== query) continue;
      const edits = wordEdits[w]!;
      for (let m = wordMask[w]!; m !== 0; m &= m - 1) {
        const bit = m & -m;
        const t = 31 - Math.clz32(bit);
        const e = (edits >>> (2 * t)) & 3;
        if (!(found & bit) || e < bestEdits[t]!) bestEdits[t] = e;
        found |= bit;
      }
    }
    let matched = 0;
    let total = 0;
    for (let m = found; m !== 0; m &= m - 1) {
      matched++;
      total += bestEdits[31 - Math.clz32(m & -m)]!;
    }
    let leads = to - from >= k;
    for (let t = 0; leads && t < k; t++) {
      const w = orgWords[from + t]!;
      leads = (t === lastWord && w >= prefixFrom && w < prefixTo) || (wordQuery[w] === query && ((wordMask[w]! >>> t) & 1) === 1);
    }
    this.matched = matched;
    this.edits = total;
    this.leads = leads;
  }
}
