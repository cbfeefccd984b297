import { isDeductible } from './bmf.js';
import { byState, Growable, typoTable, wordTable } from './directory-index.build.words.js';

/** One organization as the index reads it (organizationsRepo.readDirectory). */
export interface DirectoryRow {
  id: number;
  slug: string;
  name: string;
  ein: string | null;
  city: string | null;
  state: string | null;
  ntee_code: string | null;
  deductibility: string | null;
  status: 'active' | 'inactive';
  logo_url: string | null;
  curated: boolean;
  search_key: string;
}

export const CURATED = 1;
export const ACTIVE = 2;
export const DEDUCTIBLE = 4;
export const HAS_CITY = 8;
export const HAS_LOGO = 16;

/** Text fields per organization, in this order, in DirectoryIndexData.text. */
export const TEXT_FIELDS = 4;
export const NAME = 0;
export const SLUG = 1;
export const CITY = 2;
export const LOGO = 3;

/**
 * The directory as flat typed arrays, so a worker thread can build it and hand it over without
 * copying (every array owns its buffer and goes in the transfer list), and 300,000 organizations
 * cost tens of megabytes instead of millions of objects. Organizations are numbered 0..size-1 in
 * search_key order (bytewise, then id): "name order" is number order, and the names that start
 * with a given text are one run of numbers. Words are numbered in sorted order likewise, so the
 * words that start with a given text are one run of word numbers, and their posting lists one run
 * of `postings`.
 */
export interface DirectoryIndexData {
  /** organization_directory_version.version of the snapshot this was built from. */
  version: number;
  size: number;
  id: Int32Array;
  /** CURATED | ACTIVE | DEDUCTIBLE | HAS_CITY | HAS_LOGO. */
  flags: Uint8Array;
  /** The EIN as a number (it is nine digits), -1 for none. */
  ein: Int32Array;
  /** Organization numbers in EIN order (those with an EIN). */
  einOrder: Int32Array;
  /** Index into `states`; 0 is null. */
  state: Uint16Array;
  states: string[];
  /** Index into `ntees`; 0 is null. */
  ntee: Uint16Array;
  ntees: string[];
  /** UTF-8 text of name, slug, city and logo URL per organization, each ending in a NUL (packTexts). */
  text: Uint8Array;
  textStart: Uint32Array;
  /** Each organization's search_key as word numbers, in order, delimited by orgWordStart. */
  orgWords: Int32Array;
  orgWordStart: Uint32Array;
  /** The sorted distinct words (ASCII), delimited by wordStart. */
  wordText: Uint8Array;
  wordStart: Uint32Array;
  /** Per word, the organizations whose name has it, ascending, delimited by postingStart. */
  postings: Int32Array;
  postingStart: Uint32Array;
  /**
   * The same lists ordered by state, then organization (delimited by postingStart too): with a
   * state filter, a list is read only where that state's organizations are.
   */
  statePostings: Int32Array;
  /** Curated organization numbers, ascending. */
  curated: Int32Array;
  /**
   * Deletion hashes (directory-index.typos.ts) and their words, grouped by the hash's top
   * `typoBits` bits: bucket b is typoHash/typoWord[typoBucketStart[b]..typoBucketStart[b+1]).
   */
  typoBits: number;
  typoBucketStart: Uint32Array;
  typoHash: Uint32Array;
  typoWord: Int32Array;
}

/** The buffers to transfer with a DirectoryIndexData. */
export function transferList(data: DirectoryIndexData): ArrayBuffer[] {
  return Object.values(data)
    .filter((v): v is ArrayBufferView => ArrayBuffer.isView(v))
    .map((v) => v.buffer as ArrayBuffer);
}

/**
 * Builds DirectoryIndexData from rows in any order: add() them as they stream from the database,
 * then finish(). Holds the rows' strings until finish(), then only typed arrays.
 */
export class DirectoryIndexBuilder {
  private readonly keys: string[] = [];
  private readonly texts: string[] = [];
  private readonly ids = new Growable(new Int32Array(1024), (n) => new Int32Array(n));
  private readonly eins = new Growable(new Int32Array(1024), (n) => new Int32Array(n));
  private readonly flags: number[] = [];
  private readonly states: number[] = [];
  private readonly ntees: number[] = [];
  private readonly stateNames = new Map<string, number>();
  private readonly nteeNames = new Map<string, number>();

