/**
 * Slugs for directory entries: lower-case ASCII words joined by hyphens, readable in a donation
 * link (`american-red-cross`). Pure, so the importer and the curated seed agree and tests pin them.
 */

/** Legal-form words that add nothing to a link; only trailing ones go ("INC" in "INC FUND" stays). */
const LEGAL_SUFFIXES = new Set(['inc', 'incorporated', 'corp', 'corporation', 'ltd', 'llc']);
const MAX_BASE_LENGTH = 80;

function words(text: string): string[] {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/['’]/g, '')
    .replace(/&/g, ' and ')
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** `SAVE THE CHILDREN FEDERATION INC` -> `save-the-children-federation`. Empty when nothing is left. */
export function slugify(name: string): string {
  const parts = words(name);
  while (parts.length > 1 && LEGAL_SUFFIXES.has(parts[parts.length - 1]!)) parts.pop();
  if (parts.length > 1 && parts[0] === 'the') parts.shift();
  let slug = parts.join('-');
  if (slug.length > MAX_BASE_LENGTH) {
    const cut = slug.lastIndexOf('-', MAX_BASE_LENGTH);
    slug = slug.slice(0, cut > 0 ? cut : MAX_BASE_LENGTH);
  }
  return slug;
}

export interface SlugSource {
  ein: string;
  name: string;
  city: string | null;
  state: string | null;
}

/**
 * The slugs an organization may take, most readable first: the name, then the name with its city,
 * then with city and state, then with the EIN (unique, so the chain always ends). Which one it gets
 * depends on what is taken; the importer settles that for the whole import at once, lowest EIN
 * first, so the outcome does not depend on file or row order.
 */
export function slugCandidates(org: SlugSource): [string, string | null, string | null, string] {
  const base = slugify(org.name) || 'organization';
  const city = org.city ? words(org.city).join('-') : '';
  const state = org.state ? words(org.state).join('-') : '';
  const withCity = city ? `${base}-${city}` : null;
  const withCityState = city && state ? `${base}-${city}-${state}` : state ? `${base}-${state}` : null;
  return [base, withCity, withCityState, `${base}-${org.ein}`];
}
