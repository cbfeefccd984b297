import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { encodeCursor } from '../../src/modules/webhooks/events.service.js';
import type { EventPageType, EventType } from '../../src/modules/webhooks/events.schemas.js';
import { newEvent, writeEvents } from '../../src/platform/outbox/outbox.js';
import { createPartner, prodKey, type PartnerFixture } from '../factories/partners.js';
import { createPool, partnerCall, purchase } from '../factories/rewards.js';
import { closeWithLedgerCheck, createTestContext, type SigningKey, type TestContext } from '../harness/context.js';
import { Receiver } from '../harness/receiver.js';

/** GET /v1/partner/events: real events from submitted actions, paging, filtering, scoping and cursors. */

let ctx: TestContext;
let p: PartnerFixture;
before(async () => {
  ctx = await createTestContext();
  p = await createPartner(ctx.services, { withProduction: true });
  await createPool(ctx.services, p.partnerId);
});
after(closeWithLedgerCheck(() => ctx, 'events feed'));

async function feed(creds: SigningKey, query = ''): Promise<EventPageType> {
  const res = await partnerCall(ctx, creds, 'GET', `/v1/partner/events${query}`);
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

async function latest(creds: SigningKey = p.sk, types = ''): Promise<string> {
  const page = await feed(creds, `?after=latest${types ? `&types=${types}` : ''}`);
  assert.deepEqual(page.data, []);
  assert.equal(page.hasMore, false);
  return page.nextCursor;
}

async function submit(key: string): Promise<string> {
  const res = await partnerCall(ctx, p.sk, 'POST', '/v1/partner/actions/submit', purchase(key, '10.00'));
  assert.equal(res.statusCode, 200, res.body);
  return res.json().actionId;
}

/** Every event after `cursor`, `limit` at a time, checking the paging fields on the way. */
async function drain(creds: SigningKey, cursor: string, limit: number, types = ''): Promise<{ events: EventType[]; cursor: string; pages: number }> {
  const events: EventType[] = [];
  let pages = 0;
  for (;;) {
    const page = await feed(creds, `?after=${cursor}&limit=${limit}${types ? `&types=${types}` : ''}`);
    pages += 1;
    assert.ok(page.data.length <= limit);
    if (page.hasMore) assert.equal(page.data.length, limit, 'a page that says there is more is full');
    events.push(...page.data);
    cursor = page.nextCursor;
    if (!page.hasMore) return { events, cursor, pages };
    assert.ok(pages < 100, 'paging terminates');
  }
}

/**
 * Drains until `ready` holds. The horizon is cluster-wide, so a transaction of a test file running
 * beside this one can hold freshly committed events back for a moment; waiting is what a poller does.
 */
async function drainUntil(creds: SigningKey, cursor: string, ready: (events: EventType[]) => boolean, types = '') {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const result = await drain(creds, cursor, 100, types);
    if (ready(result.events)) return result;
    assert.ok(Date.now() < deadline, `feed never showed the expected events: ${JSON.stringify(result.events.map((e) => e.type))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const completedIds = (events: EventType[]) => events.filter((e) => e.type === 'action.completed').map((e) => e.data.actionId);
const includes = (ids: string[]) => (events: EventType[]) => ids.every((id) => completedIds(events).includes(id));

describe('events feed', () => {
  test('a new partner starts with an empty feed; the pk_ key may read it too', async () => {
    const fresh = await createPartner(ctx.services);
    for (const creds of [fresh.sk, fresh.pk]) {
      const page = await feed(creds);
      assert.deepEqual(page.data, []);
      assert.equal(page.hasMore, false);
      assert.equal(typeof page.nextCursor, 'string');
    }
  });

  test('after=latest starts from now: earlier events are not returned, later ones are, in commit order', async () => {
    const earlier = await submit('feed-early');
    const cursor = await latest();
    const ids = [await submit('feed-1'), await submit('feed-2'), await submit('feed-3')];
    const { events } = await drainUntil(p.sk, cursor, includes(ids));
    const completed = events.filter((e) => e.type === 'action.completed');
    assert.deepEqual(
      completed.map((e) => e.data.actionId),
      ids,
    );
    assert.ok(!events.some((e) => e.data.actionId === earlier), 'an event from before the cursor is not repeated');
    const first = completed[0]!;
    assert.match(first.id, /^evt_[0-9a-f]{24}$/);
    assert.deepEqual(Object.keys(first).sort(), ['createdAt', 'data', 'id', 'type']);
    assert.equal(new Date(first.createdAt).toISOString(), first.createdAt);
    assert.equal(first.data.status, 'COMPLETED');
    assert.equal(first.data.tokensDistributed, 10);
    assert.ok(events.some((e) => e.type === 'transaction.completed'), 'the credits are in the feed too');
  });

  test('pages of any size add up to the same sequence, without repeats or gaps', async () => {
    const cursor = await latest();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await submit(`page-${i}`));
    const whole = await drainUntil(p.sk, cursor, includes(ids));
    assert.equal(whole.pages, 1);
    assert.equal(whole.events.filter((e) => e.type === 'action.completed').length, 7);
    for (const limit of [1, 2, 3]) {
      const paged = await drain(p.sk, cursor, limit);
      assert.deepEqual(
        paged.events.map((e) => e.id),
        whole.events.map((e) => e.id),
        `limit=${limit}`,
      );
      assert.ok(paged.pages >= Math.ceil(whole.events.length / limit));
    }
    assert.equal(new Set(whole.events.map((e) => e.id)).size, whole.events.length);
    // Polling the last cursor again finds nothing new until something happens.
    const again = await feed(p.sk, `?after=${whole.cursor}`);
    assert.deepEqual(again.data, []);
    assert.equal(again.hasMore, false);
    const id = await submit('page-after');
    const next = await drainUntil(p.sk, whole.cursor, includes([id]));
    assert.deepEqual(
      next.events.filter((e) => e.type === 'action.completed').map((e) => e.data.actionId),
      [id],
    );
  });

  test('limit defaults to 50', async () => {
    const cursor = await latest();
    const ids: string[] = [];
    for (let i = 0; i < 26; i++) ids.push(await submit(`many-${i}`)); // 52 events: action.completed + transaction.completed each
    await drainUntil(p.sk, cursor, includes(ids));
    const page = await feed(p.sk, `?after=${cursor}`);
    assert.equal(page.data.length, 50);
    assert.equal(page.hasMore, true);
  });

  test('types filters the feed', async () => {
    const cursor = await latest(p.sk, 'action.completed');
    const id = await submit('typed-1');
    const { events } = await drainUntil(p.sk, cursor, includes([id]), 'action.completed');
    assert.deepEqual(
      events.map((e) => [e.type, e.data.actionId]),
      [['action.completed', id]],
    );
    const both = await drain(p.sk, cursor, 100, 'transaction.completed,action.completed');
    assert.deepEqual([...new Set(both.events.map((e) => e.type))].sort(), ['action.completed', 'transaction.completed']);
  });

  test("another partner, and the partner's production key, see none of these events", async () => {
    const scoped = await submit('scoped-1');
    await drainUntil(p.sk, encodeCursor({ xid: '0', seq: '0' }), includes([scoped]));
    const other = await createPartner(ctx.services);
    await createPool(ctx.services, other.partnerId);
    assert.deepEqual((await drain(other.sk, encodeCursor({ xid: '0', seq: '0' }), 100)).events, []);
    assert.deepEqual((await feed(other.sk)).data, []);
    assert.deepEqual((await feed(prodKey(p))).data, []);
    // The other partner's own events are its own.
    const res = await partnerCall(ctx, other.sk, 'POST', '/v1/partner/actions/submit', purchase('other-1', '5.00'));
    assert.equal(res.statusCode, 200, res.body);
    const mine = (await drainUntil(other.sk, encodeCursor({ xid: '0', seq: '0' }), includes([res.json().actionId]))).events;
    assert.ok(mine.length > 0);
    assert.ok(mine.every((e) => e.data.actionId === undefined || e.data.actionId === res.json().actionId));
  });

  test('an event from a transaction that commits late appears after the cursor, not skipped', async () => {
    const cursor = await latest();
    let commit!: () => void;
    const gate = new Promise<void>((r) => (commit = r));
    let written!: () => void;
    const wrote = new Promise<void>((r) => (written = r));
    const late = newEvent(p.partnerId, 'sandbox', 'webhook.test', { test: true }, ctx.clock.now());
    const slow = ctx.services.db.transaction().execute(async (trx) => {
      await writeEvents(trx, [late]);
      written();
      await gate;
    });
    await wrote;
    const id = await submit('late-neighbour');
    // The submit committed, but its transaction began after the slow one: it waits behind it, so a
    // poller that moved past it could never be handed the slow one's event.
    const meanwhile = await drain(p.sk, cursor, 100);
    assert.deepEqual(meanwhile.events, []);
    commit();
    await slow;
    const { events } = await drainUntil(p.sk, meanwhile.cursor, includes([id]));
    assert.equal(events[0]!.id, late.id, 'the earlier transaction comes first');
  });

  test('the feed carries the very envelope a webhook delivery does', async () => {
    const receiver = await new Receiver().start();
    try {
      const hook = await partnerCall(ctx, p.sk, 'POST', '/v1/partner/webhooks', { url: `${receiver.url}/hooks`, eventTypes: ['action.completed'] });
      assert.equal(hook.statusCode, 201, hook.body);
      const cursor = await latest(p.sk, 'action.completed');
      const id = await submit('same-envelope');
      const { events } = await drainUntil(p.sk, cursor, includes([id]), 'action.completed');
      // Fan-out reads by the same horizon, so once the feed shows the event, one pass delivers it.
      await ctx.services.dispatcher.runOnce();
      // Fan-out does not look at when an endpoint was created: the earlier tests' events arrive too.
      const delivered = receiver.received.map((r) => JSON.parse(r.body)).filter((e) => e.data.actionId === id);
      assert.equal(delivered.length, 1);
      assert.equal(events.length, 1);
      assert.deepEqual(events, delivered);
      const del = await partnerCall(ctx, p.sk, 'DELETE', `/v1/partner/webhooks/${hook.json().id}`);
      assert.equal(del.statusCode, 200, del.body);
    } finally {
      await receiver.close();
    }
  });

  test('a malformed cursor, an unknown type or a bad limit is a 400 naming the parameter', async () => {
    const valid = await latest();
    const bad = [
      'not a cursor',
      'abc',
      Buffer.from('1:x').toString('base64url'),
      Buffer.from('01:2').toString('base64url'),
      Buffer.from('18446744073709551616:1').toString('base64url'),
      `${valid}=`,
      'LATEST',
    ];
    for (const after of bad) {
      const res = await partnerCall(ctx, p.sk, 'GET', `/v1/partner/events?after=${encodeURIComponent(after)}`);
      assert.equal(res.statusCode, 400, `${after}: ${res.body}`);
      const body = res.json();
      assert.equal(body.code, 'VALIDATION_ERROR');
      assert.match(body.message, /after/);
      assert.equal(body.details[0].path, 'querystring.after');
    }
    const types = await partnerCall(ctx, p.sk, 'GET', '/v1/partner/events?types=action.completed,action.exploded');
    assert.equal(types.statusCode, 400, types.body);
    assert.match(types.json().message, /"action\.exploded"/);
    assert.equal(types.json().details[0].path, 'querystring.types');
    const empty = await partnerCall(ctx, p.sk, 'GET', '/v1/partner/events?types=,');
    assert.equal(empty.statusCode, 400, empty.body);
    for (const limit of ['0', '101', 'ten']) {
      const res = await partnerCall(ctx, p.sk, 'GET', `/v1/partner/events?limit=${limit}`);
      assert.equal(res.statusCode, 400, `limit=${limit}: ${res.body}`);
      assert.match(res.json().details[0].path, /limit/);
    }
    const unknown = await partnerCall(ctx, p.sk, 'GET', '/v1/partner/events?starting_after=x');
    assert.equal(unknown.statusCode, 400, unknown.body);
  });
});
