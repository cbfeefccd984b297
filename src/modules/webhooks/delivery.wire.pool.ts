/** The wire client's sockets (delivery.wire.ts): one pool per origin and set of connection rules. */
import net from 'node:net';
import tls from 'node:tls';
import type { LookupFunction } from 'node:net';
import type { WireTarget } from './delivery.wire.js';
import type { Exchange } from './delivery.wire.exchange.js';

/** Idle keep-alive sockets are closed after this, below the 5 s that common servers keep them. */
const IDLE_MS = 4_000;

export interface Conn {
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
export class OriginPool {
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
