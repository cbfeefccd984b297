import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { checkLedger } from '../../src/modules/ledger/index.js';
import { moneyAccounts } from '../../src/modules/payments/money-ledger.js';
import { createPartner } from '../factories/partners.js';
import { createPaymentsAccount, paymentsCall, paymentsToken, seedDestinations, type PaymentsFixture } from '../factories/payments.js';
import { ledgerBalance, outboxEvents } from '../factories/rewards.js';
import { createTestContext, OPERATOR_TOKEN, type TestContext } from '../harness/context.js';

/** matchRequested: the employer match request and its lifecycle, events and money. */

let ctx: TestContext;
let account: PaymentsFixture;
let token: string;
before(async () => {
  ctx = await createTestContext();
  account = await createPaymentsAccount(ctx.services, (await createPartner(ctx.services)).partnerId);
  token = await paymentsToken(ctx, account);
  await seedDestinations(ctx.services, account.accountId, [123456], [
    { kind: 'master_account', ref: 'acme' },
    { kind: 'subaccount', ref: '5001', masterRef: 'acme' },
  ]);
});
after(async () => {
  assert.ok((await checkLedger(ctx.services.db)).ok);
  await ctx.close();
});

type Json = Record<string, unknown>;
const op = (method: 'GET' | 'POST', url: string, body?: unknown) =>
  ctx.app.inject({ method, url, headers: { authorization: `Bearer ${OPERATOR_TOKEN}` }, ...(body ? { payload: body as object } : {}) });
const donate = async (extra: Json) => {
  const res = await paymentsCall(ctx, token, 'POST', '/api/customers/charges', { amount: 5000, paymentMethodId: 'pm_card_visa', charityId: 123456, ...extra });
  assert.equal(res.statusCode, 200, res.body);
  return String((res.json() as Json).chargeId);
};
const requests = async (status?: string) =>
  (await op('GET', `/v1/admin/payments-accounts/${account.accountId}/match-requests${status ? `?status=${status}` : ''}`)).json() as Json[];

test('a matched donation opens a request for the employer behind the subaccount; approve then pay moves the money', async () => {
  await donate({});
  const chargeId = await donate({ matchRequested: true, subaccountNumber: '5001' });
  const [mr] = await requests();
  assert.equal(mr!.chargeId, chargeId);
  assert.equal(mr!.status, 'requested');
  assert.equal(mr!.employer, 'acme');
  assert.equal(mr!.amount, 5000);
  assert.equal((await requests()).length, 1, 'a donation without matchRequested asks for nothing');

  // Pay before approval, or approval twice: refused.
  assert.equal((await op('POST', `/v1/admin/match-requests/${mr!.id}/pay`)).statusCode, 409);
  const approved = await op('POST', `/v1/admin/match-requests/${mr!.id}/approve`);
  assert.equal((approved.json() as Json).status, 'approved');
  assert.equal((await op('POST', `/v1/admin/match-requests/${mr!.id}/approve`)).statusCode, 409);

  // The employer has no balance yet: 409 and nothing moves.
  const charity = moneyAccounts.destination(account.accountId, { kind: 'charity', ref: '123456' }, 'USD');
  const before = (await ledgerBalance(ctx.services.db, charity))!;
  const broke = await op('POST', `/v1/admin/match-requests/${mr!.id}/pay`);
  assert.equal(broke.statusCode, 409, broke.body);
  assert.equal((broke.json() as Json).code, 'INSUFFICIENT_FUNDS');

  // Fund the corporate master account (a donation to it), then pay.
  await donate({ charityId: undefined, masterAccountUsername: 'acme', amount: 20000 });
  const paid = await op('POST', `/v1/admin/match-requests/${mr!.id}/pay`);
  assert.equal(paid.statusCode, 200, paid.body);
  assert.equal((paid.json() as Json).status, 'paid');
  assert.equal((await ledgerBalance(ctx.services.db, charity))! - before, 5000n);
  const types = (await outboxEvents(ctx.services.db, account.partnerId)).map((e) => e.type).filter((t) => t.startsWith('match_request.'));
  assert.deepEqual(types, ['match_request.created', 'match_request.approved', 'match_request.paid']);
});

test('decline records the reason; an unknown id is 404; a declined request cannot be paid', async () => {
  await donate({ matchRequested: true, masterAccountUsername: 'acme' });
  const [mr] = await requests('requested');
  const declined = await op('POST', `/v1/admin/match-requests/${mr!.id}/decline`, { reason: 'Not an eligible charity' });
  assert.equal(declined.statusCode, 200, declined.body);
  assert.equal((declined.json() as Json).declineReason, 'Not an eligible charity');
  assert.equal((await op('POST', `/v1/admin/match-requests/${mr!.id}/pay`)).statusCode, 409);
  assert.equal((await op('POST', '/v1/admin/match-requests/mr_nope/approve')).statusCode, 404);
});
