import { localDirectoryChanges } from './directory-changes.js';

/**
 * Search results kept for a short while, for the searches answered from SQL (while the directory
 * index is not ready). Autocomplete traffic repeats itself (every donor typing "red" sends "r",
 * "re", "red"), so a repeat is answered without searching the database again. Entries expire
 * after a TTL, and any change to the directory made by this process (directoryChanged()) or a new
 * directory index (clear()) drops them all at once. Concurrent identical searches share one search.
 *
 * Time here is the wall clock, not the injectable domain clock: expiry is an operational concern,
 * and a test's frozen clock must not keep results alive.
 */

interface Entry<T> {
  value: Promise<T>;
  at: number;
  changes: number;
  clears: number;
}

export class SearchCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private clears = 0;
  hits = 0;
  misses = 0;

  constructor(
    private readonly maxEntries = 10_000,
    private readonly ttlMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Drops every entry, and the results of searches still running. */
  clear(): void {
    this.clears++;
    this.entries.clear();
  }

  get(key: string, load: () => Promise<T>): Promise<T> {
    const now = this.now();
    const changes = localDirectoryChanges();
    const hit = this.entries.get(key);
    if (hit && hit.changes === changes && hit.clears === this.clears && now - hit.at < this.ttlMs) {
      // Map order is insertion order: re-inserting marks the entry most recently used.
      this.entries.delete(key);
      this.entries.set(key, hit);
      this.hits++;
      return hit.value;
    }
    this.misses++;
    const entry: Entry<T> = { value: load(), at: now, changes, clears: this.clears };
    this.entries.delete(key);
    this.entries.set(key, entry);
    // A failed search is not remembered.
    entry.value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    if (this.entries.size > this.maxEntries) this.evictOldest();
    return entry.value;
  }

  /**
   * Drops the least recently used tenth in one pass. One entry at a time would cost a walk past
   * every entry deleted since the Map last compacted its table (deleted slots stay at the front until
   * then): microseconds per search once every search is new.
   */
  private evictOldest() {
    let n = Math.max(1, Math.floor(this.maxEntries / 10));
    for (const key of this.entries.keys()) {
      this.entries.delete(key);
      if (--n === 0) break;
    }
  }
}
