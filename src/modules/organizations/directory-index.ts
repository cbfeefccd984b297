import {
  ACTIVE,
  CITY,
  CURATED,
  DEDUCTIBLE,
  HAS_CITY,
  HAS_LOGO,
  LOGO,
  NAME,
  SLUG,
  TEXT_FIELDS,
  type DirectoryIndexData,
} from './directory-index.build.js';
import { deletionCount, deletionHashes, editAllowance, editDistance } from './directory-index.typos.js';
import type { OrganizationType } from './organizations.schemas.js';
import { organizationSearchKey } from './search-key.js';

export interface IndexFilters {
  state?: string;
  /** An NTEE major group ("T") or code ("T20"): a prefix. */
  ntee?: string;
  includeInactive: boolean;
  limit: number;
}

/**
 * Bounds on one query's work, for queries whose words are common but rarely together ("churcho f
 * the li"): past them the best found so far is the answer. Organizations are looked at best first
 * (see scan()), so what the bound leaves out ranks below what was found; and such a query is
 * ambiguous anyway: the next keystroke narrows it.
 */
const MAX_POSTINGS_READ = 50_000;
const MAX_ORGANIZATIONS_SCORED = 5_000;
/** Runs of names starting with the typed words (typo variants of each word multiply them). */
const MAX_START_RUNS = 5_000;
/**
 * Typed words beyond these are ignored: each needs 2 bits of a 32-bit word's match record, and
 * nobody types 17 words into an autocomplete box.
 */
const MAX_TYPED_WORDS = 16;
/** Typed words whose typo matches are remembered; autocomplete sends the same words again and again. */
const TYPO_CACHE_WORDS = 50_000;
/** Organizations whose API object is kept, for the names that come up again and again. */
const ORGANIZATION_CACHE = 20_000;
const NO_TYPOS = new Int32Array(0);
const NONE = new Int32Array(0);
/**
 * The second rarest typed word's organizations are marked before a scan when it has at most this
 * many times the driver's postings: marking costs a write per posting, scoring an organization
 * the mark spares costs some fifty times that.
 */
const MARK_RATIO = 32;
const FULL = 0;
const ALL_BUT_ONE = 1;

/** One typed word and the dictionary words that match it. */
interface WordMatch {
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

/** The `capacity` smallest keys offered, smallest first. */
class Best {
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
interface CompiledFilter {
  activeOnly: boolean;
  /** State number to require, or -1 for any. */
  state: number;
  /** Allowed NTEE numbers, or null for any. */
  ntee: Uint8Array | null;
}

/**
 * The nonprofit directory in memory, for autocomplete: a word-level inverted index over the names'
 * search keys (DirectoryIndexData), answering in microseconds what the trigram index answers in
 * milliseconds. Immutable but for scratch space, and used by one thread: a new version of the
 * directory is a new DirectoryIndex, swapped in whole.
 *
 * A query's key (organization_search_key rules) is split into words; each typed word matches a
 * dictionary word that equals it or is within its edit allowance of it (directory-index.typos.ts),
 * and the last word (the one being typed) also every word it begins. Results, best first:
 * 1. curated organizations matching every word: names starting with the query (word for word, in
 *    place) first, then by fewer edits, then name order;
 * 2. other names starting with the query, fewer edits first, then name order: the exact ones
 *    (SQL's `search_key LIKE q || '%'`) come first, in name order;
 * 3. other names with every word anywhere, fewer edits first, then name order;
 * 4. only when nothing matches every word, for queries of several words, names with all words
 *    but one: curated ones first, then the rest, each by fewer edits, then name order.
 * Curated organizations matching only some words come after every full match: a curated name
 * that shares one word of "red cros" is no better a guess than any other name.
 */
export class DirectoryIndex {
  private readonly text: Buffer;
  private readonly words: Buffer;
  private readonly wordCount: number;
  private readonly stateNumbers: Map<string, number>;
  private readonly nteeFilters = new Map<string, Uint8Array>();
  private readonly typoCache = new Map<string, WordLookup>();
  private readonly organizations = new Map<number, OrganizationType>();
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
  /** Per word, for the current query (valid where wordQuery = query): which typed words it matches... */
  private readonly wordQuery: Int32Array;
  private readonly wordMask: Uint32Array;
  /** ...and with how many edits, 2 bits per typed word. */
  private readonly wordEdits: Uint32Array;
  /** How many of the words before each word are in some curated name (a prefix sum). */
  private readonly curatedWordsBefore: Int32Array;
  private query = 0;
  private readonly bestEdits = new Uint8Array(MAX_TYPED_WORDS);
  private postingsRead = 0;
  private runSteps = 0;
  /** The current query's last typed word and the run of words it begins (markWords). */
  private lastWord = 0;
  private prefixFrom = 0;
  private prefixTo = 0;
  private scored = 0;
  /** score()'s results, kept in fields rather than a new object per organization scored. */
  private matched = 0;
  private edits = 0;
  private leads = false;

