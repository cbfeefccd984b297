import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { CREDENTIALS_FILE } from '../modules/partners/sandbox.js';
import type { EventPageType, EventType } from '../modules/webhooks/events.schemas.js';
import { signedDeliveryHeaders } from '../modules/webhooks/webhooks.signing.js';
import { signPartnerRequest } from '../platform/crypto/signing.js';

export const WEBHOOKS_USAGE = `
  webhooks listen --forward-to URL            forward this environment's events to a local URL as signed deliveries
      [--types T1,T2]                         only these event types
      [--interval MS]                         how often to poll the events feed (default 1000)
      [--secret whsec_...]                    sign with this secret instead of a new one per session
      [--api URL] [--key sk_...] [--hmac-secret HEX]
                                              or ALMONER_API_URL, ALMONER_SECRET_KEY, ALMONER_HMAC_SECRET;
                                              default: the sandbox credentials in the data dir`;

export interface ListenIo {
  /** One line per forwarded event, and the banner. */
  out(line: string): void;
  /** Problems with the API or the arguments. */
  err(line: string): void;
}

export interface ListenOptions {
  apiUrl: string;
  key: string;
  hmacSecret: string;
  /** Where the credentials came from, to say so without showing them. */
  source: string;
  forwardTo: string;
  secret: string;
  types: string[];
  intervalMs: number;
  timeoutMs: number;
  /** Waits before each retry of a forward that could not connect; its length is the number of retries. */
  retryDelaysMs: number[];
}

class ListenUsageError extends Error {}

/** A refusal from the API that retrying cannot fix (bad key, bad signature, bad argument). */
class ApiRefusal extends Error {}

/** The API is unreachable or busy; worth asking again after `retryAfterMs` (when it said). */
class ApiUnavailable extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }
}

const SECRET_PATTERN = /^whsec_[0-9a-f]{64}$/;
const PAGE_LIMIT = 100;
const MAX_API_BACKOFF_MS = 30_000;

