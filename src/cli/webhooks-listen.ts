import type { EventType } from '../modules/webhooks/events.schemas.js';
import { signedDeliveryHeaders } from '../modules/webhooks/webhooks.signing.js';
import { ApiRefusal, ApiUnavailable, FeedClient, networkReason } from './webhooks-listen.feed.js';
import { ListenUsageError, resolveListenOptions, type ListenOptions } from './webhooks-listen.options.js';

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

// The command's whole surface stays importable from here.
export { resolveListenOptions, type ListenOptions } from './webhooks-listen.options.js';

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
