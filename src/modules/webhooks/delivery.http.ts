import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Agent } from 'undici';
import { parseRetryAfter, type AttemptResult } from './delivery.policy.js';
import { privateHostReason } from './webhooks.validation.js';

/** Resolves a host name to every address it has; injectable so tests can play a rebinding DNS. */
export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;
export const systemResolver: Resolver = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

export interface PostOptions {
  timeoutMs: number;
  /** Bytes of the response body read at most; the connection is dropped after that. */
  maxResponseBytes: number;
  /** Production rules: https only, and every address connected to must be public. */
  strict: boolean;
  now: () => Date;
}

interface Target {
  isHttps: boolean;
  origin: string;
  path: string;
  /** Why a literal address in the URL may not be connected to under production rules, or null. */
  literalRefusal: string | null;
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

/**
 * A delivery client on undici's dispatcher interface: keep-alive connections, and no response
 * stream or header object built per request, which makes a send cost about half the CPU of
 * node:http's. Connections are kept apart for strict and relaxed rules so a socket opened without
 * checks is never reused by a production delivery.
 */
export class DeliveryClient {
  private readonly agents: { strict: Agent; relaxed: Agent };
  private readonly targets = new Map<string, Target>();

  constructor(resolver: Resolver = systemResolver, maxSocketsPerHost = 16, connectTimeoutMs = 15_000) {
    const common = { connections: maxSocketsPerHost, pipelining: 1 };
    this.agents = {
      strict: new Agent({ ...common, connect: { timeout: connectTimeoutMs, lookup: guardedLookup(resolver) } }),
      relaxed: new Agent({ ...common, connect: { timeout: connectTimeoutMs } }),
    };
  }

  /** A URL parsed once for all the deliveries sent to it. */
  private target(rawUrl: string): Target | undefined {
    let target = this.targets.get(rawUrl);
    if (target) return target;
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      return undefined;
    }
    target = {
      isHttps: url.protocol === 'https:',
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      literalRefusal: privateHostReason(url.hostname),
    };
    if (this.targets.size >= 1000) this.targets.clear();
    this.targets.set(rawUrl, target);
    return target;
  }

  close(): void {
    void this.agents.strict.destroy();
    void this.agents.relaxed.destroy();
  }

  post(rawUrl: string, headers: Record<string, string>, body: string | Buffer, options: PostOptions): Promise<AttemptResult> {
    const started = performance.now();
    const target = this.target(rawUrl);
    let refusal: string | null = null;
    if (!target) refusal = 'The endpoint URL is not a valid URL';
    else if (options.strict && !target.isHttps) refusal = 'Production endpoints must use https://';
    // Literal addresses never reach the lookup, so they are checked here.
    else if (options.strict && target.literalRefusal) refusal = `Refused to connect: ${target.literalRefusal}`;
    if (refusal || !target) return Promise.resolve(failure(started, refusal!));
    const agent = options.strict ? this.agents.strict : this.agents.relaxed;
    return new Promise<AttemptResult>((resolve) => {
      // Timeouts are the exchange's own (one for the whole attempt), so undici keeps none per request.
      agent.dispatch(
        { origin: target.origin, path: target.path, method: 'POST', headers, body, headersTimeout: 0, bodyTimeout: 0 },
        new Exchange(started, options, resolve),
      );
    });
  }
}

const failure = (started: number, error: string, statusCode: number | null = null): AttemptResult => ({
  statusCode,
  latencyMs: Math.round(performance.now() - started),
  error,
  retryAfterMs: null,
});

/**
 * One attempt's request. Its methods are undici's callbacks, so a send allocates this object rather
 * than a closure per callback; it settles once, on the answer, an error or the timeout, whichever
 * comes first.
 */
class Exchange {
  private settled = false;
  private abort: ((err?: Error) => void) | undefined;
  private status = 0;
  private location: string | undefined;
  private retryAfter: string | undefined;
  private read = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly started: number,
    private readonly options: PostOptions,
    private readonly resolve: (result: AttemptResult) => void,
  ) {
    this.timer = setTimeout(timedOut, options.timeoutMs, this);
  }

  onConnect(abort: (err?: Error) => void) {
    this.abort = abort;
    // Timed out while connecting: the request must not go out after its attempt was recorded.
    if (this.settled) abort();
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]) {
    // 1xx answers are interim; the final one follows on the same request.
    if (statusCode < 200) return true;
    this.status = statusCode;
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toString('latin1').toLowerCase();
      if (name === 'retry-after') this.retryAfter = rawHeaders[i + 1]!.toString('latin1');
      else if (name === 'location') this.location = rawHeaders[i + 1]!.toString('latin1');
    }
    return true;
  }

  onData(chunk: Buffer) {
    this.read += chunk.length;
    if (this.read <= this.options.maxResponseBytes) return true;
    // The status is known; the rest of a huge body is not worth a connection.
    this.answered();
    this.abort?.();
    return false;
  }

  onComplete() {
    this.answered();
  }

  onError(err: Error) {
    if (this.status) this.answered();
    else this.finish(failure(this.started, describeError(err)));
  }

  timeout() {
    this.finish(failure(this.started, `Timed out after ${this.options.timeoutMs} ms`));
    this.abort?.();
  }

  private answered() {
    const status = this.status;
    if (status >= 300 && status < 400) {
      const to = this.location ? ` to ${this.location}` : '';
      return this.finish(failure(this.started, `Redirect (${status}${to}) not followed: register the final URL`, status));
    }
    this.finish({
      statusCode: status,
      latencyMs: Math.round(performance.now() - this.started),
      error: status >= 200 && status < 300 ? null : `The receiver answered ${status}`,
      retryAfterMs: this.retryAfter === undefined ? null : parseRetryAfter(this.retryAfter, this.options.now()),
    });
  }

  private finish(result: AttemptResult) {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.resolve(result);
  }
}

function timedOut(exchange: Exchange) {
  exchange.timeout();
}

function describeError(err: NodeJS.ErrnoException): string {
  if (err instanceof BlockedAddressError) return err.message;
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'Connection refused';
    case 'ECONNRESET':
    // undici's name for a connection the receiver closed before its answer was complete.
    case 'UND_ERR_SOCKET':
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
