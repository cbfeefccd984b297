import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import { parseRetryAfter, type AttemptResult } from './delivery.policy.js';
import { privateHostReason } from './webhooks.validation.js';
import { encodeRequest, Exchange, WireClient, type WireOutcome, type WireTarget } from './delivery.wire.js';

/** Resolves a host name to every address it has; injectable so tests can play a rebinding DNS. */
export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;
export const systemResolver: Resolver = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

export interface PostOptions {
  timeoutMs: number;
  /** A response body is read (to reuse its connection) only when it declares at most this many bytes; otherwise it is left unread and the connection dropped. */
  maxResponseBytes: number;
  /** Production rules: https only, and every address connected to must be public. */
  strict: boolean;
  now: () => Date;
}

class BlockedAddressError extends Error {
  readonly code = 'EBLOCKED';
}

/**
 * The address check runs inside the socket's own lookup, on the addresses it will connect to, so a
 * name that resolves to a public address at registration and a private one later (DNS rebinding)
 * is still refused. Every address must be public: a round-robin answer mixing one public and one
 * private address is refused too.
 */
export function guardedLookup(resolver: Resolver): LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    resolver(hostname).then(
      (all) => {
        const wanted = options.family === 4 || options.family === 6 ? all.filter((a) => a.family === options.family) : all;
        if (wanted.length === 0) return callback(Object.assign(new Error(`${hostname} has no usable address`), { code: 'ENOTFOUND' }));
        for (const a of wanted) {
          const reason = privateHostReason(a.address);
          if (reason) return callback(new BlockedAddressError(`refused to connect to ${hostname}: ${reason}`));
        }
        if (options.all) return callback(null, wanted);
        return callback(null, wanted[0]!.address, wanted[0]!.family);
      },
      (err: unknown) => callback(err),
    );
  }) as LookupFunction;
}

/** A URL parsed once for all the deliveries sent to it. */
interface Target extends WireTarget {
  /** Why a literal address in the URL may not be connected to under production rules, or null. */
  literalRefusal: string | null;
}

/**
 * Sends deliveries: keep-alive connections per endpoint origin (delivery.wire.ts), one attempt's
 * timeout over connecting, sending and reading the answer, and the production rules (https only,
 * public addresses only, checked again on every address connected to).
 */
export class DeliveryClient {
  private readonly wire: WireClient;
  private readonly targets = new Map<string, Target | null>();

  constructor(resolver: Resolver = systemResolver, maxSocketsPerHost = 16) {
    this.wire = new WireClient(maxSocketsPerHost, guardedLookup(resolver));
  }

  private target(rawUrl: string): Target | null {
    let target = this.targets.get(rawUrl);
    if (target !== undefined) return target;
    target = parseTarget(rawUrl);
    if (this.targets.size >= 1000) this.targets.clear();
    this.targets.set(rawUrl, target);
    return target;
  }

  close(): void {
    this.wire.close();
  }

  post(rawUrl: string, headers: Record<string, string>, body: Buffer, options: PostOptions): Promise<AttemptResult> {
    const started = performance.now();
    const target = this.target(rawUrl);
    let refusal: string | null = null;
    if (!target) refusal = 'The endpoint URL is not a valid http(s) URL';
    else if (options.strict && !target.isHttps) refusal = 'Production endpoints must use https://';
    // Literal addresses never reach the lookup, so they are checked here.
    else if (options.strict && target.literalRefusal) refusal = `Refused to connect: ${target.literalRefusal}`;
    if (refusal || !target) return Promise.resolve(failure(started, refusal!));
    const request = encodeRequest(target, headers, body);
    if (typeof request === 'string') return Promise.resolve(failure(started, request));
    return new Promise<AttemptResult>((resolve) => {
      const timer = setTimeout(() => exchange.fail(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), options.timeoutMs);
      const exchange = new Exchange(request, options.maxResponseBytes, (outcome) => {
        clearTimeout(timer);
        resolve(toResult(outcome, started, options));
      });
      this.wire.send(target, options.strict, exchange);
    });
  }
}

function parseTarget(rawUrl: string): Target | null {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  const isHttps = url.protocol === 'https:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return {
    isHttps,
    host,
    port: url.port ? Number(url.port) : isHttps ? 443 : 80,
    hostHeader: url.host,
    path: `${url.pathname}${url.search}`,
    literalRefusal: privateHostReason(url.hostname),
  };
}

const failure = (started: number, error: string, statusCode: number | null = null): AttemptResult => ({
  statusCode,
  latencyMs: Math.round(performance.now() - started),
  error,
  retryAfterMs: null,
});

function toResult(outcome: WireOutcome, started: number, options: PostOptions): AttemptResult {
  if ('error' in outcome) {
    if (outcome.error.code === 'ETIMEDOUT') return failure(started, `Timed out after ${options.timeoutMs} ms`);
    return failure(started, describeError(outcome.error));
  }
  const { statusCode, location, retryAfter } = outcome.answer;
  if (statusCode >= 300 && statusCode < 400) {
    const to = location ? ` to ${location}` : '';
    return failure(started, `Redirect (${statusCode}${to}) not followed: register the final URL`, statusCode);
  }
  return {
    statusCode,
    latencyMs: Math.round(performance.now() - started),
    error: statusCode >= 200 && statusCode < 300 ? null : `The receiver answered ${statusCode}`,
    retryAfterMs: retryAfter === undefined ? null : parseRetryAfter(retryAfter, options.now()),
  };
}

function describeError(err: NodeJS.ErrnoException): string {
  if (err instanceof BlockedAddressError) return err.message;
  // The receiver's answer could not be read as HTTP (the message says how).
  if (err.code === 'EPROTOCOL') return err.message;
  if (err.code && /^(CERT_|ERR_TLS_CERT|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_(GET|VERIFY))/.test(err.code)) return `TLS certificate rejected (${err.code})`;
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'Connection refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'Connection reset by the receiver';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `Host not found (${err.code})`;
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return 'TLS handshake failed';
    default:
      return err.code ? `Connection failed (${err.code})` : 'Connection failed';
  }
}