  constructor(readonly data: DirectoryIndexData) {
    this.text = Buffer.from(data.text.buffer, data.text.byteOffset, data.text.byteLength);
    this.words = Buffer.from(data.wordText.buffer, data.wordText.byteOffset, data.wordText.byteLength);
    this.wordCount = data.wordStart.length - 1;
    this.stateNumbers = new Map(data.states.map((s, i) => [s, i]));
    this.seen = new Int32Array(data.size);
    this.marked = new Int32Array(data.size);
    this.wordQuery = new Int32Array(this.wordCount);
    this.wordMask = new Uint32Array(this.wordCount);
    this.wordEdits = new Uint32Array(this.wordCount);
    this.curatedWordsBefore = new Int32Array(this.wordCount + 1);
    for (const o of data.curated) {
      for (let i = data.orgWordStart[o]!; i < data.orgWordStart[o + 1]!; i++) this.curatedWordsBefore[data.orgWords[i]! + 1] = 1;
    }
    for (let w = 0; w < this.wordCount; w++) this.curatedWordsBefore[w + 1]! += this.curatedWordsBefore[w]!;
  }

  /** Whether a typed word matches a word of some curated name: most queries' do not. */
  private mayMatchCurated(matches: WordMatch[]): boolean {
    const before = this.curatedWordsBefore;
    for (const m of matches) {
      if (before[m.prefixTo]! > before[m.prefixFrom]!) return true;
      for (let i = 0; i < m.words.length; i += 2) if (before[m.words[i]! + 1]! > before[m.words[i]!]!) return true;
    }
    return false;
  }

  get version(): number {
    return this.data.version;
  }

  get size(): number {
    return this.data.size;
  }

  /** The organization with this EIN (nine digits), if it passes the filters. */
  searchEin(ein: string, f: IndexFilters): number[] {
    const filter = this.compile(f);
    if (!filter) return [];
    const { einOrder, ein: eins } = this.data;
    const target = Number(ein);
    let lo = 0;
    let hi = einOrder.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (eins[einOrder[mid]!]! < target) lo = mid + 1;
      else hi = mid;
    }
    const o = einOrder[lo];
    return o !== undefined && eins[o] === target && this.passes(o, filter) ? [o] : [];
  }

  /** Organization numbers, best first. `q` as typed (lower-cased); undefined lists the directory. */
  search(q: string | undefined, f: IndexFilters): number[] {
    const filter = this.compile(f);
    if (!filter) return [];
    const key = q === undefined ? '' : organizationSearchKey(q);
    if (key === '') return this.list(filter, f.limit);
    this.postingsRead = 0;
    this.scored = 0;
    const typed = key.split(' ').slice(0, MAX_TYPED_WORDS);
    const k = typed.length;
    const matches = typed.map((w, i) => this.match(w, i === k - 1));
    this.markWords(matches);
    const out: number[] = [];
    const { flags, curated, size } = this.data;

    // Curated organizations: a few dozen, scored one by one.
    const curatedFull = new Best(f.limit);
    const curatedPartial = new Best(f.limit);
    for (const o of this.mayMatchCurated(matches) ? curated : NONE) {
      if (!this.passes(o, filter)) continue;
      this.score(o, k);
      if (this.matched === k) curatedFull.offer(((this.leads ? 0 : 1) * 256 + this.edits) * size + o);
      else if (k > 1 && this.matched === k - 1) curatedPartial.offer(this.edits * size + o);
    }
    if (take(curatedFull, out, size, f.limit)) return out.slice(0, f.limit);

    // Names that start with the query.
    const starts = new Best(f.limit - out.length);
    const runs = this.startRuns(matches);
    for (let r = 0; r < runs.length; r += 3) {
      const edits = runs[r + 2]!;
      for (let o = runs[r]!; o < runs[r + 1]!; o++) {
        if (starts.full && edits * size + o >= starts.worst) break;
        if (++this.postingsRead > MAX_POSTINGS_READ) break;
        if (!(flags[o]! & CURATED) && this.passes(o, filter)) starts.offer(edits * size + o);
      }
    }
    if (take(starts, out, size, f.limit)) return out;

    // Other names with every word: the word with the fewest postings drives, and the next fewest,
    // its organizations marked first, spares scoring the driver's that lack it ("family chritsian":
    // 5,000 families, of which a handful are Christian).
    const full = new Best(f.limit - out.length);
    const [driver, next] = [...matches].sort((a, b) => a.postings - b.postings);
    const mustHave = next && next.postings <= MARK_RATIO * driver!.postings ? this.markOrganizations(next, filter) : 0;
    this.scan(driver!, full, FULL, k, filter, true, mustHave);
    if (take(full, out, size, f.limit) || k === 1) return out;

    // Names with all words but one, only when no name has them all: then they are the best
    // guesses left (a word mistyped beyond its allowance, or still being typed); otherwise they
    // would only add noise below, at the price of scanning common words' postings.
    if (out.length > 0) return out;
    for (const key of curatedPartial.keys) if (out.length < f.limit) out.push(key % size);
    if (out.length >= f.limit) return out;
    // Such a name has one of any two typed words, so the two rarest drive.
    const [first, second] = [...matches].sort((a, b) => a.postings - b.postings);
    const partial = new Best(f.limit - out.length);
    this.scan(first!, partial, ALL_BUT_ONE, k, filter);
    this.scan(second!, partial, ALL_BUT_ONE, k, filter, false);
    take(partial, out, size, f.limit);
    return out;
  }

