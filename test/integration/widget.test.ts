import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import vm from 'node:vm';
import { gunzipSync } from 'node:zlib';
import { ensureSandboxPartner } from '../../src/modules/partners/sandbox.js';
import { buildWidget, WIDGET_DIR, WIDGET_PARTS } from '../../src/modules/widget/widget.asset.js';
import { createTestContext, type TestContext } from '../harness/context.js';

/** GET /widget.js (bytes, caching, compression, size budget) and the demo page at GET /. */

const GZIP_BUDGET = 30 * 1024;

let seeded: TestContext;
let production: TestContext;
before(async () => {
  seeded = await createTestContext({ env: { ALMONER_SEED_SANDBOX: 'true', ALMONER_PUBLIC_URL: 'https://give.example.org' } });
  production = await createTestContext();
});
after(async () => {
  await seeded.close();
  await production.close();
});

test('GET /widget.js serves the file as JavaScript with a long cache, an ETag and nosniff', async () => {
  const source = await buildWidget();
  const res = await seeded.app.inject({ method: 'GET', url: '/widget.js' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'application/javascript; charset=utf-8');
  assert.equal(res.headers['content-encoding'], undefined, 'no gzip for a client that did not ask');
  assert.ok(res.rawPayload.equals(source), 'the parts of web/widget/ joined');
  assert.match(String(res.headers['cache-control']), /public, max-age=86400/);
  assert.match(String(res.headers.etag), /^"[A-Za-z0-9_-]+"$/);
  assert.equal(res.headers.vary, 'Accept-Encoding');
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.equal(res.headers['access-control-allow-origin'], '*', 'partner pages load it cross-origin');
  assert.doesNotThrow(() => new vm.Script(res.body, { filename: 'widget.js' }), 'the script parses');
  assert.doesNotMatch(res.body, /\bimport\s*\(|\brequire\(/, 'no dependencies');
});

test('every file of web/widget/ is served, in strict mode, and each parses on its own', async () => {
  assert.deepEqual((await readdir(WIDGET_DIR)).filter((f) => f.endsWith('.js')).sort(), [...WIDGET_PARTS].sort(), 'a part left out of WIDGET_PARTS');
  const served = (await buildWidget()).toString('utf8');
  assert.match(served, /^\/\*! almoner donation widget[^]*?\(function \(\) \{\n'use strict';\n/);
  assert.match(served, /\}\)\(\);\n$/);
  for (const part of WIDGET_PARTS) {
    const text = await readFile(path.join(WIDGET_DIR, part), 'utf8');
    assert.ok(served.includes(text), part);
    assert.doesNotThrow(() => new vm.Script(text, { filename: part }), part);
  }
});

test('GET /widget.js gzipped stays under 30 KB and unzips to the same bytes', async () => {
  const res = await seeded.app.inject({ method: 'GET', url: '/widget.js', headers: { 'accept-encoding': 'gzip, deflate, br' } });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-encoding'], 'gzip');
  assert.equal(Number(res.headers['content-length']), res.rawPayload.length);
  const source = await buildWidget();
  assert.ok(gunzipSync(res.rawPayload).equals(source));
  assert.ok(res.rawPayload.length < GZIP_BUDGET, `widget.js is ${res.rawPayload.length} bytes gzipped, over the ${GZIP_BUDGET} budget`);
  console.log(`widget.js: ${source.length} bytes, ${res.rawPayload.length} bytes gzipped`);
  const refused = await seeded.app.inject({ method: 'GET', url: '/widget.js', headers: { 'accept-encoding': 'gzip;q=0, identity' } });
  assert.equal(refused.headers['content-encoding'], undefined);
});

test('GET /widget.js with a current If-None-Match answers 304 without a body; a stale one gets the file', async () => {
  for (const encoding of ['gzip', 'identity']) {
    const first = await seeded.app.inject({ method: 'GET', url: '/widget.js', headers: { 'accept-encoding': encoding } });
    const etag = String(first.headers.etag);
    const again = await seeded.app.inject({ method: 'GET', url: '/widget.js', headers: { 'accept-encoding': encoding, 'if-none-match': etag } });
    assert.equal(again.statusCode, 304, encoding);
    assert.equal(again.rawPayload.length, 0);
    assert.equal(again.headers.etag, etag);
    assert.match(String(again.headers['cache-control']), /max-age/);
  }
  const stale = await seeded.app.inject({ method: 'GET', url: '/widget.js', headers: { 'if-none-match': '"an-old-version"' } });
  assert.equal(stale.statusCode, 200);
  assert.ok(stale.rawPayload.length > 1000);
});

test('GET / shows the widget live with the sandbox partner\'s publishable key, under a strict CSP', async () => {
  const none = await seeded.app.inject({ method: 'GET', url: '/' });
  assert.equal(none.statusCode, 200, none.body);
  assert.doesNotMatch(none.body, /<script/, 'before the first start has written the credentials, no live widget');

  const { credentials } = await ensureSandboxPartner(seeded.services, seeded.config.dataDir);
  const res = await seeded.app.inject({ method: 'GET', url: '/' });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
  assert.match(res.body, new RegExp(`<div data-almoner-donate data-key="${credentials.publishableKey}" data-external-user-id="demo_donor"></div>`));
  assert.match(res.body, /<script src="\/widget\.js" async><\/script>/);
  assert.ok(res.body.includes('&lt;script src=&quot;https://give.example.org/widget.js&quot; async&gt;'), 'the snippet names the public URL');
  assert.ok(!res.body.includes(credentials.secretKey) && !res.body.includes(credentials.hmacSecret), 'no secret on the page');
  assert.match(res.body, /href="\/partner-api"/);
  assert.match(res.body, /href="\/payments-api"/);
  const csp = String(res.headers['content-security-policy']);
  const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
  assert.ok(nonce && res.body.includes(`<style nonce="${nonce}">`), csp);
  assert.match(csp, /script-src 'self';/);
  assert.equal(res.headers['cache-control'], 'no-store');
  const next = await seeded.app.inject({ method: 'GET', url: '/' });
  assert.notEqual(/'nonce-([^']+)'/.exec(String(next.headers['content-security-policy']))?.[1], nonce, 'a fresh nonce per response');
});

test('GET / on a server without a sandbox partner shows how to embed the widget, with no live demo', async () => {
  // A stray credentials file must not turn a production server's page into a demo.
  await writeFile(path.join(production.config.dataDir, 'sandbox-credentials.json'), JSON.stringify({ publishableKey: 'pk_test_abc123' }));
  const res = await production.app.inject({ method: 'GET', url: '/' });
  assert.equal(res.statusCode, 200);
  assert.doesNotMatch(res.body, /<script/);
  assert.doesNotMatch(res.body, /pk_test_abc123/);
  assert.match(res.body, /no sandbox partner/);
  assert.match(res.body, /data-key=&quot;pk_test_YOUR_PUBLISHABLE_KEY&quot;/);
});
