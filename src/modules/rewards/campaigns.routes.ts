import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Paginated } from '../../platform/http/common.schemas.js';
import { authed } from '../../platform/http/route.js';
import { literalsFromRawBody } from './campaigns.rules.js';
import { Campaign, CampaignParams, CreateCampaignBody, ListCampaignsQuery, UpdateCampaignBody } from './campaigns.schemas.js';
import type { CampaignsService } from './campaigns.service.js';

const TAG = ['Campaigns'];
const ErrorRef = Type.Ref('Error');

export const campaignsRoutes: FastifyPluginAsyncTypebox<{ campaigns: CampaignsService }> = async (app, { campaigns }) => {
  app.get(
    '/v1/partner/campaigns',
    authed('hmac', {
      summary: 'List campaigns (newest first; archived ones only with includeArchived=true)',
      tags: TAG,
      querystring: ListCampaignsQuery,
      response: { 200: Paginated(Campaign) },
    }),
    async (request) => campaigns.list(request.partnerAuth!, request.query),
  );

  app.post(
    '/v1/partner/campaigns',
    authed('hmacSecret', {
      summary: 'Create a campaign',
      description:
        'Decimals (multiplier, percents, tier amounts, token budgets) are read exactly from the JSON text; ' +
        'exponent notation is refused. status ACTIVE before schedule.startsAt keeps the campaign DRAFT with ' +
        'schedule.autoStart true until it starts.',
      tags: TAG,
      body: CreateCampaignBody,
      response: { 201: Campaign, 404: ErrorRef, 409: ErrorRef },
    }),
    async (request, reply) =>
      reply.status(201).send(await campaigns.create(request.partnerAuth!, request.body, literalsFromRawBody(request.rawBody))),
  );

  app.get(
    '/v1/partner/campaigns/:id',
    authed('hmac', { summary: 'Get a campaign', tags: TAG, params: CampaignParams, response: { 200: Campaign, 404: ErrorRef } }),
    async (request) => campaigns.get(request.partnerAuth!, request.params.id),
  );

  app.patch(
    '/v1/partner/campaigns/:id',
    authed('hmacSecret', {
      summary: 'Change a campaign or its status',
      description:
        'Status changes: DRAFT -> ACTIVE | ENDED, ACTIVE <-> PAUSED, ACTIVE | PAUSED -> ENDED; ENDED is final. ' +
        'Each change emits campaign.status_changed.',
      tags: TAG,
      params: CampaignParams,
      body: UpdateCampaignBody,
      response: { 200: Campaign, 404: ErrorRef, 409: ErrorRef },
    }),
    async (request) =>
      campaigns.update(request.partnerAuth!, request.params.id, request.body, literalsFromRawBody(request.rawBody)),
  );

  app.delete(
    '/v1/partner/campaigns/:id',
    authed('hmacSecret', {
      summary: 'Archive a campaign: it ENDS and leaves the list, and stays readable by id',
      tags: TAG,
      params: CampaignParams,
      response: { 200: Campaign, 404: ErrorRef },
    }),
    async (request) => campaigns.archive(request.partnerAuth!, request.params.id),
  );
};
