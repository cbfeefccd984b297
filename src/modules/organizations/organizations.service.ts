import type { Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import { formatEin, isDeductible } from './bmf.js';
import { organizationNotFound } from './organizations.errors.js';
import { organizationsRepo, type OrganizationRow, type SearchFilters } from './organizations.repo.js';
import { SearchCache } from './search-cache.js';
import type { OrganizationSearchQueryType, OrganizationSearchResultType, OrganizationType } from './organizations.schemas.js';

const EIN_QUERY = /^\s*(\d{2})-?(\d{7})\s*$/;

export function toOrganization(row: OrganizationRow): OrganizationType {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    ein: formatEin(row.ein),
    city: row.city,
    state: row.state,
    nteeCode: row.ntee_code,
    deductible: isDeductible(row.deductibility),
    status: row.status,
    logoUrl: row.logo_url,
    curated: row.curated,
  };
}

/** The nonprofit directory as the widget sees it: lookup by slug and search for autocomplete. */
export class OrganizationsService {
  readonly searchCache = new SearchCache<OrganizationSearchResultType>();

  constructor(private readonly db: Kysely<Database>) {}

  async getBySlug(slug: string): Promise<OrganizationType> {
    const row = await organizationsRepo.findBySlug(this.db, slug.toLowerCase());
    if (!row) throw organizationNotFound(slug);
    return toOrganization(row);
  }

  /**
   * Ranked in tiers: curated matches, then names starting with the query, then typo-tolerant
   * matches. The last tier is the expensive one and runs only when the others leave room, which
   * for autocomplete's short prefixes they rarely do. Answers are kept briefly (SearchCache).
   */
  search(query: OrganizationSearchQueryType): Promise<OrganizationSearchResultType> {
    const q = query.q?.trim().replace(/\s+/g, ' ').toLowerCase() || undefined;
    const filters: SearchFilters = {
      state: query.state?.toUpperCase(),
      ntee: query.ntee?.toUpperCase(),
      includeInactive: query.includeInactive,
      limit: query.limit,
    };
    return this.searchCache.get(JSON.stringify([q, filters]), () => this.searchDirectory(q, filters));
  }

  private async searchDirectory(q: string | undefined, filters: SearchFilters): Promise<OrganizationSearchResultType> {
    const ein = q && EIN_QUERY.exec(q);
    if (ein) return { data: (await organizationsRepo.searchEin(this.db, ein[1]! + ein[2]!, filters)).map(toOrganization) };
    const top = await organizationsRepo.searchTop(this.db, q, filters);
    if (q === undefined || top.length >= filters.limit) return { data: top.map(toOrganization) };
    const more = await organizationsRepo.searchFuzzy(this.db, q, { ...filters, limit: filters.limit - top.length });
    return { data: [...top, ...more].map(toOrganization) };
  }
}