  add(rows: readonly DirectoryRow[]): void {
    for (const r of rows) {
      this.keys.push(r.search_key);
      this.texts.push(r.name, r.slug, r.city ?? '', r.logo_url ?? '');
      this.ids.push(r.id);
      this.eins.push(r.ein === null ? -1 : Number(r.ein));
      this.flags.push(
        (r.curated ? CURATED : 0) |
          (r.status === 'active' ? ACTIVE : 0) |
          (isDeductible(r.deductibility) ? DEDUCTIBLE : 0) |
          (r.city !== null ? HAS_CITY : 0) |
          (r.logo_url !== null ? HAS_LOGO : 0),
      );
      this.states.push(code(this.stateNames, r.state));
      this.ntees.push(code(this.nteeNames, r.ntee_code));
    }
  }

  finish(version: number): DirectoryIndexData {
    const size = this.keys.length;
    const keys = this.keys;
    const ids = this.ids.done();
    // Name order: search_key bytewise (the keys are ASCII, so JavaScript's comparison is bytewise),
    // then id, so equal names keep one order whatever order the rows came in. The database sends
    // them in that order already (organizationsRepo.readDirectory), which is checked, not assumed.
    const before = (a: number, b: number) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : ids[a]! - ids[b]!);
    const order = Array.from({ length: size }, (_, i) => i);
    let sorted = true;
    for (let i = 1; i < size && sorted; i++) sorted = before(i - 1, i) < 0;
    if (!sorted) order.sort(before);

    const id = new Int32Array(size);
    const flags = new Uint8Array(size);
    const ein = new Int32Array(size);
    const state = new Uint16Array(size);
    const ntee = new Uint16Array(size);
    const eins = this.eins.done();
    const curated: number[] = [];
    const texts = new Array<string>(size * TEXT_FIELDS);
    for (let o = 0; o < size; o++) {
      const r = order[o]!;
      id[o] = ids[r]!;
      flags[o] = this.flags[r]!;
      ein[o] = eins[r]!;
      state[o] = this.states[r]!;
      ntee[o] = this.ntees[r]!;
      if (flags[o]! & CURATED) curated.push(o);
      for (let f = 0; f < TEXT_FIELDS; f++) texts[o * TEXT_FIELDS + f] = this.texts[r * TEXT_FIELDS + f]!;
    }
    const { text, textStart } = packTexts(texts);
    const einOrder = Int32Array.from(order.keys()).filter((o) => ein[o]! >= 0).sort((a, b) => ein[a]! - ein[b]!);

    const words = wordTable(sorted ? keys : order.map((r) => keys[r]!));
    const typos = typoTable(words.list);
    return {
      version,
      size,
      id,
      flags,
      ein,
      einOrder,
      state,
      states: names(this.stateNames),
      ntee,
      ntees: names(this.nteeNames),
      text,
      textStart,
      orgWords: words.orgWords,
      orgWordStart: words.orgWordStart,
      wordText: words.wordText,
      wordStart: words.wordStart,
      postings: words.postings,
      postingStart: words.postingStart,
      statePostings: byState(words, state),
      curated: Int32Array.from(curated),
      ...typos,
    };
  }
}

/**
 * All texts as UTF-8 in one array, each followed by a NUL (which PostgreSQL text cannot hold), so
 * textStart[i] is where text i starts and it ends one byte before textStart[i + 1].
 */
function packTexts(texts: string[]): { text: Uint8Array; textStart: Uint32Array } {
  // Nearly every character is ASCII: one byte each, copied in a loop, which costs far less than a
  // million calls into the encoder; a text with anything else is encoded as a whole.
  let bytes = texts.length;
  for (const t of texts) bytes += isAscii(t) ? t.length : Buffer.byteLength(t);
  // Its own ArrayBuffer (not a slice of Buffer's pool), so it can be transferred.
  const text = Buffer.allocUnsafeSlow(bytes);
  const textStart = new Uint32Array(texts.length + 1);
  let at = 0;
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i]!;
    if (isAscii(t)) for (let c = 0; c < t.length; c++) text[at++] = t.charCodeAt(c);
    else at += text.write(t, at);
    text[at++] = 0;
    textStart[i + 1] = at;
  }
  return { text: new Uint8Array(text.buffer, 0, bytes), textStart };
}

function isAscii(t: string): boolean {
  for (let c = 0; c < t.length; c++) if (t.charCodeAt(c) > 127) return false;
  return true;
}

/** Small tables of repeated strings (states, NTEE codes): 0 stands for null. */
function code(table: Map<string, number>, value: string | null): number {
  if (value === null) return 0;
  let n = table.get(value);
  if (n === undefined) table.set(value, (n = table.size + 1));
  return n;
}

function names(table: Map<string, number>): string[] {
  const out = [''];
  for (const [name, n] of table) out[n] = name;
  return out;
}
