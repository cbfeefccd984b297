import { sql, type Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import { directoryChanged } from './directory-changes.js';
import { DIRECTORY_LOCK_ID } from './import.repo.js';
import { organizationsRepo } from './organizations.repo.js';

interface CuratedOrganization {
  slug: string;
  name: string;
  ein: string;
  city: string | null;
  state: string;
  nteeCode: string | null;
}

/**
 * Well-known US nonprofits the embedded first start puts in the directory, so search and donation
 * links work before any import. EINs are the IRS's; those of organizations in AR, CT, DC and UT
 * were checked against the IRS's 2020 extract for those states, which also gave their NTEE codes.
 * Codes left null are filled in by the first import that carries the organization.
 */
export const CURATED_ORGANIZATIONS: readonly CuratedOrganization[] = [
  { slug: 'american-red-cross', name: 'American Red Cross', ein: '530196605', city: 'Washington', state: 'DC', nteeCode: 'P210' },
  { slug: 'world-wildlife-fund', name: 'World Wildlife Fund', ein: '521693387', city: 'Washington', state: 'DC', nteeCode: 'C30' },
  { slug: 'special-olympics', name: 'Special Olympics', ein: '520889518', city: 'Washington', state: 'DC', nteeCode: 'N720' },
  { slug: 'national-public-radio', name: 'National Public Radio', ein: '520907625', city: 'Washington', state: 'DC', nteeCode: 'A340' },
  { slug: 'national-geographic-society', name: 'National Geographic Society', ein: '530193519', city: 'Washington', state: 'DC', nteeCode: 'B030' },
  { slug: 'ocean-conservancy', name: 'Ocean Conservancy', ein: '237245152', city: 'Washington', state: 'DC', nteeCode: 'C320' },
  { slug: 'world-central-kitchen', name: 'World Central Kitchen', ein: '273521132', city: 'Washington', state: 'DC', nteeCode: 'Q33' },
  { slug: 'heifer-international', name: 'Heifer International', ein: '351019477', city: 'Little Rock', state: 'AR', nteeCode: 'Q330' },
  { slug: 'save-the-children', name: 'Save the Children', ein: '060726487', city: 'Fairfield', state: 'CT', nteeCode: 'Q330' },
  { slug: 'americares', name: 'Americares', ein: '061008595', city: 'Stamford', state: 'CT', nteeCode: 'Q123' },
  { slug: 'best-friends-animal-society', name: 'Best Friends Animal Society', ein: '237147797', city: 'Kanab', state: 'UT', nteeCode: 'D200' },
  { slug: 'doctors-without-borders', name: 'Doctors Without Borders USA', ein: '133433452', city: 'New York', state: 'NY', nteeCode: null },
  { slug: 'st-jude-childrens-research-hospital', name: "St. Jude Children's Research Hospital", ein: '620646012', city: 'Memphis', state: 'TN', nteeCode: null },
  { slug: 'feeding-america', name: 'Feeding America', ein: '363673599', city: 'Chicago', state: 'IL', nteeCode: null },
  { slug: 'habitat-for-humanity', name: 'Habitat for Humanity International', ein: '911914868', city: 'Atlanta', state: 'GA', nteeCode: null },
  { slug: 'unicef-usa', name: 'UNICEF USA', ein: '131760110', city: 'New York', state: 'NY', nteeCode: null },
  { slug: 'american-cancer-society', name: 'American Cancer Society', ein: '131788491', city: 'Atlanta', state: 'GA', nteeCode: null },
  { slug: 'the-nature-conservancy', name: 'The Nature Conservancy', ein: '530242652', city: 'Arlington', state: 'VA', nteeCode: null },
  { slug: 'international-rescue-committee', name: 'International Rescue Committee', ein: '135660870', city: 'New York', state: 'NY', nteeCode: null },
  { slug: 'mercy-corps', name: 'Mercy Corps', ein: '911148123', city: 'Portland', state: 'OR', nteeCode: null },
  { slug: 'care-usa', name: 'CARE USA', ein: '131685039', city: 'Atlanta', state: 'GA', nteeCode: null },
  { slug: 'oxfam-america', name: 'Oxfam America', ein: '237069110', city: 'Boston', state: 'MA', nteeCode: null },
  { slug: 'partners-in-health', name: 'Partners In Health', ein: '043567502', city: 'Boston', state: 'MA', nteeCode: null },
  { slug: 'direct-relief', name: 'Direct Relief', ein: '951831116', city: 'Santa Barbara', state: 'CA', nteeCode: null },
  { slug: 'givedirectly', name: 'GiveDirectly', ein: '271661997', city: 'New York', state: 'NY', nteeCode: null },
  { slug: 'charity-water', name: 'charity: water', ein: '223936753', city: 'New York', state: 'NY', nteeCode: null },
  { slug: 'make-a-wish-america', name: 'Make-A-Wish America', ein: '860481941', city: 'Phoenix', state: 'AZ', nteeCode: null },
  { slug: 'aspca', name: 'ASPCA', ein: '131623829', city: 'New York', state: 'NY', nteeCode: null },
  { slug: 'wounded-warrior-project', name: 'Wounded Warrior Project', ein: '202370934', city: 'Jacksonville', state: 'FL', nteeCode: null },
  { slug: 'wikimedia-foundation', name: 'Wikimedia Foundation', ein: '200049703', city: 'San Francisco', state: 'CA', nteeCode: null },
  { slug: 'electronic-frontier-foundation', name: 'Electronic Frontier Foundation', ein: '043091431', city: 'San Francisco', state: 'CA', nteeCode: null },
  { slug: 'internet-archive', name: 'Internet Archive', ein: '943242767', city: 'San Francisco', state: 'CA', nteeCode: null },
  { slug: 'khan-academy', name: 'Khan Academy', ein: '261544963', city: 'Mountain View', state: 'CA', nteeCode: null },
  { slug: 'kiva', name: 'Kiva', ein: '710992446', city: 'San Francisco', state: 'CA', nteeCode: null },
];

/**
 * Puts the curated organizations in the directory; safe on every start. An organization already
 * there (imported, or seeded before) becomes curated, with the curated name and, when no other
 * organization holds it, the curated slug: the one exception to slugs never changing, so that the
 * slugs partners know (`american-red-cross`) work. The place and codes an import brought stay.
 */
export async function ensureCuratedOrganizations(db: Kysely<Database>): Promise<void> {
  let changed = false;
  await db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(${DIRECTORY_LOCK_ID})`.execute(trx);
    for (const c of CURATED_ORGANIZATIONS) {
      const existing = await organizationsRepo.findByEin(trx, c.ein);
      const slugFree = existing?.slug === c.slug || !(await organizationsRepo.slugTaken(trx, c.slug));
      const slug = slugFree ? c.slug : `${c.slug}-${c.ein}`;
      if (!existing) {
        changed = true;
        await organizationsRepo.insert(trx, {
          slug,
          name: c.name,
          ein: c.ein,
          city: c.city,
          state: c.state,
          ntee_code: c.nteeCode,
          deductibility: 'deductible',
          curated: true,
        });
      } else if (!existing.curated || existing.name !== c.name || (slugFree && existing.slug !== c.slug)) {
        changed = true;
        await organizationsRepo.updateByEin(trx, c.ein, {
          curated: true,
          name: c.name,
          ...(slugFree ? { slug: c.slug } : {}),
          ntee_code: existing.ntee_code ?? c.nteeCode,
          updated_at: new Date(),
        });
      }
    }
  });
  if (changed) directoryChanged();
}