  /** The API's view of organization `o` (not to be modified: it is kept for the next query). */
  organization(o: number): OrganizationType {
    let found = this.organizations.get(o);
    if (!found) {
      if (this.organizations.size >= ORGANIZATION_CACHE) this.organizations.clear();
      this.organizations.set(o, (found = this.makeOrganization(o)));
    }
    return found;
  }

  private makeOrganization(o: number): OrganizationType {
    const d = this.data;
    const flags = d.flags[o]!;
    const at = o * TEXT_FIELDS;
    const ein = d.ein[o]!;
    const digits = String(ein).padStart(9, '0');
    return {
      id: d.id[o]!,
      slug: this.textOf(at + SLUG),
      name: this.textOf(at + NAME),
      ein: ein < 0 ? null : `${digits.slice(0, 2)}-${digits.slice(2)}`,
      city: flags & HAS_CITY ? this.textOf(at + CITY) : null,
      state: d.states[d.state[o]!] || null,
      nteeCode: d.ntees[d.ntee[o]!] || null,
      deductible: (flags & DEDUCTIBLE) !== 0,
      status: flags & ACTIVE ? 'active' : 'inactive',
      logoUrl: flags & HAS_LOGO ? this.textOf(at + LOGO) : null,
      curated: (flags & CURATED) !== 0,
    };
  }

  /** Text i of DirectoryIndexData.text (packTexts). */
  private textOf(i: number): string {
    return this.text.toString('utf8', this.data.textStart[i], this.data.textStart[i + 1]! - 1);
  }

  /** Without a query: curated organizations, then the rest, each in name order. */
  private list(filter: CompiledFilter, limit: number): number[] {
    const out: number[] = [];
    for (const o of this.data.curated) if (out.length < limit && this.passes(o, filter)) out.push(o);
    const { flags, size } = this.data;
    for (let o = 0; o < size && out.length < limit; o++) if (!(flags[o]! & CURATED) && this.passes(o, filter)) out.push(o);
    return out;
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

  private match(typed: string, last: boolean): WordMatch {
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

  /** Records, for every word some typed word matches, which ones and with how many edits. */
  private markWords(matches: WordMatch[]) {
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
  private score(o: number, k: number) {
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

  /**
   * The runs of organizations whose names start with the typed words, each matched in place by a
   * word of its WordMatch (the last also by any word it begins), with the edits the run took. Key
   * order is word-number order word by word (a space sorts before any letter, as a shorter word
   * before its extensions), so organizations sharing their first i words are one run, ordered by
   * word i + 1: each typed word narrows a run by binary search. Exact matches give one run, that of
   * `search_key LIKE q || '%'`.
   */
  private startRuns(matches: WordMatch[]): number[] {
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
  private markOrganizations(m: WordMatch, filter: CompiledFilter): number {
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

  private scan(m: WordMatch, best: Best, mode: number, k: number, filter: CompiledFilter, fresh = true, mustHave = 0) {
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

  private passes(o: number, f: CompiledFilter): boolean {
    const d = this.data;
    if (f.activeOnly && !(d.flags[o]! & ACTIVE)) return false;
    if (f.state >= 0 && d.state[o] !== f.state) return false;
    return f.ntee === null || f.ntee[d.ntee[o]!] === 1;
  }

  /** The filter as numbers, or null when nothing can pass it (a state no organization is in). */
  private compile(f: IndexFilters): CompiledFilter | null {
    let state = -1;
    if (f.state !== undefined) {
      const n = this.stateNumbers.get(f.state);
      if (n === undefined || n === 0) return null;
      state = n;
    }
    let ntee: Uint8Array | null = null;
    if (f.ntee !== undefined) {
      ntee = this.nteeFilters.get(f.ntee) ?? null;
      if (!ntee) {
        ntee = new Uint8Array(this.data.ntees.length);
        this.data.ntees.forEach((code, i) => (ntee![i] = i > 0 && code.startsWith(f.ntee!) ? 1 : 0));
        // NTEE filters are a major group or a code: a few hundred distinct values at most.
        if (this.nteeFilters.size > 1000) this.nteeFilters.clear();
        this.nteeFilters.set(f.ntee, ntee);
      }
    }
    return { activeOnly: !f.includeInactive, state, ntee };
  }
}

function take(best: Best, out: number[], size: number, limit: number): boolean {
  for (const key of best.keys) out.push(key % size);
  return out.length >= limit;
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
