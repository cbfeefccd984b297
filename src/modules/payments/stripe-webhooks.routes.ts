import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../../platform/errors.js';
import { sendError } from '../../platform/http/error-handler.js';
import { MAX_BODY_BYTES } from '../../platform/http/raw-body.js';
import { authed } from '../../platform/http/route.js';
import type { StripeWebhooksService } from './stripe-webhooks.service.js';

const Received = Type.Object(
  {
    received: Type.Literal(true),
    duplicate: Type.Boolean({ description: 'true when this event id was already handled; nothing changed' }),
  },
  { title: 'StripeWebhookReceived' },
);

/**
 * POST /api/stripe/webhook. Stripe signs the exact bytes it sends, so this route gets a body parser
 * of its own that keeps them as they arrived (the API's JSON parser would hand over a parsed
 * object). No bearer token: the Stripe-Signature is the credential.
 */
export const stripeWebhooksRoutes: FastifyPluginAsyncTypebox<{ hooks: StripeWebhooksService }> = async (app, { hooks }) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, (_request, body: Buffer, done) => done(null, body));

  app.post(
    '/api/stripe/webhook',
    authed('none', {
      summary: 'Receive a Stripe webhook event',
      description:
        'Register this URL as a Stripe webhook endpoint and set its signing secret as ALMONER_STRIPE_WEBHOOK_SECRET. ' +
        'The Stripe-Signature header is checked over the raw body; a bad or missing one answers 400 INVALID_SIGNATURE and changes nothing. ' +
        'Each event id is applied once: redeliveries answer 200 with duplicate true.',
      tags: ['Stripe'],
      response: { 200: Received },
    }),
    async (request, reply) => {
      const raw = Buffer.isBuffer(request.body) ? request.body : undefined;
      const signature = request.headers['stripe-signature'];
      try {
        const result = await hooks.receive(raw, typeof signature === 'string' ? signature : undefined);
        return { received: result.received, duplicate: result.duplicate };
      } catch (err) {
        // Stripe reads any 4xx as "do not retry as is"; a bad signature is the sender's problem, so a
        // 400 here rather than the 401 the Partner API's signatures get.
        if (err instanceof AppError && err.code === 'INVALID_SIGNATURE') return sendError(request, reply, 400, err.code, err.message);
        throw err;
      }
    },
  );
};
