import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Paginated } from '../../platform/http/common.schemas.js';
import { authed } from '../../platform/http/route.js';
import {
  CreatedWebhookEndpoint,
  CreateWebhookBody,
  DeletedWebhookEndpoint,
  ListWebhooksQuery,
  RotatedSecret,
  UpdateWebhookBody,
  WebhookEndpoint,
  WebhookParams,
} from './webhooks.schemas.js';
import type { WebhooksService } from './webhooks.service.js';

const TAG = ['Webhooks'];
const NotFound = { 404: Type.Ref('Error') };

export const webhooksRoutes: FastifyPluginAsyncTypebox<{ webhooks: WebhooksService }> = async (app, { webhooks }) => {
  app.post(
    '/v1/partner/webhooks',
    authed('hmacSecret', {
      summary: 'Register a webhook endpoint',
      description: 'The response carries the signing secret; it is never shown again (rotate it to get a new one).',
      tags: TAG,
      body: CreateWebhookBody,
      response: { 201: CreatedWebhookEndpoint },
    }),
    async (request, reply) => reply.status(201).send(await webhooks.create(request.partnerAuth!, request.body)),
  );

  app.get(
    '/v1/partner/webhooks',
    authed('hmac', { summary: 'List webhook endpoints', tags: TAG, querystring: ListWebhooksQuery, response: { 200: Paginated(WebhookEndpoint) } }),
    async (request) => webhooks.list(request.partnerAuth!, request.query),
  );

  app.get(
    '/v1/partner/webhooks/:id',
    authed('hmac', { summary: 'Get a webhook endpoint', tags: TAG, params: WebhookParams, response: { 200: WebhookEndpoint, ...NotFound } }),
    async (request) => webhooks.get(request.partnerAuth!, request.params.id),
  );

  app.patch(
    '/v1/partner/webhooks/:id',
    authed('hmacSecret', {
      summary: "Change a webhook endpoint's URL, description, event types, headers or active flag",
      tags: TAG,
      params: WebhookParams,
      body: UpdateWebhookBody,
      response: { 200: WebhookEndpoint, ...NotFound },
    }),
    async (request) => webhooks.update(request.partnerAuth!, request.params.id, request.body),
  );

  app.delete(
    '/v1/partner/webhooks/:id',
    authed('hmacSecret', { summary: 'Delete a webhook endpoint', tags: TAG, params: WebhookParams, response: { 200: DeletedWebhookEndpoint, ...NotFound } }),
    async (request) => webhooks.delete(request.partnerAuth!, request.params.id),
  );

  app.post(
    '/v1/partner/webhooks/:id/rotate-secret',
    authed('hmacSecret', {
      summary: 'Rotate the signing secret',
      description: 'Returns the new secret once. The previous secret keeps signing beside it for 24 hours.',
      tags: TAG,
      params: WebhookParams,
      response: { 200: RotatedSecret, ...NotFound },
    }),
    async (request) => webhooks.rotateSecret(request.partnerAuth!, request.params.id),
  );
};