/** `almoner webhooks <sub> ...`: returns the exit code. */
export async function runWebhooksCommand(args: string[], env: Record<string, string | undefined>, io: ListenIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'listen') {
    io.err(`${sub === undefined ? 'missing webhooks command' : `unknown webhooks command "${sub}"`}; usage:${WEBHOOKS_USAGE}`);
    return 2;
  }
  let options: ListenOptions;
  try {
    options = await resolveListenOptions(rest, env);
  } catch (err) {
    if (!(err instanceof ListenUsageError)) throw err;
    io.err(`almoner webhooks listen: ${err.message}`);
    return 2;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await listen(options, io, stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function httpUrl(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ListenUsageError(`${what} must be an http:// or https:// URL, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ListenUsageError(`${what} must be an http:// or https:// URL, got "${value}"`);
  return value;
}

/**
 * Flags first, then the environment, then the sandbox credentials file that `almoner serve` writes on
 * first start. The key and its HMAC secret always come from the same place: a key from the command
 * line paired with a secret from a file would only ever produce INVALID_SIGNATURE.
 */
export async function resolveListenOptions(args: string[], env: Record<string, string | undefined>): Promise<ListenOptions> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        'forward-to': { type: 'string' },
        types: { type: 'string' },
        secret: { type: 'string' },
        api: { type: 'string' },
        key: { type: 'string' },
        'hmac-secret': { type: 'string' },
        interval: { type: 'string' },
      },
    }));
  } catch (err) {
    throw new ListenUsageError((err as Error).message);
  }
  const forwardTo = values['forward-to'];
  if (!forwardTo) throw new ListenUsageError('--forward-to URL is required, e.g. --forward-to http://localhost:3000/hooks');
  httpUrl(forwardTo, '--forward-to');

  const secret = values.secret ?? `whsec_${randomBytes(32).toString('hex')}`;
  if (!SECRET_PATTERN.test(secret)) throw new ListenUsageError('--secret must be whsec_ followed by 64 lowercase hex characters, like an endpoint secret');

  const types = [...new Set((values.types ?? '').split(',').map((t) => t.trim()).filter(Boolean))];
  const intervalMs = values.interval === undefined ? 1000 : Number(values.interval);
  if (!Number.isInteger(intervalMs) || intervalMs < 50 || intervalMs > 60_000) throw new ListenUsageError('--interval must be milliseconds from 50 to 60000');

  const key = values.key ?? env.ALMONER_SECRET_KEY;
  const hmacSecret = values['hmac-secret'] ?? env.ALMONER_HMAC_SECRET;
  let apiUrl = values.api ?? env.ALMONER_API_URL;
  let credentials: { key: string; hmacSecret: string; source: string };
  if (key || hmacSecret) {
    if (!key || !hmacSecret) throw new ListenUsageError('give the key and its HMAC secret together (--key and --hmac-secret, or ALMONER_SECRET_KEY and ALMONER_HMAC_SECRET)');
    credentials = { key, hmacSecret, source: values.key ? 'command line' : 'environment' };
  } else {
    const file = path.join(loadConfig(env).dataDir, CREDENTIALS_FILE);
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      throw new ListenUsageError(
        `${missing ? 'no credentials' : `cannot read ${file}`}: pass --key and --hmac-secret (or set ALMONER_SECRET_KEY and ALMONER_HMAC_SECRET), ` +
          `or start \`almoner serve\` once so it writes ${file}`,
      );
    }
    if (typeof parsed.secretKey !== 'string' || typeof parsed.hmacSecret !== 'string') throw new ListenUsageError(`${file} has no secretKey and hmacSecret`);
    credentials = { key: parsed.secretKey, hmacSecret: parsed.hmacSecret, source: file };
    if (!apiUrl && typeof parsed.apiUrl === 'string') apiUrl = parsed.apiUrl;
  }
  // The server's own setting is the right default: the file and the server that wrote it share one configuration.
  apiUrl = httpUrl(apiUrl ?? loadConfig(env).publicUrl, 'the API URL').replace(/\/+$/, '');

  return {
    apiUrl,
    key: credentials.key,
    hmacSecret: credentials.hmacSecret,
    source: credentials.source,
    forwardTo,
    secret,
    types,
    intervalMs,
    timeoutMs: 10_000,
    retryDelaysMs: [500, 1000, 2000],
  };
}

const stamp = () => new Date().toISOString().replace('T', ' ').slice(0, 19);

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

/** Why a request never got an answer, without a stack: "connect ECONNREFUSED 127.0.0.1:3000". */
function networkReason(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'timed out';
  const cause = (err as { cause?: { message?: string; code?: string } }).cause;
  return cause?.message ?? cause?.code ?? (err instanceof Error ? err.message : String(err));
}

/** Signed reads of the events feed (contract A4.2). */
class FeedClient {
  constructor(
    private readonly options: ListenOptions,
    private readonly signal: AbortSignal,
  ) {}

  async page(after: string, limit: number): Promise<EventPageType> {
    const types = this.options.types.length ? `&types=${this.options.types.map(encodeURIComponent).join(',')}` : '';
    const pathWithQuery = `/v1/partner/events?after=${encodeURIComponent(after)}&limit=${limit}${types}`;
    const timestamp = String(Math.floor(Date.now() / 1000));
    let res: Response;
    try {
      res = await fetch(`${this.options.apiUrl}${pathWithQuery}`, {
        headers: {
          'x-partner-key': this.options.key,
          'x-timestamp': timestamp,
          'x-signature': signPartnerRequest({ secret: this.options.hmacSecret, timestamp, method: 'GET', pathWithQuery }),
        },
        signal: AbortSignal.any([this.signal, AbortSignal.timeout(this.options.timeoutMs)]),
      });
    } catch (err) {
      throw new ApiUnavailable(`cannot reach ${this.options.apiUrl}: ${networkReason(err)}`);
    }
    const body = (await res.json().catch(() => null)) as ({ code?: string; message?: string } & Partial<EventPageType>) | null;
    if (res.ok && body && Array.isArray(body.data) && typeof body.nextCursor === 'string') return body as EventPageType;
    const what = `${res.status}${body?.code ? ` ${body.code}` : ''}${body?.message ? `: ${body.message}` : ''}`;
    if (res.status === 429 || res.status >= 500 || res.ok) {
      const retryAfter = Number(res.headers.get('retry-after'));
      throw new ApiUnavailable(`${this.options.apiUrl} answered ${what}`, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : null);
    }
    throw new ApiRefusal(`${this.options.apiUrl} refused the events feed: ${what}`);
  }
}

