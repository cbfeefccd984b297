import net from 'node:net';
import tls from 'node:tls';
import type { LookupFunction } from 'node:net';

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

/** Response heads larger than this are refused; no legitimate receiver's answer comes close. */
const MAX_HEAD_BYTES = 16 * 1024;
/** Idle keep-alive sockets are closed after this, below the 5 s that common servers keep them. */
const IDLE_MS = 4_000;

class ProtocolError extends Error {
  readonly code = 'EPROTOCOL';
}

interface Conn {
  socket: net.Socket;
  exchange: Exchange | null;
  idleSince: number;
  /** The error the socket failed with, kept for its close event. */
  failure: Error | undefined;
}

/**
 * The sockets of one origin under one set of connection rules. At most `max` are open; requests
 * beyond that wait for one to be free. Idle sockets are reused last-in first-out, so a burst's
 * extra sockets go idle together and are closed by the sweep.
 */
class OriginPool {
  private readonly idle: Conn[] = [];
  private readonly waiting: Exchange[] = [];
  private open = 0;

  constructor(
    private readonly target: WireTarget,
    private readonly max: number,
    private readonly lookup: LookupFunction | undefined,
  ) {}

  get empty(): boolean {
    return this.open === 0 && this.waiting.length === 0;
  }

  send(exchange: Exchange): void {
    const conn = this.idle.pop();
    if (conn) return this.start(conn, exchange);
    if (this.open < this.max) return this.start(this.connect(), exchange);
    this.waiting.push(exchange);
  }

  /** Closes sockets idle for longer than IDLE_MS. */
  sweep(now: number): void {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      if (now - this.idle[i]!.idleSince > IDLE_MS) this.idle[i]!.socket.destroy();
    }
  }

  close(): void {
    for (const exchange of this.waiting.splice(0)) exchange.fail(Object.assign(new Error('client closed'), { code: 'ECLOSED' }));
    for (const conn of this.idle.splice(0)) conn.socket.destroy();
  }

  /** The exchange on `conn` ended with the connection still usable. */
  release(conn: Conn): void {
    conn.exchange = null;
    const next = this.nextWaiting();
    if (next) return this.start(conn, next);
    conn.idleSince = Date.now();
    this.idle.push(conn);
  }

  /** The oldest waiting request that has not timed out meanwhile. */
  private nextWaiting(): Exchange | undefined {
    let next = this.waiting.shift();
    while (next?.isSettled) next = this.waiting.shift();
    return next;
  }

  private start(conn: Conn, exchange: Exchange): void {
    conn.exchange = exchange;
    exchange.attach(conn, this);
  }

  private connect(): Conn {
    const t = this.target;
    const socket = t.isHttps
      ? tls.connect({ host: t.host, port: t.port, servername: net.isIP(t.host) ? undefined : t.host, ALPNProtocols: ['http/1.1'], lookup: this.lookup })
      : net.connect({ host: t.host, port: t.port, lookup: this.lookup });
    socket.setNoDelay(true);
    const conn: Conn = { socket, exchange: null, idleSince: 0, failure: undefined };
    this.open += 1;
    socket.on('data', (chunk: Buffer) => {
      if (conn.exchange) conn.exchange.data(chunk);
      // Bytes nobody asked for: the connection's framing can no longer be trusted.
      else socket.destroy();
    });
    socket.on('error', (err) => (conn.failure = err));
    socket.on('close', () => {
      this.open -= 1;
      const i = this.idle.indexOf(conn);
      if (i >= 0) this.idle.splice(i, 1);
      const exchange = conn.exchange;
      conn.exchange = null;
      exchange?.closed(conn.failure);
      // A slot is free: the next waiting request gets a new connection.
      const next = this.open < this.max ? this.nextWaiting() : undefined;
      if (next) this.start(this.connect(), next);
    });
    return conn;
  }
}

/**
 * One request and the parsing of its answer. `done` is called exactly once; after that, nothing
 * this exchange sees changes anything.
 */
export class Exchange {
  private conn: Conn | undefined;
  private pool: OriginPool | undefined;
  private settled = false;
  private head: Buffer | undefined;
  private answer: WireAnswer | undefined;
  /** Body bytes still to read before the connection can be reused. */
  private remaining = 0;
  private keepAlive = false;

  constructor(
    private readonly request: Buffer,
    private readonly maxResponseBytes: number,
    private readonly done: (outcome: WireOutcome) => void,
  ) {}

  get isSettled(): boolean {
    return this.settled;
  }

