import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses } from '../../platform/http/common.schemas.js';
import { authed } from '../../platform/http/route.js';
import { CustomerParams } from './customers.schemas.js';
import { checkoutCsp, renderCheckoutPage } from './checkout.page.js';
import { CheckoutBody, CheckoutResult, PayBody, PayResult, SessionParams } from './checkout.schemas.js';
import type { CheckoutService } from './checkout.service.js';

const TAG = ['Checkout'];
const SANDBOX = ['Sandbox'];
const DESCRIPTION =
  'Creates a checkout session for `items`, or for `amount` × `quantity` of `productName` (one of the two, contract B9 #13), plus `tip`. ' +
  'Payment mode (the default) sells one-time items; subscription mode recurring items on one interval (`tipInterval` must be that interval). ' +
  'Returns the session `id` and, beyond the Givinga document, the `url` of the hosted checkout page to send the donor to. ' +
  'The session can be paid for 24 hours (by the sandbox clock); the donor then returns to `successURL` with `?session_id=`. ' +
  'Subscription mode answers 409 until subscription checkout is enabled on this server.';

export const checkoutRoutes: FastifyPluginAsyncTypebox<{ checkout: CheckoutService; publicUrl: string }> = async (app, { checkout, publicUrl }) => {
  // Stripe accounts' sessions are paid on Stripe's page; sandbox ones on ours.
  const withUrl = ({ id, url }: { id: string; url?: string }) => ({ id, url: url ?? `${publicUrl}/checkout/${id}` });

  app.post(
    '/api/customers/:customerId/checkout',
    authed('payments', {
      summary: 'Donate or fund with a checkout session',
      description: DESCRIPTION,
      tags: TAG,
      params: CustomerParams,
      body: CheckoutBody,
      response: { 200: CheckoutResult, ...errorResponses(404, 409, 502, 503) },
    }),
    async (request) => withUrl(await checkout.create(request.paymentsAuth!, request.params.customerId, request.body)),
  );

  app.post(
    '/api/customers/checkout',
    authed('payments', {
      summary: 'Guest checkout session (no customer)',
      description: DESCRIPTION,
      tags: TAG,
      body: CheckoutBody,
      response: { 200: CheckoutResult, ...errorResponses(404, 409, 502, 503) },
    }),
    async (request) => withUrl(await checkout.create(request.paymentsAuth!, null, request.body)),
  );

  // The hosted page and its pay route stand in for Stripe Checkout: the unguessable session id is
  // the credential, as a Stripe Checkout URL is.
  app.get(
    '/checkout/:sessionId',
    authed('none', {
      summary: 'Sandbox: the hosted checkout page (HTML)',
      description: 'Line items, tip and total, a card form for test cards, 3-D Secure, declines, success and cancel redirects.',
      tags: SANDBOX,
      params: SessionParams,
      // An unknown session gets the API's one error body like every other 404, not a page of its own.
      response: { 200: Type.String({ description: 'text/html' }), ...errorResponses(404) },
    }),
    async (request, reply) => {
      const view = await checkout.view(request.params.sessionId);
      const nonce = randomBytes(16).toString('base64');
      return reply
        .header('content-security-policy', checkoutCsp(nonce))
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .header('x-content-type-options', 'nosniff')
        .type('text/html; charset=utf-8')
        .send(renderCheckoutPage(view, nonce));
    },
  );

  app.post(
    '/checkout/:sessionId/pay',
    authed('none', {
      summary: 'Sandbox: pay a checkout session (what the hosted page calls)',
      description:
        "Send a test card, `authenticate` after a 3-D Secure challenge, or nothing to pay with the session's saved method. " +
        'A decline answers 200 with status requires_payment_method and the message to show; the donor may try again. ' +
        'Paid: status succeeded and redirectUrl. A paid or expired session answers 409.',
      tags: SANDBOX,
      params: SessionParams,
      body: PayBody,
      response: { 200: PayResult, ...errorResponses(404, 409) },
    }),
    async (request) => checkout.pay(request.params.sessionId, request.body),
  );
};
