import type { Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import { formatEin, isDeductible } from './bmf.js';
import type { DirectoryIndex } from './directory-index.js';
import { DirectoryIndexKeeper, type DirectoryIndexOptions, type IndexBuilt } from './directory-index.keeper.js';
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
  private readonly index: DirectoryIndexKeeper;

  constructor(
    private readonly db: Kysely<Database>,
    options: DirectoryIndexOptions = {},
  ) {
    this.index = new DirectoryIndexKeeper(db, {
      ...options,
      onError: (err) => {
        options.onError?.(err);
        this.onIndexError?.(err);
      },
    });
    this.index.onBuilt = (built) => {
      // Answers kept from SQL or from the previous index may be older than the new index.
      this.searchCache.clear();
      this.onIndexBuilt?.(built);
    };
  }

  /** Told of each directory index swapped in (for the log). */
  onIndexBuilt: ((built: IndexBuilt) => void) | undefined;
  /** Told of each failed index build or version check (for the log); search carries on. */
  onIndexError: ((err: unknown) => void) | undefined;

  /** Builds the search index now rather than at the first search, and keeps it current. */
  startIndex(): void {
    this.index.start();
  }

  /** Stops keeping the search index current. */
  close(): Promise<void> {
    return this.index.close();
  }

  async getBySlug(slug: string): Promise<OrganizationType> {
    const row = await organizationsRepo.findBySlug(this.db, slug.toLowerCase());
    if (!row) throw organizationNotFound(slug);
    return toOrganization(row);
  }

  /**
   * Ranked in tiers: curated matches, then names starting with the query, then typo-tolerant
   * matches (DirectoryIndex says exactly how). Answered from the in-memory directory index; until
   * it is built, or while it lacks a change this process made, from SQL, whose answers are kept
   * briefly (SearchCache). The index's answers are not kept: it answers in tens of microseconds,
   * and a cache entry for every new query, kept long enough to be reused, outlives the young
   * generation: under load that garbage collection cost more than it saved (p99 of new queries
   * 83-108 ms with the cache, 54-61 ms without, in runs on the same loaded machine).
   */
  search(query: OrganizationSearchQueryType): Promise<OrganizationSearchResultType> {
    const q = query.q?.trim().replace(/\s+/g, ' ').toLowerCase() || undefined;
    const filters: SearchFilters = {
      state: query.state?.toUpperCase(),
      ntee: query.ntee?.toUpperCase(),
      includeInactive: query.includeInactive,
      limit: query.limit,
    };
    const ready = this.index.fresh();
    if (ready) return Promise.resolve(searchIndex(ready, q, filters));
    // Until the index is in, or while it lacks a local change.
    return this.searchCache.get(JSON.stringify([q, filters]), async () => {
      const index = this.index.fresh() ?? (await this.index.current());
      return index ? searchIndex(index, q, filters) : this.searchDatabase(q, filters);
    });
  }

  /** The same search in SQL (trigram index), while the directory index is not ready. */
  private async searchDatabase(q: string | undefined, filters: SearchFilters): Promise<OrganizationSearchResultType> {
    const ein = q && EIN_QUERY.exec(q);
    if (ein) return { data: (await organizationsRepo.searchEin(this.db, ein[1]! + ein[2]!, filters)).map(toOrganization) };
    const top = await organizationsRepo.searchTop(this.db, q, filters);
    if (q === undefined || top.length >= filters.limit) return { data: top.map(toOrganization) };
    const more = await organizationsRepo.searchFuzzy(this.db, q, { ...filters, limit: filters.limit - top.length });
    return { data: [...top, ...more].map(toOrganization) };
  }
}

function searchIndex(index: DirectoryIndex, q: string | undefined, filters: SearchFilters): OrganizationSearchResultType {
  const ein = q && EIN_QUERY.exec(q);
  const found = ein ? index.searchEin(ein[1]! + ein[2]!, filters) : index.search(q, filters);
  return { data: found.map((o) => index.organization(o)) };
}
