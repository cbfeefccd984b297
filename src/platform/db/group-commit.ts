/**
 * Group commit: concurrent requests that touch the same hot rows (one partner's pool) are queued per
 * key and run together, one database transaction per batch. A request arriving while its key is
 * idle runs at once, so batching adds no delay; under load, batches grow by themselves to whatever
 * arrived during the previous commit. Each request still gets its own outcome.
 */
export interface GroupCommitOptions {
  maxBatch: number;
  /**
   * Batches of one key allowed in flight at once. Two overlap usefully: while one holds the hot row's
   * lock and writes, the next reads and decides, and takes the lock the moment the first commits.
   */
  maxInFlight?: number;
  /**
   * With one batch of a key in flight, how many requests must wait before another starts beside
   * it (default 1). Fewer wait for the running batch to finish and go together.
   */
  overlapAt?: number;
  /** Errors worth running the same batch again for (lost races, serialization failures). */
  retryable: (err: unknown) => boolean;
  maxAttempts: number;
}

interface Pending<I, O> {
  item: I;
  resolve: (o: O) => void;
  reject: (e: unknown) => void;
}

export class GroupCommit<I, O> {
  private readonly queues = new Map<string, Pending<I, O>[]>();
  private readonly draining = new Map<string, Set<Promise<void>>>();
  private closed = false;
  private peak = 0;

  constructor(
    private readonly run: (key: string, items: I[]) => Promise<O[]>,
    private readonly options: GroupCommitOptions,
  ) {}

  submit(key: string, item: I): Promise<O> {
    if (this.closed) return Promise.reject(new Error('shutting down'));
    return new Promise<O>((resolve, reject) => {
      const queue = this.queues.get(key) ?? [];
      queue.push({ item, resolve, reject });
      this.queues.set(key, queue);
      const running = this.draining.get(key) ?? new Set<Promise<void>>();
      if (running.size === 0 || (running.size < (this.options.maxInFlight ?? 1) && queue.length >= (this.options.overlapAt ?? 1))) {
        const p: Promise<void> = this.drain(key).finally(() => {
          running.delete(p);
          if (running.size === 0) this.draining.delete(key);
        });
        running.add(p);
        this.draining.set(key, running);
        this.peak = Math.max(this.peak, running.size);
      }
    });
  }

  private async drain(key: string) {
    for (;;) {
      const queue = this.queues.get(key);
      if (!queue || queue.length === 0) {
        if (queue) this.queues.delete(key);
        return;
      }
      const batch = queue.splice(0, this.options.maxBatch);
      await this.runBatch(key, batch);
    }
  }

  private async runBatch(key: string, batch: Pending<I, O>[]) {
    for (let attempt = 1; ; attempt++) {
      try {
        const results = await this.run(key, batch.map((p) => p.item));
        batch.forEach((p, i) => p.resolve(results[i]!));
        return;
      } catch (err) {
        if (this.options.retryable(err) && attempt < this.options.maxAttempts) continue;
        if (batch.length > 1) {
          // One bad request must not fail its neighbours: run them one by one.
          for (const p of batch) await this.runBatch(key, [p]);
          return;
        }
        batch[0]!.reject(err);
        return;
      }
    }
  }

  /** The most batches of one key that were ever in flight at once (what maxInFlight bounds). */
  get peakInFlight(): number {
    return this.peak;
  }

  /** Stops taking work and waits for what is queued to finish. */
  async close() {
    this.closed = true;
    await Promise.all([...this.draining.values()].flatMap((set) => [...set]));
  }
}
