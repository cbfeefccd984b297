import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses, Paginated } from '../../platform/http/common.schemas.js';
import { authed } from '../../platform/http/route.js';
import {
  DeliveryParams,
  HealthQuery,
  ListDeliveriesQuery,
  RecoverBody,
  RecoverResult,
  TestResult,
  WebhookDelivery,
  WebhookDeliveryWithAttempts,
  WebhookHealth,
} from './deliveries.schemas.js';
import type { DeliveriesService } from './deliveries.service.js';
import { WebhookParams } from './webhooks.schemas.js';

const TAG = ['Webhooks'];

export const deliveriesRoutes: FastifyPluginAsyncTypebox<{ deliveries: DeliveriesService }> = async (app, { deliveries }) => {
  app.post(
    '/v1/partner/webhooks/:id/test',
    authed('hmacSecret', {
      summary: 'Send a webhook.test event now',
      description: 'Delivers `{ "test": true }` to this endpoint once, signed like every delivery, and reports the outcome. It is not retried automatically.',
      tags: TAG,
      params: WebhookParams,
      response: { 200: TestResult, ...errorResponses(404, 409) },
    }),
    async (request) => deliveries.test(request.partnerAuth!, request.params.id),
  );

  app.get(
    '/v1/partner/webhooks/:id/deliveries',
    authed('hmac', {
      summary: "List an endpoint's deliveries",
      description: 'Newest first: status, attempts, last status code, latency and error, and when the next retry is due.',
      tags: TAG,
      params: WebhookParams,
      querystring: ListDeliveriesQuery,
      response: { 200: Paginated(WebhookDelivery), ...errorResponses(404) },
    }),
    async (request) => deliveries.list(request.partnerAuth!, request.params.id, request.query),
  );

  app.get(
    '/v1/partner/webhooks/:id/health',
    authed('hmac', {
      summary: "An endpoint's delivery health",
      description: 'Success rate and latency percentiles over a window, consecutive failures and the backlog.',
      tags: TAG,
      params: WebhookParams,
      querystring: HealthQuery,
      response: { 200: WebhookHealth, ...errorResponses(404) },
    }),
    async (request) => deliveries.health(request.partnerAuth!, request.params.id, request.query.hours),
  );

  app.post(
    '/v1/partner/webhooks/:id/recover',
    authed('hmacSecret', {
      summary: 'Redeliver everything that failed since a time',
      description: 'Each failed delivery created at or after `since` starts over with the full retry schedule.',
      tags: TAG,
      params: WebhookParams,
      body: RecoverBody,
      response: { 202: RecoverResult, ...errorResponses(404, 409) },
    }),
    async (request, reply) => reply.status(202).send(await deliveries.recover(request.partnerAuth!, request.params.id, request.body.since)),
  );

  app.get(
    '/v1/partner/webhooks/deliveries/:deliveryId',
    authed('hmac', {
      summary: 'Get a delivery with its attempt log',
      tags: TAG,
      params: DeliveryParams,
      response: { 200: WebhookDeliveryWithAttempts, ...errorResponses(404) },
    }),
    async (request) => deliveries.get(request.partnerAuth!, request.params.deliveryId),
  );

  app.post(
    '/v1/partner/webhooks/deliveries/:deliveryId/retry',
    authed('hmacSecret', {
      summary: 'Send a delivery again now',
      description: 'Queues one more attempt at once. A delivery that already succeeded is sent again (receivers de-duplicate by event id).',
      tags: TAG,
      params: DeliveryParams,
      response: { 202: WebhookDelivery, ...errorResponses(404, 409) },
    }),
    async (request, reply) => reply.status(202).send(await deliveries.retry(request.partnerAuth!, request.params.deliveryId)),
  );
};

