import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { WebhookDispatcher } from '../../src/modules/webhooks/delivery.dispatcher.js';
import type { Resolver } from '../../src/modules/webhooks/delivery.http.js';
import { newEvent, writeEvents } from '../../src/platform/outbox/outbox.js';
import { createPartner, prodKey, type PartnerFixture } from '../factories/partners.js';
import { partnerCall } from '../factories/rewards.js';
import { createTestContext, type TestContext } from '../harness/context.js';
import { runOnce } from '../harness/webhooks.js';

/**
 * Production endpoints can never be used to reach a private network. A canary listener on
 * 127.0.0.1 counts every TCP connection it gets; no URL form, DNS answer or redirect may reach it.
 */

let ctx: TestContext;
let canary: net.Server;
let connections = 0;
let port = 0;
let p: PartnerFixture;

before(async () => {
  ctx = await createTestContext();
  canary = net.createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
  port = (canary.address() as net.AddressInfo).port;
  p = await createPartner(ctx.services, { withProduction: true });
});
after(async () => {
  await new Promise<void>((resolve) => canary.close(() => resolve()));
  ctx.services.dispatcher.close();
  await ctx.close();
});

/** Every way we know of to write "this machine" or another private address into a URL. */
const ssrfUrls = () => [
  `https://127.0.0.1:${port}/`,
  `https://127.1:${port}/`,
  `https://127.0.1:${port}/`,
  `https://2130706433:${port}/`,
  `https://0x7f000001:${port}/`,
  `https://0x7f.0x0.0x0.0x1:${port}/`,
  `https://017700000001:${port}/`,
  `https://0177.0.0.1:${port}/`,
  `https://127.000.000.001:${port}/`,
  `https://0:${port}/`,
  `https://0.0.0.0:${port}/`,
  `https://[::1]:${port}/`,
  `https://[0:0:0:0:0:0:0:1]:${port}/`,
  `https://[::]:${port}/`,
  `https://[::ffff:127.0.0.1]:${port}/`,
  `https://[::ffff:7f00:1]:${port}/`,
  `https://[0:0:0:0:0:ffff:127.0.0.1]:${port}/`,
  `https://[::127.0.0.1]:${port}/`,
  `https://[64:ff9b::7f00:1]:${port}/`,
  `https://[2002:7f00:1::]:${port}/`,
  `https://[fe80::1]:${port}/`,
  `https://[fc00::1]:${port}/`,
  `https://[fd12:3456::1]:${port}/`,
  `https://localhost:${port}/`,
  `https://LocalHost:${port}/`,
  `https://localhost.:${port}/`,
  `https://api.localhost:${port}/`,
  `https://ip6-localhost:${port}/`,
  `https://169.254.169.254/latest/meta-data/`,
  `https://metadata.google.internal/computeMetadata/v1/`,
  `https://[fd00:ec2::254]/latest/meta-data/`,
  `https://10.0.0.1:${port}/`,
  `https://172.16.0.1:${port}/`,
  `https://192.168.1.1:${port}/`,
  `https://100.64.0.1:${port}/`,
  `https://intranet:${port}/`,
  `https://printer.local:${port}/`,
  `http://hooks.example.com:${port}/`,
];

describe('registration in production mode', () => {
  test('refuses every private, loopback, metadata and non-HTTPS URL with 400 and the reason', async () => {
    const urls = ssrfUrls();
    assert.ok(urls.length >= 30);
    for (const url of urls) {
      const res = await partnerCall(ctx, prodKey(p), 'POST', '/v1/partner/webhooks', { url, eventTypes: ['action.completed'] });
      assert.equal(res.statusCode, 400, `${url} -> ${res.statusCode} ${res.body}`);
      const body = res.json() as { code: string; message: string };
      assert.equal(body.code, 'VALIDATION_ERROR');
      assert.match(body.message, /https|public host|loopback|private|IPv4-mapped|reserved/i, `${url}: ${body.message}`);
    }
    assert.equal(connections, 0);
  });
});

describe('connecting in production mode', () => {
  /** A name that looks public but resolves (or is rebound) to a private address. */
  const rebinding: Resolver = async (hostname) => {
    switch (hostname) {
      case 'rebind.example.com':
        return [{ address: '127.0.0.1', family: 4 }];
      case 'mapped.example.com':
        return [{ address: '::ffff:127.0.0.1', family: 6 }];
      case 'v6.example.com':
        return [{ address: '::1', family: 6 }];
      case 'mixed.example.com':
        return [
          { address: '93.184.216.34', family: 4 },
          { address: '127.0.0.1', family: 4 },
        ];
      case 'metadata.example.com':
        return [{ address: '169.254.169.254', family: 4 }];
      default:
        throw Object.assign(new Error(`no such host ${hostname}`), { code: 'ENOTFOUND' });
    }
  };

  test('checks the resolved address at connect time, whatever the stored URL says: 0 connections', async () => {
    const urls = [
      ...ssrfUrls(),
      `https://rebind.example.com:${port}/`,
      `https://mapped.example.com:${port}/`,
      `https://v6.example.com:${port}/`,
      `https://mixed.example.com:${port}/`,
      `https://metadata.example.com:${port}/`,
    ];
    // Rows written behind the API's back, as if the URL had been valid when registered and its
    // address changed since: the dispatcher must not trust what registration checked.
    const ids: string[] = [];
    for (const url of urls) {
      const hook = await ctx.services.webhooks.create(
        { partnerId: p.partnerId, environment: 'sandbox' },
        { url: 'https://placeholder.example.com/', eventTypes: ['action.completed'] },
      );
      await sql`UPDATE webhook_endpoints SET environment = 'production', url = ${url} WHERE id = ${hook.id}`.execute(ctx.services.db);
      ids.push(hook.id);
    }
    const now = ctx.clock.now();
    await writeEvents(ctx.services.db, [newEvent(p.partnerId, 'production', 'action.completed', { actionId: 'act_x', tokensDistributed: 1 }, now)]);

    const dispatcher = new WebhookDispatcher(ctx.services.db, ctx.services.webhooks, ctx.clock, {
      ...ctx.services.dispatcher.options,
      allowInsecureSandbox: true,
      resolver: rebinding,
      timeoutMs: 2000,
      leaseMs: 5000,
    });
    try {
      // Another test file's open transaction can hold fan-out back for a moment; wait it out.
      const attempts = await runOnce(ctx, dispatcher);
      assert.equal(attempts, urls.length);
    } finally {
      dispatcher.close();
    }
    const rows = await ctx.services.db
      .selectFrom('webhook_deliveries')
      .select(['endpoint_id', 'status', 'last_error', 'last_status_code'])
      .where('endpoint_id', 'in', ids)
      .execute();
    assert.equal(rows.length, urls.length);
    for (const r of rows) {
      assert.equal(r.status, 'PENDING', `${r.endpoint_id} should wait for a retry`);
      assert.equal(r.last_status_code, null);
      assert.match(r.last_error ?? '', /refused|https/i, `${r.endpoint_id}: ${r.last_error}`);
    }
    assert.equal(connections, 0, 'the canary was reached');
  });

  test('the canary does count connections (a relaxed sandbox endpoint reaches it)', async () => {
    const hook = await ctx.services.webhooks.create(
      { partnerId: p.partnerId, environment: 'sandbox' },
      { url: `http://127.0.0.1:${port}/`, eventTypes: ['webhook.test'] },
    );
    const res = await partnerCall(ctx, p.sk, 'POST', `/v1/partner/webhooks/${hook.id}/test`);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().delivered, false);
    assert.ok(connections >= 1);
  });
});
