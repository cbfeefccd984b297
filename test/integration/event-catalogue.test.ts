import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { EVENT_DATA_SCHEMAS } from '../../src/modules/webhooks/event-catalogue.js';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from '../../src/modules/webhooks/webhooks.validation.js';
import { createPartner } from '../factories/partners.js';
import { createPool, partnerCall, purchase } from '../factories/rewards.js';
import { createTestContext, type TestContext } from '../harness/context.js';

/**
 * The event catalogue published in the OpenAPI document describes what is really sent: events
 * produced by real API calls are checked against their published schemas.
 */

let ctx: TestContext;
before(async () => {
  ctx = await createTestContext();
});
after(async () => {
  ctx.services.dispatcher.close();
  await ctx.close();
});

test('the OpenAPI document publishes an envelope schema for every event type, and WebhookEvent as their union', async () => {
  const res = await ctx.app.inject({ method: 'GET', url: '/partner-api/openapi.json' });
  const schemas = (res.json() as { components: { schemas: Record<string, { oneOf?: unknown[]; properties?: Record<string, unknown> }> } }).components.schemas;
  for (const type of WEBHOOK_EVENT_TYPES) {
    const envelope = schemas[`WebhookEvent.${type}`];
    assert.ok(envelope, `missing schema for ${type}`);
    assert.deepEqual(Object.keys(envelope.properties ?? {}), ['id', 'type', 'createdAt', 'data']);
  }
  assert.equal(schemas.WebhookEvent?.oneOf?.length, WEBHOOK_EVENT_TYPES.length);
});

test('events written by real calls match their published data schemas', async () => {
  const p = await createPartner(ctx.services);
  // A pool small enough to run dry: low balance, depleted and a failed action come out of it.
  await createPool(ctx.services, p.partnerId, { tokens: 60n, lowBalanceThresholdUnits: 5_000n });
  const ok = async (res: { statusCode: number; body: string; json(): unknown }, status = 200) => {
    assert.equal(res.statusCode, status, res.body);
    return res.json() as Record<string, string>;
  };
  const done = await ok(await partnerCall(ctx, p.sk, 'POST', '/v1/partner/actions/submit', purchase('cat-1', '49.99')));
  await ok(await partnerCall(ctx, p.sk, 'POST', `/v1/partner/actions/${done.actionId}/reverse`, { amount: 10, reason: 'refund', idempotencyKey: 'rev-1' }));
  await ok(await partnerCall(ctx, p.sk, 'POST', '/v1/partner/actions/submit', purchase('cat-2', '20')));
  const failed = await partnerCall(ctx, p.sk, 'POST', '/v1/partner/actions/submit', purchase('cat-3', '100'));
  assert.equal(failed.statusCode, 402, failed.body);
  await ok(await partnerCall(ctx, p.sk, 'POST', '/v1/partner/users/user_42/redeem', { amount: 1, idempotencyKey: 'red-1' }));
  await ok(await partnerCall(ctx, p.sk, 'POST', '/v1/partner/campaigns', { name: 'Live', actionTypes: ['PURCHASE'], status: 'ACTIVE' }), 201);
  const hook = await ok(await partnerCall(ctx, p.sk, 'POST', '/v1/partner/webhooks', { url: 'http://127.0.0.1:9/', receiveAllEvents: true }), 201);
  await ok(await partnerCall(ctx, p.sk, 'POST', `/v1/partner/webhooks/${hook.id}/test`));

  const events = await ctx.services.db.selectFrom('outbox_events').select(['type', 'data']).where('partner_id', '=', p.partnerId).execute();
  const test = await ctx.services.db.selectFrom('webhook_deliveries').select(['event_type as type', 'payload as data']).where('endpoint_id', '=', hook.id!).execute();
  const seen = new Set<string>();
  for (const e of [...events, ...test]) {
    const schema = EVENT_DATA_SCHEMAS[e.type as WebhookEventType];
    assert.ok(schema, `event type ${e.type} is not in the catalogue`);
    const errors = [...Value.Errors(schema, e.data)].map((x) => `${x.path} ${x.message}`);
    assert.deepEqual(errors, [], `${e.type}: ${JSON.stringify(e.data)}`);
    seen.add(e.type);
  }
  for (const t of ['action.completed', 'action.failed', 'action.reversed', 'transaction.completed', 'token_pool.low_balance', 'token_pool.depleted', 'campaign.status_changed', 'webhook.test']) {
    assert.ok(seen.has(t), `no ${t} event was produced`);
  }
});
