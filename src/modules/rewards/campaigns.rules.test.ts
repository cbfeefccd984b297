import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  canonicalTimeZone,
  compactJson,
  dueStatus,
  literalsFromRawBody,
  parseNumberFields,
  requestStatus,
  scheduleProblem,
  settle,
  type NumberFieldsInput,
  type StatusState,
} from './campaigns.rules.js';
import { pickHighestPriority as pickCampaign, type PickableCampaign } from './campaign-pick.js';

const T0 = new Date('2030-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const HOUR = 3_600_000;

/** Parses a body the way the route does: values from JSON.parse, decimals from the text. */
function parse(raw: string) {
  return parseNumberFields(JSON.parse(raw) as NumberFieldsInput, literalsFromRawBody(raw));
}
const messages = (raw: string) => parse(raw).problems.map((p) => p.message).join(' | ');

describe('compactJson', () => {
  test('drops blanks between tokens and keeps strings byte for byte', () => {
    const raw = ' { "a" : [ 1 , 2.50 ] ,\n\t"b" : "x  y \\" z" , "c":{ "d" : -0.1 } } ';
    const compact = compactJson(raw);
    assert.equal(compact, '{"a":[1,2.50],"b":"x  y \\" z","c":{"d":-0.1}}');
    assert.deepEqual(JSON.parse(compact), JSON.parse(raw));
  });

  test('property: JSON.parse agrees before and after, for any value and spacing', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(0, 1, 2, '\t'), (value, space) => {
        const raw = JSON.stringify(value, null, space);
        assert.deepEqual(JSON.parse(compactJson(raw)), JSON.parse(raw));
      }),
    );
  });
});

