import { AppError } from '../../platform/errors.js';
import { normalizeCurrency } from '../../platform/money/currencies.js';
import { parseDecimalToMinor } from '../../platform/money/decimal.js';
import type { CreateLinkBodyType } from './donations.schemas.js';

export const invalid = (path: string, message: string) => new AppError('VALIDATION_ERROR', message, { details: [{ path, message }] });

/** Donation link limits (contract A8.3: amounts are integer minor units). */
export const MIN_AMOUNT = 100;
export const MAX_AMOUNT = 99_999_999;

export type TipRequest = { tipAmount?: number | undefined; tipPercent?: number | undefined };

/**
 * The tip in minor units. tipPercent has at most two decimals (12.5 is fine, 12.345 is not) and is
 * applied with integer arithmetic, half up, so the same request always gives the same cents.
 */
export function tipFor(amount: bigint, request: TipRequest): { ok: true; tip: bigint } | { ok: false; path: string; reason: string } {
  if (request.tipAmount !== undefined && request.tipPercent !== undefined) {
    return { ok: false, path: '/tipPercent', reason: 'Send tipAmount or tipPercent, not both' };
  }
  if (request.tipAmount !== undefined) return { ok: true, tip: BigInt(request.tipAmount) };
  if (request.tipPercent === undefined) return { ok: true, tip: 0n };
  const parsed = parseDecimalToMinor(String(request.tipPercent), 2);
  if (!parsed.ok || parsed.minor < 0n || parsed.minor > 10_000n) {
    return { ok: false, path: '/tipPercent', reason: `tipPercent must be a number from 0 to 100 with at most 2 decimals; got ${request.tipPercent}` };
  }
  return { ok: true, tip: (amount * parsed.minor + 5_000n) / 10_000n };
}

/** Adds partnerDonationId to a return URL, keeping what the partner put there. */
export function withDonationId(url: string, donationId: string): string {
  const u = new URL(url);
  u.searchParams.set('partnerDonationId', donationId);
  return u.toString();
}

export interface EveryOrgLink {
  base: string;
  slug: string;
  amount: bigint;
  frequency: 'once' | 'monthly';
  donationId: string;
  partnerMetadata: Record<string, string>;
  webhookToken: string;
  successUrl: string | null;
  donor: { email: string | null; firstName: string | null; lastName: string | null };
}

/**
 * Every.org's donate link: the nonprofit's page with the donate flow open. Amounts are dollars,
 * frequency ONCE or MONTHLY, partner_metadata is base64 of a JSON object that Every.org hands back in
 * its notification, and webhook_token is what makes Every.org notify us at all.
 */
export function everyOrgLink(link: EveryOrgLink): string {
  const params = new URLSearchParams();
  params.set('amount', dollars(link.amount));
  params.set('frequency', link.frequency === 'monthly' ? 'MONTHLY' : 'ONCE');
  params.set('partner_donation_id', link.donationId);
  params.set('partner_metadata', Buffer.from(JSON.stringify(link.partnerMetadata)).toString('base64'));
  params.set('webhook_token', link.webhookToken);
  if (link.successUrl) params.set('success_url', link.successUrl);
  if (link.donor.email) params.set('email', link.donor.email);
  if (link.donor.firstName) params.set('first_name', link.donor.firstName);
  if (link.donor.lastName) params.set('last_name', link.donor.lastName);
  return `${link.base.replace(/\/+$/, '')}/${encodeURIComponent(link.slug)}#/donate?${params.toString()}`;
}

function dollars(cents: bigint): string {
  const whole = cents / 100n;
  const rest = cents % 100n;
  return rest === 0n ? whole.toString() : `${whole}.${rest.toString().padStart(2, '0')}`;
}

/** Every.org reports amounts as decimal strings of dollars ("25", "25.00", 25.5); to cents, exactly. */
export function centsFromEveryOrg(value: string | number): bigint | undefined {
  const parsed = parseDecimalToMinor(typeof value === 'number' ? String(value) : value.trim(), 2);
  return parsed.ok && parsed.minor > 0n ? parsed.minor : undefined;
}

/**
 * What a create-link request asks for, checked on its own (nothing here needs the database): the
 * provider and frequency with their defaults, the amount's range, a currency the provider takes,
 * the tip (Stripe only), the donor's email for a monthly subscription, and the return URLs.
 */
export function linkTerms(body: CreateLinkBodyType) {
  const provider = body.provider ?? 'every.org';
  const frequency = body.frequency ?? 'once';
  if (body.amount < MIN_AMOUNT || body.amount > MAX_AMOUNT) {
    throw invalid('/amount', `amount is in the smallest currency unit (cents) and must be from ${MIN_AMOUNT} to ${MAX_AMOUNT}; got ${body.amount}`);
  }
  const currency = normalizeCurrency(body.currency);
  if (!currency) throw invalid('/currency', `Unsupported currency "${body.currency}"; use an ISO 4217 code such as USD`);
  if (provider === 'every.org' && currency !== 'USD') throw invalid('/currency', `Every.org takes USD only; got ${currency}`);
  if (provider === 'every.org' && (body.tipAmount !== undefined || body.tipPercent !== undefined)) {
    throw invalid(body.tipAmount !== undefined ? '/tipAmount' : '/tipPercent', 'Tips are for provider "stripe"; Every.org asks the donor for its own');
  }
  const amount = BigInt(body.amount);
  const tip = tipFor(amount, body);
  if (!tip.ok) throw invalid(tip.path, tip.reason);
  if (frequency === 'monthly' && provider === 'stripe' && !body.donorEmail) {
    throw invalid('/donorEmail', 'A monthly donation needs donorEmail: the subscription belongs to the donor');
  }
  for (const field of ['successUrl', 'cancelUrl'] as const) {
    const value = body[field];
    if (value !== undefined && !/^https?:\/\//i.test(value)) throw invalid(`/${field}`, `${field} must be an absolute http(s) URL; got "${value}"`);
    if (value !== undefined && !URL.canParse(value)) throw invalid(`/${field}`, `${field} is not a valid URL`);
  }
  return { provider, frequency, currency, amount, tip: tip.tip };
}
