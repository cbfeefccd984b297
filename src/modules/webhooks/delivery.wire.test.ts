import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AttemptResult } from './delivery.policy.js';
import { DeliveryClient } from './delivery.http.js';

/**
 * The wire client (delivery.wire.ts) through DeliveryClient.post(), against real TCP servers on the
 * loopback whose every byte the test writes by hand.
 */

const TEST_TIMEOUT = { timeout: 5_000 };

interface ReceivedRequest {
  /** Index (0-based) of the connection the request came on. */
  conn: number;
  requestLine: string;
  headers: Array<[string, string]>;
  body: Buffer;
}

interface TestServer {
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

type OnRequest = (socket: net.Socket, req: ReceivedRequest, server: TestServer) => void;

/** Parses requests per connection (head up to CRLFCRLF, then content-length bytes) and hands each to onRequest. */
async function startServer(t: TestContext, onRequest: OnRequest, host = '127.0.0.1'): Promise<TestServer> {
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

function newClient(t: TestContext, maxSockets = 4): DeliveryClient {
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

function post(client: DeliveryClient, url: string, args: PostArgs = {}): Promise<AttemptResult> {
  return client.post(url, args.headers ?? { 'content-type': 'application/json' }, args.body ?? Buffer.from('{}'), {
    timeoutMs: args.timeoutMs ?? 2_000,
    maxResponseBytes: args.maxResponseBytes ?? 64 * 1024,
    strict: false,
    now: () => new Date(),
  });
}

/** The receiver's answer was `status`, and a success: no error recorded. */
function assertAnswered(result: AttemptResult, status: number): void {
  assert.equal(result.statusCode, status);
  assert.equal(result.error, null);
}

const NO_CONTENT = 'HTTP/1.1 204 No Content\r\n\r\n';
const answer = (text: string): OnRequest => (socket) => void socket.write(text);

/** Resolves once `check` is true, polling every 5 ms; fails after `ms`. */
async function waitFor(check: () => boolean, ms = 1_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail('condition not met in time');
    await sleep(5);
  }
}

test('a 204 is a success, the request is well formed, and two sequential posts reuse one connection', TEST_TIMEOUT, async (t) => {
  const server = await startServer(t, answer(NO_CONTENT));
  const client = newClient(t);
  const url = `http://127.0.0.1:${server.port}/path?q=1`;
  const body = Buffer.from('{"name":"Zoë ✓"}');
  const headers = { 'content-type': 'application/json', 'webhook-id': 'msg_1', 'webhook-signature': 'v1,abc=' };

  const first = await post(client, url, { headers, body });
  const second = await post(client, url, { headers, body });

  assertAnswered(first, 204);
  assert.equal(first.retryAfterMs, null);
  assert.equal(typeof first.latencyMs, 'number');
  assertAnswered(second, 204);
  assert.equal(server.connections, 1);
  assert.equal(server.requests.length, 2);

  for (const req of server.requests) {
    assert.equal(req.conn, 0);
    assert.equal(req.requestLine, 'POST /path?q=1 HTTP/1.1');
    const get = (name: string) => req.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
    assert.deepEqual(get('host'), [`127.0.0.1:${server.port}`]);
    assert.deepEqual(get('content-type'), ['application/json']);
    assert.deepEqual(get('webhook-id'), ['msg_1']);
    assert.deepEqual(get('webhook-signature'), ['v1,abc=']);
    assert.deepEqual(get('content-length'), [String(body.length)]);
    assert.notEqual(body.length, body.toString().length, 'the body has multi-byte characters');
    assert.deepEqual(req.body, body);
  }
});

test('a 200 whose head and body arrive in several writes is read whole and its connection reused', TEST_TIMEOUT, async (t) => {
  const server = await startServer(t, (socket) => {
    void (async () => {
      socket.write('HTTP/1.1 200 O');
      await sleep(20);
      socket.write('K\r\nContent-Length: 5\r\n\r\nhe');
      await sleep(20);
      socket.write('ll');
      await sleep(20);
      socket.write('o');
    })();
  });
  const client = newClient(t);
  const url = `http://127.0.0.1:${server.port}/hook`;

  const first = await post(client, url);
  assertAnswered(first, 200);
  assert.ok(first.latencyMs >= 40, `finished only after the whole body arrived (${first.latencyMs} ms)`);

  const second = await post(client, url);
  assertAnswered(second, 200);
  assert.equal(server.connections, 1);
  assert.deepEqual(
    server.requests.map((r) => r.conn),
    [0, 0],
  );
});

test('Connection: close in the answer makes the next post open a new connection', TEST_TIMEOUT, async (t) => {
  const server = await startServer(t, answer('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok'));
  const client = newClient(t);
  const url = `http://127.0.0.1:${server.port}/hook`;

  assert.equal((await post(client, url)).statusCode, 200);
  assert.equal((await post(client, url)).statusCode, 200);
  assert.equal(server.connections, 2);
  assert.deepEqual(
    server.requests.map((r) => r.conn),
    [0, 1],
  );
});

test('a chunked answer is recorded as soon as its head arrives and its connection is not reused', TEST_TIMEOUT, async (t) => {
  const server = await startServer(t, (socket, req) => {
    // The first answer's chunked body never ends; the second one is plain.
    if (req.conn === 0) socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
    else socket.write(NO_CONTENT);
  });
  const client = newClient(t);
  const url = `http://127.0.0.1:${server.port}/hook`;

  const started = Date.now();
  const first = await post(client, url, { timeoutMs: 3_000 });
  assertAnswered(first, 200);
  assert.ok(Date.now() - started < 1_000, 'did not wait for the end of the chunked body');

  const second = await post(client, url);
  assert.equal(second.statusCode, 204);
  assert.equal(server.connections, 2);
  await waitFor(() => server.closedConns.includes(0));
});

test('a declared body over maxResponseBytes ends the exchange at the head and drops the connection', TEST_TIMEOUT, async (t) => {
  const server = await startServer(t, (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n');
    const filler = Buffer.alloc(16 * 1024, 0x61);
    const timer = setInterval(() => {
      if (socket.destroyed || socket.writableEnded) return clearInterval(timer);
      socket.write(filler);
    }, 5);
    socket.on('close', () => clearInterval(timer));
  });
  const client = newClient(t);

  const started = Date.now();
  const result = await post(client, `http://127.0.0.1:${server.port}/hook`, { maxResponseBytes: 1024, timeoutMs: 3_000 });
  assertAnswered(result, 200);
  assert.ok(Date.now() - started < 1_000, 'answered promptly');
  await waitFor(() => server.closedConns.includes(0));
});

test('an interim 100 Continue is skipped and the final 202 is the answer, in one write or two', TEST_TIMEOUT, async (t) => {
  const server = await startServer(t, (socket, req) => {
    if (server.requests.indexOf(req) === 0) {
      socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n');
    } else {
      socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      setTimeout(() => socket.write('HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n'), 20);
    }
  });
  const client = newClient(t);
  const url = `http://127.0.0.1:${server.port}/hook`;

  const first = await post(client, url);
  assertAnswered(first, 202);
  const second = await post(client, url);
  assertAnswered(second, 202);
  assert.equal(server.connections, 1);
});

test('a 302 is reported with its Location and not followed', TEST_TIMEOUT, async (t) => {
  const server = await startServer(t, answer('HTTP/1.1 302 Found\r\nLocation: https://elsewhere.example/new\r\nContent-Length: 0\r\n\r\n'));
  const client = newClient(t);

  const result = await post(client, `http://127.0.0.1:${server.port}/hook`);
  assert.equal(result.statusCode, 302);
  assert.match(result.error ?? '', /Redirect/);
  assert.match(result.error ?? '', /https:\/\/elsewhere\.example\/new/);
  await sleep(50);
  assert.equal(server.requests.length, 1);
});

test('a 429 with Retry-After: 7 gives retryAfterMs 7000', TEST_TIMEOUT, async (t) => {
  const server = await startServer(t, answer('HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n'));
  const client = newClient(t);

  const result = await post(client, `http://127.0.0.1:${server.port}/hook`);
  assert.equal(result.statusCode, 429);
  assert.equal(result.retryAfterMs, 7_000);
  assert.equal(result.error, 'The receiver answered 429');
});

test('an answer that is not HTTP is an invalid HTTP response', TEST_TIMEOUT, async (t) => {
  const server = await startServer(t, answer('SSH-2.0-OpenSSH\r\n\r\n'));
  const client = newClient(t);

  const result = await post(client, `http://127.0.0.1:${server.port}/hook`);
  assert.equal(result.statusCode, null);
  assert.match(result.error ?? '', /invalid HTTP response/);
});

test('a response head over 16 KB without its blank line is refused', TEST_TIMEOUT, async (t) => {
  const server = await startServer(t, (socket) => {
    socket.write(`HTTP/1.1 200 OK\r\nX-Padding: ${'a'.repeat(8 * 1024)}\r\n`);
    setTimeout(() => socket.write(`X-More: ${'b'.repeat(12 * 1024)}\r\n`), 10);
  });
  const client = newClient(t);

  const result = await post(client, `http://127.0.0.1:${server.port}/hook`);
  assert.equal(result.statusCode, null);
  assert.match(result.error ?? '', /16 KB/);
  await waitFor(() => server.closedConns.includes(0));
});

test('a complete response head over 16 KB arriving in one write is refused too', TEST_TIMEOUT, async (t) => {
  const server = await startServer(t, answer(`HTTP/1.1 200 OK\r\nX-Pad: ${'a'.repeat(40_000)}\r\nContent-Length: 0\r\n\r\n`));
  const client = newClient(t);

  const result = await post(client, `http://127.0.0.1:${server.port}/hook`);
  assert.equal(result.statusCode, null);
  assert.match(result.error ?? '', /16 KB/);
});

test('a socket closed by the receiver without an answer is a reset', TEST_TIMEOUT, async (t) => {
  const server = await startServer(t, (socket) => socket.destroy());
  const client = newClient(t);

  const result = await post(client, `http://127.0.0.1:${server.port}/hook`);
  assert.equal(result.statusCode, null);
  assert.match(result.error ?? '', /reset/i);
});

test('a receiver that never answers times out after timeoutMs', TEST_TIMEOUT, async (t) => {
  const server = await startServer(t, () => {});
  const client = newClient(t);

  const started = Date.now();
  const result = await post(client, `http://127.0.0.1:${server.port}/hook`, { timeoutMs: 300 });
  const elapsed = Date.now() - started;
  assert.equal(result.statusCode, null);
  assert.match(result.error ?? '', /Timed out after 300 ms/);
  assert.ok(elapsed >= 250 && elapsed < 2_000, `elapsed ${elapsed} ms`);
  // The timed-out exchange takes its connection with it.
  await waitFor(() => server.closedConns.includes(0));
});

test('a port where nothing listens is Connection refused', TEST_TIMEOUT, async (t) => {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const client = newClient(t);

  const result = await post(client, `http://127.0.0.1:${port}/hook`);
  assert.equal(result.statusCode, null);
  assert.equal(result.error, 'Connection refused');
});

test('with one socket per origin, concurrent posts queue on one connection and are answered in order', TEST_TIMEOUT, async (t) => {
  const server = await startServer(t, (socket, req) => {
    const status = { '/1': 200, '/2': 201, '/3': 202 }[req.requestLine.split(' ')[1]!] ?? 500;
    setTimeout(() => socket.write(`HTTP/1.1 ${status} OK\r\nContent-Length: 0\r\n\r\n`), 50);
  });
  const client = newClient(t, 1);
  const base = `http://127.0.0.1:${server.port}`;

  const order: number[] = [];
  const results = await Promise.all(
    [1, 2, 3].map((n) =>
      post(client, `${base}/${n}`).then((r) => {
        order.push(n);
        return r;
      }),
    ),
  );
  assert.deepEqual(
    results.map((r) => [r.statusCode, r.error]),
    [
      [200, null],
      [201, null],
      [202, null],
    ],
  );
  assert.deepEqual(order, [1, 2, 3]);
  assert.deepEqual(
    server.requests.map((r) => r.requestLine),
    ['POST /1 HTTP/1.1', 'POST /2 HTTP/1.1', 'POST /3 HTTP/1.1'],
  );
  assert.equal(server.maxOpen, 1);
  assert.equal(server.connections, 1);
});

test('a request that times out while queued does not break the busy socket for the next request', TEST_TIMEOUT, async (t) => {
  const server = await startServer(t, (socket, req) => {
    const delay = server.requests.indexOf(req) === 0 ? 400 : 0;
    setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), delay);
  });
  const client = newClient(t, 1);
  const url = `http://127.0.0.1:${server.port}/hook`;

  const first = post(client, url, { timeoutMs: 2_000 });
  const started = Date.now();
  const second = await post(client, url, { timeoutMs: 100 });
  assert.equal(second.statusCode, null);
  assert.match(second.error ?? '', /Timed out after 100 ms/);
  assert.ok(Date.now() - started < 350, 'the queued request timed out on its own deadline');

  const firstResult = await first;
  assertAnswered(firstResult, 200);

  const third = await post(client, url);
  assertAnswered(third, 200);
  assert.equal(server.connections, 1);
  // The timed-out request was never written.
  assert.equal(server.requests.length, 2);
});

