import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ErrorWithResultRef, errorResponses } from '../../platform/http/common.schemas.js';
import { authed } from '../../platform/http/route.js';
import type { ChargesService } from './charges.service.js';
import { CustomerParams } from './customers.schemas.js';
import { ChargeBody, ChargeResult } from './donation.schemas.js';

const TAG = ['Charges'];

const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ description: 'Retry safely: the same key with the same body returns the first answer' })),
});

const Payment = Type.Object(
  {
    id: Type.String({ description: 'The payment intent id, or the charge id for a direct charge' }),
    chargeId: Type.String(),
    amount: Type.Integer({ description: 'What the donor paid (gross), smallest currency unit' }),
    currency: Type.String(),
    status: Type.String({ description: 'succeeded, processing (a bank debit settling, or a Stripe charge whose outcome is still being confirmed), failed or refunded' }),
    created: Type.Integer({ description: 'Unix seconds' }),
    description: Type.Union([Type.String(), Type.Null()]),
    metadata: Type.Record(Type.String(), Type.String()),
    payment_method: Type.String(),
    failure_code: Type.Union([Type.String(), Type.Null()]),
    donationAmount: Type.Integer(),
    tip: Type.Integer(),
    fee: Type.Integer(),
    partnerCut: Type.Integer(),
  },
  { title: 'PaymentsPayment' },
);

const DESCRIPTION =
  'Takes `amount` (+ `tip`) now from a saved payment method (or a pm_card_* test id in the sandbox). A decline answers 402 ' +
  'CARD_DECLINED with `declineCode`; the charge is recorded as failed and nothing is paid. Bank debits answer Success at once and settle days later.';

export const chargesRoutes: FastifyPluginAsyncTypebox<{ charges: ChargesService }> = async (app, { charges }) => {
  app.post(
    '/api/customers/:customerId/charges',
    authed('payments', {
      summary: 'Donate or fund with a charge (card or ACH)',
      description: DESCRIPTION,
      tags: TAG,
      params: CustomerParams,
      headers: IdempotencyHeaders,
      body: ChargeBody,
      response: { 200: ChargeResult, 402: ErrorWithResultRef, ...errorResponses(404, 409, 422, 502, 503) },
    }),
    async (request) => charges.create(request.paymentsAuth!, request.params.customerId, request.body, request.headers['idempotency-key']),
  );

  app.post(
    '/api/customers/charges',
    authed('payments', {
      summary: 'Guest charge (no customer)',
      description: DESCRIPTION,
      tags: TAG,
      headers: IdempotencyHeaders,
      body: ChargeBody,
      response: { 200: ChargeResult, 402: ErrorWithResultRef, ...errorResponses(404, 409, 422, 502, 503) },
    }),
    async (request) => charges.create(request.paymentsAuth!, null, request.body, request.headers['idempotency-key']),
  );

  app.get(
    '/api/customers/:customerId/payments',
    authed('payments', {
      summary: "A customer's payments, newest first",
      tags: TAG,
      params: CustomerParams,
      response: { 200: Type.Array(Payment), ...errorResponses(404) },
    }),
    async (request) => charges.listPayments(request.paymentsAuth!, request.params.customerId),
  );
};
