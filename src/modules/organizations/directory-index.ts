import { formatEin } from './bmf.js';
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
import { deletions, editAllowance, editDistance, hash32 } from './directory-index.typos.js';
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
 * Bounds on one query's work, for queries of nothing but common words with filters that reject
 * nearly everything ("inc" in a small state): past them the best found so far is the answer. Such
 * a query is ambiguous anyway, and the next keystroke narrows it.
 */
const MAX_POSTINGS_READ = 250_000;
const MAX_ORGANIZATIONS_SCORED = 25_000;
/** Runs of names starting with the typed words (typo variants of each word multiply them). */
const MAX_START_RUNS = 5_000;

/** One typed word and the dictionary words that match it, with their edit distances. */
interface WordMatch {
  /** Words [prefixFrom, prefixTo) start with the typed word (the last word only): 0 edits. */
  prefixFrom: number;
  prefixTo: number;
  /** The word itself (0) and typo matches (1 or 2), beyond the prefix run. */
  edits: Map<number, number>;
  /** How many postings all its words have together (an upper bound): the smallest drives a scan. */
  postings: number;
}

/** The `limit` best keys offered, smallest first. */
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
 * milliseconds. Immutable: a new version of the directory is a new DirectoryIndex, swapped in whole.
 *
 * A query's key (organization_search_key rules) is split into words; each typed word matches a
 * dictionary word that equals it or, within its edit allowance, nearly does, and the last word
 * (the one being typed) also every word it begins. Results, best first:
 * 1. curated organizations matching every word (names starting with the query first, then fewer
 *    edits, then name order);
 * 2. other names starting with the query, in name order (SQL's `search_key LIKE q || '%'`);
 * 3. other names matching every word, fewer edits first, then name order;
 * 4. then, for queries of several words, names matching all words but one: curated ones first,
 *    then the rest, each by edits, then name.
 * Curated organizations matching only some words come after every full match: a curated name
 * that shares one word of "red cros" is no better a guess than any other.
 */
export class DirectoryIndex {
  private readonly text: Buffer;
  private readonly words: Buffer;
  private readonly wordCount: number;
  private readonly stateNumbers: Map<string, number>;
  private readonly nteeFilters = new Map<string, Uint8Array>();
  /** Organizations already looked at by the current query (value = the query's serial). */
  private readonly seen: Int32Array;
  private serial = 0;
  private postingsRead = 0;
  private scored = 0;

  constructor(readonly data: DirectoryIndexData) {
    this.text = Buffer.from(data.text.buffer, data.text.byteOffset, data.text.byteLength);
    this.words = Buffer.from(data.wordText.buffer, data.wordText.byteOffset, data.wordText.byteLength);
    this.wordCount = data.wordStart.length - 1;
    this.stateNumbers = new Map(data.states.map((s, i) => [s, i]));
    this.seen = new Int32Array(data.size);
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
    this.nextSerial();
    this.postingsRead = 0;
    this.scored = 0;
    const typed = key.split(' ');
    const matches = typed.map((w, i) => this.match(w, i === typed.length - 1));
    const k = typed.length;
    const out: number[] = [];
    const { flags, curated, size } = this.data;
    const take = (best: Best) => {
      for (const key of best.keys) out.push(key % size);
      return out.length >= f.limit;
    };

    // Curated organizations: a few dozen, scored one by one.
    const curatedFull = new Best(f.limit);
    const curatedPartial = new Best(f.limit);
    for (const o of curated) {
      if (!this.passes(o, filter)) continue;
      const s = this.score(o, matches);
      if (s.matched === k) curatedFull.offer(((s.leads ? 0 : 1) * 256 + s.edits) * size + o);
      else if (k > 1 && s.matched === k - 1) curatedPartial.offer(s.edits * size + o);
    }
    if (take(curatedFull)) return out.slice(0, f.limit);

    // Names that start with the query, typos allowed: exact ones (no edits) first, in name order.
    const starts = new Best(f.limit - out.length);
    this.startRuns(matches, (from, to, edits) => {
      for (let o = from; o < to; o++) {
        if (starts.full && edits * size + o >= starts.worst) return;
        if (++this.postingsRead > MAX_POSTINGS_READ) return;
        if (!(flags[o]! & CURATED) && this.passes(o, filter)) starts.offer(edits * size + o);
      }
    });
    if (take(starts)) return out;

    // Other names with every word, fewest edits first; the word with the fewest postings drives.
    const driver = matches.reduce((a, b) => (b.postings < a.postings ? b : a));
    const full = new Best(f.limit - out.length);
    this.scan(driver, full, (o) => {
      if (flags[o]! & CURATED || !this.passes(o, filter)) return;
      const s = this.score(o, matches);
      if (s.matched === k && !s.leads) full.offer(s.edits * size + o);
    });
    if (take(full) || k === 1) return out;

    for (const key of curatedPartial.keys) if (out.length < f.limit) out.push(key % size);
    if (out.length >= f.limit) return out;

    // All words but one: such a name has one of any two typed words, so the two rarest drive.
    this.nextSerial();
    const [first, second] = [...matches].sort((a, b) => a.postings - b.postings);
    const partial = new Best(f.limit - out.length);
    const visit = (o: number) => {
      if (flags[o]! & CURATED || !this.passes(o, filter)) return;
      const s = this.score(o, matches);
      if (s.matched === k - 1) partial.offer(s.edits * size + o);
    };
    this.scan(first!, partial, visit);
    this.scan(second!, partial, visit);
    take(partial);
    return out;
  }

  /** The API's view of organization `o`. */
  organization(o: number): OrganizationType {
    const d = this.data;
    const flags = d.flags[o]!;
    const text = (field: number) => this.text.toString('utf8', d.textStart[o * TEXT_FIELDS + field], d.textStart[o * TEXT_FIELDS + field + 1]! - 1);
    const ein = d.ein[o]!;
    return {
      id: d.id[o]!,
      slug: text(SLUG),
      name: text(NAME),
      ein: ein < 0 ? null : formatEin(String(ein).padStart(9, '0')),
      city: flags & HAS_CITY ? text(CITY) : null,
      state: d.states[d.state[o]!] || null,
      nteeCode: d.ntees[d.ntee[o]!] || null,
      deductible: (flags & DEDUCTIBLE) !== 0,
      status: flags & ACTIVE ? 'active' : 'inactive',
      logoUrl: flags & HAS_LOGO ? text(LOGO) : null,
      curated: (flags & CURATED) !== 0,
    };
  }

  /** Without a query: curated organizations, then the rest, each in name order. */
  private list(filter: CompiledFilter, limit: number): number[] {
    const out: number[] = [];
    for (const o of this.data.curated) if (out.length < limit && this.passes(o, filter)) out.push(o);
    const { flags, size } = this.data;
    for (let o = 0; o < size && out.length < limit; o++) if (!(flags[o]! & CURATED) && this.passes(o, filter)) out.push(o);
    return out;
  }

  /** A new mark for `seen`, so nothing is marked seen by it yet. */
  private nextSerial() {
    if (++this.serial === 0x7fffffff) {
      this.seen.fill(0);
      this.serial = 1;
    }
  }

  private word(w: number): string {
    return this.words.toString('latin1', this.data.wordStart[w], this.data.wordStart[w + 1]);
  }

  /** The first word not sorting before `s`. */
  private wordAtOrAfter(s: string): number {
    let lo = 0;
    let hi = this.wordCount;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.word(mid) < s) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private exactWord(s: string): number {
    const w = this.wordAtOrAfter(s);
    return w < this.wordCount && this.word(w) === s ? w : -1;
  }

  private match(typed: string, last: boolean): WordMatch {
    const { postingStart } = this.data;
    // Search keys hold a-z, 0-9 and spaces only, and "{" sorts after them all.
    const prefixFrom = last ? this.wordAtOrAfter(typed) : 0;
    const prefixTo = last ? this.wordAtOrAfter(`${typed}{`) : 0;
    const edits = new Map<number, number>();
    if (!last) {
      const exact = this.exactWord(typed);
      if (exact >= 0) edits.set(exact, 0);
    }
    this.addTypos(typed, edits);
    let postings = postingStart[prefixTo]! - postingStart[prefixFrom]!;
    for (const w of [...edits.keys()]) {
      if (w >= prefixFrom && w < prefixTo) edits.delete(w);
      else postings += postingStart[w + 1]! - postingStart[w]!;
    }
    return { prefixFrom, prefixTo, edits, postings };
  }

  /** Dictionary words within the edit allowance of `typed` (and of their own length). */
  private addTypos(typed: string, into: Map<number, number>) {
    const allowance = editAllowance(typed.length);
    if (allowance === 0) return;
    const { typoBits, typoBucketStart, typoHash, typoWord } = this.data;
    const shift = 32 - typoBits;
    const checked = new Set<number>();
    for (const variant of deletions(typed, allowance)) {
      const h = hash32(variant);
      const bucket = h >>> shift;
      for (let i = typoBucketStart[bucket]!; i < typoBucketStart[bucket + 1]!; i++) {
        if (typoHash[i] !== h) continue;
        const w = typoWord[i]!;
        if (checked.has(w)) continue;
        checked.add(w);
        const word = this.word(w);
        const max = Math.min(allowance, editAllowance(word.length));
        const e = editDistance(typed, word, max);
        if (e <= max && !((into.get(w) ?? 3) <= e)) into.set(w, e);
      }
    }
  }

  private editsFor(m: WordMatch, w: number): number {
    if (w >= m.prefixFrom && w < m.prefixTo) return 0;
    return m.edits.get(w) ?? -1;
  }

  /**
   * How many typed words organization `o` matches and the fewest edits it takes; `leads` when its
   * name starts with the typed words, each matched in place (the last one as a prefix).
   */
  private score(o: number, matches: WordMatch[]): { matched: number; edits: number; leads: boolean } {
    this.scored++;
    const { orgWords, orgWordStart } = this.data;
    const from = orgWordStart[o]!;
    const to = orgWordStart[o + 1]!;
    let matched = 0;
    let edits = 0;
    let leads = to - from >= matches.length;
    for (let t = 0; t < matches.length; t++) {
      const m = matches[t]!;
      if (leads && this.editsFor(m, orgWords[from + t]!) < 0) leads = false;
      let best = -1;
      for (let i = from; i < to; i++) {
        const e = this.editsFor(m, orgWords[i]!);
        if (e >= 0 && (best < 0 || e < best)) {
          best = e;
          if (e === 0) break;
        }
      }
      if (best >= 0) {
        matched++;
        edits += best;
      }
    }
    return { matched, edits, leads };
  }

  /**
   * The runs of organizations whose names start with the typed words, each matched in place by a
   * word of its WordMatch (the last also by any word it begins), with the edits the run took. Key
   * order is word-number order word by word (a space sorts before any letter, as a shorter word
   * before its extensions), so organizations sharing their first i words are one run, ordered by
   * word i + 1: each typed word narrows a run by binary search. Exact matches give one run, that of
   * `search_key LIKE q || '%'`.
   */
  private startRuns(matches: WordMatch[], visit: (from: number, to: number, edits: number) => void) {
    const { orgWords, orgWordStart } = this.data;
    /** The first organization of [from, to) whose word at `at` is w or later (lacking it sorts first). */
    const firstFrom = (at: number, w: number, from: number, to: number) => {
      let lo = from;
      let hi = to;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const start = orgWordStart[mid]!;
        if (orgWordStart[mid + 1]! - start <= at || orgWords[start + at]! < w) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    let runs = 0;
    const walk = (at: number, from: number, to: number, edits: number): void => {
      if (from >= to || ++runs > MAX_START_RUNS) return;
      if (at === matches.length) return visit(from, to, edits);
      const m = matches[at]!;
      if (m.prefixFrom < m.prefixTo) walk(at + 1, firstFrom(at, m.prefixFrom, from, to), firstFrom(at, m.prefixTo, from, to), edits);
      for (const [w, e] of m.edits) walk(at + 1, firstFrom(at, w, from, to), firstFrom(at, w + 1, from, to), edits + e);
    };
    walk(0, 0, this.data.size, 0);
  }

  /**
   * Visits organizations with a word of `m`, each once per query, list by list (fewest edits
   * first). A list is ascending, and its organizations' keys (edits * size + number) can only be
   * larger than its own edits say; so once `best` is full, a list stops at the first organization
   * that could not enter it.
   */
  private scan(m: WordMatch, best: Best, visit: (o: number) => void) {
    const { postings, postingStart, size } = this.data;
    const lists: [number, number][] = [];
    for (let w = m.prefixFrom; w < m.prefixTo; w++) lists.push([w, 0]);
    for (const [w, e] of m.edits) lists.push([w, e]);
    lists.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    for (const [w, e] of lists) {
      const end = postingStart[w + 1]!;
      for (let p = postingStart[w]!; p < end; p++) {
        const o = postings[p]!;
        if (best.full && e * size + o >= best.worst) break;
        if (++this.postingsRead > MAX_POSTINGS_READ || this.scored > MAX_ORGANIZATIONS_SCORED) return;
        if (this.seen[o] === this.serial) continue;
        this.seen[o] = this.serial;
        visit(o);
      }
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
