/** One request of the wire client (delivery.wire.ts) on one of its sockets, and the reading of its answer. */
import type { WireAnswer, WireOutcome } from './delivery.wire.js';
import type { Conn, OriginPool } from './delivery.wire.pool.js';

/** Response heads larger than this are refused; no legitimate receiver's answer comes close. */
const MAX_HEAD_BYTES = 16 * 1024;

class ProtocolError extends Error {
  readonly code = 'EPROTOCOL';
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
