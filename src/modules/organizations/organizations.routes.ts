import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { authed } from '../../platform/http/route.js';
import { Organization, OrganizationParams, OrganizationSearchQuery, OrganizationSearchResult } from './organizations.schemas.js';
import type { OrganizationsService } from './organizations.service.js';

const TAG = ['Widget'];
/**
 * The donor's browser may reuse an answer for a minute (backspacing in the search box), as the
 * server does. `private`: answering needs a partner's key, which a shared cache would not check.
 */
const BROWSER_CACHE = 'private, max-age=60';

/** Contract A8.3: widget routes, callable from browsers with the publishable key (or signed). */
export const organizationsRoutes: FastifyPluginAsyncTypebox<{ organizations: OrganizationsService }> = async (app, { organizations }) => {
  app.get(
    '/v1/partner/organizations',
    authed('widget', {
      summary: 'Search the nonprofit directory (autocomplete)',
      description:
        'Name prefix and typo-tolerant match ("red cros", "feding amerca"), or an EIN. Curated organizations first, then ' +
        'names starting with q, then close matches. Only active organizations unless includeInactive=true. Without q, ' +
        'lists curated organizations, then the rest by name.',
      tags: TAG,
      querystring: OrganizationSearchQuery,
      response: { 200: OrganizationSearchResult },
    }),
    async (request, reply) => {
      reply.header('Cache-Control', BROWSER_CACHE);
      return organizations.search(request.query);
    },
  );

  app.get(
    '/v1/partner/organizations/:slug',
    authed('widget', {
      summary: 'Look up a nonprofit by slug',
      tags: TAG,
      params: OrganizationParams,
      response: { 200: Organization, 404: Type.Ref('Error') },
    }),
    async (request, reply) => {
      const organization = await organizations.getBySlug(request.params.slug);
      reply.header('Cache-Control', BROWSER_CACHE);
      return organization;
    },
  );
};
