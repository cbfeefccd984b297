import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { authed } from '../../platform/http/route.js';
import { EventPage, ListEventsQuery } from './events.schemas.js';
import type { EventsService } from './events.service.js';

export const eventsRoutes: FastifyPluginAsyncTypebox<{ events: EventsService }> = async (app, { events }) => {
  app.get(
    '/v1/partner/events',
    authed('hmac', {
      summary: 'List events',
      description:
        "This environment's events, oldest first, in the envelope webhooks deliver. Page with `nextCursor`; " +
        'an event from a transaction that commits late still appears after the cursor, never before it, so ' +
        'polling with the last `nextCursor` misses nothing. Start with `after=latest` to receive only new events.',
      tags: ['Webhooks'],
      querystring: ListEventsQuery,
      response: { 200: EventPage },
    }),
    async (request) => events.list(request.partnerAuth!, request.query),
  );
};
