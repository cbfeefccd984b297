import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ErrorWithResultRef, errorResponses } from '../../platform/http/common.schemas.js';
import { authed } from '../../platform/http/route.js';
import { CustomerParams } from './customers.schemas.js';
import { CreateSubscriptionBody, CustomerSubscriptionParams, ManageSubscriptionBody, Subscription, SubscriptionParams } from './subscriptions.schemas.js';
import type { SubscriptionsService } from './subscriptions.service.js';

const TAG = ['Subscriptions'];

export const subscriptionsRoutes: FastifyPluginAsyncTypebox<{ subscriptions: SubscriptionsService }> = async (app, { subscriptions }) => {
  app.get(
    '/api/subscriptions',
    authed('payments', { summary: "List the account's subscriptions", tags: TAG, response: { 200: Type.Array(Subscription) } }),
    async (request) => subscriptions.list(request.paymentsAuth!),
  );

  app.get(
    '/api/subscriptions/:subscriptionId',
    authed('payments', { summary: 'Get a subscription', tags: TAG, params: SubscriptionParams, response: { 200: Subscription, ...errorResponses(404) } }),
    async (request) => subscriptions.get(request.paymentsAuth!, request.params.subscriptionId),
  );

  app.post(
    '/api/customers/:customerId/subscriptions',
    authed('payments', {
      summary: 'Subscribe a customer',
      description:
        'Bills the first period at once (402 CARD_DECLINED creates nothing), then every interval. A tip with tipInterval recurs; without it, it is charged once with the first period.',
      tags: TAG,
      params: CustomerParams,
      body: CreateSubscriptionBody,
      response: { 201: Subscription, 402: ErrorWithResultRef, ...errorResponses(404, 409, 502, 503) },
    }),
    async (request, reply) => reply.status(201).send(await subscriptions.create(request.paymentsAuth!, request.params.customerId, request.body)),
  );

  app.get(
    '/api/customers/:customerId/subscriptions',
    authed('payments', { summary: "A customer's subscriptions", tags: TAG, params: CustomerParams, response: { 200: Type.Array(Subscription), ...errorResponses(404) } }),
    async (request) => subscriptions.list(request.paymentsAuth!, request.params.customerId),
  );

  for (const method of ['put', 'patch'] as const) {
    app[method](
      '/api/customers/:customerId/subscriptions/:subscriptionId',
      authed('payments', {
        summary: method === 'put' ? 'Manage a subscription' : 'Manage a subscription (PATCH alias of PUT)',
        description:
          'Pause (pause, resumesAt in ms) and resume, cancel at the period end or at a time (cancelAt in ms), change items (prorationBehaviour: none, ' +
          'create_proration = on the next invoice, always_invoice = charged now), billingCycleAnchor now (bill a new period now), tip, payment method, destination and notes.',
        tags: TAG,
        params: CustomerSubscriptionParams,
        body: ManageSubscriptionBody,
        response: { 200: Subscription, 402: ErrorWithResultRef, ...errorResponses(404, 409, 502, 503) },
      }),
      async (request) => subscriptions.manage(request.paymentsAuth!, request.params.customerId, request.params.subscriptionId, request.body),
    );
  }

  app.delete(
    '/api/customers/:customerId/subscriptions/:subscriptionId',
    authed('payments', {
      summary: 'Cancel a subscription now',
      tags: TAG,
      params: CustomerSubscriptionParams,
      response: { 200: Subscription, ...errorResponses(404, 502, 503) },
    }),
    async (request) => subscriptions.cancel(request.paymentsAuth!, request.params.customerId, request.params.subscriptionId),
  );
};
