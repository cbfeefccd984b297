import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses } from '../../platform/http/common.schemas.js';
import { authed } from '../../platform/http/route.js';
import type { RefundsService } from './refunds.js';

export const refundsAdminRoutes: FastifyPluginAsyncTypebox<{ refunds: RefundsService }> = async (app, { refunds }) => {
  app.post(
    '/v1/admin/charges/:chargeId/refund',
    authed('operator', {
      summary: 'Refund a charge, fully or in part',
      description: 'Reverses the split in proportion (destination, fee, partner cut, tip) as one ledger transaction; without amount, refunds what is left.',
      tags: ['Operator'],
      params: Type.Object({ chargeId: Type.String({ minLength: 1, maxLength: 64 }) }),
      body: Type.Object({ amount: Type.Optional(Type.Integer({ minimum: 1, maximum: 99_999_999 })) }, { additionalProperties: false }),
      response: {
        200: Type.Object(
          { chargeId: Type.String(), status: Type.String(), amount: Type.Integer(), refundedAmount: Type.Integer(), gross: Type.Integer() },
          { title: 'PaymentsRefund' },
        ),
        ...errorResponses(404, 409, 502, 503),
      },
    }),
    async (request) => refunds.refund(request.params.chargeId, request.body?.amount),
  );
};
