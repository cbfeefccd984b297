import { Type, type Static } from '@sinclair/typebox';

export const Organization = Type.Object(
  {
    id: Type.Integer({ description: "The Payments API's numeric charityId for this organization" }),
    slug: Type.String({ description: 'Stable, URL-safe name, e.g. american-red-cross (nonprofitSlug in donation links)' }),
    name: Type.String(),
    ein: Type.Union([Type.String({ pattern: '^\\d{2}-\\d{7}$' }), Type.Null()], { description: 'IRS Employer Identification Number, NN-NNNNNNN' }),
    city: Type.Union([Type.String(), Type.Null()]),
    state: Type.Union([Type.String(), Type.Null()], { description: 'Two-letter US state or territory code' }),
    nteeCode: Type.Union([Type.String(), Type.Null()], { description: 'NTEE classification, e.g. P21' }),
    deductible: Type.Boolean({ description: 'Whether contributions are tax-deductible (IRS deductibility code 1 or 4)' }),
    status: Type.Union([Type.Literal('active'), Type.Literal('inactive')], {
      description: 'active: currently listed by the IRS as exempt; inactive: no longer (not offered in search by default)',
    }),
    logoUrl: Type.Union([Type.String(), Type.Null()]),
    curated: Type.Boolean({ description: 'A well-known organization the directory ranks first' }),
  },
  { title: 'Organization' },
);
export type OrganizationType = Static<typeof Organization>;

export const OrganizationParams = Type.Object({
  slug: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9-]+$', description: 'e.g. american-red-cross (case-insensitive)' }),
});

export const SEARCH_MAX_LIMIT = 50;

export const OrganizationSearchQuery = Type.Object(
  {
    q: Type.Optional(
      Type.String({
        maxLength: 100,
        description: 'Name, its beginning, or a misspelling of it ("red cros"); or an EIN (NN-NNNNNNN or 9 digits)',
      }),
    ),
    state: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2}$', description: 'Two-letter state code' })),
    ntee: Type.Optional(Type.String({ pattern: '^[A-Za-z][0-9A-Za-z]{0,4}$', description: 'NTEE major group (T) or code (T20), matched as a prefix' })),
    limit: Type.Integer({ minimum: 1, maximum: SEARCH_MAX_LIMIT, default: 10 }),
    includeInactive: Type.Boolean({ default: false, description: 'Also return organizations no longer listed as exempt' }),
  },
  { additionalProperties: false },
);
export type OrganizationSearchQueryType = Static<typeof OrganizationSearchQuery>;

export const OrganizationSearchResult = Type.Object(
  {
    data: Type.Array(Organization, {
      description: 'Best first: curated matches, then names starting with q (exact ones first, in name order), then names with every word of q, fewer typos first',
    }),
  },
  { title: 'OrganizationSearchResult' },
);
export type OrganizationSearchResultType = Static<typeof OrganizationSearchResult>;