/**
 * Like a webhook endpoint that lives on the developer's machine: polls the events feed from now on
 * and POSTs each event to the local URL, signed exactly as a delivery is, with a secret of this
 * session. Events go one at a time, in feed order, so the local handler sees them as they happened.
 */
export async function listen(options: ListenOptions, io: ListenIo, signal: AbortSignal): Promise<number> {
  const feed = new FeedClient(options, signal);
  let apiFailures = 0;
  /** Runs `read` until it answers; null when stopped, or (after printing why) when the API refuses for good. */
  const untilAnswered = async <T>(read: () => Promise<T>): Promise<T | null | 'refused'> => {
    while (!signal.aborted) {
      try {
        const result = await read();
        if (apiFailures > 0) io.err(`${stamp()}  API reachable again`);
        apiFailures = 0;
        return result;
      } catch (err) {
        if (signal.aborted) return null;
        if (err instanceof ApiRefusal) {
          io.err(err.message);
          return 'refused';
        }
        if (!(err instanceof ApiUnavailable)) throw err;
        apiFailures += 1;
        const waitMs = err.retryAfterMs ?? Math.min(MAX_API_BACKOFF_MS, 1000 * 2 ** (apiFailures - 1));
        io.err(`${stamp()}  ${err.message}; trying again in ${Math.round(waitMs / 1000)}s`);
        await sleep(waitMs, signal);
      }
    }
    return null;
  };

  const start = await untilAnswered(() => feed.page('latest', 1));
  if (start === 'refused') return 1;
  if (start === null) return 0;
  let cursor = start.nextCursor;
  io.out(`> Ready! Forwarding ${options.types.length ? options.types.join(', ') : 'all'} events to ${options.forwardTo} (credentials: ${options.source})`);
  io.out(`> Your webhook signing secret is ${options.secret} (^C to quit)`);

  while (!signal.aborted) {
    const page = await untilAnswered(() => feed.page(cursor, PAGE_LIMIT));
    if (page === 'refused') return 1;
    if (page === null) break;
    for (const event of page.data) {
      if (signal.aborted) break;
      await forward(event, options, io, signal);
    }
    if (signal.aborted) break;
    cursor = page.nextCursor;
    if (!page.hasMore) await sleep(options.intervalMs, signal);
  }
  io.out('> Stopped.');
  return 0;
}

/**
 * One event to the local URL. Any answer counts as delivered and is shown, whatever its status (the
 * developer is looking at it); only a URL that does not answer is retried, a few times, before moving on.
 */
async function forward(event: EventType, options: ListenOptions, io: ListenIo, signal: AbortSignal): Promise<void> {
  const body = JSON.stringify({ id: event.id, type: event.type, createdAt: event.createdAt, data: event.data });
  const line = `${event.type} ${event.id}`;
  for (let attempt = 0; ; attempt++) {
    const headers = signedDeliveryHeaders([options.secret], event.id, Math.floor(Date.now() / 1000), body);
    try {
      const res = await fetch(options.forwardTo, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs)]),
      });
      await res.body?.cancel().catch(() => {});
      io.out(`${stamp()}  --> ${line}  [${res.status}]`);
      return;
    } catch (err) {
      if (signal.aborted) return;
      const delay = options.retryDelaysMs[attempt];
      if (delay === undefined) {
        io.out(`${stamp()}  --> ${line}  [ERROR ${networkReason(err)}] gave up after ${attempt + 1} attempts`);
        return;
      }
      io.out(`${stamp()}  --> ${line}  [ERROR ${networkReason(err)}] retrying in ${delay / 1000}s`);
      await sleep(delay, signal);
    }
  }
}
