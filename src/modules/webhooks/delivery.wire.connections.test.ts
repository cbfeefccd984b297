import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { answer, assertAnswered, newClient, NO_CONTENT, post, startServer, TEST_TIMEOUT, waitFor, type TestServer } from './delivery.wire.harness.js';

/**
 * The wire client (delivery.wire.ts) through DeliveryClient.post(): failures, queuing on its sockets,
 * IPv6 and TLS, against real servers on the loopback.
 */

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