describe('decimal fields are read exactly from the JSON text', () => {
  test('a valid body is converted to stored units', () => {
    const { fields, problems } = parse(
      '{"multiplier": 1.2345, "splits": [{"stakeholderTypeCode":"CUSTOMER","percent":33.33},{"stakeholderTypeCode":"DONOR","percent":66.67}],' +
        '"tiers": [{"minAmount": 100, "multiplier": 1.5}, {"minAmount": 0, "maxAmount": 99.9999, "multiplier": 1}],' +
        '"budget": {"totalTokens": 1000.5, "perUserCap": 0.01}}',
    );
    assert.deepEqual(problems, []);
    assert.equal(fields.multiplierBp, 12345n);
    assert.deepEqual(fields.splits, [
      { stakeholderTypeCode: 'CUSTOMER', percent: '33.33' },
      { stakeholderTypeCode: 'DONOR', percent: '66.67' },
    ]);
    // Stored lowest range first.
    assert.deepEqual(fields.tiers, [
      { minAmountMinor: '0', maxAmountMinor: '999999', multiplierBp: '10000' },
      { minAmountMinor: '1000000', maxAmountMinor: null, multiplierBp: '15000' },
    ]);
    assert.equal(fields.budgetTotal, 100050n);
    assert.equal(fields.perUserCap, 1n);
  });

  test('null clears a budget field; absent fields stay absent', () => {
    const { fields, problems } = parse('{"budget": {"totalTokens": null}}');
    assert.deepEqual(problems, []);
    assert.deepEqual(fields, { budgetTotal: null });
  });

  test('exponent notation is refused even when the value is fine', () => {
    assert.match(messages('{"multiplier": 1e0}'), /multiplier: exponent notation is not accepted/);
    assert.match(messages('{"splits":[{"stakeholderTypeCode":"CUSTOMER","percent":1E2}]}'), /splits\[0\]\.percent: exponent notation/);
    assert.match(messages('{"tiers":[{"minAmount":0,"multiplier":15e-1}]}'), /tiers\[0\]\.multiplier: exponent notation/);
    assert.match(messages('{"budget":{"totalTokens":1e3}}'), /budget\.totalTokens: exponent notation/);
  });

  test('multiplier: more than 4 decimals, 0, negative or over 1000 are refused', () => {
    assert.match(messages('{"multiplier": 1.00001}'), /at most 4 decimal places/);
    assert.deepEqual(parse('{"multiplier": 1.00000}').problems, [], 'trailing zeros are exact');
    assert.match(messages('{"multiplier": 0}'), /greater than 0/);
    assert.match(messages('{"multiplier": -1}'), /greater than 0/);
    assert.match(messages('{"multiplier": 1000.0001}'), /at most 1000/);
    assert.deepEqual(parse('{"multiplier": 1000}').problems, []);
  });

  test('the text decides, not the double: 0.1 + 0.2 style values stay exact', () => {
    const { fields } = parse('{"multiplier": 0.3}');
    assert.equal(fields.multiplierBp, 3000n);
  });

  test('splits: sum, decimals and duplicate codes', () => {
    assert.match(messages('{"splits":[{"stakeholderTypeCode":"CUSTOMER","percent":50},{"stakeholderTypeCode":"DONOR","percent":40}]}'), /add up to exactly 100, not 90/);
    assert.match(messages('{"splits":[{"stakeholderTypeCode":"CUSTOMER","percent":33.333},{"stakeholderTypeCode":"DONOR","percent":66.667}]}'), /at most 2 decimal places/);
    assert.match(
      messages('{"splits":[{"stakeholderTypeCode":"CUSTOMER","percent":50},{"stakeholderTypeCode":"CUSTOMER","percent":50}]}'),
      /splits\[1\]: stakeholderTypeCode CUSTOMER is already used by splits\[0\]/,
    );
    assert.deepEqual(parse('{"splits":[]}').problems, []);
    assert.deepEqual(parse('{"splits":[{"stakeholderTypeCode":"CUSTOMER","percent":100}]}').problems, []);
  });

  test('tiers: overlap, reversed bounds, negative and too precise amounts', () => {
    assert.match(messages('{"tiers":[{"minAmount":0,"maxAmount":100,"multiplier":1},{"minAmount":50,"multiplier":2}]}'), /tiers\[0\] and tiers\[1\] overlap/);
    assert.match(messages('{"tiers":[{"minAmount":0,"multiplier":1},{"minAmount":500,"multiplier":2}]}'), /overlap/, 'an open-ended tier covers everything above it');
    assert.match(messages('{"tiers":[{"minAmount":10,"maxAmount":10,"multiplier":1}]}'), /maxAmount must be greater than minAmount/);
    assert.match(messages('{"tiers":[{"minAmount":-1,"multiplier":1}]}'), /must not be negative/);
    assert.match(messages('{"tiers":[{"minAmount":0.00001,"multiplier":1}]}'), /at most 4 decimal places/);
    // Touching ranges do not overlap: [0,100) and [100, ...).
    assert.deepEqual(parse('{"tiers":[{"minAmount":0,"maxAmount":100,"multiplier":1},{"minAmount":100,"multiplier":1.5}]}').problems, []);
  });

  test('budget: 0, 3 decimals refused', () => {
    assert.match(messages('{"budget":{"totalTokens":0}}'), /greater than 0/);
    assert.match(messages('{"budget":{"perUserCap":1.005}}'), /at most 2 decimal places/);
  });

  test('every problem is reported, each with its path', () => {
    const { problems } = parse('{"multiplier": 1e0, "budget": {"totalTokens": 0}}');
    assert.deepEqual(problems.map((p) => p.path), ['body.multiplier', 'body.budget.totalTokens']);
  });

  test('without the request text (a direct call) the numbers are read from their shortest form', () => {
    const { fields, problems } = parseNumberFields({ multiplier: 1.5, splits: [{ stakeholderTypeCode: 'A', percent: 100 }] }, () => undefined);
    assert.deepEqual(problems, []);
    assert.equal(fields.multiplierBp, 15000n);
  });
});

describe('schedule', () => {
  test('dates reversed or equal are refused; open ends are fine', () => {
    assert.match(scheduleProblem(at(HOUR), at(0))!.message, /dates reversed/);
    assert.ok(scheduleProblem(at(0), at(0)));
    assert.equal(scheduleProblem(at(0), at(1)), undefined);
    assert.equal(scheduleProblem(null, at(0)), undefined);
    assert.equal(scheduleProblem(at(0), null), undefined);
  });

  test('time zones: IANA names are canonicalised, others refused', () => {
    assert.equal(canonicalTimeZone('UTC'), 'UTC');
    assert.equal(canonicalTimeZone('Europe/Paris'), 'Europe/Paris');
    assert.equal(canonicalTimeZone('america/new_york'), 'America/New_York');
    assert.equal(canonicalTimeZone('Mars/Olympus_Mons'), undefined);
    assert.equal(canonicalTimeZone('not a zone'), undefined);
  });
});

