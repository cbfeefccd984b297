import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/** What the receiver does with a request: answer with a status (and headers/body), or misbehave. */
export type Behaviour =
  | { status: number; headers?: Record<string, string>; body?: string; delayMs?: number }
  | { reset: true }
  | { hang: true }
  | { hugeBodyBytes: number; status?: number };

/**
 * A real webhook receiver on 127.0.0.1 for tests: records every request and answers as `behave`
 * says (200 by default). close() ends it and every connection it holds.
 */
export class Receiver {
  readonly received: Received[] = [];
  behave: (req: Received, index: number) => Behaviour = () => ({ status: 200 });
  private server: http.Server | undefined;
  private readonly sockets = new Set<import('node:net').Socket>();
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<this> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const rec: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
        const index = this.received.push(rec) - 1;
        const b = this.behave(rec, index);
        if ('reset' in b) return req.socket.destroy();
        if ('hang' in b) return;
        if ('hugeBodyBytes' in b) {
          res.writeHead(b.status ?? 200, { 'content-type': 'text/plain' });
          const chunk = Buffer.alloc(64 * 1024, 'x');
          let left = b.hugeBodyBytes;
          const pump = () => {
            while (left > 0) {
              left -= chunk.length;
              if (!res.write(chunk)) return res.once('drain', pump);
            }
            res.end();
          };
          res.on('error', () => {});
          return pump();
        }
        const send = () => {
          if (res.destroyed) return;
          res.writeHead(b.status, b.headers ?? {});
          res.end(b.body ?? '');
        };
        if (b.delayMs) setTimeout(send, b.delayMs).unref();
        else send();
      });
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Stops listening (new connections are refused) and drops open ones; start(port) again to come back on the same port. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
