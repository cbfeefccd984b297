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
import { ALL_BUT_ONE, Best, DirectoryScan, FULL, MAX_POSTINGS_READ, type CompiledFilter } from './directory-index.scan.js';
import { MAX_TYPED_WORDS } from './directory-index.score.js';
import { DirectoryWords, type WordMatch } from './directory-index.words.js';
import type { OrganizationType } from './organizations.schemas.js';
import { organizationSearchKey } from './search-key.js';

export interface IndexFilters {
  state?: string;
  /** An NTEE major group ("T") or code ("T20"): a prefix. */
  ntee?: string;
  includeInactive: boolean;
  limit: number;
}

/** Organizations whose API object is kept, for the names that come up again and again. */
const ORGANIZATION_CACHE = 20_000;
const NONE = new Int32Array(0);
/**
 * The second rarest typed word's organizations are marked before a scan when it has at most this
 * many times the driver's postings: marking costs a write per posting, scoring an organization
 * the mark spares costs some fifty times that.
 */
const MARK_RATIO = 32;

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
 *
 * The dictionary is a part of its own (directory-index.words.ts); scoring and scanning are layers
 * of this class (directory-index.score.ts, directory-index.scan.ts), so their hot loops share the
 * per-query scratch space as fields of one object.
 */
export class DirectoryIndex extends DirectoryScan {
  private readonly text: Buffer;
  private readonly dictionary: DirectoryWords;
  private readonly stateNumbers: Map<string, number>;
  private readonly nteeFilters = new Map<string, Uint8Array>();
  private readonly organizations = new Map<number, OrganizationType>();
  /** How many of the words before each word are in some curated name (a prefix sum). */
  private readonly curatedWordsBefore: Int32Array;

  constructor(data: DirectoryIndexData) {
    super(data);
    this.text = Buffer.from(data.text.buffer, data.text.byteOffset, data.text.byteLength);
    this.dictionary = new DirectoryWords(data);
    this.stateNumbers = new Map(data.states.map((s, i) => [s, i]));
    const { wordCount } = this.dictionary;
    this.curatedWordsBefore = new Int32Array(wordCount + 1);
    for (const o of data.curated) {
      for (let i = data.orgWordStart[o]!; i < data.orgWordStart[o + 1]!; i++) this.curatedWordsBefore[data.orgWords[i]! + 1] = 1;
    }
    for (let w = 0; w < wordCount; w++) this.curatedWordsBefore[w + 1]! += this.curatedWordsBefore[w]!;
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
    const matches = typed.map((w, i) => this.dictionary.match(w, i === k - 1));
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