describe('status machine', () => {
  const draft = (over: Partial<StatusState> = {}): StatusState => ({ status: 'DRAFT', autoStart: false, startsAt: null, endsAt: null, ...over });
  const now = T0;

  test('allowed: DRAFT -> ACTIVE | ENDED, ACTIVE <-> PAUSED, ACTIVE | PAUSED -> ENDED, each one manual change', () => {
    for (const [from, to] of [
      ['DRAFT', 'ACTIVE'],
      ['DRAFT', 'ENDED'],
      ['ACTIVE', 'PAUSED'],
      ['PAUSED', 'ACTIVE'],
      ['ACTIVE', 'ENDED'],
      ['PAUSED', 'ENDED'],
    ] as const) {
      const r = requestStatus(draft({ status: from }), to, now);
      assert.ok(r.ok, `${from} -> ${to}`);
      assert.equal(r.state.status, to);
      assert.deepEqual(r.changes, [{ previousStatus: from, status: to, reason: 'manual' }]);
    }
  });

  test('refused: back to DRAFT, DRAFT -> PAUSED, anything out of ENDED', () => {
    for (const [from, to] of [
      ['ACTIVE', 'DRAFT'],
      ['PAUSED', 'DRAFT'],
      ['DRAFT', 'PAUSED'],
      ['ENDED', 'ACTIVE'],
      ['ENDED', 'PAUSED'],
      ['ENDED', 'DRAFT'],
    ] as const) {
      const r = requestStatus(draft({ status: from }), to, now);
      assert.equal(r.ok, false, `${from} -> ${to}`);
    }
    const ended = requestStatus(draft({ status: 'ENDED' }), 'ACTIVE', now);
    assert.ok(!ended.ok && /final/.test(ended.message));
  });

  test('the same status is no change', () => {
    for (const s of ['DRAFT', 'ACTIVE', 'PAUSED', 'ENDED'] as const) {
      const r = requestStatus(draft({ status: s }), s, now);
      assert.ok(r.ok);
      assert.deepEqual(r.changes, []);
      assert.equal(r.state.status, s);
    }
  });

  test('ACTIVE before startsAt waits as DRAFT with autoStart; DRAFT again cancels it', () => {
    const r = requestStatus(draft({ startsAt: at(HOUR) }), 'ACTIVE', now);
    assert.ok(r.ok);
    assert.deepEqual(r.state, draft({ startsAt: at(HOUR), autoStart: true }));
    assert.deepEqual(r.changes, []);
    const cancelled = requestStatus(r.state, 'DRAFT', now);
    assert.ok(cancelled.ok);
    assert.equal(cancelled.state.autoStart, false);
    // startsAt already reached: active at once.
    const started = requestStatus(draft({ startsAt: at(0) }), 'ACTIVE', now);
    assert.ok(started.ok && started.state.status === 'ACTIVE');
  });

  test('a campaign whose endsAt has passed cannot be activated', () => {
    for (const status of ['DRAFT', 'PAUSED'] as const) {
      const r = requestStatus(draft({ status, endsAt: at(0) }), 'ACTIVE', now);
      assert.ok(!r.ok && /endsAt/.test(r.message));
    }
  });

  test('due transitions: auto start at startsAt, end at endsAt, a waiting draft past its window ends', () => {
    assert.equal(dueStatus(draft({ autoStart: true, startsAt: at(1) }), now), null);
    assert.equal(dueStatus(draft({ autoStart: true, startsAt: at(0) }), now), 'ACTIVE');
    assert.equal(dueStatus(draft({ autoStart: false, startsAt: at(0) }), now), null, 'a plain draft never starts by itself');
    assert.equal(dueStatus(draft({ autoStart: true, startsAt: at(-2), endsAt: at(-1) }), now), 'ENDED');
    assert.equal(dueStatus(draft({ status: 'ACTIVE', endsAt: at(1) }), now), null);
    assert.equal(dueStatus(draft({ status: 'ACTIVE', endsAt: at(0) }), now), 'ENDED');
    assert.equal(dueStatus(draft({ status: 'PAUSED', endsAt: at(-1) }), now), 'ENDED');
    assert.equal(dueStatus(draft({ status: 'ENDED', endsAt: at(-1) }), now), null);
    const s = settle(draft({ autoStart: true, startsAt: at(-1) }), now);
    assert.deepEqual(s.changes, [{ previousStatus: 'DRAFT', status: 'ACTIVE', reason: 'schedule' }]);
    assert.equal(s.state.autoStart, false);
  });

  test('property: no requested change ever leaves ENDED or returns to DRAFT from a started campaign', () => {
    const status = fc.constantFrom('DRAFT', 'ACTIVE', 'PAUSED', 'ENDED' as const);
    const when = fc.option(fc.integer({ min: -10, max: 10 }), { nil: null });
    fc.assert(
      fc.property(status, status, fc.boolean(), when, when, (from, to, autoStart, s, e) => {
        const state: StatusState = { status: from, autoStart: from === 'DRAFT' && autoStart, startsAt: s === null ? null : at(s), endsAt: e === null ? null : at(e) };
        const r = requestStatus(state, to, now);
        if (!r.ok) return;
        if (from === 'ENDED') assert.equal(r.state.status, 'ENDED');
        if (from !== 'DRAFT') assert.notEqual(r.state.status, 'DRAFT');
        if (r.state.status === 'ACTIVE' && from !== 'ACTIVE') assert.ok(state.endsAt === null || state.endsAt > now);
        for (const c of r.changes) assert.notEqual(c.previousStatus, c.status);
      }),
    );
  });
});

