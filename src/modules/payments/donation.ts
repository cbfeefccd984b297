import { AppError } from '../../platform/errors.js';
import { currencyDigits } from '../../platform/money/currencies.js';
import { currencyOrThrow } from './catalog.service.js';

export type DestinationKind = 'carbon_offset' | 'campaign' | 'charity' | 'subaccount' | 'master_account' | 'giving_account';

/** The stored form of everything about a donation except its amounts. */
export interface Donation {
  destination: { kind: DestinationKind; ref: string };
  charityId: number | null;
  givingaAccountNumber: string | null;
  subaccountNumber: string | null;
  masterAccountUsername: string | null;
  campaignId: string | null;
  carbonOffset: boolean;
  matchRequested: boolean;
  customerCoveringFee: boolean;
  customerCoveringPartnerCut: boolean;
  description: string | null;
  statementDescriptor: string | null;
  notes: string | null;
  activityId: string | null;
  activityId2: string | null;
  activityId3: string | null;
  anonymity: 'Full Transparency' | 'Partial Transparency' | 'Anonymous';
  metadata: { key: string; value: string }[];
}

export interface DonationInput {
  charityId?: number;
  givingaAccountNumber?: string | number;
  subaccountNumber?: string | number;
  masterAccountUsername?: string;
  campaignId?: string | number | boolean;
  carbonOffset?: boolean | 'true' | 'false';
  matchRequested?: boolean;
  customerCoveringFee?: boolean;
  customerCoveringPartnerCut?: boolean;
  description?: string;
  statementDescriptor?: string;
  notes?: string;
  activityId?: string;
  activityId2?: string;
  activityId3?: string;
  anonymity?: Donation['anonymity'] | 'string';
  metadata?: { key: string; value: string }[];
}

const invalid = (path: string, message: string) => new AppError('VALIDATION_ERROR', message, { details: [{ path, message }] });

/** Stripe's rules for a statement descriptor (contract B4): 5-22 characters, a letter, none of < > \ ' ". */
export function assertStatementDescriptor(value: string): void {
  if (value.length < 5 || value.length > 22) throw invalid('/statementDescriptor', `statementDescriptor must be 5 to 22 characters; got ${value.length}`);
  if (!/[A-Za-z]/.test(value)) throw invalid('/statementDescriptor', 'statementDescriptor needs at least one letter');
  const bad = value.match(/[<>\\'"]/);
  if (bad) throw invalid('/statementDescriptor', `statementDescriptor must not contain ${bad[0]} (nor any of < > \\ ' ")`);
}

const digits = (v: string | number | undefined) => (v === undefined ? null : String(v));

/**
 * Validates and normalises the shared donation fields. At least one destination is required; when
 * several are given the contract's precedence picks the one that receives the money (carbon offset,
 * campaign, charity, employee subaccount, corporate master account, then the donor's giving account).
 */
export function toDonation(input: DonationInput): Donation {
  const carbonOffset = input.carbonOffset === true || input.carbonOffset === 'true';
  const d = {
    charityId: input.charityId ?? null,
    givingaAccountNumber: digits(input.givingaAccountNumber),
    subaccountNumber: digits(input.subaccountNumber),
    masterAccountUsername: input.masterAccountUsername ?? null,
    campaignId: typeof input.campaignId === 'boolean' ? null : digits(input.campaignId),
  };
  const destination: Donation['destination'] | null = carbonOffset
    ? { kind: 'carbon_offset', ref: 'carbon' }
    : d.campaignId !== null
      ? { kind: 'campaign', ref: d.campaignId }
      : d.charityId !== null
        ? { kind: 'charity', ref: String(d.charityId) }
        : d.subaccountNumber !== null
          ? { kind: 'subaccount', ref: d.subaccountNumber }
          : d.masterAccountUsername !== null
            ? { kind: 'master_account', ref: d.masterAccountUsername }
            : d.givingaAccountNumber !== null
              ? { kind: 'giving_account', ref: d.givingaAccountNumber }
              : null;
  if (!destination) {
    throw invalid(
      '/charityId',
      'Say who receives the money: one of charityId, givingaAccountNumber, subaccountNumber, masterAccountUsername, campaignId or carbonOffset',
    );
  }
  if (input.statementDescriptor !== undefined) assertStatementDescriptor(input.statementDescriptor);
  const keys = new Set<string>();
  for (const [i, kv] of (input.metadata ?? []).entries()) {
    if (keys.has(kv.key)) throw invalid(`/metadata/${i}/key`, `metadata key "${kv.key}" is given twice`);
    keys.add(kv.key);
  }
  return {
    destination,
    ...d,
    carbonOffset,
    matchRequested: input.matchRequested ?? false,
    customerCoveringFee: input.customerCoveringFee ?? false,
    customerCoveringPartnerCut: input.customerCoveringPartnerCut ?? false,
    description: input.description ?? null,
    statementDescriptor: input.statementDescriptor ?? null,
    notes: input.notes ?? null,
    activityId: input.activityId ?? null,
    activityId2: input.activityId2 ?? null,
    activityId3: input.activityId3 ?? null,
    anonymity: input.anonymity === undefined || input.anonymity === 'string' ? 'Anonymous' : input.anonymity,
    metadata: input.metadata ?? [],
  };
}

/** Currency (default usd, contract B6.2) with its minor-unit digits. */
export function chargeCurrency(code: string | undefined): { currency: string; digits: number } {
  const currency = currencyOrThrow(code ?? 'usd');
  return { currency, digits: currencyDigits(currency)! };
}
