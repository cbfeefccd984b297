/** The word tables of DirectoryIndexData (dictionary, posting lists, typo table), for DirectoryIndexBuilder.finish(). */
import { deletionCount, deletionHashes, editAllowance } from './directory-index.typos.js';

/** A typed array that grows by doubling while rows stream in. */
export class Growable<T extends Int32Array | Uint32Array> {
  length = 0;
  constructor(
    public array: T,
    private readonly make: (n: number) => T,
  ) {}
  push(v: number) {
    if (this.length === this.array.length) {
      const bigger = this.make(this.array.length * 2);
      bigger.set(this.array);
      this.array = bigger;
    }
    this.array[this.length++] = v;
  }
  /** The values pushed, in an array of exactly that length (its own buffer). */
  done(): T {
    return this.array.slice(0, this.length) as T;
  }
}

/** Words, each organization's words by number, and the posting lists, from keys in name order. */
export function wordTable(keys: string[]) {
  const provisional = new Map<string, number>();
  const orgWords = new Growable(new Int32Array(1024), (n) => new Int32Array(n));
  const orgWordStart = new Uint32Array(keys.length + 1);
  for (let o = 0; o < keys.length; o++) {
    orgWordStart[o] = orgWords.length;
    if (keys[o] === '') continue;
    for (const w of keys[o]!.split(' ')) {
      let n = provisional.get(w);
      if (n === undefined) provisional.set(w, (n = provisional.size));
      orgWords.push(n);
    }
  }
  orgWordStart[keys.length] = orgWords.length;
  const list = [...provisional.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const renumber = new Int32Array(list.length);
  list.forEach((w, i) => (renumber[provisional.get(w)!] = i));
  const words = orgWords.done();
  for (let i = 0; i < words.length; i++) words[i] = renumber[words[i]!]!;

  // Posting lists: count, then fill in organization order, so each list comes out ascending. A
  // word that appears twice in one name is posted once.
  const postingStart = new Uint32Array(list.length + 1);
  const posted = (o: number, i: number) => {
    for (let j = orgWordStart[o]!; j < i; j++) if (words[j] === words[i]) return true;
    return false;
  };
  for (let o = 0; o < keys.length; o++) {
    for (let i = orgWordStart[o]!; i < orgWordStart[o + 1]!; i++) if (!posted(o, i)) postingStart[words[i]! + 1]!++;
  }
  for (let w = 0; w < list.length; w++) postingStart[w + 1]! += postingStart[w]!;
  const postings = new Int32Array(postingStart[list.length]!);
  const fill = postingStart.slice(0, list.length);
  for (let o = 0; o < keys.length; o++) {
    for (let i = orgWordStart[o]!; i < orgWordStart[o + 1]!; i++) if (!posted(o, i)) postings[fill[words[i]!]!++] = o;
  }

  const wordStart = new Uint32Array(list.length + 1);
  for (let w = 0; w < list.length; w++) wordStart[w + 1] = wordStart[w]! + list[w]!.length;
  const wordText = new Uint8Array(wordStart[list.length]!);
  for (let w = 0; w < list.length; w++) {
    for (let i = 0; i < list[w]!.length; i++) wordText[wordStart[w]! + i] = list[w]!.charCodeAt(i);
  }
  return { list, orgWords: words, orgWordStart, wordText, wordStart, postings, postingStart };
}

/** The posting lists again, each ordered by state, then organization (see statePostings). */
export function byState(words: { postings: Int32Array; postingStart: Uint32Array; orgWords: Int32Array; orgWordStart: Uint32Array }, state: Uint16Array): Int32Array {
  const { postings, postingStart, orgWords, orgWordStart } = words;
  const size = state.length;
  // Organizations grouped by state, ascending within each: a counting sort.
  const stateStart = new Uint32Array(65_537);
  for (let o = 0; o < size; o++) stateStart[state[o]! + 1]!++;
  for (let st = 0; st < 65_536; st++) stateStart[st + 1]! += stateStart[st]!;
  const grouped = new Int32Array(size);
  for (let o = 0; o < size; o++) grouped[stateStart[state[o]!]!++] = o;
  // Each organization, in that order, goes at the end of its words' lists so far.
  const out = new Int32Array(postings.length);
  const fill = postingStart.slice(0, postingStart.length - 1);
  for (const o of grouped) {
    for (let i = orgWordStart[o]!; i < orgWordStart[o + 1]!; i++) {
      const w = orgWords[i]!;
      // A word twice in one name is posted once, as in `postings`.
      if (fill[w]! > postingStart[w]! && out[fill[w]! - 1] === o) continue;
      out[fill[w]!++] = o;
    }
  }
  return out;
}

/** The symmetric-deletion table of every word of 4 letters or more, bucketed by hash. */
export function typoTable(words: string[]) {
  let count = 0;
  for (const w of words) count += deletionCount(w.length, editAllowance(w.length));
  const hashes = new Uint32Array(count);
  const owners = new Int32Array(count);
  let n = 0;
  for (let w = 0; w < words.length; w++) {
    const allowance = editAllowance(words[w]!.length);
    if (allowance === 0) continue;
    const end = deletionHashes(words[w]!, allowance, hashes, n);
    owners.fill(w, n, end);
    n = end;
  }
  // About one entry per bucket: a lookup reads a handful of entries.
  const typoBits = Math.min(24, Math.max(8, Math.ceil(Math.log2(Math.max(count, 1)))));
  const shift = 32 - typoBits;
  const typoBucketStart = new Uint32Array((1 << typoBits) + 1);
  for (let i = 0; i < count; i++) typoBucketStart[(hashes[i]! >>> shift) + 1]!++;
  for (let b = 0; b < 1 << typoBits; b++) typoBucketStart[b + 1]! += typoBucketStart[b]!;
  const fill = typoBucketStart.slice(0, 1 << typoBits);
  const typoHash = new Uint32Array(count);
  const typoWord = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const at = fill[hashes[i]! >>> shift]!++;
    typoHash[at] = hashes[i]!;
    typoWord[at] = owners[i]!;
  }
  return { typoBits, typoBucketStart, typoHash, typoWord };
}
