import type { LookupFunction } from 'node:net';
import type { Exchange } from './delivery.wire.exchange.js';
import { OriginPool } from './delivery.wire.pool.js';

/**
 * The HTTP/1.1 exchange a delivery needs, written straight onto keep-alive sockets: one POST with
 * a known body, and of the answer only the status, Retry-After and Location. A general client
 * (undici, node:http) spends about twice this CPU per request on machinery a delivery never uses
 * (streams, header objects, interceptors), and deliveries are the dispatcher's hot path.
 *
 * A response's body is read only to reuse its connection: when its length is declared and within
 * the cap. A chunked, unbounded or oversized body ends the exchange as soon as the status is known
 * and the connection is dropped, so a receiver can never make us read more than the cap.
 */

export interface WireTarget {
  isHttps: boolean;
  /** Host to connect to: a name, or an address without IPv6 brackets. */
  host: string;
  port: number;
  /** The Host header: the URL's host, with its port when not the default. */
  hostHeader: string;
  path: string;
}

export interface WireAnswer {
  statusCode: number;
  retryAfter: string | undefined;
  location: string | undefined;
}

/** How an exchange ended: an answer, or why there was none. */
export type WireOutcome = { answer: WireAnswer } | { error: NodeJS.ErrnoException };

// Callers build the Exchange they pass to WireClient.send(); it lives beside the answer parsing it drives.
export { Exchange } from './delivery.wire.exchange.js';

/**
 * Every connection a dispatcher opens, per origin and per set of rules: connections made without
 * address checks (relaxed sandbox endpoints) are never reused for a production delivery.
 */
export class WireClient {
  private readonly pools = new Map<string, OriginPool>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly maxSocketsPerOrigin: number,
    private readonly strictLookup: LookupFunction,
  ) {
    this.sweeper = setInterval(() => this.sweep(), 1_000);
    this.sweeper.unref();
  }

  send(target: WireTarget, strict: boolean, exchange: Exchange): void {
    const key = `${strict ? 's' : 'r'}${target.isHttps ? 's' : ''}|${target.host}|${target.port}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new OriginPool(target, this.maxSocketsPerOrigin, strict ? this.strictLookup : undefined);
      this.pools.set(key, pool);
    }
    pool.send(exchange);
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, pool] of this.pools) {
      pool.sweep(now);
      if (pool.empty) this.pools.delete(key);
    }
  }
}

/**
 * The request as written on the wire: head and body in one buffer, so one write sends it; or, when a
 * header could split the request, the reason it is not sent.
 */
export function encodeRequest(target: WireTarget, headers: Record<string, string>, body: Buffer): Buffer | string {
  let head = `POST ${target.path} HTTP/1.1\r\nhost: ${target.hostHeader}\r\n`;
  for (const name in headers) {
    const value = headers[name]!;
    // Registration refuses these; a row changed behind the API's back must still not split the request.
    if (/[\r\n\0]/.test(value) || /[\r\n\0:]/.test(name)) return `Invalid header ${JSON.stringify(name)}: headers must not contain CR, LF or NUL`;
    head += `${name}: ${value}\r\n`;
  }
  head += `content-length: ${body.length}\r\n\r\n`;
  const headBytes = Buffer.byteLength(head, 'latin1');
  const out = Buffer.allocUnsafe(headBytes + body.length);
  out.write(head, 0, 'latin1');
  body.copy(out, headBytes);
  return out;
}
