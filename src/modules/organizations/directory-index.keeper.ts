import type { Kysely } from 'kysely';
import type { Worker } from 'node:worker_threads';
import type { Database } from '../../platform/db/schema.js';
import { localDirectoryChanges, onDirectoryChanged } from './directory-changes.js';
import { DirectoryIndexBuilder, type DirectoryIndexData } from './directory-index.build.js';
import { DirectoryIndex } from './directory-index.js';
import { organizationsRepo } from './organizations.repo.js';
import { moduleWorker } from './worker-thread.js';

export interface DirectoryIndexOptions {
  /** The database's connection string, for builds in a worker thread; without it every build runs inline. */
  databaseUrl?: string;
  /** How often the directory version is read, to learn of other processes' changes. */
  pollMs?: number;
  /** Directories of fewer organizations are built inline (a few milliseconds), larger ones in a worker. */
  inlineRows?: number;
  /** Where failed builds and version reads are reported; the keeper carries on. */
  onError?: (err: unknown) => void;
}

export interface IndexBuilt {
  organizations: number;
  version: number;
  ms: number;
  inWorker: boolean;
}

const DEFAULT_POLL_MS = 2000;
const DEFAULT_INLINE_ROWS = 20_000;
/**
 * The worker's heap limit, which keeps a bug from taking the machine's memory: 1 MB per thousand
 * organizations, at least 256 MB (300,000 build within 192 MB). The process's peak (about 250 MB over
 * its resting size with 300,000, measured with serve) is the worker's own start and the arrays it
 * hands over, not its heap, and was the same with a limit of 1024 MB.
 */
const workerHeapMb = (organizations: number) => Math.max(256, Math.ceil(organizations / 1000));

interface Build {
  /** Resolves once it is known whether the build runs inline (then searches wait for it). */
  inline: Promise<boolean>;
  done: Promise<void>;
}

/**
 * Keeps the directory index current. The database stays the source of truth: the index is built
 * from one snapshot of the organizations table and swapped in whole, and
 * - a change this process makes (directoryChanged) makes the index stale at once and starts a
 *   rebuild; until it is in, searches are answered from SQL (or, for a small directory whose build
 *   takes milliseconds, wait for it);
 * - a change any other process makes bumps organization_directory_version, read every pollMs;
 *   the current index keeps answering while its successor is built;
 * - until the first build is in, searches are answered from SQL.
 * A large directory is built in a worker thread, so serving never waits on it: the worker reads the
 * table on a connection of its own and hands over the finished arrays without copying them.
 */
export class DirectoryIndexKeeper {
  private index: DirectoryIndex | undefined;
  /** localDirectoryChanges() when the current index's snapshot was taken. */
  private indexChanges = -1;
  private build: Build | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopListening: (() => void) | undefined;
  private worker: Worker | undefined;
  private closed = false;
  private lastSize = 0;
  /** Called after each swap. */
  onBuilt: ((built: IndexBuilt) => void) | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: DirectoryIndexOptions = {},
  ) {}

  /** Builds the first index and starts watching for changes; searching calls it too. */
  start(): void {
    if (this.timer || this.closed) return;
    this.stopListening = onDirectoryChanged(() => this.rebuild());
    this.timer = setInterval(() => void this.poll(), this.options.pollMs ?? DEFAULT_POLL_MS);
    this.timer.unref();
    this.rebuild();
  }

  /** The index, if it holds every change this process has made. */
  fresh(): DirectoryIndex | undefined {
    return this.index && this.indexChanges === localDirectoryChanges() ? this.index : undefined;
  }

  /** fresh(), after waiting for a build that runs inline; undefined means: answer from SQL. */
  async current(): Promise<DirectoryIndex | undefined> {
    this.start();
    // A change announced during a build needs the build after it: a few rounds at most.
    for (let round = 0; round < 3; round++) {
      const index = this.fresh();
      if (index) return index;
      const build = this.build;
      if (!build || !(await build.inline)) return undefined;
      await build.done;
    }
    return this.fresh();
  }

  /** Stops watching; a build under way is abandoned (a worker is stopped, an inline one finishes). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.stopListening?.();
    await this.worker?.terminate();
    await this.build?.done;
  }

  private rebuild(): void {
    if (this.closed) return;
    if (this.build) {
      this.again = true;
      return;
    }
    let decided!: (inline: boolean) => void;
    const inline = new Promise<boolean>((resolve) => (decided = resolve));
    const done = this.runBuild(decided)
      .catch((err: unknown) => {
        decided(false);
        if (!this.closed) this.options.onError?.(err);
      })
      .finally(() => {
        this.build = undefined;
        if (this.again) {
          this.again = false;
          this.rebuild();
        }
      });
    this.build = { inline, done };
  }

  private async runBuild(decided: (inline: boolean) => void): Promise<void> {
    const changes = localDirectoryChanges();
    const started = performance.now();
    const size = Math.max(this.lastSize, await organizationsRepo.estimatedSize(this.db));
    const inline = !this.options.databaseUrl || size < (this.options.inlineRows ?? DEFAULT_INLINE_ROWS);
    decided(inline);
    const data = inline ? await this.buildInline() : await this.buildInWorker(this.options.databaseUrl!, size);
    if (this.closed) return;
    this.index = new DirectoryIndex(data);
    this.indexChanges = changes;
    this.lastSize = data.size;
    this.onBuilt?.({ organizations: data.size, version: data.version, ms: Math.round(performance.now() - started), inWorker: !inline });
  }

  private async buildInline(): Promise<DirectoryIndexData> {
    const builder = new DirectoryIndexBuilder();
    const version = await organizationsRepo.readDirectory(this.db, (rows) => builder.add(rows));
    return builder.finish(version);
  }

  private buildInWorker(databaseUrl: string, organizations: number): Promise<DirectoryIndexData> {
    const worker = moduleWorker(import.meta.url, './directory-index.worker', {
      workerData: { databaseUrl },
      resourceLimits: { maxOldGenerationSizeMb: workerHeapMb(organizations) },
    });
    // A build under way must not keep a CLI process or a finished test alive.
    worker.unref();
    this.worker = worker;
    return new Promise<DirectoryIndexData>((resolve, reject) => {
      worker.on('message', (m: { type: 'built'; data: DirectoryIndexData } | { type: 'failed'; message: string }) => {
        if (m.type === 'built') resolve(m.data);
        else reject(new Error(`directory index build failed: ${m.message}`));
        void worker.terminate();
      });
      worker.on('error', reject);
      worker.on('exit', (code) => {
        if (this.worker === worker) this.worker = undefined;
        reject(new Error(`the directory index worker stopped (exit code ${code})`));
      });
    });
  }

  /** Reads the directory version and rebuilds when it moved; skipped while a build runs. */
  private async poll(): Promise<void> {
    if (this.build || this.closed) return;
    try {
      const version = await organizationsRepo.directoryVersion(this.db);
      if (!this.index || version !== this.index.version) this.rebuild();
    } catch (err) {
      if (!this.closed) this.options.onError?.(err);
    }
  }
}
