import assert from 'node:assert/strict';
import net from 'node:net';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AttemptResult } from './delivery.policy.js';
import { DeliveryClient } from './delivery.http.js';

/**
 * What the wire client's tests share: real TCP servers on the loopback whose every byte the test
 * writes by hand, and a client to post to them.
 */

export const TEST_TIMEOUT = { timeout: 5_000 };

export interface ReceivedRequest {
  /** Index (0-based) of the connection the request came on. */
  conn: number;
  requestLine: string;
  headers: Array<[string, string]>;
  body: Buffer;
}

export interface TestServer {
  port: number;
  requests: ReceivedRequest[];
  /** Connections accepted so far. */
  connections: number;
  /** Connections open right now, and the most ever open at once. */
  open: number;
  maxOpen: number;
  /** Indexes of the connections that have closed. */
  closedConns: number[];
}

export type OnRequest = (socket: net.Socket, req: ReceivedRequest, server: TestServer) => void;

/** Parses requests per connection (head up to CRLFCRLF, then content-length bytes) and hands each to onRequest. */
export async function startServer(t: TestContext, onRequest: OnRequest, host = '127.0.0.1'): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const state: TestServer = { port: 0, requests: [], connections: 0, open: 0, maxOpen: 0, closedConns: [] };
  const server = net.createServer((socket) => {
    const conn = state.connections++;
    state.open += 1;
    state.maxOpen = Math.max(state.maxOpen, state.open);
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => {
      state.open -= 1;
      state.closedConns.push(conn);
      sockets.delete(socket);
    });
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buf.toString('latin1', 0, end).split('\r\n');
        const headers = lines.slice(1).map((line): [string, string] => {
          const colon = line.indexOf(':');
          return [line.slice(0, colon), line.slice(colon + 1).trim()];
        });
        const length = Number(headers.find(([name]) => name.toLowerCase() === 'content-length')?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        const req: ReceivedRequest = {
          conn,
          requestLine: lines[0]!,
          headers,
          body: Buffer.from(buf.subarray(end + 4, end + 4 + length)),
        };
        buf = buf.subarray(end + 4 + length);
        state.requests.push(req);
        onRequest(socket, req, state);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  state.port = (server.address() as net.AddressInfo).port;
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return state;
}

export function newClient(t: TestContext, maxSockets = 4): DeliveryClient {
  const client = new DeliveryClient(undefined, maxSockets);
  t.after(() => client.close());
  return client;
}

interface PostArgs {
  headers?: Record<string, string>;
  body?: Buffer;
  timeoutMs?: number;
  maxResponseBytes?: number;
}

export function post(client: DeliveryClient, url: string, args: PostArgs = {}): Promise<AttemptResult> {
  return client.post(url, args.headers ?? { 'content-type': 'application/json' }, args.body ?? Buffer.from('{}'), {
    timeoutMs: args.timeoutMs ?? 2_000,
    maxResponseBytes: args.maxResponseBytes ?? 64 * 1024,
    strict: false,
    now: () => new Date(),
  });
}

/** The receiver's answer was `status`, and a success: no error recorded. */
export function assertAnswered(result: AttemptResult, status: number): void {
  assert.equal(result.statusCode, status);
  assert.equal(result.error, null);
}

export const NO_CONTENT = 'HTTP/1.1 204 No Content\r\n\r\n';
export const answer = (text: string): OnRequest => (socket) => void socket.write(text);

/** Resolves once `check` is true, polling every 5 ms; fails after `ms`. */
export async function waitFor(check: () => boolean, ms = 1_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail('condition not met in time');
    await sleep(5);
  }
}
