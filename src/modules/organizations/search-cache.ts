/**
 * Search results kept for a short while. Autocomplete traffic repeats itself (every donor typing
 * "red" sends "r", "re", "red"), while a typo-tolerant miss costs the database tens of
 * milliseconds of trigram work; answering repeats from memory is what keeps search latency low
 * under load. Entries expire after a TTL (imports run in another process), and any change to the
 * directory made by this process drops them all at once. Concurrent identical searches share one
 * database query.
 *
 * Time here is the wall clock, not the injectable domain clock: expiry is an operational concern,
 * and a test's frozen clock must not keep results alive.
 */

let generation = 0;

/** Called by whatever writes the directory in this process. */
export function directoryChanged(): void {
  generation++;
}

interface Entry<T> {
  value: Promise<T>;
  at: number;
  generation: number;
}

export class SearchCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly maxEntries = 10_000,
    private readonly ttlMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string, load: () => Promise<T>): Promise<T> {
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit && hit.generation === generation && now - hit.at < this.ttlMs) {
      // Map order is insertion order: re-inserting marks the entry most recently used.
      this.entries.delete(key);
      this.entries.set(key, hit);
      this.hits++;
      return hit.value;
    }
    this.misses++;
    const entry: Entry<T> = { value: load(), at: now, generation };
    this.entries.delete(key);
    this.entries.set(key, entry);
    // A failed search is not remembered.
    entry.value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return entry.value;
  }
}
