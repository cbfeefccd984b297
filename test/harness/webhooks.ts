import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { deliveriesRepo } from '../../src/modules/webhooks/deliveries.repo.js';
import type { WebhookDispatcher } from '../../src/modules/webhooks/delivery.dispatcher.js';
import { sirSignature } from '../../src/modules/webhooks/webhooks.signing.js';
import { after, before } from 'node:test';
import { createPartner, type PartnerFixture } from '../factories/partners.js';
import { createPool, partnerCall, purchase } from '../factories/rewards.js';
import { createTestContext, type SigningKey, type TestContext } from './context.js';
import { Receiver, type Received } from './receiver.js';

/** Helpers for the webhook delivery tests: endpoints through the API, dispatcher passes, deliveries read back. */

export interface Hook {
  id: string;
  secret: string;
  url: string;
}

export interface Envelope {
  id: string;
  type: string;
  createdAt: string;
  data: Record<string, unknown>;
}

export async function createHook(ctx: TestContext, creds: SigningKey, body: Record<string, unknown>): Promise<Hook> {
  const res = await partnerCall(ctx, creds, 'POST', '/v1/partner/webhooks', body);
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

/** Submits a purchase through the API and returns the action id (an action.completed event). */
export async function submitPurchase(ctx: TestContext, p: PartnerFixture, key: string, amount = '10.00'): Promise<string> {
  const res = await partnerCall(ctx, p.sk, 'POST', '/v1/partner/actions/submit', purchase(key, amount));
  assert.equal(res.statusCode, 200, res.body);
  return res.json().actionId;
}

/**
 * Fan-out only reads outbox rows below the oldest transaction running anywhere on the server, and
 * the other test files share that server. A transaction of theirs that happens to be open when we
 * fan out holds our fresh events back for a few milliseconds; waiting for the cursor here keeps
 * each test deterministic without weakening what runOnce() does.
 */
export async function fannedOut(ctx: TestContext, dispatcher: WebhookDispatcher = ctx.services.dispatcher): Promise<void> {
  for (let i = 0; i < 500; i++) {
    await dispatcher.fanOutAll();
    const behind = await sql<{ behind: boolean }>`
      SELECT EXISTS (SELECT 1 FROM outbox_events o, webhook_fanout_cursor c WHERE (o.xid, o.seq) > (c.xid, c.seq)) AS behind`.execute(
      ctx.services.db,
    );
    if (!behind.rows[0]!.behind) return;
    await sleep(10);
  }
  throw new Error('fan-out did not catch up with the outbox within 5 s');
}

/** One dispatcher pass once every committed event has been fanned out; returns the attempts made. */
export async function runOnce(ctx: TestContext, dispatcher: WebhookDispatcher = ctx.services.dispatcher): Promise<number> {
  await fannedOut(ctx, dispatcher);
  return dispatcher.runOnce();
}

export async function deliveriesOf(ctx: TestContext, endpointId: string) {
  return ctx.services.db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', endpointId).orderBy('created_at').orderBy('id').execute();
}

export async function deliveryRow(ctx: TestContext, deliveryId: string) {
  return ctx.services.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', deliveryId).executeTakeFirstOrThrow();
}

/** A delivery's attempt log, oldest first (attempt rows and the success its row records); none once it is gone. */
export async function attemptsOf(ctx: TestContext, deliveryId: string) {
  const row = await ctx.services.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', deliveryId).executeTakeFirst();
  if (!row) {
    const orphans = await ctx.services.db.selectFrom('webhook_attempts').select('id').where('delivery_id', '=', deliveryId).execute();
    assert.deepEqual(orphans, [], `attempt rows outlived delivery ${deliveryId}`);
    return [];
  }
  return deliveriesRepo.attemptLog(ctx.services.db, row);
}

export async function endpointRow(ctx: TestContext, endpointId: string) {
  return ctx.services.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', endpointId).executeTakeFirstOrThrow();
}

/** Moves the clock to the moment a delivery's next attempt is due. */
export async function advanceToNextAttempt(ctx: TestContext, deliveryId: string): Promise<Date> {
  const row = await deliveryRow(ctx, deliveryId);
  assert.equal(row.status, 'PENDING', `delivery ${deliveryId} is ${row.status}, not waiting for a retry`);
  const due = row.next_attempt_at!;
  if (due > ctx.clock.now()) ctx.clock.set(due);
  return due;
}

export const envelopeOf = (r: Received): Envelope => JSON.parse(r.body);

/** The contract's own signature (A9.2), checked against every signature the header carries. */
export function sirSignedBy(secret: string, r: Received): boolean {
  const expected = sirSignature(secret, String(r.headers['x-sir-timestamp']), r.body);
  return String(r.headers['x-sir-signature']).split(' ').includes(expected);
}

/**
 * Verifies a delivery with the official Standard Webhooks library, as a receiver whose clock reads
 * the delivery's own timestamp. The library refuses timestamps more than 5 minutes from its clock,
 * and tests that move the manual clock by hours or days send timestamps far from real time: pinning
 * Date.now for this synchronous call checks the signature exactly as a receiver would, and a real
 * receiver's freshness window is what the timestamp is for, not something these tests can show.
 */
export function standardVerify(secret: string, r: Received): Envelope {
  const ts = Number(r.headers['webhook-timestamp']);
  const realNow = Date.now;
  Date.now = () => ts * 1000;
  try {
    return new Webhook(secret).verify(r.body, {
      'webhook-id': String(r.headers['webhook-id']),
      'webhook-timestamp': String(r.headers['webhook-timestamp']),
      'webhook-signature': String(r.headers['webhook-signature']),
    }) as Envelope;
  } finally {
    Date.now = realNow;
  }
}

/** True when the official library, at real time, accepts the delivery with this secret. */
export function standardVerifiesNow(secret: string, r: Received): boolean {
  try {
    new Webhook(secret).verify(r.body, {
      'webhook-id': String(r.headers['webhook-id']),
      'webhook-timestamp': String(r.headers['webhook-timestamp']),
      'webhook-signature': String(r.headers['webhook-signature']),
    });
    return true;
  } catch {
    return false;
  }
}

export function json<T = Record<string, unknown>>(res: LightMyRequestResponse, status: number): T {
  assert.equal(res.statusCode, status, res.body);
  return res.json() as T;
}

export function assertError(res: LightMyRequestResponse, status: number, code: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.equal(res.json().code, code, res.body);
}

/** The body of POST /v1/partner/webhooks/:id/test. */
export interface TestResult {
  delivered: boolean;
  statusCode: number | null;
  durationMs: number;
  eventId: string;
  deliveryId: string;
  error: string | null;
}

/** Every field of a delivery in the partner API, sorted. */
export const DELIVERY_FIELDS = [
  'attempts',
  'createdAt',
  'deliveredAt',
  'eventId',
  'eventType',
  'id',
  'lastAttemptAt',
  'lastError',
  'lastLatencyMs',
  'lastStatusCode',
  'maxAttempts',
  'nextAttemptAt',
  'status',
  'webhookId',
];

/**
 * The world of the delivery route tests: a database, a partner with a pool, another partner, and
 * receivers closed at the end. Registers its own before/after hooks; read the fields inside tests.
 */
export interface DeliveryRoutesWorld {
  ctx: TestContext;
  p: PartnerFixture;
  other: PartnerFixture;
  receivers: Receiver[];
  receiver(): Promise<Receiver>;
  quietHook(rx: Receiver, path: string): Promise<Hook>;
  sendTest(hook: Hook, creds?: SigningKey): Promise<LightMyRequestResponse>;
}

export function deliveryRoutesWorld(onReady: (world: DeliveryRoutesWorld) => void = () => {}): DeliveryRoutesWorld {
  const world: DeliveryRoutesWorld = {
    ctx: undefined as unknown as TestContext,
    p: undefined as unknown as PartnerFixture,
    other: undefined as unknown as PartnerFixture,
    receivers: [] as Receiver[],
    async receiver(): Promise<Receiver> {
      const rx = await new Receiver().start();
      world.receivers.push(rx);
      return rx;
    },
    /** An endpoint that only the test route feeds (nothing in these tests writes token_pool.depleted). */
    quietHook: (rx: Receiver, path: string) => createHook(world.ctx, world.p.sk, { url: `${rx.url}/${path}`, eventTypes: ['token_pool.depleted'] }),
    sendTest: (hook: Hook, creds: SigningKey = world.p.sk) => partnerCall(world.ctx, creds, 'POST', `/v1/partner/webhooks/${hook.id}/test`),
  };
  before(async () => {
    world.ctx = await createTestContext();
    world.p = await createPartner(world.ctx.services);
    world.other = await createPartner(world.ctx.services);
    await createPool(world.ctx.services, world.p.partnerId);
    onReady(world);
  });
  after(async () => {
    for (const r of world.receivers) await r.close();
    world.ctx.services.dispatcher.close();
    await world.ctx.close();
  });
  return world;
}
