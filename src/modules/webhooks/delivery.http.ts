import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
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
  protocol: string;
  host: string;
  port: string | number;
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

/** A delivery client: keep-alive connections, kept apart for strict and relaxed rules so a socket opened without checks is never reused by a production delivery. */
export class DeliveryClient {
  private readonly strictLookup: LookupFunction;
  private readonly agents: { strict: https.Agent; relaxedHttp: http.Agent; relaxedHttps: https.Agent };
  private readonly targets = new Map<string, Target>();

  constructor(resolver: Resolver = systemResolver, maxSocketsPerHost = 16) {
    this.strictLookup = guardedLookup(resolver);
    const common = { keepAlive: true, maxSockets: maxSocketsPerHost, maxFreeSockets: maxSocketsPerHost, scheduling: 'lifo' as const };
    this.agents = { strict: new https.Agent(common), relaxedHttp: new http.Agent(common), relaxedHttps: new https.Agent(common) };
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
    const isHttps = url.protocol === 'https:';
    target = {
      isHttps,
      protocol: url.protocol,
      host: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
      port: url.port || (isHttps ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      literalRefusal: privateHostReason(url.hostname),
    };
    if (this.targets.size >= 1000) this.targets.clear();
    this.targets.set(rawUrl, target);
    return target;
  }

  close(): void {
    this.agents.strict.destroy();
    this.agents.relaxedHttp.destroy();
    this.agents.relaxedHttps.destroy();
  }

  /** `headers` becomes the request's own (content-length is added to it). */
  post(rawUrl: string, headers: Record<string, string>, body: string | Buffer, options: PostOptions): Promise<AttemptResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const fail = (error: string, statusCode: number | null = null): AttemptResult => ({ statusCode, latencyMs: elapsed(), error, retryAfterMs: null });

    const target = this.target(rawUrl);
    if (!target) return Promise.resolve(fail('The endpoint URL is not a valid URL'));
    const { isHttps, host } = target;
    if (options.strict) {
      if (!isHttps) return Promise.resolve(fail('Production endpoints must use https://'));
      // Literal addresses never reach the lookup, so they are checked here.
      if (target.literalRefusal) return Promise.resolve(fail(`Refused to connect: ${target.literalRefusal}`));
    }
    const agent = options.strict ? this.agents.strict : isHttps ? this.agents.relaxedHttps : this.agents.relaxedHttp;
    const payload = typeof body === 'string' ? Buffer.from(body) : body;
    headers['content-length'] = String(payload.length);
    const request = (isHttps ? https.request : http.request)({
      protocol: target.protocol,
      host,
      port: target.port,
      path: target.path,
      method: 'POST',
      agent,
      headers,
      ...(options.strict && isIP(host) === 0 ? { lookup: this.strictLookup } : {}),
    });

    return new Promise<AttemptResult>((resolve) => {
      let settled = false;
      const finish = (result: AttemptResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const timer = setTimeout(() => {
        request.destroy();
        finish(fail(`Timed out after ${options.timeoutMs} ms`));
      }, options.timeoutMs);

      request.on('error', (err: NodeJS.ErrnoException) => finish(fail(describeError(err))));
      request.on('response', (response) => {
        const status = response.statusCode ?? 0;
        let read = 0;
        const done = () => {
          if (status >= 300 && status < 400) {
            const location = response.headers.location;
            return finish(fail(`Redirect (${status}${location ? ` to ${location}` : ''}) not followed: register the final URL`, status));
          }
          finish({
            statusCode: status,
            latencyMs: elapsed(),
            error: status >= 200 && status < 300 ? null : `The receiver answered ${status}`,
            retryAfterMs: parseRetryAfter(response.headers['retry-after'], options.now()),
          });
        };
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > options.maxResponseBytes) {
            // The status is known; the rest of a huge body is not worth a connection.
            response.destroy();
            done();
          }
        });
        response.on('end', done);
        response.on('error', () => done());
        response.on('close', done);
      });
      request.end(payload);
    });
  }
}

function describeError(err: NodeJS.ErrnoException): string {
  if (err instanceof BlockedAddressError) return err.message;
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'Connection refused';
    case 'ECONNRESET':
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
