import { createHash } from 'node:crypto';
import { AppError } from '../../platform/errors.js';
import { numberLiteralAt } from '../../platform/json/number-literals.js';
import { currencyDigits, normalizeCurrency } from '../../platform/money/currencies.js';
import { parseDecimalToMinor } from '../../platform/money/decimal.js';
import { parseTokens, TOKEN_SCALE } from './distribution.js';
import type { SubmitActionBodyType } from './actions.schemas.js';

/** Largest accepted action amount, in major units: far above any real purchase, far below overflow. */
export const MAX_ACTION_AMOUNT_MAJOR = 1_000_000_000n;

export interface NormalizedStakeholder {
  stakeholderTypeCode: string;
  partnerUserId: string;
  userEmail: string | null;
  userFirstName: string | null;
  userLastName: string | null;
}

export interface NormalizedAction {
  idempotencyKey: string;
  actionType: string;
  amountMinor: bigint;
  currency: string;
  digits: number;
  stakeholders: NormalizedStakeholder[];
  autoCreateUsers: boolean;
  metadata: Record<string, string>;
  campaignId: string | null;
  /** Fingerprint of what the request asks for: a retry with the same key must match it. */
  requestHash: string;
}

const invalid = (path: string, message: string) => new AppError('VALIDATION_ERROR', message, { details: [{ path, message }] });

/**
 * Reads a decimal from the request's own JSON text (never through a float), so 49.99 is exactly
 * 4999 cents and 49.999 or 1e2 are refused rather than silently rounded.
 */
export function exactDecimal(rawBody: Buffer | undefined, path: (string | number)[], digits: number, label: string): bigint {
  const literal = rawBody ? numberLiteralAt(rawBody, path) : undefined;
  const where = `body.${path.join('.')}`;
  if (literal === undefined) throw invalid(where, `${label} must be a JSON number`);
  const parsed = parseDecimalToMinor(literal, digits);
  if (!parsed.ok) throw invalid(where, `${label} ${literal} is not accepted: ${parsed.reason}`);
  return parsed.minor;
}

/**
 * Largest token amount one request may name (reversal, redemption, funding, allocation, thresholds).
 * Without it, 1e20 tokens overflowed PostgreSQL's bigint or the exact JSON range of formatTokens()
 * (10^13 tokens) and answered 500; this leaves room for many such amounts to add up in a pool.
 */
export const MAX_TOKEN_AMOUNT = 1_000_000_000_000n;

export function exactTokens(rawBody: Buffer | undefined, path: (string | number)[], label: string): bigint {
  const literal = rawBody ? numberLiteralAt(rawBody, path) : undefined;
  const where = `body.${path.join('.')}`;
  if (literal === undefined) throw invalid(where, `${label} must be a JSON number of tokens`);
  const parsed = parseTokens(literal);
  if (!parsed.ok) throw invalid(where, `${label} ${literal} is not accepted: ${parsed.reason}`);
  if (parsed.units > MAX_TOKEN_AMOUNT * TOKEN_SCALE) throw invalid(where, `${label} must be at most ${MAX_TOKEN_AMOUNT} tokens`);
  return parsed.units;
}

/**
 * preValidation for routes whose body fields are all optional (reverse, approve/decline a request):
 * Fastify validates an absent body as null, so `POST .../reverse` with no body answered 400 "body must
 * be object" although the handler treats a missing body as {}. Only a truly absent body is replaced:
 * a malformed one has already been refused by the auth hook's bodyError check, which runs first.
 */
export async function absentBodyIsEmpty(request: { body: unknown }): Promise<void> {
  if (request.body === undefined) request.body = {};
}

export function normalizeSubmit(body: SubmitActionBodyType, rawBody: Buffer | undefined): NormalizedAction {
  const currency = normalizeCurrency(body.currency);
  const digits = currency ? currencyDigits(currency) : undefined;
  if (!currency || digits === undefined) {
    throw invalid('body.currency', `Unknown currency "${body.currency}"; use an ISO 4217 code such as USD`);
  }
  const amountMinor = exactDecimal(rawBody, ['amount'], digits, 'amount');
  if (amountMinor <= 0n) throw invalid('body.amount', 'amount must be greater than 0');
  if (amountMinor > MAX_ACTION_AMOUNT_MAJOR * 10n ** BigInt(digits)) {
    throw invalid('body.amount', `amount must be at most ${MAX_ACTION_AMOUNT_MAJOR} ${currency}`);
  }
  const seen = new Set<string>();
  const stakeholders = body.stakeholders.map((s, i) => {
    const key = `${s.stakeholderTypeCode}\u0000${s.partnerUserId}`;
    if (seen.has(key)) {
      throw invalid(`body.stakeholders.${i}`, `stakeholder ${s.partnerUserId} appears twice as ${s.stakeholderTypeCode}; list each person once per type`);
    }
    seen.add(key);
    return {
      stakeholderTypeCode: s.stakeholderTypeCode,
      partnerUserId: s.partnerUserId,
      userEmail: s.userEmail ?? null,
      userFirstName: s.userFirstName ?? null,
      userLastName: s.userLastName ?? null,
    };
  });
  const metadata = body.metadata ?? {};
  const canonical = JSON.stringify([
    body.actionType,
    amountMinor.toString(),
    currency,
    stakeholders.map((s) => [s.stakeholderTypeCode, s.partnerUserId]),
    body.autoCreateUsers ?? false,
    Object.keys(metadata).sort().map((k) => [k, metadata[k]]),
    body.campaignId ?? null,
  ]);
  return {
    idempotencyKey: body.idempotencyKey,
    actionType: body.actionType,
    amountMinor,
    currency,
    digits,
    stakeholders,
    autoCreateUsers: body.autoCreateUsers ?? false,
    metadata,
    campaignId: body.campaignId ?? null,
    requestHash: createHash('sha256').update(canonical).digest('hex'),
  };
}
