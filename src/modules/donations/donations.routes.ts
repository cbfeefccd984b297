import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../../platform/errors.js';
import type { PartnerAuth } from '../../platform/http/auth.js';
import { authed } from '../../platform/http/route.js';
import type { DonationsService } from './donations.service.js';
import { CreateLinkBody, CreateLinkResult, DonationIdParams, DonationStatusView, EveryOrgNotification, EveryOrgQuery } from './donations.schemas.js';

const TAGS = ['Donations'];

/** Donation routes are the DONATIONS feature: a partner without it gets 403 whatever its key. */
function donationsScope(auth: PartnerAuth) {
  if (!auth.partner.enabledFeatures.includes('DONATIONS')) {
    throw new AppError('FEATURE_NOT_ENABLED', 'Donations are not enabled for this partner; ask the operator to enable the DONATIONS feature');
  }
  return { partnerId: auth.partnerId, environment: auth.environment };
}

export const donationsRoutes: FastifyPluginAsyncTypebox<{ donations: DonationsService }> = async (app, { donations }) => {
  app.post(
    '/v1/partner/donations/create-link',
    authed('widget', {
      summary: 'Create a donation link (hosted checkout or Every.org)',
      description:
        'amount is in the smallest currency unit (cents). provider "stripe" opens a checkout of the partner\'s payments account ' +
        '(in the sandbox, almoner\'s hosted checkout page); "every.org" an Every.org donate page. partnerDonationId is added to ' +
        'successUrl and cancelUrl (default: this server\'s demo page) so the page the donor returns to can show the status.',
      tags: TAGS,
      body: CreateLinkBody,
      response: { 201: CreateLinkResult, 404: Type.Ref('Error'), 409: Type.Ref('Error') },
    }),
    async (request, reply) => reply.status(201).send(await donations.createLink(donationsScope(request.partnerAuth!), request.body)),
  );

  app.get(
    '/v1/partner/donations/status/:partnerDonationId',
    authed('widget', {
      summary: 'The status of a donation and the tokens it earned',
      tags: TAGS,
      params: DonationIdParams,
      response: { 200: DonationStatusView, 404: Type.Ref('Error') },
    }),
    async (request) => donations.status(donationsScope(request.partnerAuth!), request.params.partnerDonationId),
  );

  app.post(
    '/v1/integrations/every-org/donations',
    authed('none', {
      summary: "Every.org's partner webhook: a donation made through an Every.org link completed",
      description:
        'Register this URL with Every.org, with ?token= set to the intake token (`almoner every-org intake-url` prints it). ' +
        'A wrong token is 401, an unknown partnerDonationId 404; the same notification again changes nothing.',
      tags: TAGS,
      querystring: EveryOrgQuery,
      body: EveryOrgNotification,
      response: {
        200: Type.Object({ received: Type.Literal(true), partnerDonationId: Type.String(), status: Type.String(), duplicate: Type.Boolean() }),
        401: Type.Ref('Error'),
        404: Type.Ref('Error'),
      },
    }),
    async (request) => donations.everyOrgNotification(request.query.token ?? bearer(request.headers.authorization), request.body),
  );
};

function bearer(header: string | undefined) {
  return header?.startsWith('Bearer ') ? header.slice(7) : undefined;
}