describe('pickCampaign', () => {
  const base: PickableCampaign = {
    id: 'c0',
    status: 'ACTIVE',
    archived_at: null,
    action_types: ['PURCHASE'],
    starts_at: null,
    ends_at: null,
    priority: 0,
    created_at: at(-10 * HOUR),
  };
  const c = (over: Partial<PickableCampaign>): PickableCampaign => ({ ...base, ...over });

  test('highest priority wins; ties go to the oldest, then the smallest id', () => {
    const rows = [c({ id: 'low', priority: -1 }), c({ id: 'high', priority: 5 }), c({ id: 'mid', priority: 1 })];
    assert.equal(pickCampaign(rows, 'PURCHASE', T0)?.id, 'high');
    const tie = [c({ id: 'newer', created_at: at(-HOUR) }), c({ id: 'older', created_at: at(-2 * HOUR) })];
    assert.equal(pickCampaign(tie, 'PURCHASE', T0)?.id, 'older');
    const sameTime = [c({ id: 'b' }), c({ id: 'a' })];
    assert.equal(pickCampaign(sameTime, 'PURCHASE', T0)?.id, 'a');
  });

  test('only running campaigns for the action type: window [startsAt, endsAt), ACTIVE, not archived', () => {
    assert.equal(pickCampaign([c({ action_types: ['DONATION'] })], 'PURCHASE', T0), undefined);
    assert.equal(pickCampaign([c({ starts_at: at(1) })], 'PURCHASE', T0), undefined);
    assert.equal(pickCampaign([c({ starts_at: at(0) })], 'PURCHASE', T0)?.id, 'c0', 'startsAt is inclusive');
    assert.equal(pickCampaign([c({ ends_at: at(0) })], 'PURCHASE', T0), undefined, 'endsAt is exclusive');
    assert.equal(pickCampaign([c({ ends_at: at(1) })], 'PURCHASE', T0)?.id, 'c0');
    assert.equal(pickCampaign([c({ status: 'PAUSED' })], 'PURCHASE', T0), undefined);
    assert.equal(pickCampaign([c({ archived_at: at(-1) })], 'PURCHASE', T0), undefined);
    // A higher-priority campaign outside its window does not shadow a running one.
    const rows = [c({ id: 'future', priority: 9, starts_at: at(HOUR) }), c({ id: 'now', priority: 1 })];
    assert.equal(pickCampaign(rows, 'PURCHASE', T0)?.id, 'now');
  });

  test('property: the pick does not depend on row order', () => {
    const row = fc.record({
      id: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
      priority: fc.integer({ min: -2, max: 2 }),
      created: fc.integer({ min: 0, max: 3 }),
      type: fc.constantFrom('PURCHASE', 'DONATION'),
    });
    fc.assert(
      fc.property(fc.uniqueArray(row, { selector: (r) => r.id, maxLength: 5 }), (specs) => {
        const rows = specs.map((s) => c({ id: s.id, priority: s.priority, created_at: at(-s.created), action_types: [s.type] }));
        const forward = pickCampaign(rows, 'PURCHASE', T0)?.id;
        assert.equal(pickCampaign([...rows].reverse(), 'PURCHASE', T0)?.id, forward);
      }),
    );
  });
});