  attach(conn: Conn, pool: OriginPool): void {
    this.conn = conn;
    this.pool = pool;
    // Written at once even while connecting: the socket buffers it until connected.
    conn.socket.write(this.request);
  }

  /** Ends the exchange without an answer (its timeout): the connection goes with it. */
  fail(error: NodeJS.ErrnoException): void {
    if (this.settled) return;
    this.settled = true;
    this.drop();
    this.done({ error });
  }

  data(chunk: Buffer): void {
    if (this.settled) return;
    if (this.answer) return this.body(chunk.length);
    let buf = this.head ? Buffer.concat([this.head, chunk]) : chunk;
    for (;;) {
      const end = buf.indexOf('\r\n\r\n', 0, 'latin1');
      // Too long whether or not its end has arrived (one read can bring a whole oversized head).
      if (end > MAX_HEAD_BYTES || (end < 0 && buf.length > MAX_HEAD_BYTES)) return this.fail(new ProtocolError('The receiver sent response headers over 16 KB'));
      if (end < 0) {
        this.head = buf;
        return;
      }
      const parsed = parseHead(buf.toString('latin1', 0, end));
      if (!parsed) return this.fail(new ProtocolError('The receiver sent an invalid HTTP response'));
      buf = buf.subarray(end + 4);
      // 1xx answers are interim; the final one follows on the same connection.
      if (parsed.statusCode < 200) {
        if (parsed.statusCode === 101) return this.fail(new ProtocolError('The receiver switched protocols'));
        continue;
      }
      this.head = undefined;
      this.answer = { statusCode: parsed.statusCode, retryAfter: parsed.retryAfter, location: parsed.location };
      const bodyLength = parsed.statusCode === 204 || parsed.statusCode === 304 ? 0 : parsed.contentLength;
      if (bodyLength === undefined || bodyLength > this.maxResponseBytes) return this.finish(false);
      this.keepAlive = parsed.keepAlive;
      this.remaining = bodyLength;
      return this.body(buf.length);
    }
  }

  /** The socket closed: an answer whose head arrived stands; otherwise this is the error. */
  closed(failure: Error | undefined): void {
    if (this.settled) return;
    if (this.answer) return this.finish(false);
    this.settled = true;
    this.done({ error: failure ?? Object.assign(new Error('socket closed'), { code: 'ECONNRESET' }) });
  }

  private body(bytes: number): void {
    this.remaining -= bytes;
    if (this.remaining > 0) return;
    // More than the declared length: whatever follows cannot be trusted as the next answer.
    this.finish(this.keepAlive && this.remaining === 0);
  }

  private finish(reusable: boolean): void {
    this.settled = true;
    const conn = this.conn;
    if (reusable && conn && this.pool) this.pool.release(conn);
    else this.drop();
    this.done({ answer: this.answer! });
  }

  private drop(): void {
    const conn = this.conn;
    if (!conn) return;
    if (conn.exchange === this) conn.exchange = null;
    conn.socket.destroy();
  }
}

interface ParsedHead {
  statusCode: number;
  contentLength: number | undefined;
  keepAlive: boolean;
  retryAfter: string | undefined;
  location: string | undefined;
}

function parseHead(head: string): ParsedHead | undefined {
  const lineEnd = head.indexOf('\r\n');
  const statusLine = lineEnd < 0 ? head : head.slice(0, lineEnd);
  const m = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(statusLine);
  if (!m) return undefined;
  let contentLength: number | undefined;
  let chunked = false;
  let connection = '';
  let retryAfter: string | undefined;
  let location: string | undefined;
  let conflicting = false;
  if (lineEnd >= 0) {
    for (const line of head.slice(lineEnd + 2).split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) return undefined;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        const n = /^\d{1,15}$/.test(value) ? Number(value) : NaN;
        if (Number.isNaN(n) || (contentLength !== undefined && contentLength !== n)) conflicting = true;
        else contentLength = n;
      } else if (name === 'transfer-encoding') chunked = true;
      else if (name === 'connection') connection += `${value.toLowerCase()},`;
      else if (name === 'retry-after') retryAfter = value;
      else if (name === 'location') location = value;
    }
  }
  const http10 = m[1] === '0';
  return {
    statusCode: Number(m[2]),
    // A body framed any other way than one plain Content-Length is not read (the connection is dropped instead).
    contentLength: chunked || conflicting ? undefined : contentLength,
    keepAlive: http10 ? /(^|[ ,])keep-alive,/.test(connection) : !/(^|[ ,])close,/.test(connection),
    retryAfter,
    location,
  };
}

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
