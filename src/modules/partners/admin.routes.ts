import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Paginated } from '../../platform/http/common.schemas.js';
import { authed } from '../../platform/http/route.js';
import type { PartnersService } from './partners.service.js';
import { AdminPartnerList, AdminPartnerPatch, Partner, PartnerIdParams } from './partners.schemas.js';

const TAG = ['Operator'];
const NotFound = { 404: Type.Ref('Error') };

export const adminPartnersRoutes: FastifyPluginAsyncTypebox<{ partners: PartnersService }> = async (app, { partners }) => {
  app.get(
    '/v1/admin/partners',
    authed('operator', { summary: 'List partners', tags: TAG, querystring: AdminPartnerList, response: { 200: Paginated(Partner) } }),
    async (request) => partners.listPartners(request.query),
  );

  app.get(
    '/v1/admin/partners/:id',
    authed('operator', { summary: 'One partner', tags: TAG, params: PartnerIdParams, response: { 200: Partner, ...NotFound } }),
    async (request) => partners.partnerInfo(request.params.id),
  );

  app.post(
    '/v1/admin/partners/:id/approve',
    authed('operator', {
      summary: 'Approve a partner for production (also lifts a suspension)',
      tags: TAG,
      params: PartnerIdParams,
      response: { 200: Partner, ...NotFound },
    }),
    async (request) => partners.setStatus(request.params.id, 'ACTIVE'),
  );

  app.post(
    '/v1/admin/partners/:id/suspend',
    authed('operator', {
      summary: 'Suspend a partner: every key is refused until it is approved again',
      tags: TAG,
      params: PartnerIdParams,
      response: { 200: Partner, ...NotFound },
    }),
    async (request) => partners.setStatus(request.params.id, 'SUSPENDED'),
  );

  app.patch(
    '/v1/admin/partners/:id',
    authed('operator', {
      summary: 'Set tier, rate limit, features, tip config, IP allowlist',
      tags: TAG,
      params: PartnerIdParams,
      body: AdminPartnerPatch,
      response: { 200: Partner, ...NotFound },
    }),
    async (request) => partners.updatePartner(request.params.id, request.body),
  );
};