test('a header value containing CR LF fails without connecting', TEST_TIMEOUT, async (t) => {
  const server = await startServer(t, answer(NO_CONTENT));
  const client = newClient(t);

  const result = await post(client, `http://127.0.0.1:${server.port}/hook`, {
    headers: { 'content-type': 'application/json', 'x-evil': 'a\r\nInjected: 1' },
  });
  assert.equal(result.statusCode, null);
  assert.match(result.error ?? '', /CR, LF/);
  await sleep(50);
  assert.equal(server.connections, 0);
});

test('an IPv6 literal URL reaches a server on ::1', TEST_TIMEOUT, async (t) => {
  let server: TestServer;
  try {
    server = await startServer(t, answer(NO_CONTENT), '::1');
  } catch (err) {
    t.skip(`cannot listen on ::1 (${(err as Error).message})`);
    return;
  }
  const client = newClient(t);

  const result = await post(client, `http://[::1]:${server.port}/x`);
  assertAnswered(result, 204);
  assert.equal(server.requests.length, 1);
  const req = server.requests[0]!;
  assert.equal(req.requestLine, 'POST /x HTTP/1.1');
  assert.deepEqual(
    req.headers.filter(([n]) => n.toLowerCase() === 'host').map(([, v]) => v),
    [`[::1]:${server.port}`],
  );
});

