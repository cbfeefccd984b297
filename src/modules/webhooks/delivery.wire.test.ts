import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { answer, assertAnswered, newClient, NO_CONTENT, post, startServer, TEST_TIMEOUT, waitFor } from './delivery.wire.harness.js';

/**
 * The wire client (delivery.wire.ts) through DeliveryClient.post(): how it reads the answers of real
 * TCP servers on the loopback whose every byte the test writes by hand.
 */

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
