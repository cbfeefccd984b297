import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses, IsoDate } from '../../platform/http/common.schemas.js';
import { authed } from '../../platform/http/route.js';
import type { CharityReport } from './charity-report.js';

const Donor = Type.Union([Type.Object({ name: Type.Union([Type.String(), Type.Null()]), email: Type.Union([Type.String(), Type.Null()]) }), Type.Null()], {
  description: 'Full Transparency: name and email; Partial Transparency: name; Anonymous: null',
});

export const charityReportRoutes: FastifyPluginAsyncTypebox<{ report: CharityReport }> = async (app, { report }) => {
  app.get(
    '/v1/admin/organizations/:organizationId/donations',
    authed('operator', {
      summary: 'Donations a nonprofit received, with donors only as their anonymity allows',
      description: 'For reporting to the nonprofit: what the destination received (after fees and cuts), newest first.',
      tags: ['Operator'],
      params: Type.Object({ organizationId: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) }),
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })) }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          organizationId: Type.Integer(),
          name: Type.String(),
          donations: Type.Array(
            Type.Object({
              chargeId: Type.String(),
              amount: Type.Integer({ description: 'What the nonprofit received, smallest currency unit' }),
              currency: Type.String(),
              status: Type.String(),
              refunded: Type.Boolean(),
              partner: Type.String(),
              anonymity: Type.String(),
              donor: Donor,
              createdAt: IsoDate,
            }),
          ),
        }),
        ...errorResponses(404),
      },
    }),
    async (request) => report.donations(request.params.organizationId, request.query.limit ?? 100),
  );
};
