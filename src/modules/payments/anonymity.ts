import type { Donation } from './donation.js';

export interface DonorFields {
  first_name: string | null;
  last_name: string | null;
  email: string | null;
}

export interface DonorView {
  name: string | null;
  email: string | null;
}

/**
 * What anyone but the donor's partner (a nonprofit reading its donations, an employer deciding a
 * match) may learn of the donor. Full Transparency: name and email. Partial Transparency: the name
 * only. Anonymous (the default, and what the seed's placeholder "string" means): nothing, not even
 * which customer it was. The partner itself always sees its own customers through the Payments API.
 */
export function donorFor(anonymity: Donation['anonymity'] | undefined, customer: DonorFields | null | undefined): DonorView | null {
  if (!customer || anonymity === undefined || anonymity === 'Anonymous') return null;
  const name = [customer.first_name, customer.last_name].filter((p) => p && p.trim()).join(' ') || null;
  if (anonymity === 'Partial Transparency') return name === null ? null : { name, email: null };
  return name === null && customer.email === null ? null : { name, email: customer.email };
}