test('an idle connection closed by the receiver between requests is replaced by a new one', TEST_TIMEOUT, async (t) => {
  const server = await startServer(t, (socket) => {
    socket.write(NO_CONTENT);
    socket.end();
  });
  const client = newClient(t);
  const url = `http://127.0.0.1:${server.port}/hook`;

  const first = await post(client, url);
  assert.equal(first.statusCode, 204);
  await sleep(50);
  const second = await post(client, url, { timeoutMs: 1_000 });
  assertAnswered(second, 204);
  assert.equal(server.connections, 2);
});

/** A self-signed certificate for 127.0.0.1 and localhost, made for this test only (openssl req -x509, P-256, 100 years). */
const SELF_SIGNED = {
  key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgnqQC8h2pHOIJuKNx
edlAUp3qWiMjsoiMXFYm1kbR4L6hRANCAAROplbeqcQlPJ1zScZ5FdAe6nFSYoQE
0JN1bPy7nwdfikevRxmSdq5KQ7RkvF3c13k9KKdUJSOKXaTJLtByDl2G
-----END PRIVATE KEY-----`,
  cert: `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUTm8tJg5zc4x9tpOGIFuGD0T0Qu4wCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwMzEyNTg1M1oYDzIxMjYxMTA5
MTI1ODUzWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAROplbeqcQlPJ1zScZ5FdAe6nFSYoQE0JN1bPy7nwdfikevRxmSdq5K
Q7RkvF3c13k9KKdUJSOKXaTJLtByDl2Go28wbTAdBgNVHQ4EFgQUv2IL1EviQXvS
PNXXmxkxI4w5BhEwHwYDVR0jBBgwFoAUv2IL1EviQXvSPNXXmxkxI4w5BhEwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIgFGANSUwfMIDh+adNuOIy8hoTT2rncdGRQDY3HqWFGJQCIQD4
bydhqlSU3lL9H1AaaKaDAn/wjzQE3Vz/sJfAQj9UJA==
-----END CERTIFICATE-----`,
};

test('https verifies the receiver\'s certificate: a self-signed one is refused before anything is sent', TEST_TIMEOUT, async (t) => {
  let requestBytes = 0;
  const server = tls.createServer(SELF_SIGNED, (socket) => {
    socket.on('data', (d: Buffer) => (requestBytes += d.length));
    socket.on('error', () => {});
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const client = newClient(t);

  const result = await post(client, `https://127.0.0.1:${(server.address() as net.AddressInfo).port}/hook`);
  assert.equal(result.statusCode, null);
  assert.match(result.error ?? '', /TLS certificate rejected \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
  assert.equal(requestBytes, 0, 'no byte of the delivery reached a receiver whose certificate failed');
});
