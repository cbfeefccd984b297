import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { authed } from '../../platform/http/route.js';
import { CreateStakeholderTypeBody, StakeholderType, StakeholderTypeList, type StakeholderTypesService } from './stakeholder-types.js';

const ErrorRef = Type.Ref('Error');
const PartnerParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
// Any text up to the column's length: an unknown or malformed code is simply not found.
const TypeParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }), code: Type.String({ minLength: 1, maxLength: 64 }) });

export const stakeholderTypesRoutes: FastifyPluginAsyncTypebox<{ stakeholderTypes: StakeholderTypesService }> = async (
  app,
  { stakeholderTypes },
) => {
  app.get(
    '/v1/partner/stakeholder-types',
    authed('hmac', {
      summary: 'The stakeholder type codes you may use in actions and campaign splits',
      tags: ['Stakeholder types'],
      response: { 200: StakeholderTypeList },
    }),
    async (request) => ({ data: await stakeholderTypes.list(request.partnerAuth!.partnerId) }),
  );

  app.get(
    '/v1/admin/partners/:id/stakeholder-types',
    authed('operator', {
      summary: "A partner's stakeholder types",
      tags: ['Operator'],
      params: PartnerParams,
      response: { 200: StakeholderTypeList, 404: ErrorRef },
    }),
    async (request) => ({ data: await stakeholderTypes.list(request.params.id) }),
  );

  app.post(
    '/v1/admin/partners/:id/stakeholder-types',
    authed('operator', {
      summary: 'Register a stakeholder type for a partner',
      tags: ['Operator'],
      params: PartnerParams,
      body: CreateStakeholderTypeBody,
      response: { 201: StakeholderType, 404: ErrorRef, 409: ErrorRef },
    }),
    async (request, reply) => reply.status(201).send(await stakeholderTypes.add(request.params.id, request.body.code, request.body.name)),
  );

  app.delete(
    '/v1/admin/partners/:id/stakeholder-types/:code',
    authed('operator', {
      summary: "Remove a stakeholder type (refused while a campaign splits on it, and for the partner's last type)",
      tags: ['Operator'],
      params: TypeParams,
      response: { 200: Type.Object({ code: Type.String(), deleted: Type.Literal(true) }), 404: ErrorRef, 409: ErrorRef },
    }),
    async (request) => {
      await stakeholderTypes.remove(request.params.id, request.params.code);
      return { code: request.params.code, deleted: true as const };
    },
  );
};
